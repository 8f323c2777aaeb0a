"""Training small networks a row at a time: each sample of a batch goes forward through
every layer and back again before the next one starts.

For a network whose layers are all small enough for the explicit loops of dense.py
(rows * n_in * n_out < blas_min), this does exactly the arithmetic of
training.train_batches, in the same order, so the parameters come out bit-identical:
a layer's z_j = b_j + a_0 w_0j + a_1 w_1j + ... per row, and the gradient of the batch
is summed row by row (row 0 writes 0 + its term, later rows add theirs), as dense.py's
loops do. What changes is the overhead: one function walks the layers with plain
loops over a row's views, where train_batches makes a dozen calls per step that each
pass the whole Net. A call that passes arrays costs more than a 1-2-1 network's
arithmetic, so forward_row and backward_row are inlined at Numba's level (measured:
41 ns per step inlined, 129 ns as two calls), and identity and ReLU layers and a
regression loss on an identity output are computed in place; other activations and
losses call the region kernels with one row. (Inlining those region kernels too made
a step slower: 114 ns.)

Online SGD (batches of one row, plain SGD, no L2 penalty) goes further: each layer's
update is taken in the backward pass, right after the layer has passed its error down
(train_online_sgd for fit, sgd_row for kernels.sgd_step), so there is no second walk
over the parameters and no optimizer call per step.

fit uses this for online training (batch 1, see training._row_at_a_time), where a
1-2-1 SGD step is 6.5x faster than train_batches (37 against 240 ns; Adam 1.9x), but
for narrow regression nets under plain SGD, which narrow.py trains with their values
in registers (13 ns). Dropout is not handled here.
"""
import math

import numpy as np

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, IDENTITY, RELU, SGD
from ..layout import N_IN, N_OUT, OUT_UNIT
from .activations import activate, mul_activation_grad
from .dense import dense_forward_loops
from .jit import entry, kernel, net_kernel
from .losses import batch_correct, output_error, regression_error
from .network import l2_penalty
from .optimizers import optimizer_update_range
from .row_fields import layer_geometry, trainer_fields


@net_kernel
def forward_row(Z, A, params, layout, act, C):
    """z = a_prev @ W + b and a = f(z) for every layer, for the one row whose input is
    at the start of A (row 0 of each region of a workspace of C rows). Inputs but the
    last are summed by dense.py's loops; the pass that adds the last one also applies
    ReLU or the identity (the same sums, one pass over the layer fewer)."""
    zero = params.dtype.type(0.0)
    for l in range(layout.shape[0]):
        n_in, n_out, w_off, b_off, z_start, a_start = layer_geometry(layout, l, C)
        if n_in > 1:
            dense_forward_loops(Z, A, params, z_start, a_start, w_off, b_off, np.int64(1),
                                n_in - 1, n_out)
        # z_j = (the sum so far, or b_j for a single input) + a_last w_last,j
        partial = Z[z_start:z_start + n_out] if n_in > 1 else params[b_off:b_off + n_out]
        a_last = A[a_start + n_in - 1]
        w = params[w_off + (n_in - 1) * n_out:w_off + n_in * n_out]
        z = Z[z_start:z_start + n_out]
        out = A[z_start:z_start + n_out]
        code = act[l]
        if code == RELU:
            for j in range(n_out):
                z_j = partial[j] + a_last * w[j]
                z[j] = z_j
                out[j] = z_j if z_j > zero else zero
        elif code == IDENTITY:
            for j in range(n_out):
                z_j = partial[j] + a_last * w[j]
                z[j] = z_j
                out[j] = z_j
        else:
            for j in range(n_out):
                z[j] = partial[j] + a_last * w[j]
            activate(A, Z, z_start, np.int64(1), n_out, code)   # np.int64(): see jit.py


@net_kernel
def error_down(E, Z, A, params, layout, act, C, l):
    """Layer l's error passed to the layer below: E_prev = (e @ W^T) * f'(z_prev).
    (ReLU's f' is a separate pass: applied as each sum is made, 8-16-1 and 4-32-32-1
    steps were 12-15% slower.)"""
    zero = params.dtype.type(0.0)
    n_in, n_out, w_off, _, e_start, p_start = layer_geometry(layout, l, C)
    e = E[e_start:e_start + n_out]
    e_prev = E[p_start:p_start + n_in]
    z_prev = Z[p_start:p_start + n_in]
    code = act[l - 1]
    for k in range(n_in):
        w = params[w_off + k * n_out:w_off + (k + 1) * n_out]
        s = zero
        for j in range(n_out):
            s += e[j] * w[j]
        e_prev[k] = s
    if code == RELU:
        for k in range(n_in):
            if not z_prev[k] > zero:
                e_prev[k] = zero
    elif code != IDENTITY:
        mul_activation_grad(E, Z, A, p_start, n_in, code, 1.0)


