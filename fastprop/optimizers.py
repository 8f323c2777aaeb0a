"""Optimizer settings. The updates themselves run in kernels/optimizers.py.

An optimizer object holds hyperparameters only; its moment buffers live with the model
it trains (Model.reset_optimizer() zeroes them), so training continued by a second
`fit` with the same optimizer is the same as one longer run.
The rules are those documented for torch.optim.
"""
import math
import numbers

import numpy as np

from . import codes


def _check_number(name, value, low=0.0, high=math.inf, low_open=False, high_open=False):
    """Validate a real hyperparameter in [low, high] (or open ends); return it as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:      # an int beyond float's range
        value = math.inf
    ok = (math.isfinite(value) and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        words = _range_words(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number {words}, got {value!r}")
    return value


def _range_words(low, high, low_open, high_open):
    """'>= 0', '> 0', 'in [0, 1)': the range a number must lie in, as a reader says it."""
    if high == math.inf:
        return f"{'>' if low_open else '>='} {low:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _check_betas(betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return (_check_number("betas[0]", betas[0], 0.0, 1.0, high_open=True),
            _check_number("betas[1]", betas[1], 0.0, 1.0, high_open=True))


class Optimizer:
    """Base class: subclasses set `code` and fill `_slots` (the kernel's hyper vector)."""
    code = -1
    _slots = ()

    def hyper(self):
        """The float64 hyperparameter vector the update kernel reads."""
        vec = np.zeros(codes.HYPER_SIZE, np.float64)
        for i, name in enumerate(self._slots):
            vec[i] = float(getattr(self, name))
        return vec

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (torch's buffer b = mu*b + g), Nesterov
    (step along g + mu*b) and L2 weight decay (g += weight_decay * p)."""
    code = codes.SGD
    _slots = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr = _check_number("lr", lr)
        self.momentum = _check_number("momentum", momentum)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; weight_decay is L2 added to g."""
    code = codes.ADAM
    _slots = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr = _check_number("lr", lr)
        self.beta1, self.beta2 = _check_betas(betas)
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)

    @property
    def betas(self):
        return (self.beta1, self.beta2)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the step."""
    code = codes.ADAMW

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), optionally through a
    momentum buffer."""
    code = codes.RMSPROP
    _slots = ("lr", "alpha", "eps", "momentum", "weight_decay")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        self.lr = _check_number("lr", lr)
        self.alpha = _check_number("alpha", alpha, 0.0, 1.0)
        self.eps = _check_number("eps", eps)
        self.momentum = _check_number("momentum", momentum)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adagrad(Optimizer):
    """s += g^2; p -= lr * g / (sqrt(s) + eps)."""
    code = codes.ADAGRAD
    _slots = ("lr", "eps", "weight_decay")

    def __init__(self, lr=1e-2, eps=1e-10, weight_decay=0.0):
        self.lr = _check_number("lr", lr)
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adadelta(Optimizer):
    """v = rho*v + (1-rho)*g^2; d = sqrt(u+eps)/sqrt(v+eps)*g; u = rho*u + (1-rho)*d^2;
    p -= lr * d."""
    code = codes.ADADELTA
    _slots = ("lr", "rho", "eps", "weight_decay")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        self.lr = _check_number("lr", lr)
        self.rho = _check_number("rho", rho, 0.0, 1.0)
        self.eps = _check_number("eps", eps, low_open=True)   # sqrt(0)/sqrt(0) otherwise
        self.weight_decay = _check_number("weight_decay", weight_decay)
