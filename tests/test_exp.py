"""exp_nonpositive, expm1_nonpositive and log1p_unit (kernels/exp.py), the vectorisable
exp, expm1 and log1p behind softmax, sigmoid, tanh, ELU and softplus, and tanh and
softplus built on them: accurate to a few ulp over the whole range, exact at 0, and
honest at the edges."""
import numpy as np
import pytest
from numba import njit

from fastprop.codes import SOFTPLUS
from fastprop.kernels.activations import activate, tanh
from fastprop.kernels.exp import exp_nonpositive, expm1_nonpositive, log1p_unit


@njit(cache=True)
def exp_all(out, x):
    for i in range(x.size):
        out[i] = exp_nonpositive(x[i])


def apply(x):
    out = np.empty_like(x)
    exp_all(out, x)
    return out


# the smallest x whose exp is a normal number, per dtype
LOWEST = {np.float32: -87.33, np.float64: -708.39}


def grid(dtype):
    rng = np.random.default_rng(0)
    low = LOWEST[dtype]
    x = np.concatenate([np.linspace(low, 0.0, 400_001), -np.logspace(-40, 0, 20_001),
                        rng.uniform(low, 0.0, 200_000)])
    return x.astype(dtype)


def test_float32_within_1_2_ulp_of_the_exact_value():
    x = grid(np.float32)
    exact = np.exp(x.astype(np.float64))                  # exact to float32's precision
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    err = np.abs(apply(x).astype(np.float64) - exact) / ulp
    assert err.max() <= 1.2, (err.max(), x[err.argmax()])   # measured 1.13


def test_float64_within_1_5_ulp_of_numpy():
    x = grid(np.float64)
    reference = np.exp(x)
    err = np.abs(apply(x) - reference) / np.spacing(reference)
    assert err.max() <= 1.5, (err.max(), x[err.argmax()])   # measured 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges(dtype):
    low = LOWEST[dtype]
    x = np.array([0.0, -0.0, -np.inf, np.nan, -1e-300, low - 1.0, -1e30, low + 1.0], dtype)
    out = apply(x)
    assert out.dtype == dtype
    assert out[0] == 1.0 and out[1] == 1.0          # exp(0) exactly 1: softmax of a max
    assert out[2] == 0.0
    assert np.isnan(out[3])
    assert out[4] == 1.0
    assert out[5] == 0.0 and out[6] == 0.0          # below the normal range: flushed to 0
    assert out[7] > 0.0 and np.isfinite(out[7])
    np.testing.assert_allclose(out[7], np.exp(np.float64(x[7])), rtol=1e-6)


def test_monotone_on_a_fine_grid():
    x = np.linspace(-20.0, 0.0, 1_000_001, dtype=np.float32)
    assert np.all(np.diff(apply(x)) >= 0)


@njit(cache=True)
def expm1_all(out, x):
    for i in range(x.size):
        out[i] = expm1_nonpositive(x[i])


@njit(cache=True)
def tanh_all(out, x):
    for i in range(x.size):
        out[i] = tanh(x[i])


def apply_to(kernel, x):
    out = np.empty_like(x)
    kernel(out, x)
    return out


def ulp_error(got, exact, dtype):
    """|got - exact| in units of the last place of exact rounded to dtype."""
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / ulp


def expm1_grid(dtype):
    # near 0 (where expm1 must stay accurate relative to a tiny result) to below -1 + ulp
    tiny = -np.logspace(-40 if dtype == np.float32 else -300, 0, 20_001)
    return np.concatenate([np.linspace(-110.0, 0.0, 400_001), tiny,
                           np.random.default_rng(1).uniform(-3.0, 0.0, 200_000)]).astype(dtype)


def test_expm1_float32_within_1_ulp_of_the_exact_value():
    x = expm1_grid(np.float32)
    err = ulp_error(apply_to(expm1_all, x), np.expm1(x.astype(np.float64)), np.float32)
    assert err.max() <= 1.0, (err.max(), x[err.argmax()])    # measured 0.83


def test_expm1_float64_within_1_5_ulp_of_numpy():
    x = expm1_grid(np.float64)
    err = ulp_error(apply_to(expm1_all, x), np.expm1(x), np.float64)
    assert err.max() <= 1.5, (err.max(), x[err.argmax()])    # measured 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_expm1_edges(dtype):
    x = np.array([0.0, -0.0, -np.inf, np.nan, -1e-30, -1e30, -800.0], dtype)
    out = apply_to(expm1_all, x)
    assert out.dtype == dtype
    assert out[0] == 0.0 and not np.signbit(out[0])
    assert out[1] == 0.0 and np.signbit(out[1])      # expm1(-0) = -0
    assert out[2] == -1.0
    assert np.isnan(out[3])
    assert out[4] == x[4]                              # exp(x) - 1 = x to the last bit
    assert out[5] == -1.0 and out[6] == -1.0


