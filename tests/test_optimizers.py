"""Each optimizer, step by step, against a plain NumPy transcription of its torch.optim rule.

Full-batch fit with shuffle=False makes k epochs exactly k optimizer steps, so the
model's parameters after k epochs must equal k applications of the rule."""
import math

import numpy as np
import pytest

import fastprop as fp

from helpers import make_case

STEPS = 25


def flat_gradient(model, X, y):
    dW, db = model.gradients(X, y)
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])


def sgd(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    buf = None

    def step(p, g, t):
        nonlocal buf
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        return p - lr * g
    return step


def adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    m = v = 0.0

    def step(p, g, t):
        nonlocal m, v
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat = m / (1 - betas[0] ** t)
        v_hat = v / (1 - betas[1] ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return step


def rmsprop(lr, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
    v = 0.0
    buf = 0.0

    def step(p, g, t):
        nonlocal v, buf
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if momentum > 0:
            buf = momentum * buf + g / (np.sqrt(v) + eps)
            return p - lr * buf
        return p - lr * g / (np.sqrt(v) + eps)
    return step


def adagrad(lr, eps=1e-10, weight_decay=0.0):
    s = 0.0

    def step(p, g, t):
        nonlocal s
        g = g + weight_decay * p
        s = s + g * g
        return p - lr * g / (np.sqrt(s) + eps)
    return step


def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    v = u = 0.0

    def step(p, g, t):
        nonlocal v, u
        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        return p - lr * delta
    return step


CASES = [
    (fp.SGD(lr=0.1), sgd(0.1)),
    (fp.SGD(lr=0.05, momentum=0.9), sgd(0.05, 0.9)),
    (fp.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
     sgd(0.05, 0.9, True, 0.01)),
    (fp.Adam(lr=0.01), adam(0.01)),
    (fp.Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
     adam(0.01, (0.8, 0.99), 1e-6, 0.1)),
    (fp.AdamW(lr=0.01), adam(0.01, weight_decay=1e-2, decoupled=True)),
    (fp.RMSprop(lr=0.01), rmsprop(0.01)),
    (fp.RMSprop(lr=0.01, momentum=0.5, weight_decay=0.01), rmsprop(0.01, 0.99, 1e-8, 0.5, 0.01)),
    (fp.Adagrad(lr=0.1), adagrad(0.1)),
    (fp.Adagrad(lr=0.1, weight_decay=0.05), adagrad(0.1, weight_decay=0.05)),
    (fp.Adadelta(), adadelta()),
    (fp.Adadelta(lr=0.5, rho=0.8, weight_decay=0.01), adadelta(0.5, 0.8, 1e-6, 0.01)),
]


@pytest.mark.parametrize("optimizer,rule", CASES, ids=[repr(c[0]) for c in CASES])
def test_optimizer_follows_its_documented_rule(optimizer, rule):
    model, X, y, _ = make_case("tanh", "cross_entropy", None, [4, 6, 3], n=16, seed=0)
    twin = fp.Model([4, 6, 3], activation="tanh", loss="cross_entropy", dtype=np.float64)
    p = model.params.copy()
    for t in range(1, STEPS + 1):
        twin.params[...] = p
        p = rule(p, flat_gradient(twin, X, y), t)
    model.fit(X, y, epochs=STEPS, batch_size=len(X), shuffle=False, optimizer=optimizer)
    np.testing.assert_allclose(model.params, p, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer,rule", CASES[:6], ids=[repr(c[0]) for c in CASES[:6]])
def test_float32_updates_track_float64(optimizer, rule):
    m64, X, y, _ = make_case("tanh", "mse", None, [3, 5, 2], n=12, seed=1)
    m32 = fp.Model([3, 5, 2], activation="tanh", dtype=np.float32)
    m32.params[...] = m64.params
    m64.params[...] = m32.params
    m64.fit(X, y, epochs=10, batch_size=12, shuffle=False, optimizer=optimizer)
    m32.fit(X, y, epochs=10, batch_size=12, shuffle=False, optimizer=optimizer)
    np.testing.assert_allclose(m32.params, m64.params, rtol=1e-4, atol=1e-5)


def test_reset_optimizer_forgets_the_moments():
    model, X, y, _ = make_case("tanh", "mse", None, [3, 4, 1], n=8, seed=2)
    fresh = fp.Model([3, 4, 1], activation="tanh", dtype=np.float64)
    opt = fp.Adam(lr=0.01)
    model.fit(X, y, epochs=3, batch_size=8, shuffle=False, optimizer=opt)
    fresh.params[...] = model.params
    model.reset_optimizer()
    model.fit(X, y, epochs=2, batch_size=8, shuffle=False)
    fresh.fit(X, y, epochs=2, batch_size=8, shuffle=False, optimizer=fp.Adam(lr=0.01))
    assert np.array_equal(model.params, fresh.params)


@pytest.mark.parametrize("make,match", [
    (lambda: fp.SGD(lr=-0.1), "lr"),
    (lambda: fp.SGD(lr=math.nan), "lr"),
    (lambda: fp.SGD(lr=0.1, momentum=-1), "momentum"),
    (lambda: fp.SGD(lr=0.1, nesterov=True), "nesterov"),
    (lambda: fp.Adam(betas=(1.0, 0.9)), r"betas\[0\]"),
    (lambda: fp.Adam(betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: fp.Adam(betas=0.9), "betas"),
    (lambda: fp.Adam(eps=-1e-8), "eps"),
    (lambda: fp.AdamW(weight_decay=-1), "weight_decay"),
    (lambda: fp.RMSprop(alpha=1.5), "alpha"),
    (lambda: fp.Adagrad(lr=math.inf), "lr"),
    (lambda: fp.Adadelta(rho=2.0), "rho"),
    (lambda: fp.Adadelta(eps=0.0), "eps"),
])
def test_bad_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_numeric_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match="lr"):
        fp.SGD(lr="0.1")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", [
    fp.Adam(1e-3), fp.AdamW(1e-3, weight_decay=1e-2), fp.SGD(0.1, momentum=0.9),
    fp.RMSprop(1e-3, momentum=0.9), fp.Adadelta()], ids=lambda o: type(o).__name__)
def test_decaying_state_is_flushed_below_the_normal_range(dtype, optimizer):
    # parameters whose gradient stays 0 (an always-0 input, a dead ReLU) have moments
    # that decay geometrically: they go to exactly 0, never through the subnormal range
    # (slow arithmetic); the others follow the rule as before, and NaN is kept
    from fastprop.kernels.optimizers import optimizer_update

    model = fp.Model([4, 3, 2], dtype=dtype, seed=0)
    model.set_optimizer(optimizer)
    net = model.net
    tiny = np.finfo(dtype).tiny
    rng = np.random.default_rng(0)
    grads = rng.normal(size=net.params.size).astype(dtype)
    grads[::3] = 0.0                      # these parameters never get a gradient
    grads[1] = np.nan
    net.grads[:] = grads
    rows = 1 if isinstance(optimizer, fp.SGD) else 2      # SGD keeps one buffer
    net.opt_state[:rows, ::3] = 1.01 * tiny   # moments just above the subnormal range
    for _ in range(200):
        optimizer_update(net.params, net.grads, net.opt_state, net.opt_hyper,
                         net.opt_step, net.opt_code)
        state = net.opt_state
        subnormal = (state != 0) & (np.abs(state) < tiny)
        assert not subnormal.any()
    assert np.all(net.opt_state[:, ::3] == 0)
    assert np.isnan(net.params[1])
    live = np.ones(net.params.size, bool)
    live[::3] = False
    live[1] = False
    assert np.all(np.isfinite(net.params[live]))
