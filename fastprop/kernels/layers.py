"""The stages of backpropagation for one dense layer, each written once. Every walk
over the work (a batch, one row, the tiles of a multi-threaded step) calls these.

  forward         Z = A_prev @ W + b, A = f(Z)
  output_error    E_L = dC/dZ_L (the loss's shortcut where exact, else C'(y_hat) f'(Z_L)),
                  each row times its sample weight in a weighted run
  hidden_error    E_prev = (E @ W^T) * mask_prev * f'_prev(Z_prev)
  weight_gradient dW = A_prev^T @ E, db = sum over rows of E
  l2_gradient     dW += l2 * W

Shapes (row-major regions of the Net's flat buffers; a workspace region holds `rows`
rows of its layer's width):
  A_prev, E_prev  (rows, n_in)   at a_start     layer input and its error
  Z, A, E         (rows, n_out)  at z_start     pre-activation, activation, error
  W, dW           (n_in, n_out)  at w_off       in params / grads
  b, db           (n_out,)       at b_off       in params / grads
A stage may work on a block: columns c0..c1 of Z (forward), k0..k1 of E_prev
(hidden_error) or rows k0..k1 of dW (weight_gradient); a walk without tiles passes the
whole range.

Each product has two paths, chosen by size (rows * n_in * n_out >= blas_min): explicit
loops, which win for small layers where a BLAS call's fixed cost dominates, and BLAS
(kernels/blas.py). A whole product goes through blas.gemm (a matrix-vector product for
one row), a block through blas.gemm_strided. The first layer's two products with a
sparse input have a third (sparse_forward, sparse_weight_gradient, at the end), chosen
by the input's type (kernels/inputs.py).
"""
import numpy as np

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, POISSON
from .activations import activate, mul_activation_grad
from .blas import gemm, gemm_strided
from .jit import inlined, kernel
from .losses import output_error as loss_error


@kernel
def forward(Z, A, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in, n_out,
            c0, c1, act, blas_min):
    """Z[:, c0:c1] = A_prev @ W[:, c0:c1] + b[c0:c1] and A = f(Z) on that block (a
    block narrower than the layer always by BLAS)."""
    width = c1 - c0
    start = z_start + c0
    if width < n_out or rows * n_in * n_out >= blas_min:
        if width == n_out:
            gemm(Z, A_prev, params, z_start, a_start, w_off, rows, n_in, n_out,
                 bool(False), bool(False), bool(False))    # bool(): see jit.py
        else:
            gemm_strided(Z, A_prev, params, start, a_start, w_off + c0, rows, n_in, width,
                         bool(False), bool(False), bool(False), n_out, n_in, n_out)
        b = params[b_off + c0:b_off + c1]     # views from 0 (see activations.activate)
        for r in range(rows):
            z = Z[start + r * n_out:start + r * n_out + width]
            for j in range(width):
                z[j] += b[j]
    else:
        forward_loops(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in,
                      n_out)
    if width == n_out:      # whole rows: one region
        activate(A, Z, z_start, rows, n_out, act)
    else:
        for r in range(rows):
            activate(A, Z, start + r * n_out, np.int64(1), width, act)


@inlined
def forward_loops(Z, A_prev, params, z_start, a_start, w_off, b_off, rows, n_in, n_out):
    """Z = A_prev @ W + b by explicit loops, j innermost over contiguous rows of W and
    Z, so they vectorise. Input 0 is added to the bias in the pass that writes z (the
    sums b + a_0 w_0 + a_1 w_1 + ... in that order), so a tiny layer runs one loop per
    input rather than one more per row."""
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


