"""The row walk: each sample of a batch goes forward through every layer and back
again before the next one starts, its gradient added to the batch's.

For a network without dropout whose layers all use the explicit loops of
kernels/layers.py (rows * n_in * n_out < blas_min), this calls the same stages as the
batch walk (kernels/tiled.py) in the same order per sample, so the parameters come out
bit-identical: a layer's z_j = b_j + a_0 w_0j + a_1 w_1j + ... per row, and the batch
gradient summed row by row (row 0 writes 0 + its term, later rows add theirs), as the
loops of layers.weight_gradient do. What it saves is the overhead of a step: one
function walks the layers for one row, where the batch walk makes a dozen calls that
each pass the whole Net. fit takes it for online training (batch 1) of such networks
(training.py): see docs/performance.md for what it pays.
"""
import math

import numpy as np

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY
from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from .jit import inlined, kernel
from .layers import forward, hidden_error, output_error, weight_gradient, \
    weight_gradient_add_row
from .losses import batch_correct
from .network import add_l2
from .optimizers import optimizer_update_range


@inlined
def row_gradient(net, scale, first_row):
    """For the one row whose input is at the start of net.A and target at the start of
    net.Y: forward, E_L times `scale`, backward into net.grads (first_row: written,
    else added). Returns (the row's cost, its correct prediction: 1.0 or 0.0, and 0.0
    for regression losses), in float64."""
    layout = net.layout
    C = net.capacity
    last = layout.shape[0] - 1
    one = np.int64(1)     # np.int64(): see jit.py
    zero = np.int64(0)
    for l in range(last + 1):
        n_out = layout[l, N_OUT]
        forward(net.Z, net.A, net.A, net.params, C * layout[l, OUT_UNIT],
                C * layout[l, IN_UNIT], layout[l, W_OFF], layout[l, B_OFF], one,
                layout[l, N_IN], n_out, zero, n_out, net.act[l], net.blas_min)
    n_y = layout[last, N_OUT]
    out_start = C * layout[last, OUT_UNIT]
    cost = output_error(net.E, net.Z, net.A, net.Y, out_start, one, n_y, net.act[last],
                        net.loss, scale)
    correct = 0.0
    if net.loss == CROSS_ENTROPY or net.loss == BINARY_CROSS_ENTROPY:
        correct = batch_correct(net.Z, net.A, net.Y, out_start, one, n_y, net.loss)
    for l in range(last, -1, -1):
        n_in = layout[l, N_IN]
        n_out = layout[l, N_OUT]
        z_start = C * layout[l, OUT_UNIT]
        a_start = C * layout[l, IN_UNIT]
        if first_row:
            weight_gradient(net.grads, net.E, net.A, z_start, a_start, layout[l, W_OFF],
                            layout[l, B_OFF], one, n_in, n_out, zero, n_in, net.blas_min)
        else:
            weight_gradient_add_row(net.grads, net.E, net.A, z_start, a_start,
                                    layout[l, W_OFF], layout[l, B_OFF], n_in, n_out)
        if l > 0:
            hidden_error(net.E, net.Z, net.A, net.M, net.params, z_start, a_start,
                         layout[l, W_OFF], one, n_in, n_out, zero, n_in, net.act[l - 1],
                         0.0, net.blas_min)
    return cost, correct


@inlined
def load_row(net, X, Y, src):
    """Row src of X and Y into the input region and the target buffer."""
    x = net.A[0:X.shape[1]]
    t = net.Y[0:Y.shape[1]]
    for k in range(X.shape[1]):
        x[k] = X[src, k]
    for j in range(Y.shape[1]):
        t[j] = Y[src, j]


@inlined
def batch_gradient(net, X, Y, order, first, rows, in_order):
    """grads = the gradient of the mean cost of rows order[first:first+rows] of X, Y
    (rows first..first+rows-1 when in_order; order is then not read), with the L2
    term, taken a row at a time; returns (their summed cost with the L2 penalty once
    per row, their correct predictions). The batch counter advances as in the batch
    walk."""
    net.rng[1] += np.uint64(1)
    scale = 1.0 / rows
    cost = 0.0
    correct = 0.0
    for r in range(rows):
        load_row(net, X, Y, first + r if in_order else order[first + r])
        row_cost, row_correct = row_gradient(net, scale, r == 0)
        cost += row_cost
        correct += row_correct
    if net.l2 != 0.0:
        cost += rows * add_l2(net)
    return cost, correct


@kernel
def train_batches_rowwise(net, X, Y, order, batch_size, first_batch, stop_batch, total,
                          correct):
    """tiled.train_batches for a network that rowwise_suits batches of batch_size rows:
    the same results, bit for bit, with the same arguments but the tiles."""
    n = X.shape[0]
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        cost, step_correct = batch_gradient(net, X, Y, order, first, rows, bool(False))
        correct += step_correct
        if not math.isfinite(cost):
            return total, correct, b
        net.opt_step[0] += 1
        optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper,
                               net.opt_step[0], net.opt_code, np.int64(0), net.params.size)
        total += cost
    return total, correct, -1


@kernel
def rowwise_suits(net, rows):
    """Whether the row walk gives the batch walk's bits for a batch of `rows` rows: no
    dropout, and every layer on the explicit loops of kernels/layers.py."""
    for l in range(net.layout.shape[0]):
        if net.dropout[l] > 0.0 or rows * net.layout[l, N_IN] * net.layout[l, N_OUT] >= \
                net.blas_min:
            return False
    return True


@kernel
def rowwise_gradient(net, X, Y):
    """For a net that rowwise_suits X's rows: net.grads = the gradient of the batch's
    mean cost; returns the summed cost (with the L2 penalty per row)."""
    # in order: net.act stands in for the unread order array (no allocation here)
    cost, _ = batch_gradient(net, X, Y, net.act, np.int64(0), X.shape[0], bool(True))
    return cost
