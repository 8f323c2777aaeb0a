"""The batch trainers: one thread layer by layer, or the tiles of a plan
(fastprop/tiles.py) shared among threads.

A step of `train_batches_parallel` on a batch of `rows` rows, stage by stage
(kernels/layers.py), each stage's work cut into the plan's tiles, each tile writing
its own block:
- load: the batch's rows copied in, LOAD_ROWS rows a task;
- forward, layer by layer: the tiles (row block x column block) of
  Z_l = A_{l-1} @ W_l + b_l, each going on to f_l and dropout on its block; the output
  layer's tiles (whole rows) go on to the output error E_L, and the cost and correct
  predictions of their rows (summed in tile order; a non-finite cost stops the step
  before any update);
- errors, layer by layer down: the tiles of E_{l-1} = (E_l @ W_l^T) * mask * f'(Z_{l-1}),
  reading W_l before any update of this step;
- gradients: every layer's dW_l = A_{l-1}^T @ E_l in tiles of whole rows of dW_l (the
  first also sums db_l), each going on to the L2 term and the optimizer's update of
  its parameters.
No tile reads what another tile of the same stage writes, and no sum crosses tiles but
the tiles' costs and counts, added in tile order: which thread computes a tile, and how
many threads there are, changes nothing in the results.

`train_batches` is the same step on one thread for a plan whose products are whole but
the output layer's row tiles (tiles.whole_plan, or a plan that cuts nothing): the
hidden layers whole, the output layer by the same row tiles, so the step's cost is
summed in the same order.
"""
import math

import numpy as np
from numba import prange

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY
from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from ..tiles import DW_ROWS, E_COLS, E_ROWS, FWD_COLS, ROWS
from .jit import inlined, kernel, parallel_kernel
from .layers import forward, hidden_error, l2_gradient, output_error, weight_gradient
from .losses import batch_correct
from .network import (backward_layers, batch_mass, draw_dropout, forward_rows, l2_penalty,
                      load_rows, load_weights, mean_scale, next_batch)
from .inputs import input_forward, input_weight_gradient
from .optimizers import optimizer_update_range
from .random import splitmix64, stream_base

LOAD_ROWS = 16     # rows of the batch each parallel task copies in


