"""The tile plan of multi-threaded training (kernels/tiled.py): how each product of a
training step is cut into blocks that threads compute independently.

The plan depends on the layer sizes, the batch size and blas_min only, never on the
thread count: each tile is one BLAS call (or one loop nest) whose arguments are fixed
by the plan, so its result is the same whichever thread computes it, and training is
bit-identical for any number of threads.

Cutting has a price on one thread: each extra block makes BLAS pack the operand the
blocks share once more (row blocks share W, column blocks share the batch's rows).
Hence blocks of at least config.TILE_COLS columns or config.TILE_ROWS rows, cut along
the longer side of the output, dW in blocks of at least config.DW_TILE whole rows, and
every tile at least config.MIN_TILE_WORK multiply-adds (smaller products are not cut:
threads would gain less than they cost to start); docs/performance.md has the costs
measured per cut.

The price of fixing the plan by the sizes alone: a batch gets only a handful of tiles
per product (a 784-512-256-10 net at batch 128: 4, 2 and 1 forward blocks, 6 + 4 + 1
dW blocks), so threads beyond that wait on the largest.
"""
from typing import NamedTuple

import numpy as np

from . import config
from .layout import N_IN, N_OUT

# Columns of the plan (one row per layer), in entries of the layer's matrices.
ROWS = 0        # batch rows per forward tile (for the output layer: per output tile)
FWD_COLS = 1    # columns of Z_l per forward tile
DW_ROWS = 2     # rows of dW_l (inputs) per dW tile
DW_COLS = 3     # columns of dW_l (outputs) per dW tile: all of them
E_ROWS = 4      # batch rows per tile of E_{l-1}
E_COLS = 5      # columns of E_{l-1} (inputs) per tile
ON_BLAS = 6     # 1: tiles are BLAS calls; 0: the layer is below blas_min, one loop tile
PLAN_COLUMNS = 7



class Tiles(NamedTuple):
    plan: np.ndarray       # (L, PLAN_COLUMNS) int64, see above
    cost: np.ndarray       # (row tiles of the output,) float64  each tile's summed cost
    correct: np.ndarray    # (row tiles of the output,) float64  its correct predictions
    dw_first: np.ndarray   # (L + 1,) int64  number of layer l's first dW tile; last: all
    owner: np.ndarray      # (dW tiles,) int64  the worker that computes each dW tile
    workers: np.ndarray    # (1,) int64  how many workers share them (the run's threads)


