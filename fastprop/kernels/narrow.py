"""Online SGD for narrow regression networks, every layer at most WIDTH units wide
(its input included), with ReLU or identity hidden layers and an identity output
under a regression loss: a row's activations and errors go from layer to layer in
registers.

rowwise.train_online_sgd hands each layer's outputs to the next through the workspace:
a store, then a load that the next layer has to wait for (store-to-load forwarding,
several cycles), and a 1-2-1 step chains about ten such hand-offs from one step's
parameters to the next step's. Here the values a layer passes on are WIDTH-tuples,
SSA values that LLVM keeps in registers across the loop over layers; the loops over
units are written out WIDTH times, each term guarded by the layer's width (masked
off, not computed with zero weights). The sums are rowwise.py's, term by term and in
the same order, so the parameters and gradients come out bit-identical
(tests/test_narrow.py). The workspace still receives each layer's z, a and error
(the backward pass reads z and a from it, off the step-to-step path).

The loop over layers stays a runtime loop: one compiled function per dtype serves
every narrow network, any depth. Other activations and losses keep rowwise.py's path,
whose region kernels are calls: with them in this loop (even untaken) LLVM kept fewer
values in registers, and a W1 step took 23-24 ns instead of 21-22.

W1 (1-2-1, mse, SGD), float32, one epoch of 20,000 steps called directly: 40 ns a
step in train_online_sgd, 20-22 ns here.
"""
import math

import numpy as np

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, IDENTITY, RELU
from ..layout import N_IN, N_OUT
from .jit import kernel, net_kernel
from .losses import regression_error
from .row_fields import layer_geometry, trainer_fields

WIDTH = 4   # the widest layer (inputs and outputs) whose values live in registers


@kernel
def narrow_suits(net):
    """Whether narrow.py trains this net: every layer at most WIDTH wide, inputs and
    outputs; hidden layers ReLU or identity; an identity output under a regression
    loss (mse, mae, huber)."""
    layout = net.layout
    last = layout.shape[0] - 1
    if net.loss == CROSS_ENTROPY or net.loss == BINARY_CROSS_ENTROPY or \
            net.act[last] != IDENTITY:
        return False
    for l in range(last + 1):
        if layout[l, N_IN] > WIDTH or layout[l, N_OUT] > WIDTH or \
                (net.act[l] != RELU and net.act[l] != IDENTITY):
            return False
    return True


# ------------------------------------------------------------ WIDTH-tuples of values
@net_kernel
def _u(i):
    """An index >= 0 as unsigned: Numba then leaves out its negative-index fix-up (a
    shift, an and and an add per access, a large share of a step's instructions)."""
    return np.uint64(i)


# Entry k of a tuple is a unit's value for k < n (the layer's width), zero past it.

@net_kernel
def _load(buf, start, n, zero):
    """buf[start:start + n] as a tuple (nothing read past n)."""
    return (buf[_u(start)] if 0 < n else zero, buf[_u(start + 1)] if 1 < n else zero,
            buf[_u(start + 2)] if 2 < n else zero, buf[_u(start + 3)] if 3 < n else zero)


@net_kernel
def _load_row(M, r, n, zero):
    """Row r of the matrix M, n entries, as a tuple."""
    return (M[r, 0] if 0 < n else zero, M[r, 1] if 1 < n else zero,
            M[r, 2] if 2 < n else zero, M[r, 3] if 3 < n else zero)


@net_kernel
def _store(buf, start, n, v):
    """buf[start:start + n] = the first n entries of v."""
    if n > 0:
        buf[_u(start)] = v[0]
    if n > 1:
        buf[_u(start + 1)] = v[1]
    if n > 2:
        buf[_u(start + 2)] = v[2]
    if n > 3:
        buf[_u(start + 3)] = v[3]


@net_kernel
def _sum(params, v, n, first, stride, s):
    """s + v_0 w_0 + v_1 w_1 + ... over the first n entries of v, in that order,
    w_k = params[first + k * stride]."""
    if n > 0:
        s += v[0] * params[_u(first)]
    if n > 1:
        s += v[1] * params[_u(first + stride)]
    if n > 2:
        s += v[2] * params[_u(first + 2 * stride)]
    if n > 3:
        s += v[3] * params[_u(first + 3 * stride)]
    return s


@net_kernel
def _dense(params, a, n_in, n_out, w_off, b_off, zero):
    """z = a @ W + b: z_j = b_j + a_0 w_0j + a_1 w_1j + ... (dense.py's order)."""
    return (_sum(params, a, n_in, w_off, n_out, params[_u(b_off)]) if 0 < n_out else zero,
            _sum(params, a, n_in, w_off + 1, n_out, params[_u(b_off + 1)]) if 1 < n_out else zero,
            _sum(params, a, n_in, w_off + 2, n_out, params[_u(b_off + 2)]) if 2 < n_out else zero,
            _sum(params, a, n_in, w_off + 3, n_out, params[_u(b_off + 3)]) if 3 < n_out else zero)