@inlined
def _blocks(n, size):
    return -(-n // size)


@inlined
def _tile_block(t, rows, row_block, width, col_block):
    """Tile t of a (rows, width) output cut into blocks of row_block x col_block, the
    tiles numbered along each row of blocks: (row-block index i, r0, r1, c0, c1), the
    block being rows r0..r1-1 and columns c0..c1-1 (min() written out: see jit.py)."""
    per_row = _blocks(width, col_block)
    i = t // per_row
    r0 = i * row_block
    r1 = rows if rows < r0 + row_block else r0 + row_block
    c0 = (t - i * per_row) * col_block
    c1 = width if width < c0 + col_block else c0 + col_block
    return i, r0, r1, c0, c1


@inlined
def output_tile(net, X, order, first, tiles, i, rows, batch, scale, weighted):
    """Row tile i of the output layer (whole rows, tiles.plan's ROWS a tile): forward
    (from the input (X, order, first) in a one-layer net), E_L (scale: 1 / the batch's
    mass, network.mean_scale), and the tile's cost and correct count into
    tiles.cost/correct."""
    layout = net.layout
    C = net.capacity
    l = layout.shape[0] - 1
    n_in = layout[l, N_IN]
    n_out = layout[l, N_OUT]
    size = tiles.plan[l, ROWS]
    r0 = i * size
    r1 = rows if rows < r0 + size else r0 + size      # min() (see jit.py)
    m = r1 - r0
    z_start = C * layout[l, OUT_UNIT] + r0 * n_out
    if l == 0:
        input_forward(net, X, order, first, r0, r1, np.int64(0), n_out)
    else:
        forward(net.Z, net.A, net.A, net.params, z_start,
                C * layout[l, IN_UNIT] + r0 * n_in, layout[l, W_OFF], layout[l, B_OFF], m,
                n_in, n_out, np.int64(0), n_out, net.act[l], net.blas_min)
    Y = net.Y[r0 * n_out:r1 * n_out]
    SW = net.SW[r0:r1]
    tiles.cost[i] = output_error(net.E, net.Z, net.A, Y, SW, z_start, m, n_out, net.act[l],
                                 net.loss, scale, weighted)
    tiles.correct[i] = 0.0
    if net.loss == CROSS_ENTROPY or net.loss == BINARY_CROSS_ENTROPY:
        tiles.correct[i] = batch_correct(net.Z, net.A, Y, SW, z_start, m, n_out, net.loss,
                                         weighted)


@kernel
def forward_tile(net, X, order, first, tiles, l, t, rows, batch, scale, weighted):
    """Tile t of layer l's forward: layers.forward (the first layer's through
    inputs.input_forward) and dropout on a block of rows and columns; the output
    layer's tiles (whole rows, no dropout) are output_tile's."""
    layout = net.layout
    if l == layout.shape[0] - 1:
        output_tile(net, X, order, first, tiles, t, rows, batch, scale, weighted)
        return
    plan = tiles.plan
    C = net.capacity
    n_in = layout[l, N_IN]
    n_out = layout[l, N_OUT]
    _, r0, r1, c0, c1 = _tile_block(t, rows, plan[l, ROWS], n_out, plan[l, FWD_COLS])
    m = r1 - r0
    z_start = C * layout[l, OUT_UNIT] + r0 * n_out
    if l == 0:
        input_forward(net, X, order, first, r0, r1, c0, c1)
    else:
        forward(net.Z, net.A, net.A, net.params, z_start,
                C * layout[l, IN_UNIT] + r0 * n_in, layout[l, W_OFF], layout[l, B_OFF], m,
                n_in, n_out, c0, c1, net.act[l], net.blas_min)
    rate = net.dropout[l]
    if rate > 0.0:    # the stream of network.forward_rows: the same mask uncut
        key = splitmix64(stream_base(net.rng[0], batch) + np.uint64(l))
        width = c1 - c0
        for r in range(m):
            draw_dropout(net.A, net.M, z_start + r * n_out + c0, width, rate, key,
                         (r0 + r) * n_out + c0)


@kernel
def hidden_error_tile(net, tiles, l, t, rows):
    """Tile t of E_{l-1} (l > 0): layers.hidden_error on a block of rows and columns."""
    layout = net.layout
    C = net.capacity
    n_in = layout[l, N_IN]
    n_out = layout[l, N_OUT]
    _, r0, r1, k0, k1 = _tile_block(t, rows, tiles.plan[l, E_ROWS], n_in,
                                    tiles.plan[l, E_COLS])
    hidden_error(net.E, net.Z, net.A, net.M, net.params,
                 C * layout[l, OUT_UNIT] + r0 * n_out, C * layout[l, IN_UNIT] + r0 * n_in,
                 layout[l, W_OFF], r1 - r0, n_in, n_out, k0, k1, net.act[l - 1],
                 net.dropout[l - 1], net.blas_min)


@kernel
def gradient_update_tile(net, X, order, first, tiles, l, t, rows, step):
    """Tile t of layer l's gradient (layers.weight_gradient: whole rows k0..k1 of dW_l;
    the first tile also db_l), plus the L2 term, then the optimizer's update of that
    block of parameters (update number `step`). Every E has been computed: W_l is no
    longer read by anything else this step."""
    layout = net.layout
    C = net.capacity
    n_in = layout[l, N_IN]
    n_out = layout[l, N_OUT]
    w_off = layout[l, W_OFF]
    b_off = layout[l, B_OFF]
    size = tiles.plan[l, DW_ROWS]
    k0 = t * size
    k1 = n_in if n_in < k0 + size else k0 + size      # min() (see jit.py)
    if l == 0:
        input_weight_gradient(net, X, order, first, rows, k0, k1)
    else:
        weight_gradient(net.grads, net.E, net.A, C * layout[l, OUT_UNIT],
                        C * layout[l, IN_UNIT], w_off, b_off, rows, n_in, n_out, k0, k1,
                        net.blas_min)
    # whole rows of W: one range for the L2 term and the optimizer (its per-call set-up,
    # Adam's bias corrections, once per tile)
    lo = w_off + k0 * n_out
    hi = w_off + k1 * n_out
    if net.l2 != 0.0:
        l2_gradient(net.grads, net.params, lo, hi, net.l2)
    optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper, step,
                           net.opt_code, lo, hi)
    if k0 == 0:
        optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper, step,
                               net.opt_code, b_off, b_off + n_out)


