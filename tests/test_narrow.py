"""The narrow-network trainer (kernels/narrow.py: values in registers) gives the bits
of the batch walk, every bit (zeros' signs included),
and fit uses it exactly where it suits (training.choose_walk)."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import debug, training
from fastprop.kernels.narrow import WIDTH, train_online_sgd_narrow
from fastprop.kernels.tiled import train_batches
from fastprop.tiles import make_tiles

from helpers import assert_online_sgd_follows_reference, central_differences, make_case

SIZES = [[1, 2, 1], [2, 2, 1], [3, 4, 2], [4, 4, 4], [1, 3, 2, 4, 1], [4, 1, 4],
         [2, 4], [3, 1]]


def bits(a):
    """The array's raw bits, so that -0.0 and +0.0 (and NaN payloads) differ."""
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64).copy()


def twins(hidden, loss, sizes, n, dtype, weight_decay, seed=3):
    """Two identical bound models (narrow and batch walks) and the data."""
    models = []
    for _ in range(2):
        model, X, y, _ = make_case(hidden, loss, "identity", sizes, n, dtype=dtype,
                                   seed=seed)
        model.set_optimizer(fp.SGD(0.05, weight_decay=weight_decay))
        model.reserve(1)
        models.append(model)
    X, Y = debug.arrays(models[0], X, y)
    return models, X, Y


def run_both(models, X, Y, order):
    n = X.shape[0]
    narrow = train_online_sgd_narrow(models[0].net, X, Y, order, 1, 0, n, 0.0, 0.0)
    net = models[1].net
    general = train_batches(net, make_tiles(net.layout, 1, net.blas_min), X, Y, net.SW[:0],
                            order, 1, 0, n, 0.0, 0.0)
    return narrow, general


def assert_same_bits(models, grads=True):
    first = models[0].net
    for model in models[1:]:
        net = model.net
        assert np.array_equal(bits(first.params), bits(net.params))
        if grads:
            assert np.array_equal(bits(first.grads), bits(net.grads))
        assert first.opt_step[0] == net.opt_step[0]
        assert np.array_equal(first.rng, net.rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("hidden", ["relu", "identity"])
@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_same_bits_as_the_batch_walk(dtype, sizes, hidden, loss):
    for weight_decay in (0.0, 1e-2):
        models, X, Y = twins(hidden, loss, sizes, 40, dtype, weight_decay)
        assert debug.walk(models[0], 40, 1).trainer == "train_online_sgd_narrow"
        order = np.random.default_rng(1).permutation(40).astype(np.int64)
        narrow, general = run_both(models, X, Y, order)
        assert narrow == general
        assert_same_bits(models)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", ["relu", "identity", ["identity", "relu"],
                                    ["relu", "identity"]], ids=str)
def test_zero_signs_as_the_general_path(dtype, hidden):
    # zero weights and inputs, zero targets: products and sums of signed zeros all
    # the way through (the narrow path drops two additions of +0, see narrow.py);
    # mixed layers check each layer's own activation and its f' in the layer above
    models, X, Y = twins(hidden, "mse", [3, 4, 3, 2], 24, dtype, 1e-2)
    for model in models:
        model.params[::3] = 0.0
        model.params[1::5] = -0.0
    X[::2] = 0.0
    X[1::4] = -0.0
    Y[::3] = 0.0
    order = np.arange(24, dtype=np.int64)
    narrow, general = run_both(models, X, Y, order)
    assert narrow == general
    assert_same_bits(models)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first", [0, 2])
def test_a_non_finite_row_stops_before_its_update(dtype, first):
    # from batch `first` on, with epoch sums carried in: the counters, the sums and
    # the bad row's gradient as the other trainers leave them
    models, X, Y = twins("relu", "huber", [2, 3, 2], 10, dtype, 1e-2)
    Y[6, 0] = np.nan                   # a NaN cost (fit would refuse such a target)
    before = models[0].params.copy()
    order = np.arange(10, dtype=np.int64)
    narrow = train_online_sgd_narrow(models[0].net, X, Y, order, 1, first, 10, 1.5, 2.0)
    net = models[1].net
    general = train_batches(net, make_tiles(net.layout, 1, net.blas_min), X, Y, net.SW[:0],
                            order, 1, first, 10, 1.5, 2.0)
    assert narrow[2] == general[2] == 6
    assert narrow == general
    # (the gradient buffer is scratch after a bad step: the batch walk stops before
    # computing it, the row walks after)
    assert_same_bits(models, grads=False)
    assert not np.array_equal(models[0].params, before)     # rows first-5 trained
    assert np.isfinite(models[0].params).all()


