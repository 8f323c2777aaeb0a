"""Multi-threaded training: each product of a step is cut into the tiles of a plan
(fastprop/tiles.py) that threads compute independently, each writing its own block.

A step on a batch of `rows` rows, each stage one parallel loop:
- load: the batch's rows copied in, LOAD_ROWS rows a task;
- forward, layer by layer: the tiles (row block x column block) of
  Z_l = A_{l-1} @ W_l + b_l, each going on to f_l and dropout on its block; the output
  layer's tiles (whole rows) go on to the output error E_L, and the cost and correct
  predictions of their rows (then summed in tile order; a non-finite cost stops the
  step before any update);
- errors, layer by layer down: the tiles (row block x column block) of
  E_{l-1} = (E_l @ W_l^T) * mask_{l-1} * f'_{l-1}(Z_{l-1}), reading W_l before any
  update of this step;
- gradients: every layer's dW_l = A_{l-1}^T @ E_l in tiles of whole rows of dW_l (each
  summing over the whole batch in one BLAS call; the first also sums db_l), each tile
  going on to the L2 term and the optimizer's update of its parameters. The tiles are
  shared among the threads by size (tiles.share_gradient_tiles).
No tile reads what another tile of the same loop writes, and no sum crosses tiles but
the tiles' costs and counts, added in tile order: which thread computes a tile, and how
many threads there are, changes nothing in the results (bit-identical parameters), and
there are no per-thread gradients to add up.
"""
import math

import numpy as np
from numba import njit, prange

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY
from ..layout import N_IN, N_OUT
from ..tiles import DW_ROWS, E_COLS, E_ROWS, FWD_COLS, ON_BLAS, ROWS
from .activations import activate, mul_activation_grad
from .blas import gemm_block
from .dense import dense_backward_input, dense_backward_params, dense_forward, sum_rows
from .jit import entry, kernel
from .losses import batch_correct, output_error
from .network import draw_dropout, l2_penalty, load_rows, next_batch
from .optimizers import optimizer_update_range
from .random import splitmix64, stream_base
from .row_fields import layer_geometry


LOAD_ROWS = 16     # rows of the batch each parallel task copies in