@inlined
def forward_tiles(plan, layout, l, rows):
    """How many tiles layer l's forward has for a batch of `rows` rows."""
    return _blocks(rows, plan[l, ROWS]) * _blocks(layout[l, N_OUT], plan[l, FWD_COLS])


@inlined
def hidden_error_tiles(plan, layout, l, rows):
    """How many tiles E_{l-1} has (l > 0)."""
    return _blocks(rows, plan[l, E_ROWS]) * _blocks(layout[l, N_IN], plan[l, E_COLS])


@inlined
def step_cost(net, tiles, rows, mass):
    """After the forward tiles: the step's summed cost (tiles in order, the L2 penalty
    once per unit of the batch's mass) and correct predictions."""
    cost = 0.0
    correct = 0.0
    for i in range(_blocks(rows, tiles.plan[net.layout.shape[0] - 1, ROWS])):
        cost += tiles.cost[i]
        correct += tiles.correct[i]
    if net.l2 != 0.0:      # the penalty's cost; its gradient goes in with dW
        cost += mass * l2_penalty(net)
    return cost, correct


@kernel
def train_batches(net, tiles, X, Y, w, order, batch_size, first_batch, stop_batch, total,
                  correct):
    """Train on batches first_batch..stop_batch-1 of the epoch given by `order`, on one
    thread, for a plan whose products are whole but the output layer's row tiles
    (tiles.whole_plan, or a plan that cuts nothing): hidden layers whole, layer by
    layer (network.forward_rows and backward_layers), the output layer by its row
    tiles, so that the step's cost is summed as the parallel trainer sums it.

    Batch b holds rows order[b*batch_size : (b+1)*batch_size] of X (n, n_in) and
    Y (n, n_out); the last one may be partial. The epoch is `order`: its size is the
    epoch's number of rows, any of X's (a subset: an ensemble member's bootstrap
    sample or training folds, fastprop/ensemble.py). Where the sample weights w (n,) are not
    empty, each step follows the gradient of its rows' weighted mean cost, and the
    costs and counts returned are weighted. Returns (total + the summed cost of the
    rows trained, correct + their correct predictions, index of the first batch whose
    cost was not finite or -1). A non-finite batch stops the loop before its update.
    (The epoch's sums come in and go on, one step at a time: the epoch's cost is then
    the same float64 sum however fit splits the epoch into calls.)
    """
    n = order.size      # the epoch's rows
    weighted = w.size > 0
    last = net.layout.shape[0] - 1
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        load_rows(net, X, Y, order, first, np.int64(0), rows)     # np.int64: see jit.py
        load_weights(net, w, order, first, rows)
        mass = batch_mass(net, rows, weighted)
        batch = next_batch(net)
        forward_rows(net, X, order, first, rows, bool(True), batch, last)  # bool(): jit.py
        for i in range(_blocks(rows, tiles.plan[last, ROWS])):
            output_tile(net, X, order, first, tiles, i, rows, batch, mean_scale(mass),
                        weighted)
        cost, step_correct = step_cost(net, tiles, rows, mass)
        correct += step_correct
        if not math.isfinite(cost):
            return total, correct, b
        backward_layers(net, X, order, first, rows, bool(True))
        net.opt_step[0] += 1
        optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper,
                               net.opt_step[0], net.opt_code, np.int64(0), net.params.size)
        total += cost
    return total, correct, -1


