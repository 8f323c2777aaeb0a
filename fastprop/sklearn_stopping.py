"""The per-epoch rules of scikit-learn's stochastic solvers, for fastprop.sklearn: the
learning-rate schedule (learning_rate='constant', 'invscaling', 'adaptive') and the
bookkeeping after each epoch (loss curve, samples seen, the no-improvement count,
validation scores, best weights, stopping), run as a `Model.fit` callback.

They follow sklearn.neural_network's BaseMultilayerPerceptron._fit_stochastic and
_update_no_improvement_count, and its SGD optimizer's iteration_ends and
trigger_stopping, step for step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .schedules import Schedule

SMALLEST_ADAPTIVE_LR = 1e-6      # 'adaptive' stops once the rate is at most this


class LearningRate(Schedule):
    """scikit-learn's learning_rate for solver='sgd', as a factor of the optimizer's lr.

    'constant' keeps the factor 1; 'invscaling' sets it to 1 / (t + 1) ** power_t
    after each epoch, t being the samples seen (`iteration_ends`); 'adaptive' divides
    it by 5 where the no-improvement rule fires (`reduce`). The factor is kept across
    fits that continue an optimizer (partial_fit), so `reset` forgets nothing.

    Parameters
    ----------
    kind : {'constant', 'invscaling', 'adaptive'}
        The rule.
    power_t : float
        The exponent of 'invscaling'.
    factor : float, default 1.0
        The factor to start from.
    """

    def __init__(self, kind: str, power_t: float, factor: float = 1.0) -> None:
        self.kind = kind
        self.power_t = power_t
        self.factor = factor

    def reset(self) -> None:
        """Keep the factor: scikit-learn's optimizer carries it over partial_fit calls."""

    def lr(self, epoch: int, base_lr: float, logs: dict[str, list]) -> float:
        """The rate of the next epoch: `base_lr` times the factor.

        Parameters
        ----------
        epoch : int
            The epoch about to train (unused: the factor holds the state).
        base_lr : float
            The optimizer's own learning rate (scikit-learn's learning_rate_init).
        logs : dict
            The metrics of the epochs before (unused).

        Returns
        -------
        float
            base_lr * factor.
        """
        return base_lr * self.factor

    def iteration_ends(self, t: int) -> None:
        """After an epoch, t samples having been seen in all: 'invscaling' rescales.

        Parameters
        ----------
        t : int
            The samples seen, this epoch's included.
        """
        if self.kind == "invscaling":
            self.factor = 1.0 / (t + 1) ** self.power_t

    def reduce(self, base_lr: float) -> bool:
        """Where the no-improvement rule fires: whether training stops. 'adaptive'
        divides the rate by 5 instead, until it is at most SMALLEST_ADAPTIVE_LR.

        Parameters
        ----------
        base_lr : float
            The optimizer's own learning rate.

        Returns
        -------
        bool
            True to stop.
        """
        if self.kind != "adaptive" or base_lr * self.factor <= SMALLEST_ADAPTIVE_LR:
            return True
        self.factor /= 5.0
        return False


@dataclass
class Progress:
    """The estimator's training record, named as its fitted attributes (the last two
    are private): what EpochRules updates and the estimator commits after a fit."""
    n_iter_: int = 0
    t_: int = 0
    loss_: float | None = None
    loss_curve_: list = field(default_factory=list)
    best_loss_: float | None = None
    validation_scores_: list | None = None
    best_validation_score_: float | None = None
    _no_improvement_count: int = 0
    _best_params: np.ndarray | None = None


class EpochRules:
    """A `Model.fit` callback: scikit-learn's bookkeeping after each epoch.

    Parameters
    ----------
    progress : Progress
        The record to update (the caller's copy; the estimator commits it).
    model : fastprop.Model
        The model trained: its flat parameters (as they are then: an ensemble
        re-points them) are copied into progress._best_params where the validation
        score improves.
    n_samples : int
        The training samples of an epoch (t_ grows by this).
    tol, n_iter_no_change : float
        The no-improvement rule: an epoch improves where its training loss is below
        best_loss_ - tol (with early stopping: its validation score is at least
        best_validation_score_ + tol); more than n_iter_no_change epochs in a row
        without improvement fire the rule.
    score : callable or None
        score() -> the validation score after the epoch (NaN where the predictions
        are not finite); None without early stopping.
    schedule : LearningRate
        Rescaled after each epoch; decides whether the rule stops training.
    base_lr : float
        The optimizer's own learning rate.
    verbose : bool
        Print scikit-learn's lines ("Iteration 3, loss = ...").
    """

    def __init__(self, progress, model, n_samples, tol, n_iter_no_change, score,
                 schedule, base_lr, verbose):
        self.progress = progress
        self.model = model
        self.n_samples = n_samples
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.score = score
        self.schedule = schedule
        self.base_lr = base_lr
        self.verbose = verbose
        self.stopped = False       # True once the rule stopped training

    def __call__(self, epoch, logs):
        self.epoch_ends(float(logs["loss"][-1]))
        return self.stopped

    def epoch_ends(self, loss):
        """Record an epoch of mean training loss `loss` (NaN for one that diverged) and
        apply the rules; sets self.stopped where training is to stop."""
        p = self.progress
        p.n_iter_ += 1
        p.loss_ = loss
        p.t_ += self.n_samples
        p.loss_curve_.append(loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (p.n_iter_, loss))
        self._count_no_improvement()
        self.schedule.iteration_ends(p.t_)
        if p._no_improvement_count > self.n_iter_no_change:
            if self.score is not None:
                msg = ("Validation score did not improve more than tol=%f for %d "
                       "consecutive epochs." % (self.tol, self.n_iter_no_change))
            else:
                msg = ("Training loss did not improve more than tol=%f for %d "
                       "consecutive epochs." % (self.tol, self.n_iter_no_change))
            if self.schedule.reduce(self.base_lr):
                if self.verbose:
                    print(msg + (" Learning rate too small. Stopping."
                                 if self.schedule.kind == "adaptive" else " Stopping."))
                self.stopped = True
            else:
                p._no_improvement_count = 0
                if self.verbose:
                    print(msg + " Setting learning rate to %f"
                          % (self.base_lr * self.schedule.factor))

    def _count_no_improvement(self):
        """scikit-learn's _update_no_improvement_count: every comparison with a NaN is
        False, so a NaN score or loss resets the count and is never the best."""
        p = self.progress
        if self.score is not None:
            value = float(self.score())
            p.validation_scores_.append(value)
            if self.verbose:
                print("Validation score: %f" % value)
            if value < p.best_validation_score_ + self.tol:
                p._no_improvement_count += 1
            else:
                p._no_improvement_count = 0
            if value > p.best_validation_score_:
                p.best_validation_score_ = value
                np.copyto(p._best_params, self.model.params)
        else:
            last = p.loss_curve_[-1]
            if last > p.best_loss_ - self.tol:
                p._no_improvement_count += 1
            else:
                p._no_improvement_count = 0
            if last < p.best_loss_:
                p.best_loss_ = last

