"""kernels/blas.py on regions of flat buffers, against NumPy in float64: gemm for every
transpose and accumulate combination and one row (BLAS gemv) or more, and
row_times_matrix (one row times a matrix by eight-row blocks, what a one-sample float32
predict uses) for row counts that are and are not multiples of its blocks;
gemm_strided (the tiles of multi-threaded training) on blocks of wider matrices."""
import numpy as np
import pytest
from numba import njit

import fastprop as fp
from fastprop.kernels.blas import gemm, gemm_strided, row_times_matrix

from reference import forward as reference_forward

TOL = {np.float32: 2e-6, np.float64: 1e-14}


@njit
def _gemm(out, a, b, out_start, a_start, b_start, m, k, n, ta, tb, acc):
    gemm(out, a, b, out_start, a_start, b_start, m, k, n, ta, tb, acc)


def _case(dtype, m, k, n, transpose_a, transpose_b, accumulate, seed):
    rng = np.random.default_rng(seed)
    op_a = rng.normal(size=(m, k))
    op_b = rng.normal(size=(k, n))
    stored_a = op_a.T if transpose_a else op_a
    stored_b = op_b.T if transpose_b else op_b
    # regions at odd offsets inside larger buffers, guards around them
    a = rng.normal(size=stored_a.size + 11).astype(dtype)
    b = rng.normal(size=stored_b.size + 13).astype(dtype)
    out = rng.normal(size=m * n + 9).astype(dtype)
    a[5:5 + stored_a.size] = stored_a.ravel()
    b[7:7 + stored_b.size] = stored_b.ravel()
    before = out.copy()
    expected = op_a.astype(dtype).astype(np.float64) @ op_b.astype(dtype).astype(np.float64)
    if accumulate:
        expected += before[3:3 + m * n].reshape(m, n)
    _gemm(out, a, b, 3, 5, 7, m, k, n, transpose_a, transpose_b, accumulate)
    return out, before, expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2, 5])
@pytest.mark.parametrize("k", [1, 7, 8, 9, 16, 37])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
def test_gemm_matches_numpy(dtype, m, k, transpose_a, transpose_b, accumulate):
    n = 19
    out, before, expected = _case(dtype, m, k, n, transpose_a, transpose_b, accumulate,
                                  seed=m * 1000 + k)
    got = out[3:3 + m * n].reshape(m, n).astype(np.float64)
    scale = np.abs(expected).max() + 1.0
    assert np.max(np.abs(got - expected)) <= TOL[dtype] * scale * k
    np.testing.assert_array_equal(out[:3], before[:3])           # outside: untouched
    np.testing.assert_array_equal(out[3 + m * n:], before[3 + m * n:])


@njit
def _gemm_block(out, a, b, out_start, a_start, b_start, m, k, n, ta, tb, acc, ld_out,
                ld_a, ld_b):
    gemm_strided(out, a, b, out_start, a_start, b_start, m, k, n, ta, tb, acc, ld_out, ld_a,
                 ld_b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 3, 8])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
def test_gemm_strided_writes_one_block_of_a_wider_product(dtype, m, transpose_a, transpose_b,
                                                          accumulate):
    # op(a) (m, k) and op(b) (k, n) are blocks of larger row-major matrices (offsets
    # 2 and 3 into their rows, and into the rows' start); out is a block of a wider
    # matrix, and only that block changes
    rng = np.random.default_rng(m)
    k, n = 13, 6
    A = rng.normal(size=(k + 4, m + 5) if transpose_a else (m + 4, k + 5)).astype(dtype)
    B = rng.normal(size=(n + 3, k + 7) if transpose_b else (k + 3, n + 7)).astype(dtype)
    out = rng.normal(size=(m + 6, n + 9)).astype(dtype)
    before = out.copy()
    op_a = A[2:2 + k, 2:2 + m].T if transpose_a else A[2:2 + m, 2:2 + k]
    op_b = B[3:3 + n, 3:3 + k].T if transpose_b else B[3:3 + k, 3:3 + n]
    _gemm_block(out.ravel(), A.ravel(), B.ravel(), 1 * out.shape[1] + 4,
                2 * A.shape[1] + 2, 3 * B.shape[1] + 3, m, k, n, transpose_a, transpose_b,
                accumulate, out.shape[1], A.shape[1], B.shape[1])
    expected = op_a.astype(np.float64) @ op_b.astype(np.float64)
    if accumulate:
        expected += before[1:1 + m, 4:4 + n]
    got = out[1:1 + m, 4:4 + n].astype(np.float64)
    assert np.max(np.abs(got - expected)) <= TOL[dtype] * (np.abs(expected).max() + 1) * k
    outside = np.ones(out.shape, bool)
    outside[1:1 + m, 4:4 + n] = False
    np.testing.assert_array_equal(out[outside], before[outside])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_row_product_of_non_finite_values_is_not_finite(dtype):
    a = np.array([1.0, np.nan, 2.0] + [1.0] * 8, dtype)
    b = np.ones(11 * 4, dtype)
    b[3] = np.inf                              # row 0, column 3
    out = np.zeros(4, dtype)
    _gemm(out, a, b, 0, 0, 0, 1, 11, 4, False, False, False)
    assert np.isnan(out).all()                 # the NaN reaches every column
    a[1] = 1.0
    _gemm(out, a, b, 0, 0, 0, 1, 11, 4, False, False, False)
    assert out[3] == np.inf and np.isfinite(out[:3]).all()


