"""Optimizer settings. The updates themselves run in kernels/optimizers.py.

An optimizer object holds hyperparameters only; its moment buffers live with the model
it trains (Model.reset_optimizer() zeroes them), so training continued by a second
`fit` with the same optimizer is the same as one longer run.
The rules are those documented for torch.optim.
"""
from __future__ import annotations

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
    """Base class of the optimizers: `SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`,
    `Adadelta`.

    An optimizer holds hyperparameters only; its moment buffers live with the model it
    trains. Subclasses set `code` (the update kernel's optimizer code) and name, in
    `_slots`, the attributes that fill the kernel's hyperparameter vector.

    See Also
    --------
    fastprop.Model.fit, fastprop.Model.set_optimizer
    """
    code = -1
    _slots = ()

    def hyper(self) -> np.ndarray:
        """The hyperparameter vector the update kernel reads.

        Returns
        -------
        numpy.ndarray of float64, shape (HYPER_SIZE,)
            The settings in the kernel's order, zero-padded.

        Examples
        --------
        >>> import fastprop as fp
        >>> fp.SGD(lr=0.1).hyper()[:4]
        array([0.1, 0. , 0. , 0. ])
        """
        vec = np.zeros(codes.HYPER_SIZE, np.float64)
        for i, name in enumerate(self._slots):
            vec[i] = float(getattr(self, name))
        return vec

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    The update is p -= lr * g, with L2 weight decay g += weight_decay * p, and with
    momentum mu torch's buffer b = mu*b + g, stepping along b (or g + mu*b with
    Nesterov).

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate, >= 0.
    momentum : float, default 0.0
        Momentum factor mu, >= 0.
    nesterov : bool, default False
        Use Nesterov momentum (needs momentum > 0).
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number, or `nesterov` not True or False.
    ValueError
        If a setting is negative or not finite, or nesterov=True with momentum 0.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.SGD(lr=0.1, momentum=0.9, nesterov=True)
    SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)
    """
    code = codes.SGD
    _slots = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        self.lr = _check_number("lr", lr)
        self.momentum = _check_number("momentum", momentum)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with bias correction.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, >= 0.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates (beta1, beta2) of the first and second moment estimates, each in
        [0, 1).
    eps : float, default 1e-8
        Added to the square root of the second moment, >= 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient (g += weight_decay * p), >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number.
    ValueError
        If a setting is out of range or not finite, or `betas` is not a pair.

    See Also
    --------
    AdamW : Adam with decoupled weight decay.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.Adam(lr=3e-4).betas
    (0.9, 0.999)
    """
    code = codes.ADAM
    _slots = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        self.lr = _check_number("lr", lr)
        self.beta1, self.beta2 = _check_betas(betas)
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)

    @property
    def betas(self) -> tuple[float, float]:
        """tuple of float: The decay rates (beta1, beta2)."""
        return (self.beta1, self.beta2)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    Before each Adam step the parameters shrink: ``p *= 1 - lr * weight_decay``.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, >= 0.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates (beta1, beta2) of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the square root of the second moment, >= 0.
    weight_decay : float, default 1e-2
        Decoupled weight decay, >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number.
    ValueError
        If a setting is out of range or not finite, or `betas` is not a pair.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.AdamW().weight_decay
    0.01
    """
    code = codes.ADAMW

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running average of squared gradients.

    v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), optionally through a
    momentum buffer.

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, >= 0.
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average, in [0, 1].
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    momentum : float, default 0.0
        Momentum factor, >= 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number.
    ValueError
        If a setting is out of range or not finite.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.RMSprop(lr=1e-3, momentum=0.9)
    RMSprop(lr=0.001, alpha=0.99, eps=1e-08, momentum=0.9, weight_decay=0.0)
    """
    code = codes.RMSPROP
    _slots = ("lr", "alpha", "eps", "momentum", "weight_decay")

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.lr = _check_number("lr", lr)
        self.alpha = _check_number("alpha", alpha, 0.0, 1.0)
        self.eps = _check_number("eps", eps)
        self.momentum = _check_number("momentum", momentum)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adagrad(Optimizer):
    """Adagrad: steps scaled by the sum of all squared gradients so far.

    s += g^2; p -= lr * g / (sqrt(s) + eps).

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, >= 0.
    eps : float, default 1e-10
        Added to the denominator, >= 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number.
    ValueError
        If a setting is negative or not finite.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.Adagrad(lr=0.05)
    Adagrad(lr=0.05, eps=1e-10, weight_decay=0.0)
    """
    code = codes.ADAGRAD
    _slots = ("lr", "eps", "weight_decay")

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10,
                 weight_decay: float = 0.0) -> None:
        self.lr = _check_number("lr", lr)
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)


class Adadelta(Optimizer):
    """Adadelta (Zeiler): steps scaled by running averages of squared gradients and
    squared steps.

    v = rho*v + (1-rho)*g^2; d = sqrt(u+eps)/sqrt(v+eps)*g; u = rho*u + (1-rho)*d^2;
    p -= lr * d.

    Parameters
    ----------
    lr : float, default 1.0
        Scale of each step, >= 0.
    rho : float, default 0.9
        Decay rate of the running averages, in [0, 1].
    eps : float, default 1e-6
        Added inside the square roots, > 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        If a setting is not a real number.
    ValueError
        If a setting is out of range or not finite.

    Examples
    --------
    >>> import fastprop as fp
    >>> fp.Adadelta()
    Adadelta(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0.0)
    """
    code = codes.ADADELTA
    _slots = ("lr", "rho", "eps", "weight_decay")

    def __init__(self, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        self.lr = _check_number("lr", lr)
        self.rho = _check_number("rho", rho, 0.0, 1.0)
        self.eps = _check_number("eps", eps, low_open=True)   # sqrt(0)/sqrt(0) otherwise
        self.weight_decay = _check_number("weight_decay", weight_decay)


# The names fit(optimizer=...) takes (as the CLI and the estimators do), each for a new
# optimizer with its class's default settings.
BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
           "adagrad": Adagrad, "adadelta": Adadelta}


def resolve_optimizer(optimizer):
    """An Optimizer, None, or a name from BY_NAME (a new optimizer of that class with
    its default settings); anything else is refused."""
    if optimizer is None or isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        if optimizer.lower() not in BY_NAME:
            raise ValueError(f"optimizer must be one of {', '.join(BY_NAME)} or a fastprop "
                             f"optimizer such as fp.Adam(lr=1e-3); got {optimizer!r}")
        return BY_NAME[optimizer.lower()]()
    raise TypeError(f"optimizer must be a name ({', '.join(BY_NAME)}) or a fastprop "
                    f"optimizer such as fp.SGD(lr=0.1), got {type(optimizer).__name__}")
