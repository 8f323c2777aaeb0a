"""thread_choice.ThreadChoice: a multi-threaded fit runs each call on its thread count,
or on one when one was clearly faster lately; it measures the other count with short
calls within a time budget; and the trained bits do not depend on any of it."""
import numpy as np

import fastprop as fp
from fastprop import config, thread_choice
from fastprop.thread_choice import PROBE_SECONDS, ThreadChoice


def drive(choice, speed, seconds, chunk_seconds=0.2):
    """Calls against per-batch seconds speed[count] for `seconds` of work; returns
    [(count, batches, probe)]. Calls are sized to chunk_seconds, as fit sizes them."""
    ran, total = [], 0.0
    while total < seconds:
        best = choice.best()
        chunk = max(1, int(chunk_seconds / speed[best]))
        count, batches, probe = choice.next(chunk)
        ran.append((count, batches, probe))
        choice.record(count, probe, speed[count] * batches, batches)
        total += speed[count] * batches
    return ran


def share_on(ran, speed, count):
    spent = [speed[c] * b for c, b, _ in ran]
    return sum(s for (c, _, _), s in zip(ran, spent) if c == count) / sum(spent)


def test_a_short_fit_never_leaves_its_threads():
    # shorter than the work after which the first probe may run
    ran = drive(ThreadChoice(2), {2: 1e-3, 1: 2e-3},
                0.8 * PROBE_SECONDS / config.PROBE_BUDGET)
    assert {c for c, _, _ in ran} == {2}


def test_an_unloaded_fit_stays_on_its_threads_and_measures_little():
    speed = {4: 1e-3, 1: 3e-3}
    ran = drive(ThreadChoice(4), speed, 60)
    assert all(c == 4 for c, _, p in ran if not p)
    assert any(p for _, _, p in ran)
    assert share_on(ran, speed, 1) <= 1.5 * config.PROBE_BUDGET


def test_a_fit_that_lost_a_core_moves_to_one_thread():
    speed = {2: 1.65e-3, 1: 1e-3}        # two threads, one core taken: 1.65x slower
    ran = drive(ThreadChoice(2), speed, 30)
    assert all(c == 1 for c, _, p in ran[-20:] if not p)
    assert share_on(ran, speed, 2) < 0.1


def test_noise_within_the_margin_does_not_move_it():
    ran = drive(ThreadChoice(2), {2: 1e-3, 1: 0.9e-3}, 30)
    assert all(c == 2 for c, _, p in ran if not p)


def test_it_follows_the_load_both_ways():
    choice = ThreadChoice(2)
    drive(choice, {2: 1e-3, 1: 2e-3}, 5)
    assert choice.best() == 2
    drive(choice, {2: 4e-3, 1: 2e-3}, 5)       # a core was taken
    assert choice.best() == 1
    drive(choice, {2: 1e-3, 1: 2e-3}, 10)      # and given back
    assert choice.best() == 2


def test_a_very_slow_count_is_probed_briefly():
    speed = {2: 50e-3, 1: 1e-3}
    ran = drive(ThreadChoice(2), speed, 30)
    assert all(b * speed[2] <= max(PROBE_SECONDS, speed[2]) for c, b, p in ran if p and c == 2)


def test_switching_counts_between_calls_keeps_the_bits(monkeypatch):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        X = rng.normal(size=(512, 300)).astype(dtype)
        y = rng.integers(0, 10, 512)

        def train(n_threads):
            model = fp.Model([300, 400, 10], loss="cross_entropy", seed=2, dtype=dtype,
                             dropout=0.1)
            model.fit(X, y, epochs=2, batch_size=64, optimizer=fp.Adam(1e-3),
                      n_threads=n_threads)
            return model

        one = train(1)
        calls = []

        def alternate(self, chunk):     # every other call on one thread, 3 batches each
            calls.append(1 if len(calls) % 2 else self.threads)
            return calls[-1], 3, False
        with monkeypatch.context() as patch:
            patch.setattr(thread_choice.ThreadChoice, "next", alternate)
            two = train(2)
        assert {1, 2} <= set(calls)
        np.testing.assert_array_equal(one.params, two.params)
        np.testing.assert_array_equal(one.net.opt_state, two.net.opt_state)
