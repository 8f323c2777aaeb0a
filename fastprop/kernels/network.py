"""The whole network: forward propagation, backpropagation, batch loading, prediction.

Every function takes a `Net` (fastprop/net.py), or for inference from Python the
arrays of one (predict_rows), and works in its preallocated buffers: no allocation.
The batch input sits in region 0 of net.A (a sparse X stays where it is: see
kernels/inputs.py, which every function here reaches the input through), its targets
in net.Y, and in a weighted run its rows' sample weights in net.SW (`w`, the data's
weights, is then non-empty).
`training` switches dropout on (masks drawn from the net's counter-based stream).
"""
import math

import numpy as np

from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from .activations import activate
from .blas import row_times_matrix
from . import layers
from .layers import hidden_error, l2_gradient, output_error, weight_gradient
from .jit import inlined, kernel
from .losses import batch_correct, batch_cost
from .random import splitmix64, stream_base, uniform
from .inputs import copy_row, input_forward, input_predict, input_weight_gradient, load_input


@inlined
def draw_dropout(A_buf, M_buf, start, count, rate, base, first):
    """Inverted dropout on A[region]: each entry is kept with probability 1 - rate and
    scaled by 1 / (1 - rate), else zeroed; M[region] records the factor. Entry i of the
    region draws number first + i of the stream `base`, whatever the workspace's
    capacity, so a batch split across threads draws the same mask as a whole one."""
    dt = A_buf.dtype.type
    keep = dt(1.0 / (1.0 - rate))
    zero = dt(0.0)
    A = A_buf[start:start + count]      # views from 0 (see activations.activate)
    M = M_buf[start:start + count]
    for i in range(count):
        m = keep if uniform(base, first + i) >= rate else zero
        M[i] = m
        A[i] *= m


@inlined
def next_batch(net):
    """Advance the net's batch counter (which picks the dropout masks); return it."""
    net.rng[1] += np.uint64(1)
    return net.rng[1]


@inlined
def in_region(net):
    """(X, order) that mean "the batch is in the input region" (kernels/inputs.py)."""
    return net.A, net.opt_step[:0]


@kernel
def forward(net, rows, training):
    """Z_l = A_{l-1} @ W_l + b_l and A_l = f_l(Z_l) for every layer, A_0 = the input
    in the input region; with `training`, A_l of hidden layers then goes through
    dropout (a new mask)."""
    batch = next_batch(net) if training else np.uint64(0)
    X, order = in_region(net)
    forward_rows(net, X, order, np.int64(0), rows, training, batch, net.layout.shape[0])


@inlined
def forward_rows(net, X, order, first, rows, training, batch, n_layers):
    """forward() through the first n_layers layers, for the batch numbered `batch` (its
    dropout masks are drawn from the stream of the net's key and that number), the
    input reached through (X, order, first) (kernels/inputs.py)."""
    C = net.capacity
    base = np.uint64(0)
    for l in range(n_layers):
        if l == 0:
            input_forward(net, X, order, first, np.int64(0), rows, np.int64(0),
                          net.layout[0, N_OUT])
        else:
            layer_forward(net.Z, net.A, net.params, net.layout, net.act, C, net.blas_min,
                          l, rows)
        n_out = net.layout[l, N_OUT]
        z_start = C * net.layout[l, OUT_UNIT]
        if training and net.dropout[l] > 0.0:
            if base == 0:     # hashed on first use: no cost for nets without dropout
                base = stream_base(net.rng[0], batch)
            draw_dropout(net.A, net.M, z_start, rows * n_out, net.dropout[l],
                         splitmix64(base + np.uint64(l)), np.int64(0))


@inlined
def layer_forward(Z, A, params, layout, act, C, blas_min, l, rows):
    """Layer l of a workspace of C rows: Z_l = A_{l-1} @ W_l + b_l, A_l = f_l(Z_l)."""
    n_out = layout[l, N_OUT]
    layers.forward(Z, A, A, params, C * layout[l, OUT_UNIT], C * layout[l, IN_UNIT],
            layout[l, W_OFF], layout[l, B_OFF], rows, layout[l, N_IN], n_out,
            np.int64(0), n_out, act[l], blas_min)    # np.int64(): see jit.py


