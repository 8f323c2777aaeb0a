"""One dense layer, forward and backward, on regions of flat buffers.

Each kernel has two paths computing the same products: explicit loops, which win for
small layers where a BLAS call's fixed cost (~0.1-1 us) would dominate, and BLAS
(gemm/gemv into the preallocated output, kernels/blas.py), which wins for large ones.
`blas_min` is the rows * n_in * n_out size from which BLAS is used.

Shapes (row-major regions of flat buffers):
  A_prev  (rows, n_in)   at a_start     layer input
  Z, A    (rows, n_out)  at z_start     pre-activation, activation
  E       (rows, n_out)  at z_start     layer error dC/dZ
  E_prev  (rows, n_in)   at a_start     error of the layer below (before f')
  W       (n_in, n_out)  at w_off       in params; dW at the same offset in grads
  b       (n_out,)       at b_off       in params; db at the same offset in grads
"""
from .blas import gemm
from .jit import kernel, net_kernel


@kernel
def dense_forward(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in, n_out,
                  blas_min):
    """Z = A_prev @ W + b."""
    if rows * n_in * n_out >= blas_min:
        gemm(Z, A_prev, params, z_start, a_start, w_off, rows, n_in, n_out, bool(False),
             bool(False), bool(False))    # bool(): see jit.py, constant arguments
        b = params[b_off:b_off + n_out]     # views from 0 (see activations.activate)
        for r in range(rows):
            z = Z[z_start + r * n_out:z_start + (r + 1) * n_out]
            for j in range(n_out):
                z[j] += b[j]
        return
    dense_forward_loops(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in,
                        n_out)


@net_kernel
def dense_forward_loops(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in,
                        n_out):
    """Z = A_prev @ W + b by explicit loops: dense_forward's path for small layers,
    and kernels/rowwise.py's for one row (inlined at Numba's level in both).

    Loops index views from 0 (see activations.activate) and run j innermost, over
    contiguous rows of W and Z, so they vectorise. Input 0 is added to the bias in
    the pass that writes z (the same sums, in the same order: b + a_0 w_0 + ...), so a
    tiny layer runs one loop per input rather than one more per row."""
    b = params[b_off:b_off + n_out]
    w0 = params[w_off:w_off + n_out]
    for r in range(rows):
        z = Z[z_start + r * n_out:z_start + (r + 1) * n_out]
        a = A_prev[a_start + r * n_in:a_start + (r + 1) * n_in]
        a_0 = a[0]
        for j in range(n_out):
            z[j] = b[j] + a_0 * w0[j]
        for k in range(1, n_in):
            a_k = a[k]
            w = params[w_off + k * n_out:w_off + (k + 1) * n_out]
            for j in range(n_out):
                z[j] += a_k * w[j]


@kernel
def dense_backward_params(grads, E, A_prev, z_start, a_start, w_off, b_off, rows, n_in,
                          n_out, blas_min):
    """dW = A_prev^T @ E and db = sum over rows of E (overwrites both)."""
    zero = grads.dtype.type(0.0)
    db = grads[b_off:b_off + n_out]
    dW = grads[w_off:w_off + n_in * n_out]
    if rows * n_in * n_out >= blas_min:
        sum_rows(db, E, z_start, rows, n_out)
        gemm(grads, A_prev, E, w_off, a_start, z_start, n_in, rows, n_out, bool(True),
             bool(False), bool(False))
        return
    # Row 0 writes zero + its term (what zeroing then adding gives, -0.0 included), so
    # no separate zeroing pass; db and dW share the pass over rows.
    e = E[z_start:z_start + n_out]
    a = A_prev[a_start:a_start + n_in]
    for j in range(n_out):
        db[j] = zero + e[j]
    for k in range(n_in):
        a_k = a[k]
        dw = dW[k * n_out:(k + 1) * n_out]
        for j in range(n_out):
            dw[j] = zero + a_k * e[j]
    for r in range(1, rows):
        e = E[z_start + r * n_out:z_start + (r + 1) * n_out]
        a = A_prev[a_start + r * n_in:a_start + (r + 1) * n_in]
        for j in range(n_out):
            db[j] += e[j]
        for k in range(n_in):
            a_k = a[k]
            dw = dW[k * n_out:(k + 1) * n_out]
            for j in range(n_out):
                dw[j] += a_k * e[j]


@kernel
def sum_rows(out, E, start, rows, width):
    """out (width,) = zero + the sum over rows of E's (rows, width) region at start."""
    zero = out.dtype.type(0.0)
    for j in range(width):
        out[j] = zero
    for r in range(rows):
        e = E[start + r * width:start + (r + 1) * width]
        for j in range(width):
            out[j] += e[j]


@kernel
def dense_backward_input(E_prev, E, params, z_start, a_start, w_off, rows, n_in, n_out,
                         blas_min):
    """E_prev = E @ W^T (the caller then multiplies by f'(Z_prev))."""
    if rows * n_in * n_out >= blas_min:
        gemm(E_prev, E, params, a_start, z_start, w_off, rows, n_out, n_in, bool(False),
             bool(True), bool(False))
        return
    for r in range(rows):
        e = E[z_start + r * n_out:z_start + (r + 1) * n_out]
        p = E_prev[a_start + r * n_in:a_start + (r + 1) * n_in]
        for k in range(n_in):
            w = params[w_off + k * n_out:w_off + (k + 1) * n_out]
            s = E.dtype.type(0.0)
            for j in range(n_out):
                s += e[j] * w[j]
            p[k] = s
