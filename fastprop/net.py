"""`Net`: every array the compiled kernels need, in one value that @njit code can take.

A Net shares memory with the Model that made it (params, grads, optimizer state), so
what compiled code changes the Model sees, and the reverse. It is a NamedTuple, so a
user's @njit(cache=True) function can take it as an argument; its type depends only on
the dtype, so one compiled specialisation serves every architecture.
"""
from typing import NamedTuple

import numpy as np

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


# Below this many multiply-adds per layer and batch, explicit loops beat a BLAS call.
DEFAULT_BLAS_MIN = 16384


def make_workspace(layout, capacity, dtype):
    """Fresh Z, A, E and Y buffers for batches of up to `capacity` rows."""
    width = workspace_width(layout)
    n_out = int(layout[-1, N_OUT])
    return (np.zeros(capacity * width, dtype), np.zeros(capacity * width, dtype),
            np.zeros(capacity * width, dtype), np.zeros(capacity * n_out, dtype))


def make_net(params, grads, layout, act, loss, capacity, opt_code=0, opt_hyper=None,
             opt_state=None, opt_step=None, blas_min=DEFAULT_BLAS_MIN):
    """A Net over existing parameter arrays, with a fresh workspace of `capacity` rows.

    Optimizer arrays not given are made fresh (zero state, SGD hyperparameters all zero).
    """
    dtype = params.dtype
    Z, A, E, Y = make_workspace(layout, capacity, dtype)
    if opt_hyper is None:
        opt_hyper = np.zeros(HYPER_SIZE, np.float64)
    if opt_state is None:
        opt_state = np.zeros((STATE_ROWS, params.size), dtype)
    if opt_step is None:
        opt_step = np.zeros(1, np.int64)
    return Net(params, grads, layout, act, int(loss), int(capacity), int(blas_min),
               Z, A, E, Y, int(opt_code), opt_hyper, opt_state, opt_step)