@inlined
def predict_layer(Z, A, params, layout, act, C, blas_min, l, rows):
    """layer_forward for inference: a single float32 row through a layer large enough
    for BLAS takes blas.row_times_matrix instead of sgemv (faster for one row, see
    there), starting from the bias. Only predict_rows calls this, so that loop is not
    compiled into training's kernels, where one-row batches are rare."""
    n_in = layout[l, N_IN]
    n_out = layout[l, N_OUT]
    if rows == 1 and A.itemsize == 4 and n_in * n_out >= blas_min:
        z_start = C * layout[l, OUT_UNIT]
        z = Z[z_start:z_start + n_out]      # views from 0 (see activations.activate)
        b = params[layout[l, B_OFF]:layout[l, B_OFF] + n_out]
        for j in range(n_out):
            z[j] = b[j]
        row_times_matrix(Z, A, params, z_start, C * layout[l, IN_UNIT], layout[l, W_OFF],
                         n_in, n_out)
        activate(A, Z, z_start, rows, n_out, act[l])
    else:
        layer_forward(Z, A, params, layout, act, C, blas_min, l, rows)


@kernel
def l2_penalty(net):
    """l2/2 * sum of squared weights (float64).

    Each layer's squares go into eight sums (entry i into sum i % 8, the last n % 8
    into the first), added up as a tree: with one running sum every addition waits for
    the one before (IEEE order, no fastmath). A fixed order still: the same bits every
    run."""
    total = 0.0
    if net.l2 == 0.0:
        return total
    for l in range(net.layout.shape[0]):
        lo = net.layout[l, W_OFF]
        n = net.layout[l, N_IN] * net.layout[l, N_OUT]
        W = net.params[lo:lo + n]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for k in range(n // 8):     # views from 0 (see activations.activate)
            v = W[k * 8:k * 8 + 8]
            s0 += float(v[0]) * float(v[0])
            s1 += float(v[1]) * float(v[1])
            s2 += float(v[2]) * float(v[2])
            s3 += float(v[3]) * float(v[3])
            s4 += float(v[4]) * float(v[4])
            s5 += float(v[5]) * float(v[5])
            s6 += float(v[6]) * float(v[6])
            s7 += float(v[7]) * float(v[7])
        tail = W[n - n % 8:n]
        for i in range(n % 8):
            s0 += float(tail[i]) * float(tail[i])
        total += ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    return 0.5 * net.l2 * total


@inlined
def batch_mass(net, rows, weighted):
    """What a batch's mean divides by: its rows, or the sum of their weights (float64,
    in row order)."""
    if not weighted:
        return float(rows)
    mass = 0.0
    for r in range(rows):
        mass += float(net.SW[r])
    return mass


@inlined
def mean_scale(mass):
    """1 / mass: the error scale of the batch's mean cost (0 for weights summing to 0,
    whose batch then has no cost to follow, only the L2 penalty)."""
    return 1.0 / mass if mass > 0.0 else 0.0


@inlined
def backward(net, rows, scale, training, weighted):
    """After forward: fill net.E and net.grads; return the rows' summed cost (float64;
    weighted: sum of weight * cost), the L2 penalty counted once per row (weighted: per
    unit of weight). E_L = scale * dC/dZ_L, then backward_layers. With scale =
    1/batch_mass the grads are the gradient of the (weighted) mean cost."""
    X, order = in_region(net)
    return backward_input(net, X, order, np.int64(0), rows, scale, training, weighted)


@inlined
def backward_input(net, X, order, first, rows, scale, training, weighted):
    """backward() with the input reached through (X, order, first)."""
    C = net.capacity
    last = net.layout.shape[0] - 1
    cost = output_error(net.E, net.Z, net.A, net.Y, net.SW, C * net.layout[last, OUT_UNIT],
                        rows, net.layout[last, N_OUT], net.act[last], net.loss, scale,
                        weighted)
    backward_layers(net, X, order, first, rows, training)
    # l2_penalty takes the whole Net: a call passes it by value (~130 words), so it is
    # made only for a penalty
    if net.l2 != 0.0:
        cost += batch_mass(net, rows, weighted) * l2_penalty(net)
    return cost


@inlined
def backward_layers(net, X, order, first, rows, training):
    """From E_L (in net.E) down to the input, layer by layer (kernels/layers.py):
    dW_l = A_{l-1}^T @ E_l (+ l2 W_l), db_l = sum_rows E_l,
    E_{l-1} = (E_l @ W_l^T) * mask_{l-1} * f'_{l-1}(Z_{l-1}); the input (A_{-1})
    reached through (X, order, first) (kernels/inputs.py)."""
    C = net.capacity
    for l in range(net.layout.shape[0] - 1, -1, -1):
        n_in = net.layout[l, N_IN]
        n_out = net.layout[l, N_OUT]
        z_start = C * net.layout[l, OUT_UNIT]
        a_start = C * net.layout[l, IN_UNIT]
        w_off = net.layout[l, W_OFF]
        if l == 0:
            input_weight_gradient(net, X, order, first, rows, np.int64(0), n_in)
        else:
            weight_gradient(net.grads, net.E, net.A, z_start, a_start, w_off,
                            net.layout[l, B_OFF], rows, n_in, n_out, np.int64(0), n_in,
                            net.blas_min)
        if net.l2 != 0.0:
            l2_gradient(net.grads, net.params, w_off, w_off + n_in * n_out, net.l2)
        if l > 0:
            rate = net.dropout[l - 1] if training else 0.0
            hidden_error(net.E, net.Z, net.A, net.M, net.params, z_start, a_start, w_off,
                         rows, n_in, n_out, np.int64(0), n_in, net.act[l - 1], rate,
                         net.blas_min)


@inlined
def output_correct(net, rows, weighted):
    """After forward: correct predictions among the rows (losses.batch_correct)."""
    C = net.capacity
    last = net.layout.shape[0] - 1
    return batch_correct(net.Z, net.A, net.Y, net.SW, C * net.layout[last, OUT_UNIT], rows,
                         net.layout[last, N_OUT], net.loss, weighted)


@inlined
def load_weights(net, w, order, first, rows):
    """Where the data's weights w (n,) are not empty, those of the batch's rows
    order[first:first + rows] into net.SW. On one thread in every walk: written from
    the tasks of tiled.train_batches_parallel's load loop, they did not arrive (Numba
    0.68; tests/test_sample_weight.py has the case), and a batch's weights are a few
    words to copy."""
    if w.size > 0:
        for r in range(rows):
            net.SW[r] = w[order[first + r]]


@inlined
def load_rows(net, X, Y, order, first, r0, r1):
    """Rows order[first + r0:first + r1] of Y (n, n_out) into the batch's rows
    r0..r1-1 of the target buffer, and of X (n, n_in) into the input region where it
    is dense (kernels/inputs.py) (kernels/tiled.py: a task each)."""
    load_input(net, X, order, first, r0, r1)
    n_out = Y.shape[1]
    for r in range(r0, r1):
        copy_row(net.Y, r * n_out, Y, order[first + r])


@kernel
def copy_rows(dst, src, first, rows):
    """dst[:rows * width] = rows first:first+rows of the 2-D array src (n, width),
    row-major: the input region (dst = net.A) or the target buffer (dst = net.Y)."""
    width = src.shape[1]
    for r in range(rows):
        copy_row(dst, r * width, src, first + r)


@kernel
def predict_into(out, net, X, training):
    """out (n, n_out) = the network's output for X (n, n_in), capacity rows at a time."""
    n = X.shape[0]
    C = net.capacity
    last = net.layout.shape[0] - 1
    n_out = net.layout[last, N_OUT]
    a_out = C * net.layout[last, OUT_UNIT]
    _, in_order = in_region(net)     # rows first.. of X in order: an empty order
    for first in range(0, n, C):
        rows = n - first if n - first < C else C     # min() (see jit.py)
        load_input(net, X, in_order, first, np.int64(0), rows)
        batch = next_batch(net) if training else np.uint64(0)
        forward_rows(net, X, in_order, first, rows, training, batch, last + 1)
        for r in range(rows):
            for j in range(n_out):
                out[first + r, j] = net.A[a_out + r * n_out + j]


@kernel
def predict_rows(out, X, params, layout, act, Z, A, C, blas_min):
    """predict_into without dropout, from the arrays it reads rather than the Net:
    what Model.predict calls. A Net is a namedtuple of 19 fields, which Numba types
    field by field on every call from Python (several times longer than these 9
    arguments), a large share of a one-sample prediction on a small network. Returns the
    number of non-finite entries of X, counted as it is copied in, or if X is finite,
    minus the number of non-finite outputs, counted as they are copied out (the
    caller's finiteness checks, without a second pass and call)."""
    n = X.shape[0]
    n_layers = layout.shape[0]
    n_out = layout[n_layers - 1, N_OUT]
    a_out = C * layout[n_layers - 1, OUT_UNIT]
    non_finite = 0
    bad_out = 0
    for first in range(0, n, C):
        rows = n - first if n - first < C else C     # min() (see jit.py)
        non_finite += input_predict(Z, A, params, layout, act, C, blas_min, X, first, rows)
        for l in range(1, n_layers):
            predict_layer(Z, A, params, layout, act, C, blas_min, l, rows)
        for r in range(rows):
            for j in range(n_out):
                value = A[a_out + r * n_out + j]
                out[first + r, j] = value
                if not math.isfinite(value):
                    bad_out += 1
    return non_finite if non_finite else -bad_out


@kernel
def backward_rows(net, X, Y, w, training, scale):
    """One forward and backward pass over all n rows of X (n, n_in; dense or sparse)
    and Y (n, n_out) in a workspace of at least n rows, errors scaled by `scale`
    (1 / the rows' mass for the gradient of the mean cost), weighted where w (n,) is
    not empty: fills Z, A, E and grads; returns the summed cost (backward's)."""
    n = X.shape[0]
    _, in_order = in_region(net)
    load_input(net, X, in_order, np.int64(0), np.int64(0), n)
    copy_rows(net.Y, Y, np.int64(0), n)
    weighted = w.size > 0
    if weighted:
        for r in range(n):
            net.SW[r] = w[r]
    batch = next_batch(net) if training else np.uint64(0)
    forward_rows(net, X, in_order, np.int64(0), n, training, batch, net.layout.shape[0])
    return backward_input(net, X, in_order, np.int64(0), n, scale, training, weighted)


@kernel
def evaluate_rows(net, X, Y, w, training):
    """(summed cost with the L2 penalty once per row, correct predictions), both float64,
    over every row of X (n, n_in), Y (n, n_out); where the weights w (n,) are not
    empty, each row's cost and count times its weight, the penalty once per unit of
    weight."""
    n = X.shape[0]
    C = net.capacity
    last = net.layout.shape[0] - 1
    start = C * net.layout[last, OUT_UNIT]
    n_out = net.layout[last, N_OUT]
    weighted = w.size > 0
    _, in_order = in_region(net)     # rows first.. of X in order: an empty order
    cost = 0.0
    correct = 0.0
    mass = 0.0
    for first in range(0, n, C):
        rows = n - first if n - first < C else C     # min() (see jit.py)
        load_input(net, X, in_order, first, np.int64(0), rows)
        copy_rows(net.Y, Y, first, rows)
        if weighted:
            for r in range(rows):
                net.SW[r] = w[first + r]
        batch = next_batch(net) if training else np.uint64(0)
        forward_rows(net, X, in_order, first, rows, training, batch, last + 1)
        cost += batch_cost(net.Z, net.A, net.Y, net.SW, start, rows, n_out, net.loss,
                           weighted)
        correct += output_correct(net, rows, weighted)
        mass += batch_mass(net, rows, weighted)
    return cost + mass * l2_penalty(net), correct
