"""`Trace`: the textbook quantities of one backpropagation, for learning and debugging."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Trace:
    """Per-layer lists, index l = layer l (0-based; layer l's input is A[l-1], or X).

    Z[l], A[l] : (n, n_out_l) pre-activations and activations
    E[l]       : (n, n_out_l) per-sample layer errors dC_i/dZ_l
    dW[l], db[l] : gradient of the mean cost, (n_in_l, n_out_l) and (n_out_l,)
    loss       : the mean cost
    """
    X: np.ndarray
    Z: list
    A: list
    E: list
    dW: list
    db: list
    loss: float
