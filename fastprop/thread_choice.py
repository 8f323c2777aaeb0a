"""How many threads each compiled call of a multi-threaded fit runs on: the count the
fit was given, or one, whichever has lately been faster per batch on this machine as it
is now. A parallel loop waits at its end for its slowest thread, so when another
process (or, in a virtual machine, the host) takes a core, every step stalls on the
thread that lost it, and a step can take many times longer than on one thread. The
trained bits do not depend on the choice (a step's tiles are the same on any number of
threads), so a fit may change it between calls.

Each count is judged by its latest call (the first call of a count in a process
includes compiling; an average would remember that for long). Both counts get a short
call first. The count not in use is measured again by a short call after
1, 2, 4, ... PROBE_MAX calls of the other (back to 1 after a change), and only while
such calls take at most PROBE_BUDGET of the time: a fit follows the machine's load
within seconds and spends a few percent of its time on the slower count at most. One
ThreadChoice serves all of a model's fits of one batch size (training.FitState)."""
from . import config


class ThreadChoice:
    """The thread count of each call of runs on `threads` (> 1) threads."""

    def __init__(self, threads):
        self.threads = threads
        self.per_batch = {threads: None, 1: None}   # seconds per batch of the last call
        self.interval = 1      # calls on the chosen count before the next probe
        self.since = 0         # calls on the chosen count since the last probe
        self.since_seconds = 0.0

    def best(self):
        many, one = self.per_batch[self.threads], self.per_batch[1]
        if many is None or one is None or many <= one:
            return self.threads
        return 1

    def next(self, chunk):
        """(thread count, batches, probe) of the next call, for calls of `chunk`
        batches; a probe is a short call that measures a count."""
        best = self.best()
        if self.per_batch[best] is None:
            return best, self._short(chunk), True
        other = 1 if best == self.threads else self.threads
        last = self.per_batch[other]
        if last is None:
            return other, self._short(chunk), True
        if self.since >= self.interval and last <= self.since_seconds * config.PROBE_BUDGET:
            return other, max(1, int(self.since_seconds * config.PROBE_BUDGET / last)), True
        return best, chunk, False

    @staticmethod
    def _short(chunk):
        return max(1, chunk // 16)

    def record(self, count, probe, seconds, batches):
        """The call on `count` threads took `seconds` for `batches` batches."""
        before = self.best()
        self.per_batch[count] = seconds / batches
        if probe:
            changed = self.best() != before
            self.since = 0
            self.since_seconds = 0.0
            self.interval = 1 if changed else min(2 * self.interval, config.PROBE_MAX)
        else:
            self.since += 1
            self.since_seconds += seconds
