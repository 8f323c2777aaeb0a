"""thread_choice.ThreadChoice: a multi-threaded fit runs each call on its thread count
or on one, whichever was faster lately, measures the other with short calls within a
time budget, and the trained bits do not depend on any of it."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import config, thread_choice
from fastprop.thread_choice import ThreadChoice


def drive(choice, speed, calls, chunk=64):
    """Run `calls` calls against per-batch seconds speed[count]; return what ran."""
    ran = []
    for _ in range(calls):
        count, batches, probe = choice.next(chunk)
        ran.append((count, batches, probe))
        choice.record(count, probe, speed[count] * batches, batches)
    return ran


def test_both_counts_are_measured_first_with_short_calls():
    ran = drive(ThreadChoice(4), {4: 1.0, 1: 2.0}, 2)
    assert [(c, p) for c, _, p in ran] == [(4, True), (1, True)]
    assert all(batches == 4 for _, batches, _ in ran)       # 64 // 16


def test_the_faster_count_runs_and_the_other_costs_little():
    for speed, best in (({2: 1.0, 1: 1.9}, 2), ({2: 6.0, 1: 1.0}, 1)):
        ran = drive(ThreadChoice(2), speed, 400)
        steady = ran[10:]
        seconds = [speed[c] * b for c, b, _ in steady]
        other = sum(s for (c, _, _), s in zip(steady, seconds) if c != best)
        assert all(c == best for c, _, p in steady if not p)
        assert other <= 1.2 * config.PROBE_BUDGET * sum(seconds)
        assert any(p for _, _, p in steady)                 # it keeps measuring


def test_it_follows_a_change_of_load():
    choice = ThreadChoice(2)
    drive(choice, {2: 1.0, 1: 2.0}, 50)
    assert choice.best() == 2
    drive(choice, {2: 10.0, 1: 2.0}, 1)       # a core was taken: the next call shows it
    assert choice.best() == 1
    ran = drive(choice, {2: 1.0, 1: 2.0}, 60)  # and given back: found again by a probe
    assert choice.best() == 2 and ran[-1][0] == 2


def test_a_slow_count_is_probed_with_one_batch():
    choice = ThreadChoice(2)
    ran = drive(choice, {2: 50.0, 1: 1.0}, 200)
    assert all(b == 1 for c, b, p in ran[2:] if c == 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_switching_counts_between_calls_keeps_the_bits(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 300)).astype(dtype)
    y = rng.integers(0, 10, 512)

    def train(n_threads):
        model = fp.Model([300, 400, 10], loss="cross_entropy", seed=2, dtype=dtype,
                         dropout=0.1)
        model.fit(X, y, epochs=2, batch_size=64, optimizer=fp.Adam(1e-3),
                  n_threads=n_threads)
        return model

    one = train(1)
    # alternate on every call, a few batches each
    calls = []

    def alternate(self, chunk):
        calls.append(1 if len(calls) % 2 else self.threads)
        return calls[-1], 3, False
    monkeypatch.setattr(thread_choice.ThreadChoice, "next", alternate)
    two = train(2)
    assert {1, 2} <= set(calls)
    np.testing.assert_array_equal(one.params, two.params)
    np.testing.assert_array_equal(one.net.opt_state, two.net.opt_state)