def tanh_grid(dtype):
    rng = np.random.default_rng(2)
    small = np.logspace(-40 if dtype == np.float32 else -300, 1.4, 40_001)
    return np.concatenate([np.linspace(-25.0, 25.0, 800_001), small, -small,
                           2.0 * rng.normal(size=300_000)]).astype(dtype)


def test_tanh_float32_within_3_ulp_of_the_exact_value():
    x = tanh_grid(np.float32)
    err = ulp_error(apply_to(tanh_all, x), np.tanh(x.astype(np.float64)), np.float32)
    assert err.max() <= 3.0, (err.max(), x[err.argmax()])    # measured 2.5


def test_tanh_float64_within_3_5_ulp_of_numpy():
    # -m / (2 + m) loses a little just below 1, where tanh's ulp halves: measured 3.0
    x = tanh_grid(np.float64)
    err = ulp_error(apply_to(tanh_all, x), np.tanh(x), np.float64)
    assert err.max() <= 3.5, (err.max(), x[err.argmax()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_odd_monotone_and_exact_at_the_edges(dtype):
    x = tanh_grid(dtype)
    out = apply_to(tanh_all, x)
    assert np.array_equal(apply_to(tanh_all, -x), -out)
    assert np.all(np.diff(apply_to(tanh_all, np.sort(x))) >= 0)
    assert np.abs(out).max() <= 1.0
    edges = apply_to(tanh_all, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -1e-30],
                                        dtype))
    assert edges[0] == 0.0 and not np.signbit(edges[0])
    assert edges[1] == 0.0 and np.signbit(edges[1])
    assert edges[2] == 1.0 and edges[3] == -1.0 and edges[5] == 1.0
    assert np.isnan(edges[4])
    assert edges[6] == dtype(-1e-30)


@njit(cache=True)
def log1p_all(out, x):
    for i in range(x.size):
        out[i] = log1p_unit(x[i])


def log1p_grid(dtype):
    rng = np.random.default_rng(3)
    tiny = np.logspace(-40 if dtype == np.float32 else -300, 0, 20_001)
    # around sqrt(2) - 1, where the reduction switches from u to u / 2
    return np.concatenate([np.linspace(0.0, 1.0, 400_001), tiny,
                           rng.uniform(0.40, 0.43, 100_000),
                           rng.uniform(0.0, 1.0, 200_000)]).astype(dtype)


def test_log1p_float32_within_1_3_ulp_of_the_exact_value():
    x = log1p_grid(np.float32)
    exact = np.log1p(x.astype(np.float64))
    nonzero = exact != 0
    err = ulp_error(apply_to(log1p_all, x)[nonzero], exact[nonzero], np.float32)
    assert err.max() <= 1.3, (err.max(), x[nonzero][err.argmax()])    # measured 1.22


def test_log1p_float64_within_1_5_ulp_of_numpy():
    x = log1p_grid(np.float64)
    exact = np.log1p(x)
    nonzero = exact != 0
    err = ulp_error(apply_to(log1p_all, x)[nonzero], exact[nonzero], np.float64)
    assert err.max() <= 1.5, (err.max(), x[nonzero][err.argmax()])    # measured 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log1p_edges(dtype):
    out = apply_to(log1p_all, np.array([0.0, np.nan, 1.0, 1e-30], dtype))
    assert out[0] == 0.0
    assert np.isnan(out[1])
    assert out[2] == dtype(np.log(2.0))
    assert out[3] == dtype(1e-30)


@pytest.mark.parametrize("dtype,bound", [(np.float32, 2.5), (np.float64, 3.5)])
def test_softplus_accurate_and_finite_everywhere(dtype, bound):
    z = np.concatenate([np.linspace(-60.0, 60.0, 1_200_001), [1e30, -1e30]]).astype(dtype)
    out = np.empty_like(z)
    activate(out, z, 0, 1, z.size, SOFTPLUS)
    exact = np.logaddexp(0.0, z.astype(np.float64))
    positive = exact > 0           # below the smallest float the exact value rounds to 0
    err = ulp_error(out[positive], exact[positive], dtype)
    assert err.max() <= bound, (err.max(), z[positive][err.argmax()])  # measured 1.8, 3.0
    assert np.all(out >= 0) and np.all(np.isfinite(out))
    edges = np.array([np.nan, np.inf, -np.inf, 0.0], dtype)
    activate(edges, edges.copy(), 0, 1, 4, SOFTPLUS)
    assert np.isnan(edges[0]) and edges[1] == np.inf and edges[2] == 0.0
    assert edges[3] == dtype(np.log(2.0))
