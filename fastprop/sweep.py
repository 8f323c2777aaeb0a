"""`sweep`: a hyperparameter grid cross-validated in as few compiled passes as the grid
allows.

    result = fp.sweep([64, 128, 10], {"lr": [1e-3, 3e-3], "l2": [0, 1e-4]}, X, y, cv=5,
                      loss="cross_entropy", epochs=20)
    result.best_params          # {'l2': 0, 'lr': 0.003}
    result.mean_val_loss        # one per grid point

Every (grid point, fold) pair is one network. Points that share an architecture and
the fit's shape (layer sizes, activations, loss, dtype, epochs, batch size, the kind
of optimizer) differ only in what an `Ensemble` takes per member (the learning rate,
l2, dropout, the optimizer's settings), so each such group of G points trains as one
Ensemble of G x k members, one pass per epoch over the data; other keys split the
grid into groups trained one after another. Member (point g, fold f) trains on the
fold's training rows and validates on its held-out rows, from the initial weights of
seed (seed, f): every point meets the same weights on the same fold. Each member is
the bits of `fp.Model(..., seed=that seed).fit(X[train_f], y[train_f],
validation_data=(X[val_f], y[val_f]), ...)` with the point's settings.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .ensemble import Ensemble
from .history import History
from .optimizers import _check_number, resolve_optimizer
from .sparse import is_sparse

# the grid keys an Ensemble takes per member; every other key splits the grid
PER_MEMBER_KEYS = ("lr", "l2", "dropout", "optimizer")
# Model's and Ensemble.fit's arguments a grid may vary between groups
MODEL_KEYS = ("layer_sizes", "activation", "loss", "dtype", "init", "blas_min")
FIT_KEYS = ("epochs", "batch_size", "shuffle", "early_stopping", "patience", "min_delta",
            "monitor")


class SweepResult:
    """What `sweep` measured, one row per grid point (in ParameterGrid's order);
    `sweep` makes it.

    Parameters
    ----------
    params : list of dict
        Each grid point's settings.
    val_loss : numpy.ndarray, shape (n_points, n_folds)
        Each member's validation loss: after its last epoch, or with early stopping
        at the epoch whose weights it kept.
    val_accuracy : numpy.ndarray or None
        The same for accuracy (classification losses), else None.
    histories : list of list of History
        histories[g][f]: member (point g, fold f)'s record.

    Attributes
    ----------
    mean_val_loss, std_val_loss : numpy.ndarray, shape (n_points,)
        Over the folds.
    best_index : int
        The point of lowest mean validation loss (the first of equals).
    best_params : dict
        Its settings.
    """

    def __init__(self, params: list[dict], val_loss: np.ndarray,
                 val_accuracy: np.ndarray | None, histories: list[list[History]]) -> None:
        self.params = params
        self.val_loss = val_loss
        self.val_accuracy = val_accuracy
        self.histories = histories
        self.mean_val_loss = val_loss.mean(axis=1)
        self.std_val_loss = val_loss.std(axis=1)
        self.best_index = int(np.argmin(self.mean_val_loss))
        self.best_params = dict(params[self.best_index])

    def __repr__(self):
        return (f"SweepResult({len(self.params)} points x {self.val_loss.shape[1]} folds, "
                f"best {self.best_params} at mean val_loss "
                f"{self.mean_val_loss[self.best_index]:.4g})")


def sweep(layer_sizes: Sequence[int], grid: Mapping[str, Sequence] | Sequence[Mapping],
          X: ArrayLike, y: ArrayLike, cv: Any = 5, *, epochs: int = 10,
          batch_size: int = 32, optimizer: Any = "adam", seed: int = 0,
          n_threads: int | None = None, sample_weight: ArrayLike | None = None,
          **kwargs) -> SweepResult:
    """Cross-validate every point of `grid`, each group of points that share an
    architecture as one Ensemble (see the module docstring).

    Parameters
    ----------
    layer_sizes : sequence of int
        The widths, input first (a grid may vary them with the key 'layer_sizes').
    grid : dict of lists, or list of such dicts
        scikit-learn's ParameterGrid form. Keys: 'lr', 'l2', 'dropout', 'optimizer'
        (a name or fastprop optimizer; trained together), and `fastprop.Model`'s
        'layer_sizes', 'activation', 'loss', 'dtype', 'init', 'blas_min' and fit's
        'epochs', 'batch_size', 'shuffle', 'early_stopping', 'patience', 'min_delta',
        'monitor' (each value its own group).
    X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
        Inputs, as `Model.fit` takes them.
    y : array_like
        Targets, as `Model.fit` takes them.
    cv : int, cross-validation splitter or iterable of (train, val) pairs, default 5
        As scikit-learn's check_cv takes it: an int is StratifiedKFold for a
        classification loss with 1-D labels, else KFold (neither shuffles).
    epochs, batch_size : int
        Every point's, unless the grid varies them.
    optimizer : str or Optimizer, default 'adam'
        Every point's (its settings; 'lr' in the grid replaces its rate).
    seed : int, default 0
        Fold f's members start from the weights of `Model(seed=` an integer drawn
        from SeedSequence((seed, f)) `)`.
    n_threads : int or None
        Threads sharing the members; the result is the same for any count.
    sample_weight : array_like or None
        One weight per row of X, as `Model.fit` takes it.
    **kwargs
        `fastprop.Model`'s other arguments and `Model.fit`'s (validation arguments
        excepted: the folds hold out the validation rows), shared by every point.

    Returns
    -------
    SweepResult
        The validation losses (and accuracies) per point and fold, and the best point.

    Raises
    ------
    ValueError, TypeError
        If the grid has an unknown key or an argument is refused.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    >>> result = fp.sweep([3, 8, 2], {"lr": [1e-3, 1e-2], "l2": [0.0, 1e-3]}, X, y,
    ...                   cv=3, loss="cross_entropy", epochs=2)
    >>> result.val_loss.shape            # 4 points x 3 folds, one Ensemble of 12
    (4, 3)
    >>> sorted(result.best_params)
    ['l2', 'lr']
    """
    from sklearn.model_selection import ParameterGrid, check_cv   # not at fastprop's import
    points = list(ParameterGrid(grid))
    for point in points:
        unknown = set(point) - set(PER_MEMBER_KEYS + MODEL_KEYS + FIT_KEYS)
        if unknown:
            raise ValueError(f"grid key(s) {sorted(unknown)} unknown; a grid varies "
                             f"{', '.join(PER_MEMBER_KEYS + MODEL_KEYS + FIT_KEYS)}")
    for name in ("validation_data", "validation_split", "rows", "validation_rows",
                 "folds", "bootstrap", "client"):
        if name in kwargs:
            raise ValueError(f"sweep holds out each fold's rows itself: {name} is not "
                             f"an argument of sweep")
    n = X.shape[0] if is_sparse(X) else len(X)
    loss = kwargs.get("loss", "mse")
    labels = np.asarray(y)
    classifier = loss in ("cross_entropy", "binary_cross_entropy") and labels.ndim == 1
    folds = list(check_cv(cv, labels if classifier else None,
                          classifier=classifier).split(np.zeros((n, 1)), labels))
    k = len(folds)
    seeds = [int(np.random.SeedSequence((seed, f)).generate_state(1)[0]) for f in range(k)]
    fit_defaults = dict(epochs=epochs, batch_size=batch_size)
    fit_names = set(FIT_KEYS) | {"restore_best", "schedule", "callbacks"}
    model_kwargs = {key: v for key, v in kwargs.items() if key not in fit_names}
    fit_kwargs = {**fit_defaults, **{key: v for key, v in kwargs.items() if key in fit_names}}

    val_loss = np.zeros((len(points), k))
    val_accuracy = np.zeros((len(points), k))
    histories = [[None] * k for _ in points]
    for group in _groups(points, optimizer):
        shared = {key: v for key, v in points[group[0]].items() if key not in PER_MEMBER_KEYS}
        sizes = shared.pop("layer_sizes", layer_sizes)
        g_model = {**model_kwargs, **{key: v for key, v in shared.items()
                                      if key in MODEL_KEYS}}
        g_fit = {**fit_kwargs, **{key: v for key, v in shared.items() if key in FIT_KEYS}}
        members = [(g, f) for g in group for f in range(k)]
        per = {name: [points[g].get(name, model_kwargs.get(name, 0.0)) for g, _ in members]
               for name in ("l2", "dropout")}
        g_model.update(per)
        ensemble = Ensemble(sizes, n_members=len(members), seeds=[seeds[f] for _, f in members],
                            **g_model)
        result = ensemble.fit(
            X, y, optimizer=[_optimizer(points[g], optimizer) for g, _ in members],
            rows=[folds[f][0] for _, f in members],
            validation_rows=[folds[f][1] for _, f in members],
            n_threads=n_threads, sample_weight=sample_weight, **g_fit)
        for (g, f), history in zip(members, result):
            at = -1 if history.best_epoch is None else history.best_epoch
            val_loss[g, f] = history.val_loss[at]
            val_accuracy[g, f] = history.val_accuracy[at] if history.val_accuracy \
                else np.nan
            histories[g][f] = history
    classified = all(h.val_accuracy for row in histories for h in row)
    return SweepResult(points, val_loss, val_accuracy if classified else None, histories)


def _optimizer(point, default):
    """The point's optimizer: its 'optimizer' (or the default), a copy at its 'lr'."""
    chosen = copy.deepcopy(resolve_optimizer(point.get("optimizer", default)))
    if "lr" in point:
        chosen.lr = _check_number("lr", point["lr"])
    return chosen


def _groups(points, default_optimizer):
    """The points' indices grouped by everything an Ensemble cannot vary per member
    (the non-per-member keys, and the optimizer's kind), in the grid's order."""
    groups: dict[tuple, list[int]] = {}
    for i, point in enumerate(points):
        kind = type(resolve_optimizer(point.get("optimizer", default_optimizer))).__name__
        key = (kind,) + tuple(sorted((name, repr(v)) for name, v in point.items()
                                     if name not in PER_MEMBER_KEYS))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


__all__ = ["sweep", "SweepResult"]