@net_kernel
def backward_row(grads, E, Z, A, params, layout, act, C, first_row, sgd, lr, wd):
    """From the output layer's error (in E) down to the input: add this row's
    dW = a_prev^T e and db = e to grads (first_row: write 0 + them instead), and
    E_prev = (e @ W^T) * f'(z_prev), as network.backward does for a batch.

    sgd (with first_row, for a batch of one row): also take plain SGD's step on each
    layer as soon as its error has been passed down with its weights as they were:
    p -= lr (g + wd p), optimizers.optimizer_update_range's rule, so the same bits as
    that update after the whole backward pass, without a second walk over the
    parameters (W1, 1-2-1: 45 -> 40 ns per step)."""
    zero = params.dtype.type(0.0)
    for l in range(layout.shape[0] - 1, -1, -1):
        n_in, n_out, w_off, b_off, z_start, a_start = layer_geometry(layout, l, C)
        if l > 0:
            error_down(E, Z, A, params, layout, act, C, l)
        e = E[z_start:z_start + n_out]
        a = A[a_start:a_start + n_in]
        db = grads[b_off:b_off + n_out]
        if first_row:
            for j in range(n_out):
                db[j] = zero + e[j]
            for k in range(n_in):
                a_k = a[k]
                dw = grads[w_off + k * n_out:w_off + (k + 1) * n_out]
                for j in range(n_out):
                    dw[j] = zero + a_k * e[j]
        else:
            for j in range(n_out):
                db[j] += e[j]
            for k in range(n_in):
                a_k = a[k]
                dw = grads[w_off + k * n_out:w_off + (k + 1) * n_out]
                for j in range(n_out):
                    dw[j] += a_k * e[j]
        if sgd:
            # the layer's W then b: one contiguous range
            p = params[w_off:b_off + n_out]
            g = grads[w_off:b_off + n_out]
            for i in range(p.size):
                p[i] -= lr * (g[i] + wd * p[i])


@net_kernel
def forward_error_row(params, Z, A, E, T, layout, act, C, loss, scale):
    """For the one row whose input is at the start of A and target at the start of T:
    forward, and the output error times `scale` into E. Returns (the row's cost, its
    correct prediction: 1.0 or 0.0, and 0.0 for regression losses), in float64."""
    last = layout.shape[0] - 1
    n_y = layout[last, N_OUT]
    out_start = C * layout[last, OUT_UNIT]
    forward_row(Z, A, params, layout, act, C)
    cost = 0.0
    correct = 0.0
    classifier = loss == CROSS_ENTROPY or loss == BINARY_CROSS_ENTROPY
    if act[last] == IDENTITY and not classifier:   # output_error's regression branch
        dt = params.dtype.type
        s = dt(scale)
        e = E[out_start:out_start + n_y]
        y_hat = A[out_start:out_start + n_y]
        t = T[0:n_y]
        for j in range(n_y):
            e[j], cost_j = regression_error(loss, y_hat[j], t[j], s)
            cost += cost_j
    else:
        cost = output_error(E, Z, A, T, out_start, np.int64(1), n_y, act[last], loss, scale)
        if classifier:
            correct = batch_correct(Z, A, T, out_start, np.int64(1), n_y, loss)
        else:   # C'(y_hat) * f'(z), as network.backward
            mul_activation_grad(E, Z, A, out_start, n_y, act[last], 1.0)
    return cost, correct


@net_kernel
def row_gradient(params, grads, Z, A, E, T, layout, act, C, loss, scale, first_row):
    """forward_error_row, then backward into grads (first_row: written, else added).
    Returns what forward_error_row does."""
    cost, correct = forward_error_row(params, Z, A, E, T, layout, act, C, loss, scale)
    zero = params.dtype.type(0.0)
    backward_row(grads, E, Z, A, params, layout, act, C, first_row, bool(False), zero,
                 zero)
    return cost, correct


@kernel
def online_sgd_suits(net, batch_size):
    """Whether train_online_sgd serves train_batches_rowwise's call: batches of one row,
    plain SGD (no momentum) and no L2 penalty, so that each parameter's update needs
    only its own gradient, known during the backward pass."""
    return (batch_size == 1 and net.opt_code == SGD and net.opt_hyper[1] == 0.0
            and net.l2 == 0.0)