@net_kernel
def _error_down(params, e, n_in, n_out, w_off, zero):
    """e @ W^T: entry k = e_0 w_k0 + e_1 w_k1 + ... (rowwise.error_down's order).
    rowwise.error_down starts each sum from 0 (0 + e_0 w_k0 + ...), which only turns a
    -0 result into +0; here the sum starts from its first term, one addition fewer on
    the path from one step to the next. The sign of a zero error never reaches the
    gradients (each is written as 0 + a e, see _sgd_unit) nor the parameters."""
    return (_dot(params, e, n_out, w_off) if 0 < n_in else zero,
            _dot(params, e, n_out, w_off + n_out) if 1 < n_in else zero,
            _dot(params, e, n_out, w_off + 2 * n_out) if 2 < n_in else zero,
            _dot(params, e, n_out, w_off + 3 * n_out) if 3 < n_in else zero)


@net_kernel
def _dot(params, v, n, first):
    """v_0 w_0 + v_1 w_1 + ... over the first n >= 1 entries of v, in that order,
    w_k = params[first + k]."""
    s = v[0] * params[_u(first)]
    if n > 1:
        s += v[1] * params[_u(first + 1)]
    if n > 2:
        s += v[2] * params[_u(first + 2)]
    if n > 3:
        s += v[3] * params[_u(first + 3)]
    return s


@net_kernel
def _relu(v, zero):
    """max(v, 0) entrywise, as activations.activate: v if v > 0 else 0."""
    return (v[0] if v[0] > zero else zero, v[1] if v[1] > zero else zero,
            v[2] if v[2] > zero else zero, v[3] if v[3] > zero else zero)


@net_kernel
def _relu_mask(v, z, zero):
    """v times ReLU's f'(z): 0 where not z > 0. (A select on the loaded z, never a
    branch: the sign of z is data, and a mispredicted branch costs more than a step.)"""
    return (v[0] if z[0] > zero else zero, v[1] if z[1] > zero else zero,
            v[2] if z[2] > zero else zero, v[3] if z[3] > zero else zero)


@net_kernel
def _sgd_unit(params, grads, i, ae, lr, wd, update):
    """The parameter params[i] whose gradient is the product ae = a_k e_j: write
    g = 0 + ae to grads (dense.py's first row: -0 becomes +0) and, if `update`, take
    optimizers.optimizer_update_range's SGD step p -= lr (g + wd p), computed as
    p - lr (ae + (wd p + 0)): the same bits (the two sums differ only where ae and
    wd p are both -0, and adding 0 to wd p first makes that +0), with one addition
    fewer after the product, on the path from one step to the next."""
    zero = params.dtype.type(0.0)
    grads[_u(i)] = zero + ae
    if update:
        p = params[_u(i)]
        params[_u(i)] = p - lr * (ae + (wd * p + zero))


@net_kernel
def _sgd_units(params, grads, first, n, a_k, e, lr, wd, update):
    """_sgd_unit for the parameters params[first + j], j < n, whose gradients are
    a_k e_j."""
    if n > 0:
        _sgd_unit(params, grads, first, a_k * e[0], lr, wd, update)
    if n > 1:
        _sgd_unit(params, grads, first + 1, a_k * e[1], lr, wd, update)
    if n > 2:
        _sgd_unit(params, grads, first + 2, a_k * e[2], lr, wd, update)
    if n > 3:
        _sgd_unit(params, grads, first + 3, a_k * e[3], lr, wd, update)


@net_kernel
def _regression_output(y_hat, t, n, loss, scale):
    """(E_L, cost) of an identity output under a regression loss, as
    losses.output_error: E_L = scale C'(y_hat), the cost summed over the n >= 1 outputs
    in order. (output_error adds the first cost to 0.0, which changes nothing here: a
    cost is never -0.) Only the first n outputs are computed: the cost is on the path
    to the step's finiteness check, which the step's instructions wait on to retire."""
    zero = type(y_hat[0])(0.0)
    e0, cost = regression_error(loss, y_hat[0], t[0], scale)
    e1 = e2 = e3 = zero
    if n > 1:
        e1, c = regression_error(loss, y_hat[1], t[1], scale)
        cost += c
    if n > 2:
        e2, c = regression_error(loss, y_hat[2], t[2], scale)
        cost += c
    if n > 3:
        e3, c = regression_error(loss, y_hat[3], t[3], scale)
        cost += c
    return (e0, e1, e2, e3), cost