@kernel
def _blocks(n, size):
    return -(-n // size)


@kernel
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


@kernel
def _forward_block(plan, l, t, rows, n_out):
    """_tile_block of layer l's forward tile t (Z_l: rows x n_out)."""
    return _tile_block(t, rows, plan[l, ROWS], n_out, plan[l, FWD_COLS])


@kernel
def _error_block(plan, l, t, rows, n_in):
    """_tile_block of tile t of E_{l-1} (rows x n_in)."""
    return _tile_block(t, rows, plan[l, E_ROWS], n_in, plan[l, E_COLS])


@kernel
def _gradient_block(plan, l, t, n_in):
    """Rows k0..k1-1 of dW_l (n_in rows) that its dW tile t holds (all its columns)."""
    k0 = t * plan[l, DW_ROWS]
    k1 = n_in if n_in < k0 + plan[l, DW_ROWS] else k0 + plan[l, DW_ROWS]    # min()
    return k0, k1


@kernel
def forward_product(net, l, r0, r1, c0, c1):
    """Z_l[r0:r1, c0:c1] = A_{l-1}[r0:r1] @ W_l[:, c0:c1], one BLAS call (no bias)."""
    n_in, n_out, w_off, _, z_start, a_start = layer_geometry(net.layout, l,
                                                             net.capacity)
    gemm_block(net.Z, net.A, net.params, z_start + r0 * n_out + c0, a_start + r0 * n_in,
               w_off + c0, r1 - r0, n_in, c1 - c0, bool(False), bool(False),
               n_out, n_in, n_out)      # bool(): see jit.py


@kernel
def input_error_product(net, l, r0, r1, k0, k1):
    """E_{l-1}[r0:r1, k0:k1] = E_l[r0:r1] @ W_l[k0:k1]^T, one BLAS call (no factors)."""
    n_in, n_out, w_off, _, z_start, a_start = layer_geometry(net.layout, l,
                                                             net.capacity)
    gemm_block(net.E, net.E, net.params, a_start + r0 * n_in + k0, z_start + r0 * n_out,
               w_off + k0 * n_out, r1 - r0, n_out, k1 - k0,
               bool(False), bool(True), n_in, n_out, n_out)     # bool(): see jit.py


@kernel
def gradient_product(net, l, k0, k1, rows):
    """dW_l[k0:k1] = A_{l-1}[:rows, k0:k1]^T @ E_l[:rows], one BLAS call: whole rows of
    dW_l, each summing over the whole batch."""
    n_in, n_out, w_off, _, z_start, a_start = layer_geometry(net.layout, l,
                                                             net.capacity)
    gemm_block(net.grads, net.A, net.E, w_off + k0 * n_out, a_start + k0, z_start,
               k1 - k0, rows, n_out, bool(True), bool(False), n_out, n_in, n_out)


@kernel
def forward_tile(net, tiles, l, t, rows, batch):
    """Tile t of layer l's forward: Z = A_prev @ W + b, A = f(Z) and dropout on a block
    of rows and columns; for the output layer (whole rows) also E_L, and the block's
    cost and correct count into tiles.cost/correct."""
    plan = tiles.plan
    n_in, n_out, w_off, b_off, z_start, a_start = layer_geometry(net.layout, l,
                                                                 net.capacity)
    i, r0, r1, c0, c1 = _forward_block(plan, l, t, rows, n_out)
    m = r1 - r0
    width = c1 - c0
    start = z_start + r0 * n_out + c0
    if plan[l, ON_BLAS] == 1:
        forward_product(net, l, r0, r1, c0, c1)
        b = net.params[b_off + c0:b_off + c1]
        for r in range(m):
            z = net.Z[start + r * n_out:start + r * n_out + width]
            for j in range(width):
                z[j] += b[j]
    else:    # a layer below blas_min: one tile, the whole layer
        dense_forward(net.Z, net.A, net.params, start, a_start + r0 * n_in,
                      w_off, b_off, m, n_in, n_out,
                      net.blas_min)
    rate = net.dropout[l]
    key = np.uint64(0)
    if rate > 0.0:    # the stream of forward_rows: the same mask as an uncut batch
        key = splitmix64(stream_base(net.rng[0], batch) + np.uint64(l))
    # whole rows make one region; a block of columns, one region per row (one call
    # site each: every call site links and optimises the callee again)
    whole = width == n_out
    for r in range(1 if whole else m):
        lo = start + r * n_out
        activate(net.A, net.Z, lo, m if whole else np.int64(1), width, net.act[l])
        if rate > 0.0:
            draw_dropout(net.A, net.M, lo, (m if whole else np.int64(1)) * width, rate, key,
                         (r0 + r) * n_out + c0)
    if l == net.layout.shape[0] - 1:
        Y = net.Y[r0 * n_out:r1 * n_out]
        tiles.cost[i] = output_error(net.E, net.Z, net.A, Y, start, m, n_out, net.act[l],
                                     net.loss, 1.0 / rows)
        if net.loss == CROSS_ENTROPY or net.loss == BINARY_CROSS_ENTROPY:
            tiles.correct[i] = batch_correct(net.Z, net.A, Y, start, m, n_out, net.loss)
        else:   # E_L = C'(y_hat) * f'(Z_L): output_error wrote the first factor
            mul_activation_grad(net.E, net.Z, net.A, start, m * n_out, net.act[l], 1.0)
            tiles.correct[i] = 0.0


@kernel
def input_error_tile(net, tiles, l, t, rows):
    """Tile t of E_{l-1} = (E_l @ W_l^T) * mask_{l-1} * f'_{l-1}(Z_{l-1}) (l > 0): a
    block of rows and columns; W_l is read before any update of this step."""
    plan = tiles.plan
    n_in, n_out, w_off, _, z_start, a_start = layer_geometry(net.layout, l,
                                                             net.capacity)
    _, r0, r1, k0, k1 = _error_block(plan, l, t, rows, n_in)
    start = a_start + r0 * n_in + k0
    if plan[l, ON_BLAS] == 1:
        input_error_product(net, l, r0, r1, k0, k1)
    else:    # a layer below blas_min: one tile, the whole layer
        dense_backward_input(net.E, net.E, net.params, z_start + r0 * n_out, start,
                             w_off, r1 - r0, n_in, n_out, net.blas_min)
    _input_error_factors(net, l, start, r1 - r0, k1 - k0, n_in)


@kernel
def gradient_update_tile(net, tiles, l, t, rows, step):
    """Tile t of layer l's dW_l = A_{l-1}^T @ E_l (whole rows of dW_l, summing over the
    whole batch; the first tile also db_l), plus l2 * W, then the optimizer's update
    of that block of parameters (update number `step`). Every E has been computed: W_l
    is no longer read by anything else this step."""
    plan = tiles.plan
    n_in, n_out, w_off, b_off, z_start, a_start = layer_geometry(net.layout, l,
                                                                 net.capacity)
    if plan[l, ON_BLAS] != 1:      # the whole layer by dense.py's loops
        dense_backward_params(net.grads, net.E, net.A, z_start, a_start, w_off, b_off,
                              rows, n_in, n_out, net.blas_min)
        k0, k1 = np.int64(0), n_in
    else:
        # rows k0..k1-1 of dW (inputs), every column: the plan's dW tiles are whole rows
        k0, k1 = _gradient_block(plan, l, t, n_in)
        gradient_product(net, l, k0, k1, rows)
        if k0 == 0:   # db: dense.sum_rows, the one-thread path's order
            sum_rows(net.grads[b_off:b_off + n_out], net.E, z_start, rows, n_out)
    # whole rows of W: one range for the L2 term and the optimizer (its per-call set-up,
    # Adam's bias corrections, once per tile)
    lo = w_off + k0 * n_out
    hi = w_off + k1 * n_out
    if net.l2 != 0.0:     # network.l2_penalty's gradient term
        lam = net.params.dtype.type(net.l2)
        W = net.params[lo:hi]
        dW = net.grads[lo:hi]
        for j in range(hi - lo):
            dW[j] += lam * W[j]
    optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper, step,
                           net.opt_code, lo, hi)
    if k0 == 0:
        optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper, step,
                               net.opt_code, b_off, b_off + n_out)