@njit
def _row_times_matrix(out, a, b, out_start, a_start, b_start, k, n):
    row_times_matrix(out, a, b, out_start, a_start, b_start, k, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 7, 8, 9, 16, 37, 300])
@pytest.mark.parametrize("n", [1, 5, 16, 33])
def test_row_times_matrix_adds_the_product(dtype, k, n):
    rng = np.random.default_rng(k * 100 + n)
    x = rng.normal(size=k)
    W = rng.normal(size=(k, n))
    a = rng.normal(size=k + 4).astype(dtype)
    b = rng.normal(size=k * n + 6).astype(dtype)
    out = rng.normal(size=n + 5).astype(dtype)
    a[4:] = x
    b[6:] = W.ravel()
    before = out.copy()
    expected = x.astype(dtype).astype(np.float64) @ W.astype(dtype).astype(np.float64)
    expected += before[2:2 + n]
    _row_times_matrix(out, a, b, 2, 4, 6, k, n)
    scale = np.abs(expected).max() + 1.0
    assert np.max(np.abs(out[2:2 + n] - expected)) <= TOL[dtype] * scale * k
    np.testing.assert_array_equal(out[:2], before[:2])
    np.testing.assert_array_equal(out[2 + n:], before[2 + n:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zeros", [[0], [36], [0, 1, 2, 3, 4, 5, 6, 7, 8], list(range(0, 37, 2)),
                                   list(range(37))])
def test_row_times_matrix_skips_the_rows_of_zero_inputs(dtype, zeros):
    """Rows whose input is zero are not read (ReLU's zeros in a one-sample prediction):
    NaN there leaves the sum over the other rows; a NaN under a nonzero input shows."""
    k, n = 37, 9
    rng = np.random.default_rng(len(zeros))
    a = rng.normal(size=k).astype(dtype)
    a[zeros] = 0.0
    b = rng.normal(size=(k, n)).astype(dtype)
    b[zeros] = np.nan
    out = np.zeros(n, dtype)
    _row_times_matrix(out, a, b.ravel(), 0, 0, 0, k, n)
    kept = np.ones(k, bool)
    kept[zeros] = False
    expected = a[kept].astype(np.float64) @ b[kept].astype(np.float64)
    assert np.max(np.abs(out - expected)) <= TOL[dtype] * (np.abs(expected).max() + 1) * k
    b[np.flatnonzero(kept)[:1], 3] = np.nan if kept.any() else 0.0
    _row_times_matrix(out, a, b.ravel(), 0, 0, 0, k, n)
    assert np.isnan(out[3]) == kept.any()


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_one_sample_float32_predict_matches_the_reference(activation):
    """A layer of 300 x 64 is above the BLAS threshold: one float32 sample goes through
    row_times_matrix (network.predict_layer), several through gemm."""
    model = fp.Model([300, 64, 3], activation=activation, loss="cross_entropy",
                     dtype=np.float32, seed=3)
    X = np.random.default_rng(4).normal(size=(5, 300)).astype(np.float32)
    layers = [(W.astype(np.float64), b.astype(np.float64))
              for W, b in zip(model.weights, model.biases)]
    expected = reference_forward(layers, model.activations, X.astype(np.float64))[1][-1]
    for row in range(5):
        one = model.predict(X[row:row + 1])
        np.testing.assert_allclose(one[0], expected[row], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(X), expected, rtol=2e-5, atol=1e-6)
