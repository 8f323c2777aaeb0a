"""Matrix products by BLAS (SciPy's sgemm/dgemm and sgemv/dgemv), callable from
compiled kernels without allocating.

The routines come from `scipy.linalg.cython_blas` (the BLAS that SciPy and NumPy
load), found with `numba.extending.get_cython_function_address` and registered with
LLVM under a name of ours (`llvmlite.binding.add_symbol`), so kernels call them as
`numba.types.ExternalFunction`s: resolved by name when code is loaded, which keeps the
kernels cacheable (a ctypes pointer would bake this process's address into the cache).
Fortran BLAS takes every argument by reference; `_ref` puts a scalar in a stack slot
of the calling function and `_at` gives the address of an array element.

BLAS is column-major; a row-major product out = op(a) @ op(b) is computed as the
column-major out^T = op(b)^T @ op(a)^T.
"""
import numpy as np
from llvmlite import binding as _llvm
from numba import types
from numba.extending import get_cython_function_address, intrinsic

from .jit import inlined, kernel

for _name in ("sgemm", "dgemm", "sgemv", "dgemv"):
    _llvm.add_symbol(f"fastprop_{_name}",
                     get_cython_function_address("scipy.linalg.cython_blas", _name))

_GEMM = types.void(*[types.voidptr] * 13)   # transa transb m n k alpha a lda b ldb beta c ldc
_GEMV = types.void(*[types.voidptr] * 11)   # trans m n alpha a lda x incx beta y incy
_sgemm = types.ExternalFunction("fastprop_sgemm", _GEMM)
_dgemm = types.ExternalFunction("fastprop_dgemm", _GEMM)
_sgemv = types.ExternalFunction("fastprop_sgemv", _GEMV)
_dgemv = types.ExternalFunction("fastprop_dgemv", _GEMV)


@intrinsic
def _as_pointer(typingctx, address):
    """The integer `address` as a void*."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))
    return types.voidptr(address), codegen


@intrinsic
def _ref(typingctx, value):
    """A void* to a copy of `value` in a stack slot of the calling function (allocated
    once, in its entry block, so a call in a loop does not grow the stack)."""
    def codegen(context, builder, signature, args):
        with builder.goto_entry_block():
            slot = builder.alloca(context.get_value_type(signature.args[0]))
        builder.store(args[0], slot)
        return builder.bitcast(slot, context.get_value_type(types.voidptr))
    return types.voidptr(value), codegen


@inlined
def _at(arr, start):
    """The address of arr[start] (arr 1-D, contiguous) as a void*."""
    return _as_pointer(arr.ctypes.data + start * arr.itemsize)


_NO = np.int8(ord("n"))
_TRANSPOSE = np.int8(ord("t"))


@kernel
def gemm(out, a, b, out_start, a_start, b_start, m, k, n, transpose_a, transpose_b,
         accumulate):
    """out (m, n) [+]= op(a) @ op(b) on row-major regions of flat buffers.

    op(a) is (m, k): stored (m, k) at a_start, or (k, m) when transpose_a.
    op(b) is (k, n): stored (k, n) at b_start, or (n, k) when transpose_b.
    """
    ld_a = m if transpose_a else k
    ld_b = k if transpose_b else n
    if m == 1:
        # one row: out = op(b)^T @ a as a matrix-vector product, which BLAS does far
        # faster than a gemm with one column. b seen column-major is (n, k) with ld n,
        # or (k, n) with ld k when stored transposed.
        if transpose_b:
            gemv(out, b, a, out_start, b_start, a_start, k, n, ld_b, bool(True), accumulate)
        else:
            gemv(out, b, a, out_start, b_start, a_start, n, k, ld_b, bool(False), accumulate)
        return
    gemm_strided(out, a, b, out_start, a_start, b_start, m, k, n, transpose_a,
                 transpose_b, accumulate, n, ld_a, ld_b)


@inlined
def gemv(y, a, x, y_start, a_start, x_start, rows, cols, ld, transpose, accumulate):
    """y [+]= op(a) @ x, with a column-major (rows, cols), columns ld apart, at a_start;
    op(a) = a, or a^T when transpose."""
    one = y.dtype.type(1.0)
    beta = y.dtype.type(1.0 if accumulate else 0.0)
    trans = _TRANSPOSE if transpose else _NO
    args = (_ref(trans), _ref(np.int32(rows)), _ref(np.int32(cols)), _ref(one),
            _at(a, a_start), _ref(np.int32(ld)), _at(x, x_start), _ref(np.int32(1)),
            _ref(beta), _at(y, y_start), _ref(np.int32(1)))
    if y.itemsize == 4:
        _sgemv(*args)
    else:
        _dgemv(*args)


@inlined
def gemm_strided(out, a, b, out_start, a_start, b_start, m, k, n, transpose_a,
                 transpose_b, accumulate, ld_out, ld_a, ld_b):
    """out (m, n) [+]= op(a) @ op(b) on blocks of row-major matrices in flat buffers,
    each matrix's rows ld_* entries apart (a block of columns of a wider matrix, the
    tiles of kernels/tiled.py). op(a) is (m, k): stored (m, k), or (k, m) when
    transpose_a; op(b) is (k, n): stored (k, n), or (n, k) when transpose_b. Always a
    gemm, also for one row."""
    one = out.dtype.type(1.0)
    beta = out.dtype.type(1.0 if accumulate else 0.0)
    # column-major: out^T (n, m) = op(b)^T (n, k) @ op(a)^T (k, m)
    args = (_ref(_TRANSPOSE if transpose_b else _NO), _ref(_TRANSPOSE if transpose_a else _NO),
            _ref(np.int32(n)), _ref(np.int32(m)), _ref(np.int32(k)), _ref(one),
            _at(b, b_start), _ref(np.int32(ld_b)), _at(a, a_start), _ref(np.int32(ld_a)),
            _ref(beta), _at(out, out_start), _ref(np.int32(ld_out)))
    if out.itemsize == 4:
        _sgemm(*args)
    else:
        _dgemm(*args)


@inlined
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
    k; the products of each pass are summed as a tree. On float32 shapes from 17x1000
    to 4096x2048 it ran at 1.0-1.25x OpenBLAS sgemv's speed; in float64 below dgemv's,
    so float64 keeps dgemv.

    A row whose input is zero is skipped, not read: a one-sample prediction reads every
    weight once and is bound by that traffic, and after ReLU about half of a hidden
    layer's outputs are zero. 0 * w adds nothing
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
