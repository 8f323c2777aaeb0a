"""One dense layer, forward and backward, on regions of flat buffers.

Each kernel has two paths with the same arithmetic: explicit loops, which win for
small layers where a BLAS call's fixed cost (~0.1-1 us) would dominate, and BLAS
(np.dot into a preallocated output), which wins for large ones. `blas_min` is the
rows * n_in * n_out size from which BLAS is used.

Shapes (row-major regions of flat buffers):
  A_prev  (rows, n_in)   at a_start     layer input
  Z, A    (rows, n_out)  at z_start     pre-activation, activation
  E       (rows, n_out)  at z_start     layer error dC/dZ
  E_prev  (rows, n_in)   at a_start     error of the layer below (before f')
  W       (n_in, n_out)  at w_off       in params; dW at the same offset in grads
  b       (n_out,)       at b_off       in params; db at the same offset in grads
"""
import numpy as np
from .blas import gemm
from .jit import kernel


@kernel
def dense_forward(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in, n_out,
                  blas_min):
    """Z = A_prev @ W + b."""
    if rows * n_in * n_out >= blas_min:
        gemm(Z, A_prev, params, z_start, a_start, w_off, rows, n_in, n_out, False, False,
             False)
        for r in range(rows):
            zr = z_start + r * n_out
            for j in range(n_out):
                Z[zr + j] += params[b_off + j]
        return
    for r in range(rows):
        zr = z_start + r * n_out
        ar = a_start + r * n_in
        for j in range(n_out):
            Z[zr + j] = params[b_off + j]
        for k in range(n_in):
            a = A_prev[ar + k]
            wk = w_off + k * n_out
            for j in range(n_out):
                Z[zr + j] += a * params[wk + j]


@kernel
def dense_backward_params(grads, E, A_prev, z_start, a_start, w_off, b_off, rows, n_in,
                          n_out, blas_min):
    """dW = A_prev^T @ E and db = sum over rows of E (overwrites both)."""
    zero = grads.dtype.type(0.0)
    for j in range(n_out):
        grads[b_off + j] = zero
    for r in range(rows):
        er = z_start + r * n_out
        for j in range(n_out):
            grads[b_off + j] += E[er + j]
    if rows * n_in * n_out >= blas_min:
        gemm(grads, A_prev, E, w_off, a_start, z_start, n_in, rows, n_out, True, False,
             False)
        return
    for i in range(w_off, w_off + n_in * n_out):
        grads[i] = zero
    for r in range(rows):
        er = z_start + r * n_out
        ar = a_start + r * n_in
        for k in range(n_in):
            a = A_prev[ar + k]
            wk = w_off + k * n_out
            for j in range(n_out):
                grads[wk + j] += a * E[er + j]


@kernel
def dense_backward_input(E_prev, E, params, z_start, a_start, w_off, rows, n_in, n_out,
                         blas_min):
    """E_prev = E @ W^T (the caller then multiplies by f'(Z_prev))."""
    if rows * n_in * n_out >= blas_min:
        gemm(E_prev, E, params, a_start, z_start, w_off, rows, n_out, n_in, False, True,
             False)
        return
    for r in range(rows):
        er = z_start + r * n_out
        pr = a_start + r * n_in
        for k in range(n_in):
            wk = w_off + k * n_out
            s = E.dtype.type(0.0)
            for j in range(n_out):
                s += E[er + j] * params[wk + j]
            E_prev[pr + k] = s
