"""BLAS held to one thread for as long as any caller needs it.

BLAS's thread count belongs to the process, so it is held at one thread from the first
of any concurrent holds (fits in different Python threads, a finiteness check) to the
end of the last, and only then set back: a hold that ended first would otherwise hand
BLAS its threads back under one still running. Every change is undone when the last
hold ends.

Why one thread: BLAS threads under fastprop's own would oversubscribe the cores and
make results depend on the BLAS library's splitting; and a multi-threaded BLAS call
from fit's Python side (a dot product over X) leaves OpenBLAS's worker threads
spinning for a while after it returns, on the cores fastprop's threads are about to
use (a 2-thread float64 fit ran at a third of its speed).
"""
import contextlib
import threading

from threadpoolctl import ThreadpoolController

_controller = None
_lock = threading.Lock()
_holds = 0                # holds open now, in any Python thread
_restore = []             # (library, its thread count before the first of them)


def _blas_libraries():
    """threadpoolctl's controllers of the loaded BLAS libraries (scanned once, after
    NumPy's and SciPy's BLAS have loaded)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return [lib for lib in _controller.lib_controllers if lib.user_api == "blas"]


def hold():
    """BLAS to one thread, for this caller and any other holding it now."""
    global _holds
    with _lock:
        if _holds == 0:
            _restore.clear()
            for lib in _blas_libraries():
                threads = lib.num_threads
                if threads != 1:
                    lib.set_num_threads(1)
                    _restore.append((lib, threads))
        _holds += 1


def release():
    """The end of a hold: the last one open sets BLAS's threads back."""
    global _holds
    with _lock:
        _holds -= 1
        if _holds == 0:
            for lib, threads in _restore:
                lib.set_num_threads(threads)
            _restore.clear()


@contextlib.contextmanager
def one_blas_thread():
    """Run the body with BLAS on one thread (see the module's docstring)."""
    hold()
    try:
        yield
    finally:
        release()
