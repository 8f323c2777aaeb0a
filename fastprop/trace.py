"""`Trace`: the textbook quantities of one backpropagation, for learning and debugging."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Trace:
    """The textbook quantities of one backpropagation, as `Model.trace` returns them.

    Per-layer lists, index l = layer l (0-based; layer l's input is A[l-1], or X for
    layer 0); n is the number of samples.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, n_in)
        The input batch, in the model's dtype.
    Z : list of numpy.ndarray
        Z[l], shape (n, n_out_l): the pre-activations of layer l.
    A : list of numpy.ndarray
        A[l], shape (n, n_out_l): the activations of layer l.
    E : list of numpy.ndarray
        E[l], shape (n, n_out_l): the per-sample layer errors dC_i/dZ_l.
    dW : list of numpy.ndarray
        dW[l], shape (n_in_l, n_out_l): the gradient of the mean cost with respect to
        layer l's weights.
    db : list of numpy.ndarray
        db[l], shape (n_out_l,): the gradient of the mean cost with respect to layer
        l's biases.
    loss : float
        The mean cost.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> t = fp.Model([2, 3, 1], seed=0).trace(np.ones((4, 2)), np.zeros(4))
    >>> t.E[-1].shape, t.dW[0].shape
    ((4, 1), (2, 3))
    """
    X: np.ndarray
    Z: list[np.ndarray]
    A: list[np.ndarray]
    E: list[np.ndarray]
    dW: list[np.ndarray]
    db: list[np.ndarray]
    loss: float
