"""How many threads each compiled call of a multi-threaded fit runs on: the count the
fit was given, or one, when one has lately been clearly faster per batch on this
machine as it is now. A parallel loop ends when its slowest thread does, so when
another process (or, in a virtual machine, the host) takes a core, every step waits for
the thread that lost it, and a step can take longer than on one thread. The trained
bits do not depend on the choice (a step's tiles are the same on any number of
threads), so a fit may change it between calls.

The given count runs first. Once PROBE_SECONDS / PROBE_BUDGET seconds of work have run
on the chosen count (and 1, 2, 4, ... PROBE_MAX calls, back to 1 after a change), a
short call of about PROBE_SECONDS measures the other, so measuring takes at most
PROBE_BUDGET of a fit's time and a fit follows the machine's load within seconds; a
fit shorter than that never measures. Each count is judged by its latest call (the
first call of a count in a process includes compiling: an average would remember that
for long), and one thread is chosen only when it was faster by ONE_MARGIN, so that a
noisy probe does not move an unloaded fit off its threads. One ThreadChoice serves a
model's fits of one batch size and thread count (training.FitState)."""
from . import config

ONE_MARGIN = 0.8          # one thread is chosen when its time per batch is below this share
PROBE_SECONDS = 0.01      # the length of a probe call
PROBE_BATCHES = 4         # the batches of a probe of a count not yet measured


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
        if many is not None and one is not None and one < ONE_MARGIN * many:
            return 1
        return self.threads

    def next(self, chunk):
        """(thread count, batches, probe) of the next call, for calls of `chunk`
        batches; a probe is a short call that measures the count not in use."""
        best = self.best()
        if self.since < self.interval or \
                self.since_seconds * config.PROBE_BUDGET < PROBE_SECONDS:
            return best, chunk, False
        other = 1 if best == self.threads else self.threads
        last = self.per_batch[other]
        batches = PROBE_BATCHES if last is None else max(1, int(PROBE_SECONDS / last))
        return other, min(batches, chunk), True

    def record(self, count, probe, seconds, batches):
        """The call on `count` threads took `seconds` for `batches` batches."""
        before = self.best()
        self.per_batch[count] = seconds / batches
        if probe:
            self.since = 0
            self.since_seconds = 0.0
            changed = self.best() != before
            self.interval = 1 if changed else min(2 * self.interval, config.PROBE_MAX)
        else:
            self.since += 1
            self.since_seconds += seconds
