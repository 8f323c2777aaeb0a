"""`Net`: every array the compiled kernels need, in one value that @njit code can take.

A Net shares memory with the Model that made it (params, grads, optimizer state), so
what compiled code changes the Model sees, and the reverse. It is a NamedTuple, so a
user's @njit(cache=True) function can take it as an argument; its type depends only on
the dtype, so one compiled specialisation serves every architecture.
"""
from typing import NamedTuple

import numpy as np

from .buffers import aligned_zeros
from .codes import HYPER_SIZE, STATE_ROWS
from .layout import N_OUT, workspace_width


class Net(NamedTuple):
    params: np.ndarray     # (P,)  every weight and bias, layer by layer (see layout.py)
    grads: np.ndarray      # (P,)  gradient of the mean cost, same layout as params
    layout: np.ndarray     # (L, 6) int64  per-layer sizes and offsets (layout.py columns)
    act: np.ndarray        # (L,) int64  activation code of each layer (codes.py)
    loss: int              # loss code (codes.py)
    capacity: int          # rows the workspace holds: the largest batch a kernel takes
    blas_min: int          # layers with rows*n_in*n_out >= this use BLAS, smaller use loops
    Z: np.ndarray          # (capacity * width,)  pre-activations, one region per layer
    A: np.ndarray          # (capacity * width,)  activations; region 0 holds the input batch
    E: np.ndarray          # (capacity * width,)  layer errors dC/dZ
    Y: np.ndarray          # (capacity * n_out,)  target batch
    opt_code: int          # optimizer code (codes.py)
    opt_hyper: np.ndarray  # (HYPER_SIZE,) float64  optimizer hyperparameters
    opt_state: np.ndarray  # (STATE_ROWS, P)  optimizer moment buffers
    opt_step: np.ndarray   # (1,) int64  number of optimizer updates done
    l2: float              # L2 penalty l2/2 * sum of squared weights (biases excluded)
    dropout: np.ndarray    # (L,) float64  dropout rate of each layer's output (last: 0)
    M: np.ndarray          # (capacity * width,)  dropout mask scales: 0 or 1/(1-rate)
    rng: np.ndarray        # (2,) uint64  dropout stream: key (from the seed), batch counter


# Below this many multiply-adds per layer and batch, explicit loops beat a BLAS call.
DEFAULT_BLAS_MIN = 16384


def make_net(params, layout, act, loss, capacity, seed=0):
    """A Net over the parameter array `params`, with fresh buffers for everything else:
    a workspace of `capacity` rows, zero gradients, zero SGD optimizer state, no L2, no
    dropout. Change those with `with_workspace` and `Net._replace`."""
    dtype = params.dtype
    n_layers = layout.shape[0]
    net = Net(params=params, grads=aligned_zeros(params.shape, dtype), layout=layout,
              act=act, loss=int(loss), capacity=0, blas_min=DEFAULT_BLAS_MIN,
              Z=None, A=None, E=None, Y=None,
              opt_code=0, opt_hyper=np.zeros(HYPER_SIZE, np.float64),
              opt_state=aligned_zeros((STATE_ROWS, params.size), dtype),
              opt_step=np.zeros(1, np.int64), l2=0.0,
              dropout=np.zeros(n_layers, np.float64), M=None,
              rng=np.array([seed, 0], np.uint64))
    return with_workspace(net, capacity)


def with_workspace(net, capacity):
    """The same Net (sharing every other array) with a fresh workspace of `capacity` rows."""
    width = workspace_width(net.layout)
    n_out = int(net.layout[-1, N_OUT])
    dtype = net.params.dtype
    return net._replace(capacity=int(capacity),
                        Z=aligned_zeros(capacity * width, dtype),
                        A=aligned_zeros(capacity * width, dtype),
                        E=aligned_zeros(capacity * width, dtype),
                        M=aligned_zeros(capacity * width, dtype),
                        Y=aligned_zeros(capacity * n_out, dtype))


class Shards(NamedTuple):
    """Per-shard buffers for data-parallel training: a batch is cut into shards of at
    most `rows` rows, each with its own workspace and gradient buffer, so threads never
    write the same memory; the gradients are then summed in shard order."""
    rows: int              # rows per shard
    grads: np.ndarray      # (S, P)  each shard's share of the mean-cost gradient (row 0
                           # unused: shard 0 writes into the Net's own grads)
    Z: np.ndarray          # (S, rows * width)  workspaces, as in Net
    A: np.ndarray
    E: np.ndarray
    M: np.ndarray
    Y: np.ndarray          # (S, rows * n_out)
    cost: np.ndarray       # (S,) float64  each shard's summed cost
    correct: np.ndarray    # (S,) float64  each shard's correct predictions


# A batch is split into shards of at least MIN_SHARD_ROWS rows and at most MAX_SHARDS
# shards. The split depends on the batch size only, never on the thread count: that is
# what makes training bit-identical for any number of threads.
MIN_SHARD_ROWS = 64
MAX_SHARDS = 64


def shard_layout(batch_size):
    """(number of shards, rows per shard) for a batch size."""
    n_shards = max(1, min(MAX_SHARDS, batch_size // MIN_SHARD_ROWS))
    rows = -(-batch_size // n_shards)
    return -(-batch_size // rows), rows


def make_shards(net, batch_size):
    """Shard buffers for batches of `batch_size` rows of the Net `net`."""
    n_shards, rows = shard_layout(batch_size)
    width = workspace_width(net.layout)
    n_out = int(net.layout[-1, N_OUT])
    dtype = net.params.dtype

    def buf(w):
        return aligned_zeros((n_shards, rows * w), dtype)

    return Shards(rows=rows, grads=aligned_zeros((n_shards, net.params.size), dtype),
                  Z=buf(width), A=buf(width), E=buf(width), M=buf(width), Y=buf(n_out),
                  cost=np.zeros(n_shards), correct=np.zeros(n_shards))