# ------------------------------------------------------------------- one row
@net_kernel
def _forward_error(params, Z, A, layout, act, C, loss, x, t):
    """Forward for the input row x (a tuple, already in the workspace's region 0),
    then the output error for the target row t (rowwise.forward_error_row's
    arithmetic, scale 1). Returns (the output error as a tuple, the row's cost in
    float64)."""
    dt = params.dtype.type
    zero = dt(0.0)
    last = layout.shape[0] - 1
    a = x
    for l in range(last + 1):
        n_in, n_out, w_off, b_off, z_start, _ = layer_geometry(layout, l, C)
        z = _dense(params, a, n_in, n_out, w_off, b_off, zero)
        _store(Z, z_start, n_out, z)
        a = _relu(z, zero) if act[l] == RELU else z     # else the identity
        _store(A, z_start, n_out, a)
    return _regression_output(a, t, layout[last, N_OUT], loss, dt(1.0))


@net_kernel
def _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, update):
    """From the output error e down to the input: each layer's gradient into grads
    (written, as a batch's first row) and, if `update`, its SGD step, taken once the
    layer has passed its error down with its weights as they were (as
    rowwise.backward_row with sgd)."""
    dt = params.dtype.type
    zero = dt(0.0)
    one = dt(1.0)
    for l in range(layout.shape[0] - 1, -1, -1):
        n_in, n_out, w_off, b_off, z_start, a_start = layer_geometry(layout, l, C)
        _store(E, z_start, n_out, e)
        down = e
        if l > 0:
            down = _error_down(params, e, n_in, n_out, w_off, zero)
            if act[l - 1] == RELU:
                down = _relu_mask(down, _load(Z, a_start, n_in, zero), zero)
        a = _load(A, a_start, n_in, zero)
        _sgd_units(params, grads, b_off, n_out, one, e, lr, wd, update)     # db = 1 e
        if n_in > 0:
            _sgd_units(params, grads, w_off, n_out, a[0], e, lr, wd, update)
        if n_in > 1:
            _sgd_units(params, grads, w_off + n_out, n_out, a[1], e, lr, wd, update)
        if n_in > 2:
            _sgd_units(params, grads, w_off + 2 * n_out, n_out, a[2], e, lr, wd, update)
        if n_in > 3:
            _sgd_units(params, grads, w_off + 3 * n_out, n_out, a[3], e, lr, wd, update)
        e = down


@net_kernel
def narrow_sgd_row(params, grads, Z, A, E, layout, act, C, loss, lr, wd, x, t):
    """One online SGD step on the input row x and target row t (tuples; x already in
    the workspace's region 0): forward, output error, backward with the updates. A
    row whose cost is not finite writes its gradient and updates nothing (as
    rowwise.train_online_sgd). Returns the row's cost (float64)."""
    e, cost = _forward_error(params, Z, A, layout, act, C, loss, x, t)
    if math.isfinite(cost):
        _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, bool(True))
    else:
        _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, bool(False))
    return cost


@kernel
def train_online_sgd_narrow(net, X, Y, order, first_batch, stop_batch, total, correct):
    """rowwise.train_online_sgd for a net that narrow_suits: same arguments, same
    results, bit for bit. (The target rows go from Y to registers: the workspace's
    target buffer is left as it was.)"""
    n_x = X.shape[1]
    n_y = Y.shape[1]
    params, grads, layout, act, Z, A, E, _, C, loss = trainer_fields(net)
    dt = params.dtype.type
    zero = dt(0.0)
    lr = dt(net.opt_hyper[0])
    wd = dt(net.opt_hyper[3])
    for b in range(first_batch, stop_batch):
        src = _u(order[b])
        x = _load_row(X, src, n_x, zero)
        _store(A, np.int64(0), n_x, x)      # np.int64(): see jit.py
        cost = narrow_sgd_row(params, grads, Z, A, E, layout, act, C, loss, lr, wd, x,
                              _load_row(Y, src, n_y, zero))
        if not math.isfinite(cost):
            _count_steps(net, b + 1 - first_batch, b - first_batch)
            return total, correct, b
        total += cost
    _count_steps(net, stop_batch - first_batch, stop_batch - first_batch)
    return total, correct, -1


@net_kernel
def _count_steps(net, batches, updates):
    """Advance the batch counter and the optimizer's step count as train_batches does
    one batch at a time (kept in registers during the loop: a store to the Net each
    step would be a read-modify-write through memory)."""
    net.rng[1] += np.uint64(batches)
    net.opt_step[0] += updates
