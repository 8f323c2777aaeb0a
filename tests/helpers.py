"""Shared test helpers: matching models, data and reference layers; finite differences."""
import numpy as np

from fastprop.debug import set_blas_min

import fastprop as fp

# Every (loss, output activation) pair the library accepts, with the loss's default first.
OUTPUT_PAIRS = [
    ("mse", "identity"), ("mse", "relu"), ("mse", "leaky_relu"), ("mse", "elu"),
    ("mse", "sigmoid"), ("mse", "tanh"), ("mse", "softplus"), ("mse", "gelu"),
    ("mse", "softmax"),
    ("mae", "identity"), ("mae", "tanh"), ("mae", "softmax"),
    ("huber", "identity"), ("huber", "sigmoid"), ("huber", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
    ("mse", "exp"), ("poisson", "exp"),
]
HIDDEN = ["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu"]


def make_targets(rng, loss, n, k, labels=True):
    """Targets suited to `loss`: labels (n,) or probability rows for cross-entropy."""
    if loss == "cross_entropy":
        if labels:
            return rng.integers(0, k, n)
        p = rng.random((n, k)) + 0.1
        return p / p.sum(axis=1, keepdims=True)
    if loss == "binary_cross_entropy":
        return rng.random((n, k)) if k > 1 else rng.random(n)
    if loss == "poisson":       # counts, zeros among them (y log y is 0 there)
        return rng.poisson(1.5, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k)) * 2.0


def reference_targets(loss, y, k):
    """The (n, k) float64 target matrix the reference works with."""
    y = np.asarray(y, dtype=np.float64) if not (loss == "cross_entropy" and np.ndim(y) == 1) \
        else None
    return y.reshape(len(y), k) if y is not None else None


def reference_layers(model):
    """The model's parameters as float64 (W, b) pairs."""
    return [(W.astype(np.float64), b.astype(np.float64))
            for W, b in zip(model.weights, model.biases)]


def make_case(hidden, loss, out_act, sizes, n, dtype=np.float64, seed=0, labels=True):
    """A model with random (non-zero) biases, inputs X and targets y, and the reference's
    (n, k) target matrix."""
    rng = np.random.default_rng(seed)
    model = fp.Model(sizes, activation=hidden, loss=loss, output_activation=out_act,
                     dtype=dtype, seed=seed)
    for b in model.biases:
        b[...] = rng.normal(size=b.shape) * 0.3
    X = rng.normal(size=(n, sizes[0]))
    y = make_targets(rng, loss, n, sizes[-1], labels)
    if loss == "cross_entropy" and np.ndim(y) == 1:
        Y = np.zeros((n, sizes[-1]))
        Y[np.arange(n), y] = 1.0
    else:
        Y = np.asarray(y, np.float64).reshape(n, sizes[-1])
    return model, X, y, Y


def max_rel_err(a, b):
    """max |a - b| / max(|a|, |b|) over the arrays (0 when both are zero)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0 else np.abs(a - b).max() / scale


def central_differences(f, params, h=1e-6):
    """Gradient of f() with respect to every entry of the flat array `params` (edited
    in place and restored)."""
    grad = np.zeros(params.size)
    for i in range(params.size):
        old = params[i]
        params[i] = old + h
        up = f()
        params[i] = old - h
        down = f()
        params[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def use_blas(model, on):
    """Force every layer onto the BLAS path (on=True) or the explicit loops."""
    set_blas_min(model, 0 if on else 2**62)


def cut_fine(monkeypatch):
    """Make fit's tile plan (fastprop/tiles.py) cut even small products into many
    small, uneven tiles, and share them among threads however small the step, so that
    small test nets take the multi-threaded path with every kind of edge block. Layers
    below blas_min stay one tile each."""
    from fastprop import config
    for name, value in [("TILE_ROWS", 3), ("OUTPUT_ROWS", 2), ("TILE_COLS", 2),
                        ("DW_TILE", 2), ("MIN_TILE_WORK", 1), ("ALIGN", 1),
                        ("PARALLEL_MIN_WORK", 0)]:
        monkeypatch.setattr(config, name, value)


def assert_online_sgd_follows_reference(model, X, y, Y, loss, lr):
    """model.fit(batch_size=1, shuffle=False) with the model's bound SGD(lr) takes,
    sample by sample, the steps that tests/reference.py's backprop gives (float64)."""
    from reference import backprop

    layers = [(W.copy(), b.copy()) for W, b in zip(model.weights, model.biases)]
    for i in range(X.shape[0]):
        ref = backprop(layers, model.activations, loss, X[i:i + 1], Y[i:i + 1])
        layers = [(W - lr * dW, b - lr * db)
                  for (W, b), dW, db in zip(layers, ref["dW"], ref["db"])]
    model.fit(X, y, epochs=1, batch_size=1, shuffle=False)
    for (W, b), W_fit, b_fit in zip(layers, model.weights, model.biases):
        np.testing.assert_allclose(W_fit, W, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(b_fit, b, rtol=1e-11, atol=1e-13)
