"""Thread settings for a training run: fastprop's own threads (kernels/tiled.py), and BLAS
held to one thread inside them (BLAS threads under ours would oversubscribe the cores
and make results depend on the BLAS library's own splitting). Every change is undone
in `finally`, and Numba's thread count is per calling thread, so concurrent fits in
different Python threads do not disturb each other."""
import contextlib
import os

import numba
from threadpoolctl import ThreadpoolController

from .validation import check_int

_controller = None


def available_cores():
    """Cores this process may run on (its affinity), capped by Numba's thread pool."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS))


def resolve_threads(n_threads):
    """n_threads None -> every available core; else an int in 1..Numba's pool size."""
    if n_threads is None:
        return available_cores()
    n = check_int("n_threads", n_threads, 1)
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads must be at most {numba.config.NUMBA_NUM_THREADS} "
                         f"(Numba's thread pool; set NUMBA_NUM_THREADS to raise it), got {n}")
    return n


def _blas_libraries():
    """threadpoolctl's controllers of the loaded BLAS libraries (scanned once, after
    NumPy's and SciPy's BLAS have loaded)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return [lib for lib in _controller.lib_controllers if lib.user_api == "blas"]


@contextlib.contextmanager
def training_threads(n):
    """Run the body with n Numba threads and single-threaded BLAS."""
    libraries = _blas_libraries()
    previous_blas = [lib.num_threads for lib in libraries]
    previous = numba.get_num_threads()
    # each setting is a call into a library (~1 us): only the ones that change are made
    if previous != n:
        numba.set_num_threads(n)
    try:
        for lib, threads in zip(libraries, previous_blas):
            if threads != 1:
                lib.set_num_threads(1)
        yield
    finally:
        if previous != n:
            numba.set_num_threads(previous)
        for lib, threads in zip(libraries, previous_blas):
            if threads != 1:
                lib.set_num_threads(threads)
