"""Extreme logits and large inputs keep losses and gradients finite."""
import numpy as np
import pytest

import fastprop as fp

from reference import backprop
from helpers import reference_layers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,out_act,k", [
    ("cross_entropy", None, 3),
    ("binary_cross_entropy", None, 2),
    ("mse", "softmax", 3),
    ("mse", "sigmoid", 2),
    ("huber", "tanh", 2),
])
@pytest.mark.parametrize("logit", [1e4, -1e4])
def test_extreme_logits_stay_finite(dtype, loss, out_act, k, logit):
    model = fp.Model([2, 3, k], activation="tanh", loss=loss, output_activation=out_act,
                     dtype=dtype, seed=0)
    model.biases[-1][...] = logit * np.linspace(1, -1, k)   # some huge, some tiny
    X = np.random.default_rng(0).normal(size=(5, 2))
    y = np.arange(5) % k if loss == "cross_entropy" else np.full((5, k), 0.3)
    assert np.isfinite(model.predict(X)).all()
    cost = model.loss(X, y)
    assert np.isfinite(cost)
    dW, db = model.gradients(X, y)
    assert all(np.isfinite(g).all() for g in dW + db)
    if loss == "cross_entropy" and dtype == np.float64:
        # the cost of a confidently wrong softmax is the logit gap, computed exactly
        Y = np.eye(k)[y]
        ref = backprop(reference_layers(model), model.activations, loss, X, Y)
        assert cost == pytest.approx(ref["loss"], rel=1e-12)
        assert cost > 1e3
    model.fit(X, y, epochs=2, batch_size=5, optimizer=fp.SGD(lr=1e-6))
    assert np.isfinite(model.params).all()


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu", "elu", "sigmoid", "tanh",
                                    "softplus", "gelu", "identity"])
def test_large_inputs_stay_finite(hidden):
    model = fp.Model([3, 8, 3], activation=hidden, loss="cross_entropy", dtype=np.float32,
                     seed=0)
    X = np.array([[1e4, -1e4, 5e3], [-3e4, 2e4, 0.0]])
    y = np.array([0, 2])
    assert np.isfinite(model.predict(X)).all()
    assert np.isfinite(model.loss(X, y))
    dW, db = model.gradients(X, y)
    assert all(np.isfinite(g).all() for g in dW + db)


def test_binary_cross_entropy_of_saturated_sigmoid_is_the_logit():
    model = fp.Model([1, 1], loss="binary_cross_entropy", dtype=np.float64, seed=0)
    model.weights[0][...] = 0.0
    model.biases[0][...] = -800.0         # sigmoid(-800) underflows to 0
    # -log(sigmoid(-800)) = 800 (+ log1p(e^-800)): computed from the logit, not log(0)
    assert model.loss(np.zeros((1, 1)), np.ones(1)) == pytest.approx(800.0, rel=1e-15)
