"""Many networks of one architecture trained in one compiled pass (fastprop/ensemble.py).

The members are the unit of parallel work: a parallel loop over them, each member's
epoch on one thread through the one-thread walks (tiled.train_batches,
narrow.train_online_sgd_narrow) exactly as `Model.fit` runs it, each writing only its
own arrays. A member's result therefore is the bits of training it alone, for any
thread count.

`Members` holds every member's arrays stacked, member k in row k; `member_net` gives
member k's `Net` over those rows, the same arrays its `fp.Model` holds.
"""
from typing import NamedTuple

import numpy as np
from numba import prange

from ..net import Net
from ..tiles import Tiles
from .jit import inlined, parallel_kernel
from .narrow import train_online_sgd_narrow
from .tiled import train_batches


class Members(NamedTuple):
    """The stacked arrays of K members (row k: member k), and what they share."""
    params: np.ndarray     # (K, P)
    grads: np.ndarray      # (K, P)
    layout: np.ndarray     # (L, 6) int64, shared
    act: np.ndarray        # (L,) int64, shared
    loss: int
    capacity: int
    blas_min: int
    Z: np.ndarray          # (K, capacity * width)
    A: np.ndarray          # (K, capacity * width)
    E: np.ndarray          # (K, capacity * width)
    Y: np.ndarray          # (K, capacity * n_out)
    opt_code: int
    opt_hyper: np.ndarray  # (K, HYPER_SIZE) float64
    opt_state: np.ndarray  # (K, STATE_ROWS, P)
    opt_step: np.ndarray   # (K, 1) int64
    l2: np.ndarray         # (K,) float64
    dropout: np.ndarray    # (K, L) float64
    M: np.ndarray          # (K, capacity * width)
    rng: np.ndarray        # (K, 2) uint64
    SW: np.ndarray         # (K, capacity)
    cost: np.ndarray       # (K, output row tiles) float64: each member's Tiles.cost
    correct: np.ndarray    # (K, output row tiles) float64


def member_net(S, k):
    """Member k's Net: row k of every stacked array (from Python and compiled code)."""
    return Net(S.params[k], S.grads[k], S.layout, S.act, S.loss, S.capacity, S.blas_min,
               S.Z[k], S.A[k], S.E[k], S.Y[k], S.opt_code, S.opt_hyper[k], S.opt_state[k],
               S.opt_step[k], S.l2[k], S.dropout[k], S.M[k], S.rng[k], S.SW[k])


_member_net = inlined(member_net)


@parallel_kernel
def train_members(S, plan, dw_first, owner, workers, X, Y, w, orders, counts, active,
                  batch_size, totals, corrects, bad):
    """One epoch of every active member, by tiled.train_batches on the tile plan (the
    whole products a one-thread fit uses): member k trains on rows
    orders[k, :counts[k]] of X (n, n_in), Y (n, n_out) in that order, weighted by w
    (n,) where it is not empty. Writes totals[k] (summed cost), corrects[k] and bad[k]
    (the first batch whose cost was not finite, or -1)."""
    for k in prange(orders.shape[0]):
        if active[k]:
            net = _member_net(S, k)
            tiles = Tiles(plan, S.cost[k], S.correct[k], dw_first, owner, workers)
            n_batches = -(-counts[k] // batch_size)
            totals[k], corrects[k], bad[k] = train_batches(
                net, tiles, X, Y, w, orders[k, :counts[k]], batch_size, np.int64(0),
                n_batches, 0.0, 0.0)


@parallel_kernel
def train_members_narrow(S, X, Y, orders, counts, active, totals, corrects, bad):
    """train_members for online plain SGD on narrow nets (narrow.train_online_sgd_narrow:
    the walk `Model.fit` takes for them; batches of one row, no weights)."""
    for k in prange(orders.shape[0]):
        if active[k]:
            net = _member_net(S, k)
            totals[k], corrects[k], bad[k] = train_online_sgd_narrow(
                net, X, Y, orders[k, :counts[k]], np.int64(1), np.int64(0), counts[k],
                0.0, 0.0)
