"""fastprop: multi-layer perceptrons trained by backpropagation in Numba-compiled code."""
import os as _os

import numba as _numba

# Concurrent fits from several Python threads each launch parallel kernels: only the
# thread-safe layers (TBB or OpenMP) allow that; Numba's default may pick workqueue,
# which aborts the process. A user's own NUMBA_THREADING_LAYER choice is respected.
if "NUMBA_THREADING_LAYER" not in _os.environ:
    _numba.config.THREADING_LAYER = "threadsafe"

from . import kernels, schedules
from .history import History
from .io import load
from .model import Model
from .net import Net
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .trace import Trace

__version__ = "0.1.0"
__all__ = ["Model", "load", "History", "Trace", "Net", "kernels", "schedules", "Optimizer",
           "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "__version__"]
