"""Matrix products by BLAS (the sgemm/dgemm that NumPy and SciPy use), callable from
kernels compiled without Numba's runtime.

np.dot inside compiled code needs the runtime, so this calls Numba's own BLAS entry
point `numba_xxgemm` (the one np.dot uses) by symbol: no allocation, no refcounting,
and it can be cached on disk. BLAS is column-major; a row-major product
out = op(a) @ op(b) is computed as the column-major out^T = op(b)^T @ op(a)^T.
"""
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
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


@intrinsic
def _at(typingctx, arr, start):
    """The address of arr[start] as void*, for BLAS to read or write from there.
    (arr[start:].ctypes makes a view and a ctypes object: the same pointer, but gemm's
    compile took 0.40 s with those against 0.11 s with this; measured.)"""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.bitcast(builder.gep(array.data, [args[1]]), cgutils.voidptr_t)

    return types.voidptr(arr, types.intp), codegen


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
            _xxgemv(115, trans, rows_b, cols_b, _at(_COEF32, 0), _at(b, b_start), rows_b,
                    _at(a, a_start), _at(_COEF32, beta), _at(out, out_start))
        else:
            _xxgemv(100, trans, rows_b, cols_b, _at(_COEF64, 0), _at(b, b_start), rows_b,
                    _at(a, a_start), _at(_COEF64, beta), _at(out, out_start))
        return
    # column-major: out^T (n, m) = op(b)^T (n, k) @ op(a)^T (k, m)
    trans_b = _TRANSPOSE if transpose_b else _NO
    ld_b = k if transpose_b else n
    trans_a = _TRANSPOSE if transpose_a else _NO
    ld_a = m if transpose_a else k
    if out.itemsize == 4:
        _xxgemm(115, trans_b, trans_a, n, m, k, _at(_COEF32, 0), _at(b, b_start), ld_b,
                _at(a, a_start), ld_a, _at(_COEF32, beta), _at(out, out_start), n)
    else:
        _xxgemm(100, trans_b, trans_a, n, m, k, _at(_COEF64, 0), _at(b, b_start), ld_b,
                _at(a, a_start), ld_a, _at(_COEF64, beta), _at(out, out_start), n)


@kernel
def _next_nonzero(x, i, k):
    """The first index from i on where x is not zero; k if there is none."""
    while i < k and x[i] == 0.0:
        i += 1
    return i


@kernel
def row_times_matrix(out, a, b, out_start, a_start, b_start, k, n):
    """out (n,) += a (k,) @ b (k, n), b row-major at b_start: for one float32 row, in
    place of OpenBLAS's sgemv (network.predict_layer, which starts out from the bias).
    Eight rows of b per pass over out, so out is read and written k/8 times rather than
    k; the products of each pass are summed as a tree. Measured (aligned buffers, one
    thread): W4's two large layers 22.4 -> 20.3 us, float32 shapes from 17x1000 to
    4096x2048 1.0-1.25x sgemv's speed; in float64 this loop was 0.87-0.94x dgemv's on
    most shapes, so float64 keeps dgemv.

    A row whose input is zero is skipped, not read: a one-sample prediction reads every
    weight once and is bound by that traffic, and after ReLU about half of a hidden
    layer's outputs are zero: W4's prediction 21.2-22.5 -> 19.4-20.6 us in compiled code
    (alternating processes; its second layer's 0.5 MB read half). 0 * w adds nothing
    for finite w; the parameters of a model are finite (training restores them on
    divergence), and a non-finite weight still reaches every output through any nonzero
    input."""
    o = out[out_start:out_start + n]        # views from 0 (see activations.activate)
    x = a[a_start:a_start + k]
    w = b[b_start:b_start + k * n]
    i = _next_nonzero(x, np.int64(0), k)     # np.int64: see jit.py
    while True:
        i1 = _next_nonzero(x, i + 1, k)
        i2 = _next_nonzero(x, i1 + 1, k)
        i3 = _next_nonzero(x, i2 + 1, k)
        i4 = _next_nonzero(x, i3 + 1, k)
        i5 = _next_nonzero(x, i4 + 1, k)
        i6 = _next_nonzero(x, i5 + 1, k)
        i7 = _next_nonzero(x, i6 + 1, k)
        if i7 >= k:                            # fewer than eight left
            break
        x0, x1, x2, x3 = x[i], x[i1], x[i2], x[i3]
        x4, x5, x6, x7 = x[i4], x[i5], x[i6], x[i7]
        w0, w1 = w[i * n:(i + 1) * n], w[i1 * n:(i1 + 1) * n]
        w2, w3 = w[i2 * n:(i2 + 1) * n], w[i3 * n:(i3 + 1) * n]
        w4, w5 = w[i4 * n:(i4 + 1) * n], w[i5 * n:(i5 + 1) * n]
        w6, w7 = w[i6 * n:(i6 + 1) * n], w[i7 * n:(i7 + 1) * n]
        for j in range(n):
            o[j] += (((x0 * w0[j] + x1 * w1[j]) + (x2 * w2[j] + x3 * w3[j]))
                     + ((x4 * w4[j] + x5 * w5[j]) + (x6 * w6[j] + x7 * w7[j])))
        i = _next_nonzero(x, i7 + 1, k)
    while i < k:
        x_i = x[i]
        w_i = w[i * n:(i + 1) * n]
        for j in range(n):
            o[j] += x_i * w_i[j]
        i = _next_nonzero(x, i + 1, k)


@kernel
def gemm_block(out, a, b, out_start, a_start, b_start, m, k, n, transpose_a, transpose_b,
               ld_out, ld_a, ld_b):
    """out (m, n) = op(a) @ op(b) on blocks of row-major matrices in flat buffers, each
    matrix's rows ld_* entries apart (a block of columns of a wider matrix): the tiles
    of kernels/tiled.py. op(a) is (m, k): stored (m, k), or (k, m) when transpose_a;
    op(b) is (k, n): stored (k, n), or (n, k) when transpose_b. Always a gemm, also
    for one row (a batch's last rows can be one): gemm's gemv shortcut is left out."""
    trans_b = _TRANSPOSE if transpose_b else _NO
    trans_a = _TRANSPOSE if transpose_a else _NO
    if out.itemsize == 4:
        _xxgemm(115, trans_b, trans_a, n, m, k, _at(_COEF32, 0), _at(b, b_start), ld_b,
                _at(a, a_start), ld_a, _at(_COEF32, 1), _at(out, out_start), ld_out)
    else:
        _xxgemm(100, trans_b, trans_a, n, m, k, _at(_COEF64, 0), _at(b, b_start), ld_b,
                _at(a, a_start), ld_a, _at(_COEF64, 1), _at(out, out_start), ld_out)
