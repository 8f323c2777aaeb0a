"""scikit-learn estimators of K networks trained together: `MLPEnsembleClassifier` and
`MLPEnsembleRegressor` (exported by fastprop.sklearn).

    from fastprop.sklearn import MLPEnsembleClassifier
    clf = MLPEnsembleClassifier(n_estimators=8, hidden_layer_sizes=(64,), bootstrap=True,
                                random_state=0).fit(X, y)
    clf.predict_proba(X_test)            # the members' mean probabilities

Member k is the MLP estimator with the same parameters and ``random_state=seeds[k]``
(K seeds drawn from `random_state`, as scikit-learn's bagging draws them), fitted on X,
or with bootstrap=True on its bootstrap sample ``X[estimators_samples_[k]]`` (rows
``numpy.random.default_rng((seeds[k], 4)).integers(0, n, n)``). The stochastic solvers
train all K in one pass per epoch (`fastprop.Ensemble`), each member the bits of its
own fit; lbfgs fits the members one after another. Members know every class of y,
including one their bootstrap sample lacks, and class_weight='balanced' weighs the
classes of the whole y.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import check_is_fitted, validate_data

from .ensemble import Ensemble
from .optimizers import Optimizer
from .sklearn import (FLOAT_DTYPES, NON_FINITE, SPARSE_FORMATS, MLPClassifier, MLPRegressor,
                      NonFiniteWeightsError, _BaseMLP, _indent, _model_input)
from .sklearn_params import (CLASS_WEIGHT_PARAM, CLASSIFIER_CONSTRAINTS, FASTPROP_PARAMS,
                             LOSS_PARAM, REGRESSOR_CONSTRAINTS, SKLEARN_PARAMS, check_params)
from .sklearn_targets import check_sample_weight, decode_classes

ENSEMBLE_CONSTRAINTS = {"n_estimators": [Interval(Integral, 1, None, closed="left")],
                        "bootstrap": ["boolean"],
                        "n_jobs": [None, Interval(Integral, 1, None, closed="left"),
                                   Options(Integral, {-1})]}
ENSEMBLE_PARAMS = """\
n_estimators : int, default 5
    K, the number of member networks.
bootstrap : bool, default False
    Train each member on its own bootstrap sample of the rows (bagging); False trains
    every member on all of them, from its own initial weights and batch order.
