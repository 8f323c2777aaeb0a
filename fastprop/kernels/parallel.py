"""Data-parallel training: each batch is cut into shards (net.Shards) that threads
process independently, each into its own workspace and gradient buffer; gradients,
costs and counts are then summed in shard order, and the optimizer updates disjoint
parameter ranges in parallel. Nothing a thread computes depends on which thread runs
it or how many there are, so the parameters are bit-identical for any thread count."""
import math

from numba import njit, prange

from ..net import Net
from .jit import kernel
from .network import (backward, forward_rows, l2_penalty, load_batch, next_batch,
                      output_correct)
from .optimizers import optimizer_update_range

PARAM_BLOCK = 16384   # parameters per parallel task in the gradient sum and the update


@kernel
def train_shard(net, shards, s, X, Y, order, first, rows, batch):
    """Forward and backward of shard s of the batch order[first:first+rows] into the
    shard's own buffers; its cost and correct count go to shards.cost/correct[s]."""
    lo = s * shards.rows
    r = rows - lo if rows - lo < shards.rows else shards.rows     # min() (see jit.py)
    # shard 0 writes its gradient straight into net.grads; the others are added to it
    grads = net.grads if s == 0 else shards.grads[s]
    shard = Net(net.params, grads, net.layout, net.act, net.loss, shards.rows,
                net.blas_min, shards.Z[s], shards.A[s], shards.E[s], shards.Y[s],
                net.opt_code, net.opt_hyper, net.opt_state, net.opt_step, 0.0,
                net.dropout, shards.M[s], net.rng)
    load_batch(shard, X, Y, order, first + lo, r)
    forward_rows(shard, r, bool(True), batch, lo)      # bool(): see jit.py
    shards.cost[s] = backward(shard, r, 1.0 / rows, bool(True))   # l2 = 0: added later
    shards.correct[s] = output_correct(shard, r)


@kernel
def sum_shard_gradients(net, shards, used, lo, hi):
    """net.grads[lo:hi] (shard 0's gradient) += the gradients of shards 1..used-1, in
    shard order."""
    out = net.grads[lo:hi]          # views from 0 (see activations.activate)
    for s in range(1, used):
        part = shards.grads[s, lo:hi]
        for i in range(hi - lo):
            out[i] += part[i]


@njit(cache=True, nogil=True, parallel=True, error_model="numpy", no_cfunc_wrapper=True)
def train_batches_sharded(net, shards, X, Y, order, batch_size, first_batch, stop_batch,
                          total, correct):
    """As training.train_batches, with each batch split across shards in parallel."""
    n = X.shape[0]
    n_params = net.params.size
    n_blocks = -(-n_params // PARAM_BLOCK)
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        batch = next_batch(net)
        used = -(-rows // shards.rows)
        for s in prange(used):
            train_shard(net, shards, s, X, Y, order, first, rows, batch)
        cost = 0.0
        for s in range(used):
            cost += shards.cost[s]
            correct += shards.correct[s]
        if not math.isfinite(cost):
            return total, correct, b
        for blk in prange(n_blocks):
            hi = (blk + 1) * PARAM_BLOCK
            sum_shard_gradients(net, shards, used, blk * PARAM_BLOCK,
                                hi if hi < n_params else n_params)     # min() (see jit.py)
        if net.l2 != 0.0:      # skipped without a penalty (see network.backward)
            cost += rows * l2_penalty(net, bool(True))     # bool(): see jit.py
        net.opt_step[0] += 1
        t = net.opt_step[0]
        for blk in prange(n_blocks):
            hi = (blk + 1) * PARAM_BLOCK
            optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper, t,
                                   net.opt_code, blk * PARAM_BLOCK,
                                   hi if hi < n_params else n_params)     # min()
        total += cost
    return total, correct, -1
