"""Matrix products by BLAS (the sgemm/dgemm that NumPy and SciPy use), callable from
kernels compiled without Numba's runtime.

np.dot inside compiled code needs the runtime, so this calls Numba's own BLAS entry
point `numba_xxgemm` (the one np.dot uses) by symbol: no allocation, no refcounting,
and it can be cached on disk. BLAS is column-major; a row-major product
out = op(a) @ op(b) is computed as the column-major out^T = op(b)^T @ op(a)^T.
"""
import numpy as np
from numba import types
from numba.np.linalg import ensure_blas

from .jit import kernel

ensure_blas()   # load SciPy's BLAS into Numba's helper library before any call

_xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char,           # kind ('s'/'d'), transa, transb
    types.intp, types.intp, types.intp,           # m, n, k
    types.voidptr, types.voidptr, types.intp,     # alpha*, a*, lda
    types.voidptr, types.intp,                    # b*, ldb
    types.voidptr, types.voidptr, types.intp))    # beta*, c*, ldc

_xxgemv = types.ExternalFunction("numba_xxgemv", types.intc(
    types.char, types.char, types.intp, types.intp,   # kind, trans, m, n
    types.voidptr, types.voidptr, types.intp,         # alpha*, a*, lda
    types.voidptr, types.voidptr, types.voidptr))     # x*, beta*, y*

_NO = ord("n")
_TRANSPOSE = ord("t")
# alpha = 1 then beta = 0 (overwrite) or 1 (accumulate), as constants BLAS reads by pointer
_COEF32 = np.array([1.0, 0.0, 1.0], np.float32)
_COEF64 = np.array([1.0, 0.0, 1.0], np.float64)


@kernel
def gemm(out, a, b, out_start, a_start, b_start, m, k, n, transpose_a, transpose_b,
         accumulate):
    """out (m, n) [+]= op(a) @ op(b) on row-major regions of flat buffers.

    op(a) is (m, k): stored (m, k) at a_start, or (k, m) when transpose_a.
    op(b) is (k, n): stored (k, n) at b_start, or (n, k) when transpose_b.
    """
    beta = 2 if accumulate else 1
    if m == 1:
        # one row: out = op(b)^T @ a as a matrix-vector product, which BLAS does far
        # faster than a gemm with one column. b seen column-major is (n, k) with ld n,
        # or (k, n) with ld k when stored transposed.
        if transpose_b:
            trans, rows_b, cols_b = _TRANSPOSE, k, n
        else:
            trans, rows_b, cols_b = _NO, n, k
        if out.itemsize == 4:
            _xxgemv(115, trans, rows_b, cols_b, _COEF32.ctypes, b[b_start:].ctypes, rows_b,
                    a[a_start:].ctypes, _COEF32[beta:].ctypes, out[out_start:].ctypes)
        else:
            _xxgemv(100, trans, rows_b, cols_b, _COEF64.ctypes, b[b_start:].ctypes, rows_b,
                    a[a_start:].ctypes, _COEF64[beta:].ctypes, out[out_start:].ctypes)
        return
    # column-major: out^T (n, m) = op(b)^T (n, k) @ op(a)^T (k, m)
    trans_b = _TRANSPOSE if transpose_b else _NO
    ld_b = k if transpose_b else n
    trans_a = _TRANSPOSE if transpose_a else _NO
    ld_a = m if transpose_a else k
    if out.itemsize == 4:
        _xxgemm(115, trans_b, trans_a, n, m, k, _COEF32.ctypes, b[b_start:].ctypes, ld_b,
                a[a_start:].ctypes, ld_a, _COEF32[beta:].ctypes, out[out_start:].ctypes, n)
    else:
        _xxgemm(100, trans_b, trans_a, n, m, k, _COEF64.ctypes, b[b_start:].ctypes, ld_b,
                a[a_start:].ctypes, ld_a, _COEF64[beta:].ctypes, out[out_start:].ctypes, n)
