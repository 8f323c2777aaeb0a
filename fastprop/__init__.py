"""fastprop: multi-layer perceptrons trained by backpropagation in Numba-compiled code."""
from . import kernels, schedules
from .ensemble import Ensemble
from .history import History
from .io import load
from .model import Model
from .net import Net
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .sweep import SweepResult, sweep
from .trace import Trace

__version__ = "0.1.0"
__all__ = ["Model", "Ensemble", "sweep", "SweepResult", "load", "History", "Trace", "Net", "kernels", "schedules", "Optimizer",
           "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "__version__"]