def test_fit_picks_it_only_where_it_computes_the_same():
    def suits(sizes, optimizer=None, batch_size=1, l2=0.0, **kw):
        model = fp.Model(sizes, l2=l2, **kw)
        model.set_optimizer(optimizer or fp.SGD(0.1))
        return debug.walk(model, 10, batch_size).trainer == "train_online_sgd_narrow"

    assert suits([1, 2, 1])
    assert suits([WIDTH, WIDTH, WIDTH], activation="identity", loss="huber")
    assert suits([2, 3, 3, 3, 1], loss="mae")
    assert not suits([WIDTH + 1, 2, 1])                         # too wide an input
    assert not suits([1, WIDTH + 1, 1])                         # too wide a layer
    assert not suits([1, 2, WIDTH + 1])                         # too wide an output
    assert not suits([1, 2, 1], activation="tanh")              # region kernels
    assert not suits([1, 2, 1], output_activation="relu")
    assert not suits([2, 2, 2], loss="cross_entropy")
    assert not suits([2, 2, 1], loss="binary_cross_entropy")
    assert suits([1, 2, 1], fp.SGD(0.1, weight_decay=1e-3))
    assert not suits([1, 2, 1], batch_size=2)                  # a batch's gradient sums
    assert not suits([1, 2, 1], fp.SGD(0.1, momentum=0.9))     # a buffer per step
    assert not suits([1, 2, 1], fp.Adam())
    assert not suits([1, 2, 1], l2=1e-3)                        # the penalty's gradient
    assert not suits([1, 4, 1], dropout=0.2)                    # no dropout here
    model = fp.Model([1, 2, 1])
    model.set_optimizer(fp.SGD(0.01))
    assert debug.walk(model, 10, 1).trainer == "train_online_sgd_narrow"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_on_a_narrow_net_equals_the_general_trainer(dtype, monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (300, 1)).astype(dtype)
    y = np.abs(X)
    results = []
    for use_narrow in (True, False):
        monkeypatch.setattr(training, "_narrow_online", lambda net, b, flag=use_narrow: flag)
        model = fp.Model([1, 2, 1], activation="relu", dtype=dtype, seed=0)
        history = model.fit(X, y, epochs=3, batch_size=1,
                            optimizer=fp.SGD(0.01, weight_decay=1e-3))
        results.append((bits(model.params), history.loss))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("hidden", ["relu", "identity"])
def test_online_fit_follows_the_numpy_reference(hidden, loss):
    """fit(batch_size=1) on a narrow net takes, sample by sample, the SGD steps that
    tests/reference.py's backprop gives, in float64."""
    model, X, y, Y = make_case(hidden, loss, "identity", [3, 4, 2, 2], 12, seed=5)
    model.set_optimizer(fp.SGD(0.05))
    assert debug.walk(model, 10, 1).trainer == "train_online_sgd_narrow"
    assert_online_sgd_follows_reference(model, X, y, Y, loss, 0.05)


@pytest.mark.parametrize("loss", ["mse", "huber"])
@pytest.mark.parametrize("hidden", ["relu", "identity", ["identity", "relu"]], ids=str)
def test_the_gradient_it_writes_matches_central_differences(hidden, loss):
    """The gradient the narrow trainer writes for a row (float64) against central
    differences of that row's cost, taken with the parameters before the step."""
    models, X, Y = twins(hidden, loss, [3, 4, 3, 2], 1, np.float64, 0.0, seed=7)
    model = models[0]
    start = model.params.copy()

    def cost():
        return model.loss(X, Y)     # the mean cost of the one row: its cost

    expected = central_differences(cost, model.params)
    assert np.array_equal(model.params, start)
    order = np.zeros(1, dtype=np.int64)
    train_online_sgd_narrow(model.net, X, Y, order, 1, 0, 1, 0.0, 0.0)
    np.testing.assert_allclose(model.net.grads, expected, rtol=1e-6, atol=1e-8)