@inlined
def output_error(E, Z, A, Y, SW, z_start, rows, n_out, act, loss, scale, weighted):
    """E_L = scale * dC/dZ_L for `rows` whole rows of the output layer at z_start (Y:
    their targets, row-major from 0; SW their sample weights, where `weighted`, each
    row's error and cost then times its weight); returns their summed cost (float64).
    The loss computes C'(y_hat) (or the exact shortcut, losses.output_error); an
    elementwise output activation's f'(Z_L) is applied here, as for a hidden layer."""
    cost = loss_error(E, Z, A, Y, SW, z_start, rows, n_out, act, loss, scale, weighted)
    if loss != CROSS_ENTROPY and loss != BINARY_CROSS_ENTROPY and loss != POISSON:
        mul_activation_grad(E, Z, A, z_start, rows * n_out, act, 1.0)
    return cost


@kernel
def hidden_error(E, Z, A, M, params, z_start, a_start, w_off, rows, n_in, n_out, k0, k1,
                 act_prev, rate_prev, blas_min):
    """E_prev[:, k0:k1] = (E @ W[k0:k1]^T) * mask_prev * f'_prev(Z_prev) on that block
    of the layer below (E_prev at a_start, E at z_start; W read before any update).
    M holds the dropout mask factors of the layer below where rate_prev > 0. (A block
    narrower than the layer always by BLAS.)"""
    width = k1 - k0
    start = a_start + k0
    if width < n_in or rows * n_in * n_out >= blas_min:
        if width == n_in:
            gemm(E, E, params, a_start, z_start, w_off, rows, n_out, n_in, bool(False),
                 bool(True), bool(False))    # bool(): see jit.py
        else:
            gemm_strided(E, E, params, start, z_start, w_off + k0 * n_out, rows, n_out,
                         width, bool(False), bool(True), bool(False), n_in, n_out, n_out)
    else:
        for r in range(rows):
            e = E[z_start + r * n_out:z_start + (r + 1) * n_out]
            p = E[a_start + r * n_in:a_start + (r + 1) * n_in]
            for k in range(n_in):
                w = params[w_off + k * n_out:w_off + (k + 1) * n_out]
                s = E.dtype.type(0.0)
                for j in range(n_out):
                    s += e[j] * w[j]
                p[k] = s
    a_scale = 1.0 - rate_prev if rate_prev > 0.0 else 1.0
    whole = width == n_in
    for r in range(1 if whole else rows):      # whole rows: one region
        lo = start + r * n_in
        count = rows * n_in if whole else width
        if rate_prev > 0.0:
            e = E[lo:lo + count]
            m = M[lo:lo + count]
            for i in range(count):
                e[i] *= m[i]
        mul_activation_grad(E, Z, A, lo, count, act_prev, a_scale)


@kernel
def weight_gradient(grads, E, A_prev, z_start, a_start, w_off, b_off, rows, n_in, n_out,
                    k0, k1, blas_min):
    """dW[k0:k1] = A_prev[:, k0:k1]^T @ E (whole rows of dW, each summed over the
    batch) and, with k0 = 0, db = sum over rows of E (overwrites both). (A block of
    fewer rows than the layer's inputs always by BLAS.)"""
    zero = grads.dtype.type(0.0)
    db = grads[b_off:b_off + n_out]
    if k1 - k0 < n_in or rows * n_in * n_out >= blas_min:
        if k0 == 0:
            sum_rows(db, E, z_start, rows, n_out)
        if k1 - k0 == n_in:
            gemm(grads, A_prev, E, w_off, a_start, z_start, n_in, rows, n_out,
                 bool(True), bool(False), bool(False))    # bool(): see jit.py
        else:
            gemm_strided(grads, A_prev, E, w_off + k0 * n_out, a_start + k0, z_start,
                         k1 - k0, rows, n_out, bool(True), bool(False), bool(False),
                         n_out, n_in, n_out)
        return
    # Row 0 writes zero + its term (what zeroing then adding gives, -0.0 included), so
    # no separate zeroing pass; db and dW share the pass over rows.
    dW = grads[w_off:w_off + n_in * n_out]
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
        weight_gradient_add_row(grads, E, A_prev, z_start + r * n_out, a_start + r * n_in,
                                w_off, b_off, n_in, n_out)