@parallel_kernel
def train_batches_parallel(net, tiles, X, Y, w, order, batch_size, first_batch,
                           stop_batch, total, correct):
    """train_batches with each stage's tiles shared among threads: same arguments, same
    results, bit for bit."""
    n = order.size      # the epoch's rows
    weighted = w.size > 0
    plan = tiles.plan
    layout = net.layout
    last = layout.shape[0] - 1
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        for t in prange(_blocks(rows, np.int64(LOAD_ROWS))):     # np.int64: see jit.py
            load_rows(net, X, Y, order, first, t * LOAD_ROWS,
                      rows if rows < (t + 1) * LOAD_ROWS else (t + 1) * LOAD_ROWS)   # min()
        load_weights(net, w, order, first, rows)
        mass = batch_mass(net, rows, weighted)
        scale = mean_scale(mass)
        batch = next_batch(net)
        for l in range(last + 1):
            for t in prange(forward_tiles(plan, layout, l, rows)):
                # np.int64(t): Numba types a prange body's index as uint64; cast, each
                # tile kernel compiles once instead of twice
                forward_tile(net, X, order, first, tiles, l, np.int64(t), rows, batch,
                             scale, weighted)
        cost, step_correct = step_cost(net, tiles, rows, mass)
        correct += step_correct
        if not math.isfinite(cost):
            return total, correct, b
        for l in range(last, 0, -1):
            for t in prange(hidden_error_tiles(plan, layout, l, rows)):
                hidden_error_tile(net, tiles, l, np.int64(t), rows)
        net.opt_step[0] += 1
        step = net.opt_step[0]
        # every layer's dW tiles in one loop, in which each thread takes the tiles
        # tiles.owner gives it (balanced by size for this run's threads)
        for worker in prange(tiles.workers[0]):
            l = 0
            for task in range(tiles.dw_first[last + 1]):
                while task >= tiles.dw_first[l + 1]:
                    l += 1
                if tiles.owner[task] == worker:
                    gradient_update_tile(net, X, order, first, tiles, l,
                                         task - tiles.dw_first[l], rows, step)
        total += cost
    return total, correct, -1


@kernel
def tile_products(net, plan, rows):
    """Every BLAS product of a step on `rows` rows, each cut into the tiles of `plan`,
    on the net's buffers as they are (layer by layer, without the optimizer's update):
    what tile_bits.cuts_keep_bits compares between two plans. Writes Z, A, E, grads."""
    layout = net.layout
    C = net.capacity
    for l in range(layout.shape[0]):
        n_in = layout[l, N_IN]
        n_out = layout[l, N_OUT]
        z_start = C * layout[l, OUT_UNIT]
        a_start = C * layout[l, IN_UNIT]
        w_off = layout[l, W_OFF]
        for t in range(forward_tiles(plan, layout, l, rows)):
            _, r0, r1, c0, c1 = _tile_block(t, rows, plan[l, ROWS], n_out, plan[l, FWD_COLS])
            forward(net.Z, net.A, net.A, net.params, z_start + r0 * n_out,
                    a_start + r0 * n_in, w_off, layout[l, B_OFF], r1 - r0, n_in, n_out,
                    c0, c1, np.int64(0), net.blas_min)
        if l > 0:
            for t in range(hidden_error_tiles(plan, layout, l, rows)):
                _, r0, r1, k0, k1 = _tile_block(t, rows, plan[l, E_ROWS], n_in,
                                                plan[l, E_COLS])
                hidden_error(net.E, net.Z, net.A, net.M, net.params, z_start + r0 * n_out,
                             a_start + r0 * n_in, w_off, r1 - r0, n_in, n_out, k0, k1,
                             np.int64(0), 0.0, net.blas_min)
        size = plan[l, DW_ROWS]
        for t in range(_blocks(n_in, size)):
            k0 = t * size
            k1 = n_in if n_in < k0 + size else k0 + size      # min() (see jit.py)
            weight_gradient(net.grads, net.E, net.A, z_start, a_start, w_off,
                            layout[l, B_OFF], rows, n_in, n_out, k0, k1, net.blas_min)
