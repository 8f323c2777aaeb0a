"""Training reduces the loss, in float32 and float64; runs are reproducible bit for bit."""
import numpy as np
import pytest

import fastprop as fp

from helpers import make_case, max_rel_err

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_xor(dtype):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    model = fp.Model([2, 8, 2], activation="tanh", loss="cross_entropy", dtype=dtype, seed=1)
    history = model.fit(X, y, epochs=500, batch_size=4, optimizer=fp.SGD(lr=0.5))
    assert history.loss[-1] < 0.05 < history.loss[0]
    assert (model.predict(X).argmax(axis=1) == y).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sine_regression(dtype):
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (256, 1))
    y = np.sin(X[:, 0])
    model = fp.Model([1, 32, 32, 1], activation="tanh", loss="mse", dtype=dtype, seed=0)
    start = model.loss(X, y)
    history = model.fit(X, y, epochs=300, batch_size=16, optimizer=fp.Adam(lr=5e-3))
    assert history.loss[-1] < 0.01 * start
    assert model.loss(X, y) < 2e-3


@pytest.mark.parametrize("dtype", DTYPES)
def test_separable_classification(dtype):
    rng = np.random.default_rng(3)
    centers = np.array([[3, 0], [-3, 0], [0, 3]])
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.normal(size=(300, 2))
    model = fp.Model([2, 16, 3], loss="cross_entropy", dtype=dtype, seed=2)
    model.fit(X, y, epochs=20, batch_size=10, optimizer=fp.SGD(lr=0.05))
    assert (model.predict(X).argmax(axis=1) == y).mean() > 0.97


def test_binary_cross_entropy_multilabel():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], axis=1).astype(float)
    model = fp.Model([3, 16, 2], loss="binary_cross_entropy", dtype=np.float64, seed=0)
    model.fit(X, y, epochs=60, batch_size=20, optimizer=fp.SGD(lr=0.5))
    assert ((model.predict(X) > 0.5) == y).mean() > 0.95


def test_float32_gradients_agree_with_float64():
    m64, X, y, _ = make_case("gelu", "cross_entropy", None, [6, 12, 4], n=32, seed=5)
    m32 = fp.Model([6, 12, 4], activation="gelu", loss="cross_entropy", dtype=np.float32,
                   seed=5)
    m32.params[...] = m64.params    # the same parameters, rounded
    m64.params[...] = m32.params
    g64 = m64.gradients(X, y)
    g32 = m32.gradients(X, y)
    for a, b in zip(g32[0] + g32[1], g64[0] + g64[1]):
        assert a.dtype == np.float32
        assert max_rel_err(a, b) < 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_gives_bit_identical_runs(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5))
    y = rng.integers(0, 3, 100)
    runs = []
    for _ in range(2):
        model = fp.Model([5, 10, 3], loss="cross_entropy", dtype=dtype, seed=42)
        h = model.fit(X, y, epochs=3, batch_size=7, optimizer=fp.Adam())
        runs.append((model.params.copy(), h.loss))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    other = fp.Model([5, 10, 3], loss="cross_entropy", dtype=dtype, seed=43)
    assert not np.array_equal(other.params, runs[0][0])


def test_float32_init_is_the_rounded_float64_init():
    a = fp.Model([4, 8, 2], dtype=np.float64, seed=7)
    b = fp.Model([4, 8, 2], dtype=np.float32, seed=7)
    assert np.array_equal(a.params.astype(np.float32), b.params)


def test_batch_size_one_is_online_sgd():
    """Online SGD by fit equals sample-by-sample updates with model.gradients."""
    model, X, y, _ = make_case("tanh", "mse", None, [3, 4, 2], n=6, seed=1)
    manual = fp.Model([3, 4, 2], activation="tanh", dtype=np.float64, seed=1)
    manual.params[...] = model.params
    model.fit(X, y, epochs=1, batch_size=1, shuffle=False, optimizer=fp.SGD(lr=0.1))
    for i in range(len(X)):
        dW, db = manual.gradients(X[i:i + 1], y[i:i + 1])
        for l in range(len(dW)):
            manual.weights[l] -= 0.1 * dW[l]
            manual.biases[l] -= 0.1 * db[l]
    np.testing.assert_allclose(model.params, manual.params, rtol=1e-13, atol=1e-15)


def test_full_batch_and_partial_last_batch():
    model, X, y, _ = make_case("relu", "mse", None, [3, 5, 1], n=10, seed=2)
    twin = fp.Model([3, 5, 1], dtype=np.float64, seed=2)
    twin.params[...] = model.params
    # batch_size >= n is full batch: one step per epoch, the mean over all 10 rows
    dW, db = twin.gradients(X, y)
    model.fit(X, y, epochs=1, batch_size=1000, shuffle=False, optimizer=fp.SGD(lr=0.1))
    for l in range(2):
        twin.weights[l] -= 0.1 * dW[l]
        twin.biases[l] -= 0.1 * db[l]
    np.testing.assert_allclose(model.params, twin.params, rtol=1e-13, atol=1e-15)
    # batch 4 on 10 rows: steps of 4, 4 and a partial 2
    twin.params[...] = model.params
    model.fit(X, y, epochs=1, batch_size=4, shuffle=False, optimizer=fp.SGD(lr=0.1))
    for lo, hi in [(0, 4), (4, 8), (8, 10)]:
        dW, db = twin.gradients(X[lo:hi], y[lo:hi])
        for l in range(2):
            twin.weights[l] -= 0.1 * dW[l]
            twin.biases[l] -= 0.1 * db[l]
    np.testing.assert_allclose(model.params, twin.params, rtol=1e-12, atol=1e-14)


def test_history_reports_the_mean_training_loss():
    model, X, y, _ = make_case("tanh", "mse", None, [3, 4, 1], n=12, seed=3)
    before = model.loss(X, y)
    h = model.fit(X, y, epochs=1, batch_size=12, shuffle=False, optimizer=fp.SGD(lr=0.01))
    assert h.epochs == 1 and len(h.seconds) == 1 and h.samples == 12
    assert h.loss[0] == pytest.approx(before, rel=1e-12)


def test_continued_fit_equals_one_longer_run():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    y = rng.integers(0, 2, 50)
    a = fp.Model([4, 8, 2], loss="cross_entropy", dtype=np.float64, seed=0)
    b = fp.Model([4, 8, 2], loss="cross_entropy", dtype=np.float64, seed=0)
    opt = fp.Adam(lr=0.01)
    a.fit(X, y, epochs=2, batch_size=8, optimizer=opt)
    a.fit(X, y, epochs=3, batch_size=8)              # same optimizer, state kept
    b.fit(X, y, epochs=5, batch_size=8, optimizer=fp.Adam(lr=0.01))
    assert np.array_equal(a.params, b.params)


def test_divergence_raises_and_restores_finite_parameters():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 100
    y = rng.normal(size=64) * 1e3
    model = fp.Model([3, 16, 1], dtype=np.float64, seed=0)
    with pytest.raises(FloatingPointError, match="epoch"):
        model.fit(X, y, epochs=50, batch_size=8, optimizer=fp.SGD(lr=10.0))
    assert np.isfinite(model.params).all()
    assert np.isfinite(model.predict(X)).all()


def test_trace_and_gradients_do_not_change_the_model():
    model, X, y, _ = make_case("relu", "cross_entropy", None, [4, 6, 3], n=500, seed=0)
    before = model.params.copy()
    model.gradients(X, y)
    model.trace(X, y)
    model.loss(X, y)
    model.predict(X)
    assert np.array_equal(before, model.params)
