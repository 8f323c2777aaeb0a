"""fit's loop: validation, early stopping, schedules, callbacks, interrupts, divergence,
classification metrics."""
import math
import os
import signal
import threading

import numpy as np
import pytest

import fastprop as fp
from fastprop import schedules
from helpers import cut_fine, use_blas


def blobs(n=300, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.array([[2, 0], [-2, 0], [0, 2]])[y] + noise * rng.normal(size=(n, 2))
    return X, y


def test_validation_metrics_are_recorded():
    X, y = blobs()
    Xv, yv = blobs(100, seed=1)
    model = fp.Model([2, 16, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    h = model.fit(X, y, epochs=4, optimizer=fp.Adam(0.01), validation_data=(Xv, yv))
    assert len(h.loss) == len(h.val_loss) == len(h.accuracy) == len(h.val_accuracy) == 4
    assert h.val_loss[-1] == pytest.approx(model.loss(Xv, yv), rel=1e-12)
    ev = model.evaluate(Xv, yv)
    assert ev["accuracy"] == h.val_accuracy[-1]
    assert ev["accuracy"] == (model.predict_classes(Xv) == yv).mean()


def test_validation_split_is_seeded_and_holds_out_rows():
    X, y = blobs()
    runs = []
    for _ in range(2):
        model = fp.Model([2, 8, 3], loss="cross_entropy", seed=3)
        h = model.fit(X, y, epochs=2, validation_split=0.2)
        runs.append((h.val_loss, model.params.copy()))
        assert h.samples == 240
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])


def test_regression_has_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    model = fp.Model([3, 4, 1], seed=0)
    h = model.fit(X, X[:, 0], epochs=2, validation_split=0.2)
    assert h.accuracy == [] and h.val_accuracy == [] and len(h.val_loss) == 2
    assert "accuracy" not in model.evaluate(X, X[:, 0])
    with pytest.raises(ValueError, match="classification loss"):
        model.predict_classes(X)


def test_early_stopping_restores_the_best_weights():
    # a big network on few noisy samples overfits: validation loss turns up
    X, y = blobs(40, seed=0, noise=2.5)
    Xv, yv = blobs(200, seed=1, noise=2.5)
    model = fp.Model([2, 128, 128, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    h = model.fit(X, y, epochs=300, batch_size=8, optimizer=fp.Adam(0.01),
                  validation_data=(Xv, yv), early_stopping=True, patience=5)
    assert h.stopped_epoch is not None and h.stopped_epoch == h.best_epoch + 5
    assert h.epochs == h.stopped_epoch + 1 < 300
    assert h.val_loss[h.best_epoch] == min(h.val_loss)
    assert model.loss(Xv, yv) == pytest.approx(h.val_loss[h.best_epoch], rel=1e-12)


def test_early_stopping_on_accuracy_and_min_delta():
    X, y = blobs(200)
    model = fp.Model([2, 8, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    h = model.fit(X, y, epochs=100, optimizer=fp.Adam(0.01), validation_split=0.25,
                  early_stopping=True, monitor="val_accuracy", patience=2, min_delta=0.5)
    # no epoch can improve accuracy by 0.5 after the first: stop after patience epochs
    assert h.best_epoch == 0 and h.epochs == 3


def test_callback_sees_logs_and_can_stop():
    X, y = blobs(100)
    seen = []

    def cb(epoch, logs):
        seen.append((epoch, dict(logs)))
        return epoch == 2

    model = fp.Model([2, 8, 3], loss="cross_entropy", seed=0)
    h = model.fit(X, y, epochs=50, callbacks=[cb])
    assert h.epochs == 3 and h.stopped_epoch == 2
    assert [e for e, _ in seen] == [0, 1, 2]
    assert len(seen[-1][1]["loss"]) == 3 and "accuracy" in seen[-1][1]


@pytest.mark.parametrize("schedule,expected", [
    (schedules.Constant(), lambda e: 0.1),
    (schedules.StepDecay(step_size=3, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 3)),
    (schedules.ExponentialDecay(gamma=0.9), lambda e: 0.1 * 0.9 ** e),
    (schedules.CosineAnnealing(T_max=8, min_lr=0.01),
     lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * min(e, 8) / 8)) / 2),
])
def test_schedules_follow_their_formula(schedule, expected):
    X, y = blobs(64)
    model = fp.Model([2, 4, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    h = model.fit(X, y, epochs=10, batch_size=64, optimizer=fp.SGD(lr=0.1),
                  schedule=schedule, shuffle=False)
    assert h.lr == pytest.approx([expected(e) for e in range(10)], rel=1e-12)
    # the schedule really drives the update: replay with per-epoch constant rates
    twin = fp.Model([2, 4, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    for lr in h.lr:
        twin.fit(X, y, epochs=1, batch_size=64, optimizer=fp.SGD(lr=lr), shuffle=False)
    np.testing.assert_allclose(model.params, twin.params, rtol=1e-12)


def test_reduce_on_plateau_cuts_when_the_loss_stalls():
    sched = schedules.ReduceOnPlateau(factor=0.5, patience=1, min_delta=0.0)
    sched.reset()
    losses = []
    rates = []
    for e, value in enumerate([1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.9, 0.9]):
        rates.append(sched.lr(e, 0.1, {"loss": losses} if losses else {}))
        losses.append(value)
    # epochs 3 and 4 stall (2 epochs > patience 1): cut before epoch 4; again before 6?
    # bad counts: e2 (0.95>0.9) 1, e3 2 -> cut for epoch 4, e4 1, e5 improve, e6 1, e7 2
    assert rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]


def test_ctrl_c_returns_the_history_and_leaves_the_model_usable():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = rng.integers(0, 4, 4000)
    model = fp.Model([20, 64, 4], loss="cross_entropy", seed=0)
    # compiled first (a cold cache), so that the signal lands in training
    model.fit(X[:10], y[:10], epochs=1, batch_size=1, optimizer=fp.SGD(0.001))
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        h = model.fit(X, y, epochs=100000, batch_size=1, optimizer=fp.SGD(0.001))
    finally:
        timer.cancel()
    assert h.interrupted and 0 < h.epochs < 100000
    assert np.isfinite(model.params).all()
    model.fit(X[:100], y[:100], epochs=1)                 # still trains
    assert model.predict(X[:5]).shape == (5, 4)


class _Clock:
    """A stand-in for the time module whose every reading is one second on: each
    compiled call then seems to take 1 s, and fit keeps its chunk size."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now


@pytest.mark.parametrize("sizes,loss,batch_size,n_threads,trainer", [
    ([1, 2, 1], "mse", 1, 1, "train_online_sgd_narrow"),
    ([3, 8, 2], "binary_cross_entropy", 1, 1, "train_batches"),
    ([3, 8, 3], "cross_entropy", 5, 1, "train_batches"),
    ([3, 8, 3], "cross_entropy", 64, 2, "train_batches_parallel"),
])
def test_epoch_sums_do_not_depend_on_how_fit_splits_the_epoch(monkeypatch, sizes, loss,
                                                               batch_size, n_threads,
                                                               trainer):
    # fit calls the compiled trainer on runs of batches sized by time
    # (config.CHUNK_SECONDS):
    # runs of 1, 3 or 7 batches, or the whole epoch, give the same bits, history too
    from fastprop import config, debug, training

    rng = np.random.default_rng(0)
    X = rng.normal(size=(230, sizes[0]))
    y = (rng.integers(0, sizes[-1], 230) if loss == "cross_entropy"
         else rng.random((230, sizes[-1])) if loss == "binary_cross_entropy"
         else rng.normal(size=(230, 1)))
    if trainer == "train_batches_parallel":
        cut_fine(monkeypatch)
    monkeypatch.setattr(training, "time", _Clock())
    monkeypatch.setattr(config, "CHUNK_SECONDS", 1.0)    # keeps each run's length
    results = []
    for chunk in (1, 3, 7, 10**9):
        model = fp.Model(sizes, loss=loss, seed=0)
        debug.set_chunk(model, batch_size, chunk)
        optimizer = fp.SGD(1e-2) if trainer == "train_online_sgd_narrow" else fp.Adam(1e-2)
        model.set_optimizer(optimizer)
        if trainer == "train_batches_parallel":
            use_blas(model, True)
        assert debug.walk(model, 230, batch_size, n_threads).trainer == trainer
        h = model.fit(X, y, epochs=3, batch_size=batch_size, n_threads=n_threads,
                      optimizer=optimizer)
        results.append((model.params.tobytes(), h.loss, h.accuracy))
    assert all(r == results[0] for r in results[1:])


def test_unshuffled_epochs_follow_the_rows_whatever_the_last_fits_size():
    # fit keeps 0..n-1 between calls (training.FitState): a fit on other data sizes
    # in between changes nothing
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    kept = fp.Model([2, 3, 1], seed=0)
    for n in (20, 30, 12, 20):
        fresh = fp.Model([2, 3, 1], seed=0)
        fresh.params[:] = kept.params
        for model in (kept, fresh):
            model.fit(X[:n], y[:n], epochs=2, batch_size=4, shuffle=False,
                      optimizer=fp.SGD(0.05))
        assert kept.params.tobytes() == fresh.params.tobytes()


def test_divergence_names_epoch_and_step_and_keeps_the_model_usable():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 100
    y = rng.normal(size=64) * 1e3
    model = fp.Model([3, 16, 1], dtype=np.float64, seed=0)
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+ of 8"):
        model.fit(X, y, epochs=50, batch_size=8, optimizer=fp.SGD(lr=10.0))
    assert np.isfinite(model.params).all()
    assert np.isfinite(model.net.opt_state).all()
    h = model.fit(X / 100, y / 1000, epochs=2, optimizer=fp.SGD(lr=1e-3))
    assert np.isfinite(h.loss).all()


def test_classification_targets_are_class_indices():
    X, y = blobs(30)
    model = fp.Model([2, 4, 3], loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        model.fit(X, y + 3)
    with pytest.raises(TypeError, match="real numbers"):
        model.fit(X, np.array(["a", "b", "c"] * 10))
    model.fit(X, y.astype(np.float64), epochs=1)     # integral floats are indices


def test_binary_classification_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    model = fp.Model([2, 8, 1], loss="binary_cross_entropy", dtype=np.float64, seed=0)
    h = model.fit(X, y, epochs=30, optimizer=fp.Adam(0.01))
    assert h.accuracy[-1] > 0.95
    assert (model.predict_classes(X)[:, 0] == y).mean() == model.evaluate(X, y)["accuracy"]


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(validation_split=1.5), ValueError, "validation_split"),
    (dict(validation_split=0.2, validation_data=([[0, 0]], [0])), ValueError, "not both"),
    (dict(validation_data=([[0, 0, 0]], [0])), ValueError, r"validation_data\[0\]"),
    (dict(validation_data=[[0, 0]]), ValueError, "pair"),
    (dict(monitor="val_loss"), ValueError, "needs validation"),
    (dict(monitor="f1"), ValueError, "monitor"),
    (dict(patience=-1), ValueError, "patience"),
    (dict(min_delta=-1.0), ValueError, "min_delta"),
    (dict(schedule="cosine"), TypeError, "schedule"),
    (dict(callbacks=[1]), TypeError, r"callbacks\[0\]"),
    (dict(early_stopping="yes"), TypeError, "early_stopping"),
    (dict(l2=-0.5), ValueError, "l2"),
])
def test_bad_fit_options_change_nothing(kwargs, error, match):
    X, y = blobs(30)
    model = fp.Model([2, 4, 3], loss="cross_entropy", seed=0)
    before = model.params.copy()
    with pytest.raises(error, match=match):
        model.fit(X, y, **kwargs)
    assert np.array_equal(model.params, before) and model.optimizer is None


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="gamma"):
        schedules.ExponentialDecay(gamma=1.5)
    with pytest.raises(ValueError, match="step_size"):
        schedules.StepDecay(step_size=0)
    with pytest.raises(ValueError, match="factor"):
        schedules.ReduceOnPlateau(factor=1.0)


def test_readme_digits_recipe_reaches_97_percent():
    """Adam + dropout + early stopping on the digits, as README shows."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    model = fp.Model([64, 256, 128, 10], loss="cross_entropy", dropout=0.2,
                     dtype=np.float32, seed=0)
    h = model.fit(X_train, y_train, epochs=200, batch_size=32, optimizer=fp.Adam(1e-3),
                  validation_split=0.1, early_stopping=True, patience=15)
    assert h.stopped_epoch is not None
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.97
