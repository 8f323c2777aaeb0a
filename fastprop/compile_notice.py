"""One line on stderr while fastprop's kernels compile, so that a first run on a machine
(Numba's on-disk cache empty: ~10-20 s) does not look like a hang.

A process's first fit (or the CLI's warm-up) starts a timer before anything of fastprop is compiled or loaded;
if the fit's first compiled call has not returned after config.COMPILE_NOTICE_SECONDS
(loading cached kernels takes a fraction of that, and that call trains one batch), the
line is printed, and another says how long it took. Once per dtype per process;
`config.COMPILE_NOTICE = False` turns it off, `fastprop warmup` compiles ahead of time.
"""
import sys
import threading
import time

from . import config

_told = set()        # dtypes whose kernels this process has compiled or loaded
_active = set()      # dtypes a started notice watches now (one line, not one per caller)


class CompileNotice:
    """The timer of one fit: start() before its first compiled call, stop() after."""

    def __init__(self, dtype_name, seconds=None):
        self.dtype_name = dtype_name
        self.seconds = config.COMPILE_NOTICE_SECONDS if seconds is None else seconds
        self.told = None     # a threading.Event once started (made only then: ~5 us)
        self.timer = None
        self.started = None

    @property
    def pending(self):
        """Whether this dtype's kernels have not been used yet in this process."""
        return (config.COMPILE_NOTICE and self.dtype_name not in _told
                and (self.timer is not None or self.dtype_name not in _active))

    def start(self):
        if not self.pending:
            return self
        self.started = time.perf_counter()
        self.told = threading.Event()
        _active.add(self.dtype_name)
        self.timer = threading.Timer(self.seconds, self._tell)
        self.timer.daemon = True
        self.timer.start()
        return self

    def _tell(self):
        self.told.set()
        print(f"compiling fastprop's {self.dtype_name} kernels (once per machine; "
              f"`fastprop warmup` does it ahead of time)...", file=sys.stderr, flush=True)

    def stop(self):
        if self.timer is None:
            return
        self.timer.cancel()
        self.timer = None
        _active.discard(self.dtype_name)
        _told.add(self.dtype_name)
        if self.told.is_set():
            print(f"compiled fastprop's {self.dtype_name} kernels in "
                  f"{time.perf_counter() - self.started:.0f} s", file=sys.stderr, flush=True)