def block(n, least, unit_work):
    """The block size that cuts a dimension of n units, each worth `unit_work`
    multiply-adds, into at most config.MAX_SPLIT blocks of at least `least` units and
    config.MIN_TILE_WORK multiply-adds (a multiple of config.ALIGN; the last block may be shorter);
    n itself when it makes only one block."""
    parts = max(1, min(config.MAX_SPLIT, n // least, n * unit_work // config.MIN_TILE_WORK))
    if parts == 1:
        return n
    size = -(-n // parts)
    return min(n, -(-size // config.ALIGN) * config.ALIGN)


def tile_plan(layout, batch_size, blas_min):
    """The plan (L, PLAN_COLUMNS) for batches of `batch_size` rows."""
    n_layers = layout.shape[0]
    plan = np.zeros((n_layers, PLAN_COLUMNS), np.int64)
    B = batch_size
    for l in range(n_layers):
        n_in, n_out = int(layout[l, N_IN]), int(layout[l, N_OUT])
        if B * n_in * n_out < blas_min:
            plan[l] = (B, n_out, n_in, n_out, B, n_in, 0)
            continue
        # Each extra block makes BLAS pack the operand its blocks share once more: row
        # blocks share W (n_in x n_out), column blocks share the batch's rows (B x n_in
        # for the forward): cut the longer side of the output
        if l == n_layers - 1:
            # the output layer's tiles hold whole rows (softmax, the loss)
            rows, fwd_cols = block(B, config.OUTPUT_ROWS, n_in * n_out), n_out
        elif B > n_out:
            rows, fwd_cols = block(B, config.TILE_ROWS, n_in * n_out), n_out
        else:
            rows, fwd_cols = B, block(n_out, config.TILE_COLS, B * n_in)
        if B > n_in:      # E_{l-1} (B x n_in) = E_l (B x n_out) @ W^T
            e_rows, e_cols = block(B, config.TILE_ROWS, n_in * n_out), n_in
        else:
            e_rows, e_cols = B, block(n_in, config.TILE_COLS, B * n_out)
        # dW tiles are whole rows of dW: the optimizer updates each as one range
        plan[l] = (rows, fwd_cols, block(n_in, config.DW_TILE, B * n_out), n_out, e_rows, e_cols,
                   1)
    return plan


def is_cut(plan, layout, batch_size):
    """Whether any product of the plan is cut into more than one tile (else there is
    nothing for threads to share, and training.train_batches does the same work)."""
    return bool((plan[:, ROWS] < batch_size).any()
                or (plan[:, FWD_COLS] < layout[:, N_OUT]).any()
                or (plan[:, DW_ROWS] < layout[:, N_IN]).any()
                or (plan[:, DW_COLS] < layout[:, N_OUT]).any()
                or (plan[1:, E_ROWS] < batch_size).any()
                or (plan[1:, E_COLS] < layout[1:, N_IN]).any())


def whole_plan(plan, layout, batch_size):
    """`plan` with every product whole but the output layer's row tiles: the plan of a
    one-thread run when the machine's BLAS gives the cut products the bits of whole
    ones (tile_bits.py). The output tiles stay, as the step's cost is summed tile by
    tile in their order; the others cost one thread time (each extra block repacks
    an operand)."""
    whole = plan.copy()
    blas = plan[:, ON_BLAS] == 1
    hidden = blas.copy()
    hidden[-1] = False
    whole[hidden, ROWS] = batch_size
    whole[blas, FWD_COLS] = layout[blas, N_OUT]
    whole[blas, DW_ROWS] = layout[blas, N_IN]
    whole[blas, E_ROWS] = batch_size
    whole[blas, E_COLS] = layout[blas, N_IN]
    return whole


def make_tiles(layout, batch_size, blas_min):
    """Tiles (plan and per-tile sums) for batches of `batch_size` rows."""
    return tiles_of(tile_plan(layout, batch_size, blas_min), layout, batch_size)


def tiles_of(plan, layout, batch_size):
    """Tiles for `plan` and batches of `batch_size` rows (no dW tile shared yet)."""
    row_tiles = -(-batch_size // int(plan[-1, ROWS]))
    dw_tiles = -(-layout[:, N_IN] // plan[:, DW_ROWS])     # whole rows of dW each
    dw_first = np.concatenate([[0], np.cumsum(dw_tiles)]).astype(np.int64)
    return Tiles(plan=plan, cost=np.zeros(row_tiles), correct=np.zeros(row_tiles),
                 dw_first=dw_first, owner=np.zeros(dw_first[-1], np.int64),
                 workers=np.ones(1, np.int64))


def most_tasks(tiles, layout, batch_size):
    """The most tasks any parallel loop of a step on `batch_size` rows has (the batch's
    load aside: LOAD_ROWS rows a task, ~1 us each)."""
    plan = tiles.plan
    B = batch_size
    forward = -(-B // plan[:, ROWS]) * -(-layout[:, N_OUT] // plan[:, FWD_COLS])
    errors = -(-B // plan[1:, E_ROWS]) * -(-layout[1:, N_IN] // plan[1:, E_COLS])
    return int(max(forward.max(), errors.max(initial=1), tiles.dw_first[-1]))


def share_gradient_tiles(tiles, layout, n_threads):
    """Hand the dW tiles to n_threads workers, largest first, each to the worker with
    the least work so far (a tile's work: its parameters, each a dot product over the
    batch and an optimizer update). Numba's prange gives each thread an equal count
    of iterations, whatever their size; the tiles' sizes differ from layer to layer.
    Which worker computes a tile does not change its result."""
    sizes = np.concatenate([
        np.minimum(plan_rows, n_in - np.arange(0, n_in, plan_rows)) * n_out
        for plan_rows, n_in, n_out in zip(tiles.plan[:, DW_ROWS], layout[:, N_IN],
                                          layout[:, N_OUT])])
    workers = max(1, min(int(n_threads), sizes.size))
    load = np.zeros(workers, np.int64)
    for task in np.argsort(-sizes, kind="stable"):
        w = int(np.argmin(load))
        tiles.owner[task] = w
        load[w] += sizes[task]
    tiles.workers[0] = workers
