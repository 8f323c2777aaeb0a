"""Thread settings for a training run: fastprop's own threads (kernels/tiled.py), and BLAS
held to one thread inside them (blas_threads.py). Every change is undone in `finally`.
Numba's thread count is per calling thread; BLAS's is the process's."""
import contextlib
import os
import threading

import numba

from .blas_threads import one_blas_thread
from .validation import check_int


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


@contextlib.contextmanager
def training_threads(n):
    """Run the body with n Numba threads and single-threaded BLAS."""
    previous = numba.get_num_threads()
    # each setting is a call into a library (~1 us): only the ones that change are made
    if previous != n:
        numba.set_num_threads(n)
    try:
        with one_blas_thread():
            yield
    finally:
        # the body may have changed it too (thread_choice.py)
        if numba.get_num_threads() != previous:
            numba.set_num_threads(previous)


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
