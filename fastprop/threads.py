"""Thread settings for a training run: fastprop's own threads (kernels/tiled.py), and BLAS
held to one thread inside them (BLAS threads under ours would oversubscribe the cores
and make results depend on the BLAS library's own splitting). Every change is undone
in `finally`. Numba's thread count is per calling thread; BLAS's is the process's, so
it is held at one thread from the first of any concurrent runs (fits in different
Python threads) to the end of the last, and only then set back: a run that ended first
would otherwise hand BLAS its threads back under one still running."""
import contextlib
import os
import threading

import numba
from threadpoolctl import ThreadpoolController

from .validation import check_int

_controller = None
_blas_lock = threading.Lock()
_blas_runs = 0            # runs inside training_threads now, in any Python thread
_blas_restore = []        # (library, its thread count before the first of them)


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
    previous = numba.get_num_threads()
    # each setting is a call into a library (~1 us): only the ones that change are made
    if previous != n:
        numba.set_num_threads(n)
    try:
        _hold_blas()
        try:
            yield
        finally:
            _release_blas()
    finally:
        # the body may have changed it too (thread_choice.py)
        if numba.get_num_threads() != previous:
            numba.set_num_threads(previous)


def _hold_blas():
    """BLAS to one thread, for this run and any other running now (see above)."""
    global _blas_runs
    with _blas_lock:
        if _blas_runs == 0:
            _blas_restore.clear()
            for lib in _blas_libraries():
                threads = lib.num_threads
                if threads != 1:
                    lib.set_num_threads(1)
                    _blas_restore.append((lib, threads))
        _blas_runs += 1


def _release_blas():
    """The end of a run: the last one running sets BLAS's threads back."""
    global _blas_runs
    with _blas_lock:
        _blas_runs -= 1
        if _blas_runs == 0:
            for lib, threads in _blas_restore:
                lib.set_num_threads(threads)
            _blas_restore.clear()


_parallel_lock = threading.Lock()


def _threadsafe_layer():
    """Whether Numba's threading layer lets several Python threads launch parallel
    loops at once: TBB and OpenMP do; workqueue does not (concurrent launches abort the
    process). Unknown (False) until this process has run a parallel loop."""
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:
        return False


@contextlib.contextmanager
def parallel_section():
    """Run a parallel kernel from this Python thread: alone, under a process-wide lock,
    unless the threading layer is known to be thread-safe (see _threadsafe_layer).
    fastprop leaves the layer as Numba or the user chose it (NUMBA_THREADING_LAYER)."""
    if _threadsafe_layer():
        yield
        return
    with _parallel_lock:
        yield
