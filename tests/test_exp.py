"""exp_nonpositive (kernels/exp.py), the vectorisable exp behind softmax and sigmoid:
accurate to about an ulp over its whole range, exact at 0, and honest at the edges."""
import numpy as np
import pytest
from numba import njit

from fastprop.kernels.exp import exp_nonpositive


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
