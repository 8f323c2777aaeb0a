"""L2 penalty and dropout: gradients against finite differences and the reference,
dropout statistics, reproducibility."""
import numpy as np
import pytest

import fastprop as fp

from helpers import central_differences, make_case, max_rel_err, reference_layers
from reference import backprop


def flat(dW, db):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])


def test_l2_gradient_matches_finite_differences_and_reference():
    model, X, y, Y = make_case("tanh", "cross_entropy", None, [4, 5, 3], n=7, seed=1)
    model = fp.Model([4, 5, 3], activation="tanh", loss="cross_entropy", dtype=np.float64,
                     seed=1, l2=0.3)
    numeric = central_differences(lambda: model.loss(X, y), model.params)
    analytic = flat(*model.gradients(X, y))
    assert max_rel_err(analytic, numeric) < 1e-6
    # reference: mean cost + l2/2 * sum W^2, gradient dW + l2 * W, biases untouched
    layers = reference_layers(model)
    ref = backprop(layers, model.activations, "cross_entropy", X, Y)
    penalty = 0.15 * sum((W ** 2).sum() for W, _ in layers)
    assert model.loss(X, y) == pytest.approx(ref["loss"] + penalty, rel=1e-12)
    dW, db = model.gradients(X, y)
    for l, (W, _) in enumerate(layers):
        assert max_rel_err(dW[l], ref["dW"][l] + 0.3 * W) < 1e-12
        assert max_rel_err(db[l], ref["db"][l]) < 1e-12


def test_fit_l2_overrides_for_one_run_only():
    model, X, y, _ = make_case("relu", "mse", None, [3, 4, 1], n=10, seed=0)
    twin = fp.Model([3, 4, 1], dtype=np.float64, seed=0, l2=0.5)
    twin.params[...] = model.params
    model.fit(X, y, epochs=3, batch_size=10, shuffle=False, l2=0.5, optimizer=fp.SGD(0.1))
    twin.fit(X, y, epochs=3, batch_size=10, shuffle=False, optimizer=fp.SGD(0.1))
    assert np.array_equal(model.params, twin.params)
    assert model.l2 == 0.0 and model.net.l2 == 0.0


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh", "elu", "gelu"])
def test_dropout_gradient_with_a_fixed_mask(hidden):
    """With the mask held fixed (the stream counter reset before each evaluation), the
    training gradient is the derivative of the training cost."""
    model = fp.Model([3, 6, 5, 2], activation=hidden, loss="mse", dtype=np.float64, seed=4,
                     dropout=[0.3, 0.5])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, 2))
    counter = model.net.rng[1]

    def cost():
        model.net.rng[1] = counter
        return model.loss(X, y, dropout=True)

    numeric = central_differences(cost, model.params)
    model.net.rng[1] = counter
    analytic = flat(*model.gradients(X, y, dropout=True))
    assert np.abs(numeric).max() > 0
    assert max_rel_err(analytic, numeric) < 1e-6


def test_dropout_keeps_the_mean_activation_and_varies_the_mask():
    model = fp.Model([50, 400, 1], activation="relu", dtype=np.float64, seed=0,
                     dropout=0.3)
    X = np.random.default_rng(1).normal(size=(200, 50))
    t = model.trace(X, np.zeros(200))                     # no dropout outside training
    clean = t.A[0]
    model.reserve(200)
    net = model.net
    hidden = slice(net.capacity * 50, net.capacity * 50 + 200 * 400)   # layer 0's region
    from fastprop.kernels.network import copy_rows, forward
    copy_rows(net.A, X, 0, 200)
    forward(net, 200, True)
    masks = net.M[hidden].reshape(200, 400).copy()
    dropped = net.A[hidden].reshape(200, 400)
    kept = masks > 0
    assert abs(kept.mean() - 0.7) < 0.01                   # keep rate 1 - p
    np.testing.assert_allclose(masks[kept], 1 / 0.7)
    assert abs(dropped.mean() / clean.mean() - 1) < 0.02   # inverted dropout: mean kept
    forward(net, 200, True)                                # the next step: another mask
    second = net.M[hidden].reshape(200, 400)
    assert (second != masks).mean() > 0.3


def test_dropout_runs_are_reproducible():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 8))
    y = rng.integers(0, 3, 64)
    params = []
    for seed in (5, 5, 6):
        model = fp.Model([8, 16, 3], loss="cross_entropy", dtype=np.float32, seed=seed,
                         dropout=0.5)
        model.fit(X, y, epochs=3, batch_size=8, optimizer=fp.Adam())
        params.append(model.params.copy())
    assert np.array_equal(params[0], params[1])
    assert not np.array_equal(params[0], params[2])


def test_dropout_is_off_in_predict_loss_and_gradients():
    model = fp.Model([4, 8, 2], loss="cross_entropy", dtype=np.float64, seed=0,
                     dropout=0.5)
    plain = fp.Model([4, 8, 2], loss="cross_entropy", dtype=np.float64, seed=0)
    X = np.random.default_rng(0).normal(size=(10, 4))
    y = np.arange(10) % 2
    assert np.array_equal(model.predict(X), plain.predict(X))
    assert model.loss(X, y) == plain.loss(X, y)
    assert np.array_equal(flat(*model.gradients(X, y)), flat(*plain.gradients(X, y)))
    assert not np.array_equal(model.predict(X, dropout=True), model.predict(X))


@pytest.mark.parametrize("kwargs,match", [
    (dict(dropout=1.0), r"dropout\[0\]"),
    (dict(dropout=-0.1), r"dropout\[0\]"),
    (dict(dropout=[0.1, 0.2]), "one per hidden layer"),
    (dict(l2=-1.0), "l2"),
    (dict(l2=float("nan")), "l2"),
])
def test_bad_regularization_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fp.Model([3, 4, 2], **kwargs)
