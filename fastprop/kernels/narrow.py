"""Online SGD for narrow regression networks: every layer at most WIDTH units wide
(its input included), ReLU or identity hidden layers, an identity output under a
regression loss. A row's activations and errors go from layer to layer in registers.

The batch walk hands each layer's outputs to the next through the workspace:
a store, then a load the next layer waits for (store-to-load forwarding, several
cycles), and a 1-2-1 step chains about ten such hand-offs from one step's parameters
to the next step's. Here the values a layer passes on are WIDTH-tuples, SSA values
that LLVM keeps in registers across the loop over layers; the loops over units are
written out WIDTH times, each term guarded by the layer's width (masked off, not
computed with zero weights). The sums are the explicit loops' (kernels/layers.py), term by term and in the same
order, so parameters and gradients come out bit-identical (tests/test_narrow.py). The
workspace still receives each layer's z, a and error; the backward pass reads z and
a back, off the path from step to step. (An error there may be -0 where the batch walk
writes +0, see _error_down; the target buffer is not used.)

What keeps a step short (docs/performance.md has the figures):
- indices are unsigned integers, so Numba leaves out its negative-index fix-up (a
  shift, an and and an add per access, a large share of a tiny step);
- outputs past the output width are not computed (they are on the path to the step's
  finiteness check);
- the "update" flag is a constant at each of its two call sites (narrow_sgd_row);
- the helpers that build and take tuples apart (_load, _store, _sum, ...) are kernels
  that LLVM inlines, while the per-layer ones (_dense, _sgd_units, ...) and the step
  are inlined at Numba's level: inlining all at Numba's level compiles for many
  seconds (it copies a callee's IR at every call site, recursively), inlining none
  leaves calls on the step's path.

The loop over layers is a runtime loop: one compiled function per dtype serves every
narrow network, any depth. fit picks this trainer in Python (training._narrow_online),
so that a narrow net compiles only it and other online nets do not compile it.
"""
import math

import numpy as np

from ..codes import RELU
from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from .jit import inlined, kernel
from .losses import regression_error

WIDTH = 4   # the widest layer (inputs and outputs) whose values live in registers

# Offsets as unsigned integers: index arithmetic stays unsigned (a plain 1 would make
# it signed again) and Numba skips its negative-index fix-up.
_1 = np.uint64(1)
_2 = np.uint64(2)
_3 = np.uint64(3)


@inlined
def trainer_fields(net):
    """The Net's fields the step loop uses, taken apart once per call so that the loop
    passes no Net around (a Net passed to a compiled call is copied onto the stack):
    params, grads, layout, act, Z, A, E, the target buffer T, the capacity C and the
    loss code."""
    return (net.params, net.grads, net.layout, net.act, net.Z, net.A, net.E, net.Y,
            net.capacity, net.loss)


@inlined
def layer_geometry(layout, l, C):
    """Layer l's widths, parameter offsets, and output and input region offsets in a
    workspace of C rows."""
    return (layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF], layout[l, B_OFF],
            C * layout[l, OUT_UNIT], C * layout[l, IN_UNIT])


# ------------------------------------------------------------ WIDTH-tuples of values
# Entry k of a tuple is a unit's value for k < n (the layer's width), zero past it.

@kernel
def _load(buf, start, n, zero):
    """buf[start:start + n] as a tuple (nothing read past n)."""
    i = np.uint64(start)
    return (buf[i] if 0 < n else zero, buf[i + _1] if 1 < n else zero,
            buf[i + _2] if 2 < n else zero, buf[i + _3] if 3 < n else zero)


@kernel
def _load_row(M, r, n, zero):
    """Row r (unsigned) of the matrix M, its first n entries, as a tuple."""
    return (M[r, 0] if 0 < n else zero, M[r, 1] if 1 < n else zero,
            M[r, 2] if 2 < n else zero, M[r, 3] if 3 < n else zero)


@kernel
def _store(buf, start, n, v):
    """buf[start:start + n] = the first n entries of v."""
    i = np.uint64(start)
    if n > 0:
        buf[i] = v[0]
    if n > 1:
        buf[i + _1] = v[1]
    if n > 2:
        buf[i + _2] = v[2]
    if n > 3:
        buf[i + _3] = v[3]


@kernel
def _sum(params, v, n, first, stride, s):
    """s + v_0 w_0 + v_1 w_1 + ... over the first n entries of v, in that order,
    w_k = params[first + k * stride]."""
    i = np.uint64(first)
    step = np.uint64(stride)
    if n > 0:
        s += v[0] * params[i]
    if n > 1:
        s += v[1] * params[i + step]
    if n > 2:
        s += v[2] * params[i + _2 * step]
    if n > 3:
        s += v[3] * params[i + _3 * step]
    return s


@kernel
def _dot(params, v, n, first):
    """v_0 w_0 + v_1 w_1 + ... over the first n >= 1 entries of v, in that order,
    w_k = params[first + k]."""
    i = np.uint64(first)
    s = v[0] * params[i]
    if n > 1:
        s += v[1] * params[i + _1]
    if n > 2:
        s += v[2] * params[i + _2]
    if n > 3:
        s += v[3] * params[i + _3]
    return s


@kernel
def _relu(v, zero):
    """max(v, 0) entrywise, as activations.activate: v if v > 0 else 0."""
    return (v[0] if v[0] > zero else zero, v[1] if v[1] > zero else zero,
            v[2] if v[2] > zero else zero, v[3] if v[3] > zero else zero)


