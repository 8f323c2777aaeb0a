"""fastprop.kernels called from the user's own @njit code."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

import fastprop as fp
from fastprop import kernels

DTYPES = [np.float32, np.float64]


@njit
def online_sgd(net, X, Y, lr):
    total = 0.0
    for i in range(X.shape[0]):
        total += kernels.sgd_step(net, X[i:i + 1], Y[i:i + 1], lr)
    return total / X.shape[0]


@njit
def minibatch_train(net, X, Y, batch):
    for first in range(0, X.shape[0], batch):
        kernels.train_step(net, X[first:first + batch], Y[first:first + batch])


def data(dtype, n=40):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3)).astype(dtype)
    y = np.abs(X[:, :1]).astype(dtype)
    return X, y


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_online_loop_equals_fit_bit_for_bit(dtype):
    X, Y = data(dtype)
    a = fp.Model([3, 8, 1], dtype=dtype, seed=3)
    b = fp.Model([3, 8, 1], dtype=dtype, seed=3)
    mean_cost = online_sgd(a.net, X, Y, 0.05)
    history = b.fit(X, Y, epochs=1, batch_size=1, shuffle=False, optimizer=fp.SGD(lr=0.05))
    assert np.array_equal(a.params, b.params)     # the Model sees the kernel's updates
    assert mean_cost == pytest.approx(history.loss[0], rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_adam_steps_equal_fit(dtype):
    X, _ = data(dtype)
    labels = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    Y = np.eye(3, dtype=dtype)[labels]
    a = fp.Model([3, 8, 3], loss="cross_entropy", dtype=dtype, seed=1)
    b = fp.Model([3, 8, 3], loss="cross_entropy", dtype=dtype, seed=1)
    a.set_optimizer(fp.Adam(lr=0.01))
    minibatch_train(a.net, X, Y, 8)
    b.fit(X, labels, epochs=1, batch_size=8, shuffle=False, optimizer=fp.Adam(lr=0.01))
    assert np.array_equal(a.params, b.params)
    assert a.net.opt_step[0] == 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_predict_and_loss_equal_the_model(dtype):
    X, Y = data(dtype, n=600)      # more rows than the workspace: predict runs in chunks
    model = fp.Model([3, 8, 1], dtype=dtype, seed=0)
    out = np.empty((600, 1), dtype)
    kernels.predict(model.net, X, out)
    assert np.array_equal(out, model.predict(X))
    assert kernels.loss(model.net, X, Y) == model.loss(X, Y)


def test_loss_and_gradients_fill_the_shared_buffer():
    X, Y = data(np.float64, n=10)
    model = fp.Model([3, 4, 1], dtype=np.float64, seed=0)
    cost = kernels.loss_and_gradients(model.net, X, Y)
    dW, db = model.gradients(X, Y)
    assert cost == pytest.approx(model.loss(X, Y), rel=1e-14)
    flat = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    np.testing.assert_allclose(model.net.grads, flat, rtol=1e-14)


def test_sizes_are_checked_before_any_loop():
    model = fp.Model([3, 4, 1], dtype=np.float64, seed=0)
    params = model.params.copy()
    X = np.zeros((300, 3))
    Y = np.zeros((300, 1))
    with pytest.raises(ValueError, match="capacity"):
        kernels.sgd_step(model.net, X, Y, 0.1)
    with pytest.raises(ValueError, match="X must be 2-D"):
        kernels.sgd_step(model.net, np.zeros((2, 4)), Y[:2], 0.1)
    with pytest.raises(ValueError, match="Y must be 2-D"):
        kernels.loss_and_gradients(model.net, X[:2], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same number of rows"):
        kernels.train_step(model.net, X[:2], Y[:3])
    with pytest.raises(ValueError, match="out must be"):
        kernels.predict(model.net, X, np.zeros((3, 1)))
    assert np.array_equal(model.params, params)
    model.reserve(300)                       # documented growth, then the new net
    kernels.sgd_step(model.net, X, Y, 0.1)
    assert model.net.capacity >= 300


USER_MODULE = '''
import numpy as np
from numba import njit
import fastprop as fp
from fastprop import kernels

@njit(cache=True)
def simulate(net, steps, lr):
    x = np.zeros((1, 1), net.params.dtype)
    y = np.zeros((1, 1), net.params.dtype)
    state = 12345
    for t in range(steps):
        state = (1103515245 * state + 12345) % 2147483648   # the simulation's own RNG
        x[0, 0] = 4.0 * state / 2147483648 - 2.0
        y[0, 0] = abs(x[0, 0])
        kernels.sgd_step(net, x, y, lr)

model = fp.Model([1, 2, 1], dtype=np.float64, seed=0)
simulate(model.net, 2000, 0.01)
sig = simulate.signatures[0]
print(repr(model.params.tobytes().hex()))
print(simulate.stats.cache_hits.get(sig, 0), simulate.stats.cache_misses.get(sig, 0))
'''


def test_user_function_with_cache_in_a_fresh_process(tmp_path):
    (tmp_path / "usersim.py").write_text(textwrap.dedent(USER_MODULE))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", "import usersim"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        params, counts = proc.stdout.strip().splitlines()
        runs.append((params, counts))
    assert runs[0][1] == "0 1"        # first run compiles and writes the cache
    assert runs[1][1] == "1 0"        # second run loads it: no recompilation
    assert runs[0][0] == runs[1][0]   # and computes the same bits