@inlined
def weight_gradient_add_row(grads, E, A_prev, e_start, a_start, w_off, b_off, n_in,
                            n_out):
    """dW += a^T e and db += e for one row: its error e at e_start, its input a at
    a_start (weight_gradient's loop over the rows after the first)."""
    e = E[e_start:e_start + n_out]
    a = A_prev[a_start:a_start + n_in]
    db = grads[b_off:b_off + n_out]
    for j in range(n_out):
        db[j] += e[j]
    for k in range(n_in):
        a_k = a[k]
        dw = grads[w_off + k * n_out:w_off + (k + 1) * n_out]
        for j in range(n_out):
            dw[j] += a_k * e[j]


@inlined
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
def l2_gradient(grads, params, lo, hi, l2):
    """grads[lo:hi] += l2 * params[lo:hi]: the L2 penalty's gradient on weights."""
    lam = params.dtype.type(l2)
    W = params[lo:hi]
    dW = grads[lo:hi]
    for i in range(hi - lo):
        dW[i] += lam * W[i]


# ------------------------------------------------------------ a sparse input layer
# The first layer's input as CSR rows (fastprop/sparse.py SparseRows) rather than dense
# rows in the workspace: batch row r is row src(r) of X, order[first + r] (first + r
# for an empty order). Products skip the zero inputs, so a row of nnz entries costs
# nnz * n_out multiply-adds instead of n_in * n_out; each output sums its terms in the
# row's CSR order, whatever the block, so tiles and threads change no bit.

@inlined
def source_row(order, first, r):
    """The row of X that is row r of the batch starting at `first`."""
    return first + r if order.size == 0 else order[first + r]


@kernel
def sparse_forward(Z, A, params, X, order, first, z_start, w_off, b_off, r0, r1, n_out,
                   c0, c1, act):
    """Z[r0:r1, c0:c1] = X[rows] @ W[:, c0:c1] + b[c0:c1] and A = f(Z) on that block,
    X's rows as CSR (batch row r at z_start + r * n_out)."""
    width = c1 - c0
    b = params[b_off + c0:b_off + c1]     # views from 0 (see activations.activate)
    for r in range(r0, r1):
        src = source_row(order, first, r)
        z = Z[z_start + r * n_out + c0:z_start + r * n_out + c1]
        for j in range(width):
            z[j] = b[j]
        for i in range(X.indptr[src], X.indptr[src + 1]):
            a_k = X.data[i]
            lo = w_off + X.indices[i] * n_out + c0
            w = params[lo:lo + width]
            for j in range(width):
                z[j] += a_k * w[j]
        if width < n_out:
            activate(A, Z, z_start + r * n_out + c0, np.int64(1), width, act)
    if width == n_out:      # whole rows: one region
        activate(A, Z, z_start + r0 * n_out, r1 - r0, n_out, act)


@kernel
def sparse_weight_gradient(grads, E, X, order, first, z_start, w_off, b_off, rows, n_in,
                           n_out, k0, k1):
    """dW[k0:k1] = X[rows][:, k0:k1]^T @ E and, with k0 = 0, db = sum over rows of E
    (overwrites both), X's rows as CSR: only the inputs in k0..k1 a row holds add in."""
    zero = grads.dtype.type(0.0)
    dW = grads[w_off + k0 * n_out:w_off + k1 * n_out]
    for i in range((k1 - k0) * n_out):
        dW[i] = zero
    if k0 == 0:
        sum_rows(grads[b_off:b_off + n_out], E, z_start, rows, n_out)
    whole = k0 == 0 and k1 == n_in
    for r in range(rows):
        src = source_row(order, first, r)
        e = E[z_start + r * n_out:z_start + (r + 1) * n_out]
        for i in range(X.indptr[src], X.indptr[src + 1]):
            k = X.indices[i]
            if whole or (k >= k0 and k < k1):
                a_k = X.data[i]
                dw = grads[w_off + k * n_out:w_off + (k + 1) * n_out]
                for j in range(n_out):
                    dw[j] += a_k * e[j]
