"""`Net`: every array the compiled kernels need, in one value that @njit code can take.

A Net shares memory with the Model that made it (params, grads, optimizer state), so
what compiled code changes the Model sees, and the reverse. It is a NamedTuple, so a
user's @njit(cache=True) function can take it as an argument; its type depends only on
the dtype, so one compiled specialisation serves every architecture.
"""
from typing import NamedTuple

import numpy as np

from . import config
from .buffers import aligned_zeros
from .codes import HYPER_SIZE, STATE_ROWS
from .layout import N_OUT, workspace_width


class Net(NamedTuple):
    """Every array the compiled kernels need, in one value @njit code can take.

    Take it from `Model.net`, not by building one: a Net shares params, grads and
    optimizer state with its Model. It is a NamedTuple, so a user's
    ``@njit(cache=True)`` function can take it as an argument; its type depends only
    on the dtype. Buffers are flat: the workspace arrays hold one region per layer,
    `capacity` rows each.

    Parameters
    ----------
    params : numpy.ndarray, shape (P,)
        Every weight and bias, layer by layer.
    grads : numpy.ndarray, shape (P,)
        The gradient of the mean cost, in the same layout as params.
    layout : numpy.ndarray of int64, shape (L, 6)
        Per-layer sizes and offsets.
    act : numpy.ndarray of int64, shape (L,)
        The activation code of each layer.
    loss : int
        The loss code.
    capacity : int
        Rows the workspace holds: the largest batch a kernel takes.
    blas_min : int
        Products of rows * n_in * n_out at least this use BLAS, smaller ones loops.
    Z : numpy.ndarray, shape (capacity * width,)
        Pre-activations, one region per layer.
    A : numpy.ndarray, shape (capacity * width,)
        Activations; region 0 holds the input batch.
    E : numpy.ndarray, shape (capacity * width,)
        Layer errors dC/dZ.
    Y : numpy.ndarray, shape (capacity * n_out,)
        The target batch.
    opt_code : int
        The optimizer code.
    opt_hyper : numpy.ndarray of float64, shape (HYPER_SIZE,)
        The optimizer's hyperparameters.
    opt_state : numpy.ndarray, shape (STATE_ROWS, P)
        The optimizer's moment buffers.
    opt_step : numpy.ndarray of int64, shape (1,)
        The number of optimizer updates done.
    l2 : float
        The L2 penalty l2/2 * sum of squared weights (biases excluded).
    dropout : numpy.ndarray of float64, shape (L,)
        The dropout rate of each layer's output (the last is 0).
    M : numpy.ndarray, shape (capacity * width,)
        Dropout mask scales: 0 or 1/(1-rate).
    rng : numpy.ndarray of uint64, shape (2,)
        The dropout stream: key (from the seed) and batch counter.
    SW : numpy.ndarray, shape (capacity,)
        The sample weights of the batch's rows, in a weighted fit (the trainers load
        them with the batch; the kernel API does not read them).

    See Also
    --------
    fastprop.kernels : The compiled functions that take a Net.
    fastprop.Model.reserve : Grow the workspace (then take the new ``model.net``).

    Examples
    --------
    >>> import fastprop as fp
    >>> net = fp.Model([3, 5, 2], seed=0).net
    >>> net.params.shape
    (32,)
    """
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
    SW: np.ndarray         # (capacity,)  sample weights of the batch's rows (weighted fits)




def make_net(params, layout, act, loss, capacity, seed=0):
    """A Net over the parameter array `params`, with fresh buffers for everything else:
    a workspace of `capacity` rows, zero gradients, zero SGD optimizer state, no L2, no
    dropout. Change those with `with_workspace` and `Net._replace`."""
    dtype = params.dtype
    n_layers = layout.shape[0]
    net = Net(params=params, grads=aligned_zeros(params.shape, dtype), layout=layout,
              act=act, loss=int(loss), capacity=0, blas_min=config.BLAS_MIN,
              Z=None, A=None, E=None, Y=None,
              opt_code=0, opt_hyper=np.zeros(HYPER_SIZE, np.float64),
              opt_state=aligned_zeros((STATE_ROWS, params.size), dtype),
              opt_step=np.zeros(1, np.int64), l2=0.0,
              dropout=np.zeros(n_layers, np.float64), M=None,
              rng=np.array([seed, 0], np.uint64), SW=None)
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
                        Y=aligned_zeros(capacity * n_out, dtype),
                        SW=aligned_zeros(capacity, dtype))