@kernel
def _input_error_factors(net, l, start, rows, width, n_in):
    """E_{l-1} *= dropout mask and f'_{l-1}(Z_{l-1}) on a block of `rows` rows of
    `width` entries, n_in apart, from `start` (as network.backward does)."""
    rate = net.dropout[l - 1]
    a_scale = 1.0 - rate if rate > 0.0 else 1.0
    for r in range(rows if width < n_in else 1):
        lo = start + r * n_in
        count = width if width < n_in else rows * n_in
        if rate > 0.0:
            E = net.E[lo:lo + count]
            M = net.M[lo:lo + count]
            for i in range(count):
                E[i] *= M[i]
        mul_activation_grad(net.E, net.Z, net.A, lo, count, net.act[l - 1], a_scale)


@kernel
def forward_tiles(plan, layout, l, rows):
    """How many tiles layer l's forward has for a batch of `rows` rows."""
    return _blocks(rows, plan[l, ROWS]) * _blocks(layout[l, N_OUT], plan[l, FWD_COLS])


@kernel
def input_error_tiles(plan, layout, l, rows):
    """How many tiles E_{l-1} has (l > 0)."""
    return _blocks(rows, plan[l, E_ROWS]) * _blocks(layout[l, N_IN], plan[l, E_COLS])


@entry
def tile_products(net, plan, rows):
    """Every BLAS product of a step on `rows` rows, each cut into the tiles of `plan`,
    on the net's buffers as they are (no bias, activation or update; layer by layer):
    what tile_bits.cuts_keep_bits compares between two plans."""
    layout = net.layout
    for l in range(layout.shape[0]):
        if plan[l, ON_BLAS] != 1:
            continue
        n_in = layout[l, N_IN]
        for t in range(forward_tiles(plan, layout, l, rows)):
            _, r0, r1, c0, c1 = _forward_block(plan, l, t, rows, layout[l, N_OUT])
            forward_product(net, l, r0, r1, c0, c1)
        if l > 0:
            for t in range(input_error_tiles(plan, layout, l, rows)):
                _, r0, r1, k0, k1 = _error_block(plan, l, t, rows, n_in)
                input_error_product(net, l, r0, r1, k0, k1)
        for t in range(_blocks(n_in, plan[l, DW_ROWS])):
            k0, k1 = _gradient_block(plan, l, t, n_in)
            gradient_product(net, l, k0, k1, rows)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy", no_cfunc_wrapper=True)
def train_batches_tiled(net, tiles, X, Y, order, batch_size, first_batch, stop_batch,
                        total, correct):
    """As training.train_batches, with each product of a step cut into tiles that
    threads share (see the module's docstring)."""
    n = X.shape[0]
    plan = tiles.plan
    layout = net.layout
    last = layout.shape[0] - 1
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        for t in prange(_blocks(rows, np.int64(LOAD_ROWS))):     # np.int64: see jit.py
            load_rows(net, X, Y, order, first, t * LOAD_ROWS,
                      rows if rows < (t + 1) * LOAD_ROWS else (t + 1) * LOAD_ROWS)   # min()
        batch = next_batch(net)
        for l in range(last + 1):
            for t in prange(forward_tiles(plan, layout, l, rows)):
                # np.int64(t): Numba types the loop body twice, t as int64 in this
                # function and as uint64 in the prange's own; cast, the kernel
                # compiles once instead of twice (a cold W3 fit 11.8 -> 10.5 s, with the
                # same cast for input_error_tile below)
                forward_tile(net, tiles, l, np.int64(t), rows, batch)
        cost = 0.0
        for i in range(_blocks(rows, plan[last, ROWS])):
            cost += tiles.cost[i]
            correct += tiles.correct[i]
        if net.l2 != 0.0:      # the penalty's cost; its gradient goes in with dW
            cost += rows * l2_penalty(net, bool(False))     # bool(): see jit.py
        if not math.isfinite(cost):    # (the penalty too, as in train_batches)
            return total, correct, b
        for l in range(last, 0, -1):
            for t in prange(input_error_tiles(plan, layout, l, rows)):
                input_error_tile(net, tiles, l, np.int64(t), rows)     # np.int64: above
        net.opt_step[0] += 1
        step = net.opt_step[0]
        # every layer's dW tiles in one loop, in which each thread takes the tiles
        # tiles.owner gives it (tiles.py: balanced by size for this run's threads)
        for worker in prange(tiles.workers[0]):
            l = 0
            for task in range(tiles.dw_first[last + 1]):
                while task >= tiles.dw_first[l + 1]:
                    l += 1
                if tiles.owner[task] == worker:
                    gradient_update_tile(net, tiles, l, task - tiles.dw_first[l], rows,
                                         step)
        total += cost
    return total, correct, -1