"""
JOBS_PARAM = """\
n_jobs : int or None, default None
    Threads sharing the members (each member's steps on one thread); None or -1: every
    core this process may use. The result is the same for any count.
"""
ENSEMBLE_ATTRIBUTES = """\
estimators_ : list of MLP estimators
    The K fitted members (fastprop.sklearn.MLPClassifier or MLPRegressor), each with
    its own random_state and fitted attributes (``coefs_``, ``loss_curve_``, ...).
n_iter_ : numpy.ndarray of int, shape (n_estimators,)
    Each member's epochs (or lbfgs iterations) in the last fit.
estimators_samples_ : list of numpy.ndarray or None
    Each member's bootstrap rows (with bootstrap=True), else None.
n_features_in_ : int
    The number of features seen by fit.
feature_names_in_ : numpy.ndarray of str
    The feature names seen by fit, where X had string column names.
n_outputs_ : int
    The number of network outputs.
out_activation_ : str
    The output activation, as the members'.
"""


class _BaseMLPEnsemble(BaseEstimator):
    """What the two ensembles share: the members' construction, the joint fit,
    prediction through the members' networks."""

    _member_class: type = MLPClassifier

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> _BaseMLPEnsemble:
        """Fit the K members to X and y.

        New members are drawn, or with warm_start=True a fitted ensemble's members
        continue from their current weights (each with a new optimizer, as the MLP
        estimators continue). A call that raises leaves the estimator as it was.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)
            Class labels (or a multilabel 0/1 indicator matrix), or regression targets.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0, not all 0 (a member's bootstrap rows keep their weights).

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, X, y or sample_weight is refused, warm_start
            meets another n_estimators, or training diverges (the estimator is then
            unchanged).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            Where a member ran out of max_iter before its stopping criterion was met
            (one warning for all such members).
        """
        self._validate_params()
        check_params(self)
        first_pass = not hasattr(self, "estimators_") or not self.warm_start
        if not first_pass and len(self.estimators_) != self.n_estimators:
            raise ValueError(f"warm_start continues the {len(self.estimators_)} members "
                             f"fitted before; n_estimators is now {self.n_estimators}")
        lead = self._member(0)
        X, y, fitted = self._validate_X_y(X, y, reset=first_pass)
        w = lead._weighted(check_sample_weight(sample_weight, X), y)
        data = (lead if first_pass else self.estimators_[0])._targets(y, first_pass, False,
                                                                     None)
        rs = check_random_state(self.random_state)
        rs_state = rs.get_state() if isinstance(self.random_state, np.random.RandomState) \
            else None
        try:
            members = self._members(rs) if first_pass else [   # trained, then committed
                copy.deepcopy(m).set_params(**self._member_params(m.random_state))
                for m in self.estimators_]
            samples, outcomes, pending = self._fit_members(members, X, data, w, first_pass)
        except BaseException:
            if rs_state is not None:
                rs.set_state(rs_state)
            raise
        for member, member_fitted in zip(members, outcomes):
            member._commit(member_fitted)
        fitted.update(data.fitted, estimators_=members, estimators_samples_=samples,
                      n_iter_=np.array([m.n_iter_ for m in members]),
                      n_outputs_=members[0].n_outputs_,
                      out_activation_=members[0].out_activation_)
        self._commit(fitted)
        for message, category in dict.fromkeys(pending):      # each message once
            warnings.warn(message, category, stacklevel=2)
        return self

    # the MLP estimators' own: validate_data that leaves self untouched, and the commit
    _validate_X_y = _BaseMLP._validate_X_y
    _commit = _BaseMLP._commit

    def _member_params(self, seed):
        """A member's parameters: this ensemble's MLP parameters, random_state `seed`."""
        params = {name: getattr(self, name) for name in self._member_class._get_param_names()}
        params["random_state"] = seed
        return params

    def _member(self, seed):
        return self._member_class(**self._member_params(seed))

    def _members(self, rs):
        seeds = rs.randint(np.iinfo(np.int32).max, size=self.n_estimators)
        return [self._member(int(seed)) for seed in seeds]

    def _fit_members(self, members, X, data, w, first_pass):
        """Train `members` (estimators, not yet committed) on X: their bootstrap rows,
        and for each member the attributes its fit commits, and the warnings."""
        n = X.shape[0]
        samples = [np.random.default_rng((m.random_state, 4)).integers(0, n, n)
                   if self.bootstrap else None for m in members]
        common = {"n_features_in_": X.shape[1], **data.fitted}
        outcomes, pending, plans = [], [], []
        for member, rows in zip(members, samples):
            data_k = data if rows is None else data.take(rows)
            w_k = w if rows is None or w is None else w[rows]
            rs_k = check_random_state(member.random_state)
            fitted = dict(common)
            init, model = member._begin(X, data_k, first_pass, rs_k, fitted)
            outcomes.append(fitted)
            if self.solver == "lbfgs":       # scipy drives each member's own fit
                model = model or member._new_model(init, data_k, X, rs_k)
                member._fit_lbfgs(model, X if rows is None else X[rows], data_k, w_k,
                                  fitted, pending)
            else:
                plans.append(member._stochastic_plan(model, init, X, data_k, w_k, False,
                                                     first_pass, rs_k, rows))
        if plans:
            self._fit_plans(members, plans, X, data, w, outcomes, pending)
        return samples, outcomes, pending

    def _fit_plans(self, members, plans, X, data, w, outcomes, pending):
        """The members' stochastic fits in one Ensemble.fit: each member's rows,
        optimizer, schedule, l2 and scikit-learn's stopping rules (its EpochRules as
        the member's callback)."""
        lead = plans[0].fit_kwargs
        n = X.shape[0]
        rows = None if all(p.rows is None for p in plans) else \
            [np.arange(n) if p.rows is None else p.rows for p in plans]

        def rules(epoch, logs):
            return plans[logs["member"]].rules(epoch, logs)

        ensemble = Ensemble.from_members([p.model for p in plans])
        try:
            histories = ensemble.fit(
                _model_input(X), data.targets, epochs=lead["epochs"],
                batch_size=lead["batch_size"], shuffle=lead["shuffle"],
                optimizer=[p.fit_kwargs["optimizer"] for p in plans],
                schedule=[p.schedule for p in plans], l2=[p.l2 for p in plans],
                sample_weight=w, rows=rows, callbacks=rules,
                n_threads=None if self.n_jobs in (None, -1) else self.n_jobs)
        except FloatingPointError as err:
            raise NonFiniteWeightsError(NON_FINITE) from err
        for member, plan, history, fitted in zip(members, plans, histories, outcomes):
            member._stochastic_outcome(plan, history, False, fitted, pending)

    # ------------------------------------------------------------------ inference
    def _outputs(self, X):
        """Each member's network output on X: (K, n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=SPARSE_FORMATS, reset=False,
                          dtype=FLOAT_DTYPES)
        X = _model_input(X)
        return np.stack([m._current_model().predict(X) for m in self.estimators_])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPEnsembleClassifier(ClassifierMixin, _BaseMLPEnsemble):
    _parameter_constraints = {**CLASSIFIER_CONSTRAINTS, **ENSEMBLE_CONSTRAINTS}
    _member_class = MLPClassifier

    __doc__ = f"""K multi-layer perceptron classifiers trained together by fastprop.

    Predictions average the members' probabilities (see the module docstring for how
    the members are drawn and trained).

    Parameters
    ----------
{_indent(ENSEMBLE_PARAMS)}
{_indent(SKLEARN_PARAMS)}
{_indent(CLASS_WEIGHT_PARAM)}
{_indent(FASTPROP_PARAMS)}
{_indent(JOBS_PARAM)}
    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels (for a multilabel fit, 0..n_labels-1).
{_indent(ENSEMBLE_ATTRIBUTES)}
    See Also
    --------
    MLPClassifier : One member.
    fastprop.Ensemble : The networks it trains.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprop.sklearn import MLPEnsembleClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 4))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = MLPEnsembleClassifier(n_estimators=3, hidden_layer_sizes=(8,),
    ...                             solver="lbfgs", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> len(clf.estimators_)
    3
    """

    def __init__(self, n_estimators: int = 5, *, bootstrap: bool = False,
                 hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu",
                 solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5,
                 max_iter: int = 200, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool | int = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 class_weight: dict | str | None = None, dropout: float | Sequence[float] = 0.0,
                 optimizer: str | Optimizer | None = None, dtype: str | None = None,
                 early_stopping_metric: str = "score", n_jobs: int | None = None) -> None:
        params = dict(locals())
        del params["self"]
        vars(self).update(params)     # each parameter as given (scikit-learn's rule)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The members' mean probability estimates.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            (n_samples, n_classes), columns in the order of `classes_`; for a
            multilabel fit, each label's mean probability (n_samples, n_labels).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        out = self._outputs(X).mean(axis=0, dtype=np.float64)
        if out.shape[1] == 1:
            p = out[:, 0]
            return np.column_stack([1 - p, p])
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class of highest mean probability.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            Labels from `classes_`, shape (n_samples,); for a multilabel fit, the 0/1
            matrix of mean probabilities > 0.5.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        out = self._outputs(X).mean(axis=0, dtype=np.float64)
        return decode_classes(out, self.classes_, self.out_activation_)


class MLPEnsembleRegressor(RegressorMixin, _BaseMLPEnsemble):
    _parameter_constraints = {**REGRESSOR_CONSTRAINTS, **ENSEMBLE_CONSTRAINTS}
    _member_class = MLPRegressor

    __doc__ = f"""K multi-layer perceptron regressors trained together by fastprop.

    Predictions are the members' mean (see the module docstring for how the members
    are drawn and trained).

    Parameters
    ----------
{_indent(ENSEMBLE_PARAMS)}
{_indent(LOSS_PARAM)}
{_indent(SKLEARN_PARAMS)}
{_indent(FASTPROP_PARAMS)}
{_indent(JOBS_PARAM)}
    Attributes
    ----------
{_indent(ENSEMBLE_ATTRIBUTES)}
    See Also
    --------
    MLPRegressor : One member.
    fastprop.Ensemble : The networks it trains.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprop.sklearn import MLPEnsembleRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> reg = MLPEnsembleRegressor(n_estimators=3, hidden_layer_sizes=(16,),
    ...                            solver="lbfgs", random_state=0).fit(X, y)
    >>> reg.predict(X[:4]).shape
    (4,)
    """

    def __init__(self, n_estimators: int = 5, *, bootstrap: bool = False,
                 loss: str = "squared_error",
                 hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu",
                 solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5,
                 max_iter: int = 200, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool | int = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 dropout: float | Sequence[float] = 0.0,
                 optimizer: str | Optimizer | None = None, dtype: str | None = None,
                 early_stopping_metric: str = "score", n_jobs: int | None = None) -> None:
        params = dict(locals())
        del params["self"]
        vars(self).update(params)     # each parameter as given (scikit-learn's rule)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The members' mean prediction.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            (n_samples,) for a single target, else (n_samples, n_targets).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        out = self._outputs(X).mean(axis=0, dtype=np.float64)
        return out.ravel() if out.shape[1] == 1 else out


__all__ = ["MLPEnsembleClassifier", "MLPEnsembleRegressor"]