@kernel
def _relu_mask(v, z, zero):
    """v times ReLU's f'(z): 0 where not z > 0. (A select on z, never a branch: the
    sign of z is data, and a mispredicted branch costs about a step.)"""
    return (v[0] if z[0] > zero else zero, v[1] if z[1] > zero else zero,
            v[2] if z[2] > zero else zero, v[3] if z[3] > zero else zero)


@kernel
def _sgd_unit(params, grads, index, ae, lr, wd, update):
    """The parameter params[index] whose gradient is the product ae = a_k e_j: write
    g = 0 + ae to grads (layers.weight_gradient's first row: -0 becomes +0) and, if
    `update`, take optimizers.sgd_update's step p -= lr (g + wd p), computed as
    p - lr (ae + (wd p + 0)): the same bits (the two sums differ only where ae and
    wd p are both -0, and adding 0 to wd p first makes that +0), with one addition
    fewer after the product, on the path from one step to the next."""
    zero = params.dtype.type(0.0)
    i = np.uint64(index)
    grads[i] = zero + ae
    if update:
        p = params[i]
        params[i] = p - lr * (ae + (wd * p + zero))


# ----------------------------------------------------------------- one layer
@inlined
def _dense(params, a, n_in, n_out, w_off, b_off, zero):
    """z = a @ W + b: z_j = b_j + a_0 w_0j + a_1 w_1j + ... (layers.forward_loops's order)."""
    b = np.uint64(b_off)
    return (_sum(params, a, n_in, w_off, n_out, params[b]) if 0 < n_out else zero,
            _sum(params, a, n_in, w_off + 1, n_out, params[b + _1]) if 1 < n_out else zero,
            _sum(params, a, n_in, w_off + 2, n_out, params[b + _2]) if 2 < n_out else zero,
            _sum(params, a, n_in, w_off + 3, n_out, params[b + _3]) if 3 < n_out else zero)


@inlined
def _error_down(params, e, n_in, n_out, w_off, zero):
    """e @ W^T: entry k = e_0 w_k0 + e_1 w_k1 + ... (layers.hidden_error's order).
    layers.hidden_error starts each sum from 0 (0 + e_0 w_k0 + ...), which only turns a
    -0 result into +0; here the sum starts from its first term, one addition fewer on
    the path from one step to the next. The sign of a zero error never reaches the
    gradients (each is written as 0 + a e, see _sgd_unit) nor the parameters."""
    return (_dot(params, e, n_out, w_off) if 0 < n_in else zero,
            _dot(params, e, n_out, w_off + n_out) if 1 < n_in else zero,
            _dot(params, e, n_out, w_off + 2 * n_out) if 2 < n_in else zero,
            _dot(params, e, n_out, w_off + 3 * n_out) if 3 < n_in else zero)


@inlined
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


@inlined
def _regression_output(y_hat, t, n, loss, scale):
    """(E_L, cost) of an identity output under a regression loss, as
    losses.output_error: E_L = scale C'(y_hat), the cost summed over the n >= 1 outputs
    in order. (output_error adds the first cost to 0.0, which changes nothing here: a
    cost is never -0.) Only the first n outputs are computed."""
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
@inlined
def _forward_error(params, Z, A, layout, act, C, loss, x, t):
    """Forward for the input row x (a tuple, already in the workspace's region 0),
    then the output error for the target row t (layers.forward and output_error's
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


@inlined
def _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, update):
    """From the output error e down to the input: each layer's gradient into grads
    (written, as a batch's first row) and, if `update`, its SGD step, taken once the
    layer has passed its error down with its weights as they were (as
    the batch walk's gradient then SGD update)."""
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


@inlined
def narrow_sgd_row(params, grads, Z, A, E, layout, act, C, loss, lr, wd, x, t):
    """One online SGD step on the input row x and target row t (tuples; x already in
    the workspace's region 0): forward, output error, backward with the updates. A
    row whose cost is not finite writes its gradient and updates nothing (as
    the batch walk). Returns the row's cost (float64)."""
    e, cost = _forward_error(params, Z, A, layout, act, C, loss, x, t)
    if math.isfinite(cost):     # the flag a constant in each inlined copy
        _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, bool(True))
    else:
        _backward(params, grads, Z, A, E, layout, act, C, e, lr, wd, bool(False))
    return cost


@kernel
def train_online_sgd_narrow(net, X, Y, order, batch_size, first_batch, stop_batch,
                            total, correct):
    """training.train_batches for batches of one row (batch_size is 1) on a net that
    training._narrow_online accepts: same arguments, same results, bit for bit, as
    the batch walk (tiled.train_batches). (The target rows go from Y to
    registers: the workspace's target buffer is left as it was.)"""
    n_x = X.shape[1]
    n_y = Y.shape[1]
    params, grads, layout, act, Z, A, E, _, C, loss = trainer_fields(net)
    dt = params.dtype.type
    zero = dt(0.0)
    lr = dt(net.opt_hyper[0])
    wd = dt(net.opt_hyper[3])
    for b in range(first_batch, stop_batch):
        src = np.uint64(order[b])
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


@inlined
def _count_steps(net, batches, updates):
    """Advance the batch counter and the optimizer's step count as train_batches does
    one batch at a time (kept in registers during the loop: a store to the Net each
    step would be a read-modify-write through memory)."""
    net.rng[1] += np.uint64(batches)
    net.opt_step[0] += updates
