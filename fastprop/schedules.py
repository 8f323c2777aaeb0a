"""Learning-rate schedules, applied between epochs: lr for epoch e (0-based) from the
optimizer's base lr. The formulas are torch.optim.lr_scheduler's."""
import math

from .optimizers import _check_number
from .validation import check_int


class Schedule:
    """Base: `lr(epoch, base_lr, logs)` gives the rate for `epoch`; `logs` holds the
    metrics of the epochs before (for schedules that react to them)."""

    def reset(self):
        """Forget any state (called at the start of each fit)."""

    def lr(self, epoch, base_lr, logs):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The base rate throughout."""

    def lr(self, epoch, base_lr, logs):
        return base_lr


class StepDecay(Schedule):
    """base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = _check_number("gamma", gamma, 0.0, 1.0, low_open=True)

    def lr(self, epoch, base_lr, logs):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """base_lr * gamma ** epoch."""

    def __init__(self, gamma):
        self.gamma = _check_number("gamma", gamma, 0.0, 1.0, low_open=True)

    def lr(self, epoch, base_lr, logs):
        return base_lr * self.gamma ** epoch


class CosineAnnealing(Schedule):
    """min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / T_max)) / 2, then min_lr."""

    def __init__(self, T_max, min_lr=0.0):
        self.T_max = check_int("T_max", T_max, 1)
        self.min_lr = _check_number("min_lr", min_lr)

    def lr(self, epoch, base_lr, logs):
        if epoch >= self.T_max:
            return self.min_lr
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * epoch
                                                                     / self.T_max)) / 2


class ReduceOnPlateau(Schedule):
    """Multiply the rate by `factor` when `monitor` (default: val_loss when there is
    validation data, else loss) has not improved by more than `min_delta` for
    `patience` epochs; wait `cooldown` epochs after a cut; never below `min_lr`."""

    def __init__(self, factor=0.1, patience=10, min_delta=1e-4, cooldown=0, min_lr=0.0,
                 monitor=None):
        self.factor = _check_number("factor", factor, 0.0, 1.0, low_open=True,
                                    high_open=True)
        self.patience = check_int("patience", patience, 0)
        self.min_delta = _check_number("min_delta", min_delta)
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.min_lr = _check_number("min_lr", min_lr)
        self.monitor = monitor
        self.reset()

    def reset(self):
        self._lr = None
        self._best = math.inf
        self._bad = 0
        self._cool = 0

    def lr(self, epoch, base_lr, logs):
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
