"""Learning-rate schedules, applied between epochs: lr for epoch e (0-based) from the
optimizer's base lr. The formulas are torch.optim.lr_scheduler's.

Pass one to ``Model.fit(schedule=...)``; it sets the optimizer's learning rate before
each epoch (the optimizer's own `lr` is the base rate).
"""
from __future__ import annotations

import math

from .optimizers import _check_number
from .validation import check_int


class Schedule:
    """Base class of the learning-rate schedules.

    A subclass defines `lr`, and `reset` if it keeps state between epochs.

    Examples
    --------
    >>> from fastprop.schedules import Schedule
    >>> class Halving(Schedule):
    ...     def lr(self, epoch, base_lr, logs):
    ...         return base_lr / 2 ** epoch
    >>> Halving().lr(3, 0.8, {})
    0.1
    """

    def reset(self) -> None:
        """Forget any state; `Model.fit` calls it at the start of each run."""

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch`.

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based within the run.
        base_lr : float
            The optimizer's own learning rate.
        logs : dict
            The metrics of the epochs before, as `History.logs` gives them.

        Returns
        -------
        float
            The rate epoch `epoch` trains with.

        Raises
        ------
        NotImplementedError
            In the base class.
        """
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The base rate throughout (what fit uses without a schedule).

    Examples
    --------
    >>> from fastprop.schedules import Constant
    >>> Constant().lr(7, 0.01, {})
    0.01
    """

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch`: `base_lr`.

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based.
        base_lr : float
            The optimizer's own learning rate.
        logs : dict
            The metrics of the epochs before (unused).

        Returns
        -------
        float
            `base_lr`.
        """
        return base_lr


class StepDecay(Schedule):
    """Multiply the rate by `gamma` every `step_size` epochs.

    The rate of epoch e is base_lr * gamma ** (e // step_size).

    Parameters
    ----------
    step_size : int
        Epochs between cuts, at least 1.
    gamma : float, default 0.1
        The factor of each cut, in (0, 1].

    Raises
    ------
    TypeError
        If `step_size` is not an integer or `gamma` not a real number.
    ValueError
        If `step_size` or `gamma` is out of range.

    Examples
    --------
    >>> from fastprop.schedules import StepDecay
    >>> s = StepDecay(step_size=10, gamma=0.5)
    >>> [s.lr(e, 1.0, {}) for e in (0, 9, 10, 25)]
    [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = _check_number("gamma", gamma, 0.0, 1.0, low_open=True)

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch`: base_lr * gamma ** (epoch // step_size).

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based.
        base_lr : float
            The optimizer's own learning rate.
        logs : dict
            The metrics of the epochs before (unused).

        Returns
        -------
        float
            The decayed rate.
        """
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """Multiply the rate by `gamma` every epoch: base_lr * gamma ** epoch.

    Parameters
    ----------
    gamma : float
        The factor per epoch, in (0, 1].

    Raises
    ------
    TypeError
        If `gamma` is not a real number.
    ValueError
        If `gamma` is out of range.

    Examples
    --------
    >>> from fastprop.schedules import ExponentialDecay
    >>> ExponentialDecay(0.5).lr(3, 1.0, {})
    0.125
    """

    def __init__(self, gamma: float) -> None:
        self.gamma = _check_number("gamma", gamma, 0.0, 1.0, low_open=True)

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch`: base_lr * gamma ** epoch.

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based.
        base_lr : float
            The optimizer's own learning rate.
        logs : dict
            The metrics of the epochs before (unused).

        Returns
        -------
        float
            The decayed rate.
        """
        return base_lr * self.gamma ** epoch


class CosineAnnealing(Schedule):
    """Anneal the rate from base_lr to `min_lr` along half a cosine over `T_max` epochs.

    The rate of epoch e < T_max is min_lr + (base_lr - min_lr) * (1 + cos(pi * e /
    T_max)) / 2, and min_lr from epoch T_max on.

    Parameters
    ----------
    T_max : int
        Epochs of the annealing, at least 1.
    min_lr : float, default 0.0
        The final rate, >= 0.

    Raises
    ------
    TypeError
        If `T_max` is not an integer or `min_lr` not a real number.
    ValueError
        If `T_max` or `min_lr` is out of range.

    Examples
    --------
    >>> from fastprop.schedules import CosineAnnealing
    >>> s = CosineAnnealing(T_max=4)
    >>> [round(s.lr(e, 1.0, {}), 4) for e in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    def __init__(self, T_max: int, min_lr: float = 0.0) -> None:
        self.T_max = check_int("T_max", T_max, 1)
        self.min_lr = _check_number("min_lr", min_lr)

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch` on the cosine curve.

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based.
        base_lr : float
            The optimizer's own learning rate.
        logs : dict
            The metrics of the epochs before (unused).

        Returns
        -------
        float
            The annealed rate; `min_lr` from epoch T_max on.
        """
        if epoch >= self.T_max:
            return self.min_lr
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * epoch
                                                                     / self.T_max)) / 2


class ReduceOnPlateau(Schedule):
    """Cut the rate when a metric stops improving (torch's ReduceLROnPlateau rule).

    The rate is multiplied by `factor` once `monitor` has not improved by more than
    `min_delta` for more than `patience` epochs; after a cut, `cooldown` epochs pass
    before counting again. The rate never goes below `min_lr`.

    Parameters
    ----------
    factor : float, default 0.1
        The factor of each cut, in (0, 1).
    patience : int, default 10
        Epochs without improvement tolerated before a cut, at least 0.
    min_delta : float, default 1e-4
        The smallest change that counts as an improvement, >= 0.
    cooldown : int, default 0
        Epochs to wait after a cut before counting again, at least 0.
    min_lr : float, default 0.0
        The lowest rate, >= 0.
    monitor : str or None, default None
        The metric watched: 'val_loss', 'loss', 'val_accuracy' or 'accuracy'
        (higher accuracies are better). None means val_loss when there is validation
        data, else loss.

    Raises
    ------
    TypeError
        If a setting has the wrong type.
    ValueError
        If a setting is out of range.

    Examples
    --------
    >>> from fastprop.schedules import ReduceOnPlateau
    >>> s = ReduceOnPlateau(factor=0.5, patience=1)
    >>> logs = {"loss": []}
    >>> rates = []
    >>> for epoch, loss in enumerate([1.0, 0.5, 0.5, 0.5, 0.5]):
    ...     rates.append(s.lr(epoch, 1.0, logs))
    ...     logs["loss"].append(loss)
    >>> rates
    [1.0, 1.0, 1.0, 1.0, 0.5]
    """

    def __init__(self, factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, monitor: str | None = None) -> None:
        self.factor = _check_number("factor", factor, 0.0, 1.0, low_open=True,
                                    high_open=True)
        self.patience = check_int("patience", patience, 0)
        self.min_delta = _check_number("min_delta", min_delta)
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.min_lr = _check_number("min_lr", min_lr)
        self.monitor = monitor
        self.reset()

    def reset(self) -> None:
        """Forget the best value, the counts and the current rate (at each fit's start)."""
        self._lr = None
        self._best = math.inf
        self._bad = 0
        self._cool = 0

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The learning rate for `epoch`, after looking at the last epoch's metric.

        Parameters
        ----------
        epoch : int
            The epoch about to train, 0-based.
        base_lr : float
            The optimizer's own learning rate (the rate before any cut).
        logs : dict
            The metrics of the epochs before, as `History.logs` gives them.

        Returns
        -------
        float
            The current rate, cut if the metric has plateaued.
        """
        # torch's rule: count epochs without improvement, none while cooling down,
        # and cut once the count passes `patience`.
        if self._lr is None:
            self._lr = base_lr
        key = self.monitor or ("val_loss" if logs.get("val_loss") else "loss")
        if logs.get(key):
            value = logs[key][-1]
            if key.endswith("accuracy"):
                value = -value        # higher is better
            if value < self._best - self.min_delta:
                self._best = value
                self._bad = 0
            else:
                self._bad += 1
            if self._cool > 0:
                self._cool -= 1
                self._bad = 0
            if self._bad > self.patience:
                self._lr = max(self._lr * self.factor, self.min_lr)
                self._cool = self.cooldown
                self._bad = 0
        return self._lr