@kernel
def train_online_sgd(net, X, Y, order, first_batch, stop_batch, total, correct):
    """train_batches_rowwise for batches of one row with plain SGD (online_sgd_suits):
    the update is fused into the backward pass (backward_row's sgd) instead of a second
    walk over the parameters. Same results, bit for bit (tests/test_rowwise.py)."""
    n_x = X.shape[1]
    n_y = Y.shape[1]
    params, grads, layout, act, Z, A, E, T, C, loss = trainer_fields(net)
    dt = params.dtype.type
    lr = dt(net.opt_hyper[0])
    wd = dt(net.opt_hyper[3])
    x = A[0:n_x]
    t = T[0:n_y]
    for b in range(first_batch, stop_batch):
        src = order[b]
        for k in range(n_x):
            x[k] = X[src, k]
        for j in range(n_y):
            t[j] = Y[src, j]
        net.rng[1] += np.uint64(1)      # the batch counter advances as in train_batches
        cost, row_correct = forward_error_row(params, Z, A, E, T, layout, act, C, loss,
                                              1.0)
        correct += row_correct
        if not math.isfinite(cost):
            # train_batches writes this row's gradient, then stops before the update
            backward_row(grads, E, Z, A, params, layout, act, C, bool(True), bool(False),
                         lr, wd)
            return total, correct, b
        backward_row(grads, E, Z, A, params, layout, act, C, bool(True), bool(True), lr, wd)
        net.opt_step[0] += 1
        total += cost
    return total, correct, -1


@entry
def train_batches_rowwise(net, X, Y, order, batch_size, first_batch, stop_batch, total,
                          correct):
    """training.train_batches for a network without dropout whose every layer uses
    dense.py's loops for batches of batch_size rows: same arguments, same results."""
    if online_sgd_suits(net, batch_size):
        return train_online_sgd(net, X, Y, order, first_batch, stop_batch, total, correct)
    n = X.shape[0]
    n_x = X.shape[1]
    n_y = Y.shape[1]
    params, grads, layout, act, Z, A, E, T, C, loss = trainer_fields(net)
    x = A[0:n_x]
    t = T[0:n_y]
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        net.rng[1] += np.uint64(1)      # the batch counter advances as in train_batches
        scale = 1.0 / rows
        cost = 0.0
        for r in range(rows):
            src = order[first + r]
            for k in range(n_x):
                x[k] = X[src, k]
            for j in range(n_y):
                t[j] = Y[src, j]
            row_cost, row_correct = row_gradient(params, grads, Z, A, E, T, layout, act,
                                                 C, loss, scale, r == 0)
            cost += row_cost
            correct += row_correct
        if net.l2 != 0.0:
            cost += rows * l2_penalty(net, bool(True))
        if not math.isfinite(cost):
            return total, correct, b
        net.opt_step[0] += 1
        optimizer_update_range(params, grads, net.opt_state, net.opt_hyper,
                               net.opt_step[0], net.opt_code, np.int64(0), params.size)
        total += cost
    return total, correct, -1


@net_kernel
def sgd_row(net, X, Y, lr):
    """For a net that rowwise_suits one row and has no L2 penalty: one plain SGD step
    (p -= lr g) on the row X[0], Y[0], the update fused into the backward pass; returns
    the row's cost. The same bits, and batch counter, as batch_gradient then the
    update p -= lr (g + 0 p)."""
    params = net.params
    A = net.A
    T = net.Y
    for k in range(X.shape[1]):
        A[k] = X[0, k]
    for j in range(Y.shape[1]):
        T[j] = Y[0, j]
    net.rng[1] += np.uint64(1)      # the batch counter advances as forward(training) does
    cost, _ = forward_error_row(params, net.Z, A, net.E, T, net.layout, net.act,
                                net.capacity, net.loss, 1.0)
    dt = params.dtype.type
    backward_row(net.grads, net.E, net.Z, A, params, net.layout, net.act, net.capacity,
                 bool(True), bool(True), dt(lr), dt(0.0))
    return cost


@kernel
def rowwise_suits(net, rows):
    """Whether this module computes exactly what network.forward/backward do for a
    batch of `rows` rows: no dropout, and every layer on dense.py's loops."""
    for l in range(net.layout.shape[0]):
        if net.dropout[l] > 0.0 or rows * net.layout[l, N_IN] * net.layout[l, N_OUT] >= \
                net.blas_min:
            return False
    return True


@kernel
def batch_gradient(net, X, Y):
    """For a net that rowwise_suits X's rows: grads = the gradient of the batch's mean
    cost and the summed cost (with the L2 penalty per row) returned, row by row; the
    same bits, and the same batch counter, as copying X, Y in and running
    network.forward(training) and network.backward."""
    params = net.params
    A = net.A
    T = net.Y
    rows = X.shape[0]
    x = A[0:X.shape[1]]
    t = T[0:Y.shape[1]]
    net.rng[1] += np.uint64(1)      # the batch counter advances as forward(training) does
    scale = 1.0 / rows
    cost = 0.0
    for r in range(rows):
        for k in range(X.shape[1]):
            x[k] = X[r, k]
        for j in range(Y.shape[1]):
            t[j] = Y[r, j]
        row_cost, _ = row_gradient(params, net.grads, net.Z, A, net.E, T, net.layout,
                                   net.act, net.capacity, net.loss, scale, r == 0)
        cost += row_cost
    if net.l2 != 0.0:
        cost += rows * l2_penalty(net, bool(True))
    return cost
