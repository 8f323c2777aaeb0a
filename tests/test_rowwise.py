"""The row walk (kernels/rowwise.py) gives the bits of the batch walk
(kernels/tiled.train_batches), and fit uses it exactly where it should (online
training on small layers)."""
import numpy as np
import pytest
from numba import njit

import fastprop as fp
from fastprop import debug, kernels, training
from fastprop.kernels.network import backward, copy_rows, forward
from fastprop.kernels.rowwise import rowwise_gradient, rowwise_suits, train_batches_rowwise
from fastprop.kernels.tiled import train_batches
from fastprop.tiles import make_tiles

from helpers import HIDDEN, OUTPUT_PAIRS, make_case


def twins(hidden, loss, out_act, sizes, n, dtype, batch_size, optimizer, l2=0.0):
    """Two identical models with their optimizer and workspace bound, and the data."""
    models = []
    for _ in range(2):
        model, X, y, _ = make_case(hidden, loss, out_act, sizes, n, dtype=dtype, seed=3)
        model.l2 = l2
        model.set_optimizer(optimizer())
        model.reserve(batch_size)
        models.append(model)
    X, Y = debug.arrays(models[0], X, y)
    return models, X, Y


def run_both(models, X, Y, batch_size, order=None):
    if order is None:
        order = np.arange(X.shape[0], dtype=np.int64)
    n_batches = -(-X.shape[0] // batch_size)
    net = models[0].net
    tiles = make_tiles(net.layout, batch_size, net.blas_min)
    out_general = train_batches(net, tiles, X, Y, order, batch_size, 0, n_batches, 0.0, 0.0)
    out_rowwise = train_batches_rowwise(models[1].net, X, Y, order, batch_size, 0,
                                        n_batches, 0.0, 0.0)
    return out_general, out_rowwise


def assert_same_state(a, b, grads=True):
    assert np.array_equal(a.params, b.params)
    if grads:
        assert np.array_equal(a.net.grads, b.net.grads)
    assert np.array_equal(a.net.opt_state, b.net.opt_state)
    assert a.net.opt_step[0] == b.net.opt_step[0]
    assert np.array_equal(a.net.rng, b.net.rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_hidden_activation_matches_train_batches(dtype, hidden):
    models, X, Y = twins(hidden, "mse", "identity", [3, 5, 4, 2], 40, dtype, 1, fp.SGD)
    general, rowwise = run_both(models, X, Y, 1)
    assert general == rowwise
    assert_same_state(*models)


@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_every_output_pair_matches_train_batches(loss, out_act):
    # batches of 5 and a partial last one: the row-by-row sums of the gradient equal
    # the batch walk's loops; classifiers' correct counts agree too
    models, X, Y = twins("tanh", loss, out_act, [4, 6, 3], 23, np.float64, 5,
                         lambda: fp.Adam(1e-2), l2=1e-3)
    general, rowwise = run_both(models, X, Y, 5)
    assert general == rowwise
    assert_same_state(*models)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_depths_and_optimizers_match(depth):
    sizes = [2] + [7] * (depth - 1) + [1]
    for optimizer in (lambda: fp.SGD(0.05, momentum=0.9, nesterov=True),
                      lambda: fp.RMSprop(1e-2), lambda: fp.Adadelta()):
        models, X, Y = twins("relu", "huber", "identity", sizes, 30, np.float32, 1,
                             optimizer, l2=1e-2)
        order = np.random.default_rng(0).permutation(30).astype(np.int64)
        general, rowwise = run_both(models, X, Y, 1, order)
        assert general == rowwise
        assert_same_state(*models)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_online_sgd_with_weight_decay_matches(dtype, loss, out_act):
    # batch 1 and plain SGD with weight decay, every (loss, output) pair, classifiers'
    # correct counts included
    models, X, Y = twins("relu", loss, out_act, [4, 6, 3], 17, dtype, 1,
                         lambda: fp.SGD(0.05, weight_decay=1e-2))
    order = np.random.default_rng(2).permutation(17).astype(np.int64)
    general, rowwise = run_both(models, X, Y, 1, order)
    assert general == rowwise
    assert_same_state(*models)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_kernel_sgd_step_equals_gradient_then_update(dtype, loss, out_act):
    # kernels.sgd_step: the same bits as loss_and_gradients then p -= lr (g + 0 p)
    nets = []
    for _ in range(2):
        model, X, y, _ = make_case("tanh", loss, out_act, [3, 6, 4], 1, dtype=dtype, seed=9)
        nets.append(model.net)
    X, Y = debug.arrays(model, X, y)
    lr = 0.1
    cost = kernels.sgd_step(nets[0], X, Y, lr)
    assert cost == kernels.loss_and_gradients(nets[1], X, Y)
    step = dtype(lr)
    nets[1].params[:] -= step * (nets[1].grads + dtype(0.0) * nets[1].params)
    for field in ("params", "grads", "rng"):
        assert np.array_equal(getattr(nets[0], field), getattr(nets[1], field)), field


def test_non_finite_cost_stops_before_the_update():
    models, X, Y = twins("relu", "mse", "identity", [1, 2, 1], 10, np.float64, 1, fp.SGD)
    X[6, 0] = 1e300      # overflows the squared error of row 6
    general, rowwise = run_both(models, X, Y, 1)
    assert rowwise[2] == general[2] == 6
    assert rowwise == general
    # (the gradient buffer is scratch after a bad step: the batch walk stops before
    # computing it, the row walk after)
    assert_same_state(*models, grads=False)


def test_fit_picks_the_rowwise_trainer_for_online_regression():
    def pick(sizes, loss="mse", batch_size=1, **kw):
        model = fp.Model(sizes, loss=loss, **kw)
        model.set_optimizer(fp.Adam())      # (plain SGD on narrow nets: narrow.py)
        return debug.walk(model, 10, batch_size).trainer == "train_batches_rowwise"

    assert pick([1, 2, 1])
    assert pick([8, 32, 32, 1], loss="huber")
    assert pick([4, 16, 3], loss="cross_entropy")
    assert pick([1, 2, 1], output_activation="tanh")
    assert not pick([1, 2, 1], batch_size=2)                  # batches: train_batches
    assert not pick([1, 8, 1], dropout=0.2)                   # no dropout here
    assert not pick([200, 100, 1])                            # a BLAS-sized layer


def test_fit_online_equals_the_general_trainer_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (500, 1)).astype(np.float32)
    y = np.abs(X)
    results = []
    for use_rowwise in (True, False):
        monkeypatch.setattr(training, "_row_at_a_time", lambda net, b, flag=use_rowwise: flag)
        monkeypatch.setattr(training, "_narrow_online", lambda net, b: False)
        model = fp.Model([1, 2, 1], activation="relu", dtype=np.float32, seed=0)
        history = model.fit(X, y, epochs=3, batch_size=1, optimizer=fp.SGD(0.01))
        results.append((model.params.copy(), history.loss))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_online_fit_follows_the_numpy_reference(hidden, loss):
    """fit(batch_size=1) on a regression net (the row-at-a-time trainer) takes, sample
    by sample, the SGD steps that tests/reference.py's backprop gives, in float64."""
    from reference import backprop

    model, X, y, Y = make_case(hidden, loss, "identity", [3, 6, 5, 2], 12, seed=5)
    assert debug.walk(model, 12, 1).trainer == "train_batches_rowwise"
    layers = [(W.copy(), b.copy()) for W, b in zip(model.weights, model.biases)]
    lr = 0.05
    for i in range(X.shape[0]):
        ref = backprop(layers, model.activations, loss, X[i:i + 1], Y[i:i + 1])
        layers = [(W - lr * dW, b - lr * db)
                  for (W, b), dW, db in zip(layers, ref["dW"], ref["db"])]
    model.fit(X, y, epochs=1, batch_size=1, shuffle=False, optimizer=fp.SGD(lr))
    for (W, b), W_fit, b_fit in zip(layers, model.weights, model.biases):
        np.testing.assert_allclose(W_fit, W, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(b_fit, b, rtol=1e-11, atol=1e-13)


@njit(cache=True)
def _general_gradient(net, X, Y):
    """network.forward(training) and backward on the batch, as loss_and_gradients did
    before it took the row-by-row path."""
    rows = X.shape[0]
    copy_rows(net.A, X, 0, rows)
    copy_rows(net.Y, Y, 0, rows)
    forward(net, rows, True)
    return backward(net, rows, 1.0 / rows, True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_batch_gradient_matches_forward_and_backward(dtype, loss, out_act):
    # the kernel API's loss_and_gradients takes this path for small nets without dropout
    for rows in (1, 5):
        nets = []
        for _ in range(2):
            model, X, y, _ = make_case("elu", loss, out_act, [3, 6, 4], rows, dtype=dtype,
                                       seed=7)
            nets.append(model.net._replace(l2=1e-2))
        X, Y = debug.arrays(model, X, y)
        assert rowwise_suits(nets[0], rows)
        assert rowwise_gradient(nets[0], X, Y) == _general_gradient(nets[1], X, Y)
        assert np.array_equal(nets[0].grads, nets[1].grads)
        assert np.array_equal(nets[0].rng, nets[1].rng)


def test_rowwise_suits_only_exact_cases():
    assert rowwise_suits(fp.Model([4, 8, 2]).net, 32)
    assert not rowwise_suits(fp.Model([4, 8, 2], dropout=0.1).net, 1)
    assert not rowwise_suits(fp.Model([200, 100, 2]).net, 1)      # a BLAS-sized layer
    assert not rowwise_suits(fp.Model([40, 40, 2]).net, 32)       # BLAS at 32 rows
