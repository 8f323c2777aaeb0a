"""scikit-learn estimators trained by fastprop: `MLPClassifier` and `MLPRegressor`.

    from fastprop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0).fit(X, y)
    clf.predict_proba(X_test)

They are drop-in replacements for `sklearn.neural_network.MLPClassifier` and
`MLPRegressor`: the same parameters (names, defaults, meaning, validation), solvers
('lbfgs', 'sgd', 'adam'), learning-rate schedules, stopping rules, warnings, fitted
attributes and shapes (a binary classifier has one logistic output), initialisation
(the same draws from the same `random_state`), `sample_weight` in `fit` and
`partial_fit`, sparse input, and they work in pipelines, `clone`, `GridSearchCV` and
with joblib. The network is a `fastprop.Model`, kept in `model_`; `coefs_` and
`intercepts_` are views into its parameters. fastprop adds `class_weight`
(classifier), `dropout`, `optimizer` (any fastprop optimizer for the stochastic
solvers), `dtype` and `early_stopping_metric`.

Where fastprop still differs::

    L2 of a batch   the stochastic solvers use one l2 = alpha / batch_size for every
                    batch, where scikit-learn uses alpha / len(batch): the last, smaller
                    batch of an epoch gets a lighter penalty. With sample weights, l2 =
                    alpha / (batch_size * mean weight) where scikit-learn uses alpha /
                    (the batch's sum of weights).
    Adam's eps      is added to the root of the bias-corrected second moment (torch's
                    placement); scikit-learn adds it before the correction, which
                    amounts to eps / sqrt(1 - beta_2**t) in the first steps.
    momentum        with learning_rate='invscaling' or 'adaptive', SGD's momentum buffer
                    is scaled by the current rate (torch's rule); scikit-learn keeps the
                    rates of earlier steps in its velocity. Equal at a constant rate.
    loss_           is measured during the epoch (each batch before its update), as in
                    scikit-learn; for several outputs, squared_error's loss_ is summed
                    over the outputs (scikit-learn reports their mean, though it follows
                    the gradient of the sum).
    divergence      a stochastic fit whose cost becomes non-finite stops there: without
                    early_stopping it raises scikit-learn's "Solver produced non-finite
                    parameter weights" ValueError (also a FloatingPointError) and leaves
                    the estimator as it was; with early_stopping the epoch's validation
                    score is NaN and the best weights are kept, as in scikit-learn,
                    which goes on training NaNs until max_iter.
    shuffling       uses the Model's generator (seeded from random_state), not
                    scikit-learn's draws: the initial weights and the validation split
                    match scikit-learn's for the same random_state, the batch orders
                    do not.

A call that raises (an invalid parameter, refused data, divergence, anything else)
leaves the estimator as it was. Fitted estimators pickle (and joblib.dump) through
fastprop.io's arrays, never by pickling the compiled kernels' buffers.
"""
from __future__ import annotations

import copy
import math
import textwrap
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .io import from_arrays, to_arrays
from .lbfgs import convergence_message, minimize_lbfgs
from .model import Model
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .sklearn_params import (CLASS_WEIGHT_PARAM, CLASSIFIER_CONSTRAINTS, FASTPROP_PARAMS,
                             FITTED_ATTRIBUTES, LOSS_PARAM, REGRESSOR_CONSTRAINTS,
                             SKLEARN_PARAMS, STOCHASTIC_SOLVERS, check_params,
                             hidden_activations, hidden_sizes)
from .sklearn_stopping import EpochRules, LearningRate, Progress
from .sklearn_targets import Targets, check_sample_weight, decode_classes

FLOAT_DTYPES = (np.float64, np.float32)   # validate_data keeps float32, else float64
SPARSE_FORMATS = ["csr", "csc"]
OTHER_OPTIMIZERS = {"adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
                    "adadelta": Adadelta}
# the Model loss of each output activation (scikit-learn's out_activation_ names)
LOSS_OF_OUTPUT = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
                  "identity": "mse", "exp": "poisson"}
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain "
              "large values and need to be preprocessed.")


def _indent(text):
    """A parameter block of sklearn_params, indented for a class docstring."""
    return textwrap.indent(text, "    ")


class NonFiniteWeightsError(ValueError, FloatingPointError):
    """Training diverged: scikit-learn's ValueError, and fastprop's FloatingPointError."""


def _model_input(X):
    """X as the Model takes it: an array, or a sparse matrix in CSR (rows)."""
    return X.tocsr() if scipy.sparse.issparse(X) else X


class _Plan:
    """A stochastic fit prepared (`_BaseMLP._stochastic_plan`): model, rows (of X, or
    None: all), targets, fit_kwargs (Model.fit's other arguments), rules (the
    EpochRules callback), progress, schedule, l2, n_outputs."""

    def __init__(self, **fields):
        vars(self).update(fields)


class _BaseMLP(BaseEstimator):
    """What the classifier and regressor share: the parameters, the solvers, the
    fitted attributes and pickling."""

    # ------------------------------------------------------------------ fitting
    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> _BaseMLP:
        """Fit the model to X and y.

        A new network is drawn, or with warm_start=True a fitted estimator continues
        from its current weights (with a new optimizer). A call that raises leaves the
        estimator as it was.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)
            Class labels (or, for the classifier, a multilabel 0/1 indicator matrix),
            or regression targets.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0, not all 0: each batch then minimises its weighted mean cost.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid (scikit-learn's InvalidParameterError), X, y or
            sample_weight is refused, or training diverges (the estimator is then
            unchanged).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            If max_iter epochs (or lbfgs iterations, or max_fun evaluations) ran out
            before the stopping criterion was met.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _stochastic_solver(self):
        """available_if's test of partial_fit: scikit-learn's AttributeError for lbfgs."""
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic "
                                 f"optimizers. {self.solver} is not stochastic.")
        return True

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """fit (incremental=False) or partial_fit (True).

        Everything that can refuse the call runs before any attribute is assigned:
        parameters, data, the network's construction and its training, which work on
        locals. Only _commit, after training returned, changes the estimator, so a
        call that raises leaves it as it was. A continued fit (warm_start,
        partial_fit) trains model_ in place; a Model.fit that raises puts the model
        back itself, and lbfgs writes the model's parameters only on success."""
        self._validate_params()
        check_params(self)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or not (self.warm_start or incremental)
        X, y, fitted = self._validate_X_y(X, y, reset=first_pass)
        sample_weight = self._weighted(check_sample_weight(sample_weight, X), y)
        data = self._targets(y, first_pass, incremental, classes)
        fitted.update(data.fitted)
        if not first_pass and getattr(self, "out_activation_", data.out_activation) \
                != data.out_activation:
            raise ValueError(f"y needs a network with {data.out_activation!r} outputs; "
                             f"this one was fitted with {self.out_activation_!r} outputs")
        # a RandomState random_state is drawn from; a call that fails leaves it where it
        # was, so that retrying draws the same network
        rs = check_random_state(self.random_state)
        rs_state = rs.get_state() if isinstance(self.random_state, np.random.RandomState) \
            else None
        pending = []        # warnings, issued once the fit is committed
        try:
            init, model = self._begin(X, data, first_pass, rs, fitted)
            if self.solver == "lbfgs":
                model = model or self._new_model(init, data, X, rs)
                self._fit_lbfgs(model, X, data, sample_weight, fitted, pending)
            else:
                self._fit_stochastic(model, init, X, data, sample_weight, incremental,
                                     first_pass, rs, fitted, pending)
        except BaseException:
            if rs_state is not None:
                rs.set_state(rs_state)
            raise
        self._commit(fitted)
        # after the commit: a warning turned into an error reports on a consistent
        # estimator
        for message, category in pending:
            warnings.warn(message, category, stacklevel=3)
        return self

    def _begin(self, X, data, first_pass, rs, fitted):
        """(init, model) as _initial_network gives them; a first pass also records
        the attributes every new fit starts from in `fitted`."""
        init, model = self._initial_network(X, data, first_pass, rs)
        if first_pass:
            fitted.update(n_iter_=0, t_=0, n_layers_=len(hidden_sizes(self)) + 2,
                          out_activation_=data.out_activation)
        return init, model

    def _validate_X_y(self, X, y, reset):
        """validate_data(self, X, y, ...) that leaves self untouched. With reset=True
        validate_data sets n_features_in_ and sets or deletes feature_names_in_; that
        runs on a shallow copy instead, and the values come back in a dict for
        _commit. reset=False only compares X with the fitted attributes."""
        check = dict(accept_sparse=SPARSE_FORMATS, multi_output=True, dtype=FLOAT_DTYPES,
                     y_numeric=not isinstance(self, ClassifierMixin))
        if not reset:
            X, y = validate_data(self, X, y, reset=False, **check)
            return X, y, {}
        scratch = object.__new__(type(self))     # no __init__, no pickling of model_
        vars(scratch).update(vars(self))
        X, y = validate_data(scratch, X, y, reset=True, **check)
        return X, y, {"n_features_in_": scratch.n_features_in_,
                      "feature_names_in_": getattr(scratch, "feature_names_in_", None)}

    def _commit(self, fitted):
        """Assign the fitted attributes of a call that succeeded, all in one place. A
        feature_names_in_ of None means the new X had no names: the old ones go."""
        fitted = dict(fitted)
        if "feature_names_in_" in fitted and fitted["feature_names_in_"] is None:
            del fitted["feature_names_in_"]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        for name, value in fitted.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ the network
    def _coefs_are_views(self):
        """Whether coefs_ and intercepts_ are model_'s own views (not arrays assigned
        by hand, which the next fit or prediction then takes)."""
        model = getattr(self, "model_", None)
        if not isinstance(model, Model):
            return False
        coefs, intercepts = getattr(self, "coefs_", None), getattr(self, "intercepts_", None)
        return (isinstance(coefs, list) and isinstance(intercepts, list)
                and len(coefs) == len(model.weights) == len(intercepts)
                and all(a is b for a, b in zip(coefs, model.weights))
                and all(a is b for a, b in zip(intercepts, model.biases)))

    def _initial_network(self, X, data, first_pass, rs):
        """(init, model): for a new network, its initial (coefs, intercepts), and model
        None (built once the early-stopping split has drawn from rs, as scikit-learn
        draws in that order); to continue, init None and the model to train:
        model_, or None with the weights (assigned by hand, or of a network whose
        activations, dropout or dtype the parameters have changed) as init."""
        if first_pass:
            units = [X.shape[1], *hidden_sizes(self), data.n_outputs]
            return self._draw_init(units, rs), None
        if self._coefs_are_views() and self._model_fits(self.model_, X):
            if self.model_.sizes[-1] != data.n_outputs:
                raise ValueError(f"y has {data.n_outputs} outputs but the network was "
                                 f"fitted with {self.model_.sizes[-1]}")
            return None, self.model_
        coefs = [np.asarray(c) for c in self.coefs_]
        intercepts = [np.asarray(b) for b in self.intercepts_]
        shapes_ok = (len(coefs) == len(intercepts) >= 1
                     and all(c.ndim == 2 for c in coefs)
                     and all(b.shape == (c.shape[1],) for c, b in zip(coefs, intercepts))
                     and all(a.shape[1] == b.shape[0] for a, b in zip(coefs, coefs[1:])))
        if not shapes_ok:
            raise ValueError("coefs_ and intercepts_ must be the (n_in, n_out) weight "
                             "matrices and (n_out,) bias vectors of consecutive layers")
        if coefs[0].shape[0] != X.shape[1] or coefs[-1].shape[1] != data.n_outputs:
            raise ValueError(f"coefs_ take {coefs[0].shape[0]} features to "
                             f"{coefs[-1].shape[1]} outputs; X has {X.shape[1]} features "
                             f"and y {data.n_outputs} outputs")
        return list(zip(coefs, intercepts)), None

    def _model_fits(self, model, X):
        """Whether model_ is the network the parameters ask for (else a continued fit
        rebuilds it from its weights)."""
        n_hidden = len(model.sizes) - 2
        return (model.activations[:-1] == hidden_activations(self, n_hidden)
                and model.dropout == self._dropout(n_hidden)
                and (self.dtype is None or model.dtype == np.dtype(self.dtype)))

    def _dropout(self, n_hidden):
        rates = self.dropout
        return [float(r) for r in ([rates] * n_hidden if np.ndim(rates) == 0 else rates)]

    def _draw_init(self, units, rs):
        """scikit-learn's initialisation: for each layer in turn, the weights then the
        biases uniform in +-sqrt(factor / (fan_in + fan_out)), factor 2 for logistic
        hidden layers (all of them), else 6 (Glorot)."""
        names = [self.activation] if isinstance(self.activation, str) else self.activation
        factor = 2.0 if all(a in ("logistic", "sigmoid") for a in names) else 6.0
        init = []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            intercept = rs.uniform(-bound, bound, fan_out)
            init.append((coef, intercept))
        return init

    def _new_model(self, init, data, X, rs):
        """A Model holding the weights `init`, its seed (shuffling, dropout) drawn from
        rs."""
        sizes = [init[0][0].shape[0]] + [c.shape[1] for c, _ in init]
        n_hidden = len(sizes) - 2
        dtype = X.dtype if self.dtype is None else np.dtype(self.dtype)
        model = Model(sizes, activation=hidden_activations(self, n_hidden), loss=data.loss,
                      dtype=dtype, seed=int(rs.randint(np.iinfo(np.int32).max)),
                      dropout=self._dropout(n_hidden))
        for W, b, (coef, intercept) in zip(model.weights, model.biases, init):
            W[...] = coef
            b[...] = intercept
        return model

    def _current_model(self):
        """The network predictions use: model_, or one holding coefs_ and intercepts_
        where those were assigned by hand."""
        if self._coefs_are_views():
            return self.model_
        coefs = [np.asarray(c) for c in self.coefs_]
        dtype = coefs[0].dtype if coefs[0].dtype in FLOAT_DTYPES else np.float64
        sizes = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
        model = Model(sizes, activation=hidden_activations(self, len(sizes) - 2),
                      loss=LOSS_OF_OUTPUT[self.out_activation_], dtype=dtype, seed=0)
        for W, b, coef, intercept in zip(model.weights, model.biases, coefs,
                                         self.intercepts_):
            W[...] = coef
            b[...] = intercept
        return model

    def _new_optimizer(self):
        """The optimizer of a stochastic fit: `optimizer`'s, else the solver's."""
        if isinstance(self.optimizer, Optimizer):
            return copy.deepcopy(self.optimizer)      # the parameter itself stays untouched
        name = self.solver if self.optimizer is None else self.optimizer
        lr = self.learning_rate_init
        if name == "sgd":
            return SGD(lr, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        if name == "adam":
            return Adam(lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        return OTHER_OPTIMIZERS[name](lr)

    # ------------------------------------------------------------------ solvers
    def _fit_lbfgs(self, model, X, data, sample_weight, fitted, pending):
        try:
            result = minimize_lbfgs(model, X, data.targets, sample_weight, alpha=self.alpha,
                                    max_iter=self.max_iter, max_fun=self.max_fun,
                                    tol=self.tol, warn=False)
        except FloatingPointError as err:
            raise NonFiniteWeightsError(NON_FINITE) from err
        model.l2 = self.alpha / (X.shape[0] if sample_weight is None
                                 else float(sample_weight.sum(dtype=np.float64)))
        message = convergence_message(result)
        if message:
            pending.append((message, ConvergenceWarning))
        fitted.update(model_=model, coefs_=list(model.weights),
                      intercepts_=list(model.biases), n_outputs_=data.n_outputs,
                      n_iter_=min(int(result.nit), self.max_iter), loss_=float(result.fun))

    def _progress(self, first_pass, params):
        """The training record a stochastic fit continues (copies: a failed fit
        changes nothing), or a new one; n_iter_ counts this fit's epochs only."""
        early = self.early_stopping
        if first_pass:
            return Progress(best_loss_=None if early else math.inf,
                            validation_scores_=[] if early else None,
                            best_validation_score_=-math.inf if early else None,
                            _best_params=params.copy())
        best = getattr(self, "_best_params", None)
        if best is None or best.shape != params.shape:
            best = params
        best_loss = getattr(self, "best_loss_", None)
        best_score = getattr(self, "best_validation_score_", None)
        scores = getattr(self, "validation_scores_", None)
        return Progress(
            t_=getattr(self, "t_", 0), loss_=getattr(self, "loss_", None),
            loss_curve_=list(getattr(self, "loss_curve_", None) or []),
            best_loss_=None if early else (math.inf if best_loss is None else best_loss),
            validation_scores_=list(scores or []) if early else None,
            best_validation_score_=(-math.inf if best_score is None else best_score)
            if early else None,
            _no_improvement_count=getattr(self, "_no_improvement_count", 0),
            _best_params=best.copy())

    def _split(self, n, data, rs):
        """(train, val) row indices of early stopping: scikit-learn's train_test_split,
        stratified for single-output classifiers."""
        stratify = data.stratify
        train, val = train_test_split(np.arange(n), random_state=rs,
                                      test_size=self.validation_fraction, stratify=stratify)
        if val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        return train, val

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return int(np.clip(self.batch_size, 1, n))

    def _fit_stochastic(self, model, init, X, data, sample_weight, incremental, first_pass,
                        rs, fitted, pending):
        plan = self._stochastic_plan(model, init, X, data, sample_weight, incremental,
                                     first_pass, rs)
        X_train = X if plan.rows is None else X[plan.rows]
        history = None
        try:
            history = plan.model.fit(_model_input(X_train), plan.targets, **plan.fit_kwargs)
        except FloatingPointError as err:
            if not self.early_stopping:
                raise NonFiniteWeightsError(NON_FINITE) from err
            # scikit-learn's validation score of a diverged network is NaN; Model.fit
            # has put the model back, and the best weights are kept by the outcome
        self._stochastic_outcome(plan, history, incremental, fitted, pending)

    def _stochastic_plan(self, model, init, X, data, sample_weight, incremental, first_pass,
                         rs, rows=None):
        """What a stochastic fit trains: a `_Plan` holding the model, the rows of X it
        trains on, the targets, Model.fit's arguments and the stopping rules. `rows`,
        where given, are the rows of X this estimator's data stands for (an ensemble
        member's bootstrap sample): data and sample_weight then hold those rows only,
        and the plan's rows index X."""
        n = X.shape[0] if rows is None else len(rows)
        global_rows = (lambda r: r) if rows is None else (lambda r: rows[r])
        train = val = None
        if self.early_stopping:
            train, val = self._split(n, data, rs)
        continued = model is not None
        if not continued:
            model = self._new_model(init, data, X, rs)
        T_train = data.targets if train is None else data.targets[train]
        w_train = (sample_weight if train is None or sample_weight is None
                   else sample_weight[train])
        n_train = n if train is None else len(train)
        batch_size = self._batch_size(n_train)
        mean_weight = 1.0 if w_train is None else float(w_train.mean(dtype=np.float64))
        l2 = self.alpha / (batch_size * mean_weight) if mean_weight > 0 else 0.0
        # partial_fit continues the optimizer (moments, step count, rate factor) as
        # scikit-learn keeps its _optimizer; fit starts a new one
        keep = incremental and continued and model.optimizer is not None
        optimizer = None if keep else self._new_optimizer()
        base_lr = float((model.optimizer if keep else optimizer).lr)
        schedule = LearningRate(self.learning_rate if self.solver == "sgd" else "constant",
                                self.power_t,
                                getattr(self, "_lr_factor", 1.0) if keep else 1.0)
        progress = self._progress(first_pass, model.params)
        score = None
        if self.early_stopping:
            w_val = None if sample_weight is None else sample_weight[val]
            score = self._validation_score(model, _model_input(X[global_rows(val)]), data,
                                           val, w_val)
        rules = EpochRules(progress, model, n_train, self.tol, self.n_iter_no_change,
                           score, schedule, base_lr, bool(self.verbose))
        return _Plan(model=model, targets=T_train, rules=rules, progress=progress,
                     schedule=schedule, l2=l2, n_outputs=data.n_outputs,
                     rows=(rows if train is None else global_rows(train)),
                     fit_kwargs=dict(epochs=1 if incremental else self.max_iter,
                                     batch_size=batch_size, optimizer=optimizer,
                                     shuffle=bool(self.shuffle), verbose=0,
                                     callbacks=[rules], schedule=schedule, l2=l2,
                                     sample_weight=w_train))

    def _stochastic_outcome(self, plan, history, incremental, fitted, pending):
        """The fitted attributes and warnings of a plan trained: `history` is
        Model.fit's, or None where training diverged (with early stopping: the epoch
        counts with a NaN score and the best weights are kept)."""
        model, rules, progress = plan.model, plan.rules, plan.progress
        if history is None:
            rules.score = lambda: math.nan
            rules.epoch_ends(math.nan)
        if self.early_stopping:
            np.copyto(model.params, progress._best_params)
        model.l2 = plan.l2          # the penalty model_.loss and evaluate then include
        fitted.update(vars(progress),
                      model_=model, coefs_=list(model.weights),
                      intercepts_=list(model.biases), n_outputs_=plan.n_outputs,
                      _lr_factor=plan.schedule.factor)
        if history is not None and history.interrupted:
            pending.append(("Training interrupted by user.", UserWarning))
        elif not incremental and not rules.stopped and \
                (history is None or progress.n_iter_ == self.max_iter):
            pending.append((f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                            f"reached and the optimization hasn't converged yet.",
                            ConvergenceWarning))

    def _validation_score(self, model, X_val, data, val, w_val):
        """score() of early stopping: the estimator's score (accuracy, R^2) of model on
        the held-out rows, NaN where its predictions are not finite; with
        early_stopping_metric='loss', minus the validation loss."""
        if self.early_stopping_metric == "loss":
            T_val = data.targets[val]

            def score():
                try:
                    return -model.loss(X_val, T_val, sample_weight=w_val)
                except FloatingPointError:
                    return math.nan
            return score
        y_val = data.y[val]

        def score():
            try:
                out = model.predict(X_val)
            except FloatingPointError:
                return math.nan
            return float(self._score_function(y_val, data.decode(out), sample_weight=w_val))
        return score

    # ------------------------------------------------------------------ inference
    def _output(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=SPARSE_FORMATS, reset=False,
                          dtype=FLOAT_DTYPES)
        return self._current_model().predict(_model_input(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        if isinstance(state.get("model_"), Model):
            if self._coefs_are_views():       # re-pointed at the copy's views on loading
                state["_coefs_are_model_views"] = True
                del state["coefs_"], state["intercepts_"]
            state["model_"] = to_arrays(state["model_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        views = state.pop("_coefs_are_model_views", False)
        if isinstance(state.get("model_"), dict):
            state["model_"], _ = from_arrays(state["model_"], source="a pickled estimator")
            if views:
                state["coefs_"] = list(state["model_"].weights)
                state["intercepts_"] = list(state["model_"].biases)
        super().__setstate__(state)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    _parameter_constraints = CLASSIFIER_CONSTRAINTS
    _score_function = staticmethod(accuracy_score)

    __doc__ = f"""Multi-layer perceptron classifier trained by fastprop.

    A drop-in for `sklearn.neural_network.MLPClassifier` (see the module docstring
    for the remaining differences). Multiclass labels train softmax outputs with
    cross-entropy, one per class; binary labels one logistic output (`predict_proba`
    gives [1 - p, p]); a multilabel indicator matrix one logistic output per label,
    each with binary cross-entropy.

    Parameters
    ----------
{_indent(SKLEARN_PARAMS)}
{_indent(CLASS_WEIGHT_PARAM)}
{_indent(FASTPROP_PARAMS)}
    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels (for a multilabel fit, 0..n_labels-1).
{_indent(FITTED_ATTRIBUTES)}    out_activation_ : str
        'softmax' (multiclass) or 'logistic' (binary, multilabel).

    See Also
    --------
    MLPRegressor : The regressor.
    fastprop.Model : The network it trains.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprop.sklearn import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0)
    >>> clf = clf.fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> [W.shape for W in clf.coefs_]       # one logistic output for two classes
    [(4, 8), (8, 1)]
    """

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu",
                 *, solver: str = "adam", alpha: float = 0.0001,
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
                 early_stopping_metric: str = "score") -> None:
        params = dict(locals())
        del params["self"]
        vars(self).update(params)     # each parameter as given (scikit-learn's rule)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True    # a 0/1 indicator matrix y
        return tags

    def _weighted(self, sample_weight, y):
        """sample_weight times class_weight's weights (compute_sample_weight)."""
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(self.class_weight, y).astype(np.float64)
        return weights if sample_weight is None else sample_weight * weights

    def _targets(self, y, first_pass, incremental, classes):
        """The labels checked and encoded, classes_ decided as scikit-learn decides
        them (its _validate_input and _check_partial_fit_first_call)."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        multilabel = type_of_target(y).startswith("multilabel")
        fitted = {}
        if incremental:
            if getattr(self, "classes_", None) is None:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to "
                                     "partial_fit.")
                known = fitted["classes_"] = unique_labels(classes)
            else:
                known = self.classes_
                if classes is not None and not np.array_equal(known, unique_labels(classes)):
                    raise ValueError(f"`classes={classes!r}` is not the same as on last "
                                     f"call to partial_fit, was: {known!r}")
            seen = unique_labels(y)
            if len(np.setdiff1d(seen, known, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. "
                                 f"`self.classes_` has {known}. 'y' has {seen}.")
        elif not hasattr(self, "classes_") or not self.warm_start:
            known = fitted["classes_"] = unique_labels(y)
        else:
            known = self.classes_
            seen = unique_labels(y)
            if set(seen) != set(known):
                raise ValueError(f"warm_start can only be used where `y` has the same "
                                 f"classes as in the previous call to fit. Previously got "
                                 f"{known}, `y` has {seen}")
        if multilabel:
            n_outputs, out, loss = y.shape[1], "logistic", "binary_cross_entropy"
            targets = y.astype(np.float64)
        elif len(known) > 2:
            n_outputs, out, loss = len(known), "softmax", "cross_entropy"
            targets = np.searchsorted(known, y).astype(np.int64)
        else:
            n_outputs, out, loss = 1, "logistic", "binary_cross_entropy"
            positive = known[1] if len(known) == 2 else None
            targets = (y == positive).reshape(-1, 1).astype(np.float64) if positive is not None \
                else np.zeros((y.shape[0], 1))
        return Targets(y=y, targets=targets, n_outputs=n_outputs, loss=loss,
                        out_activation=out, fitted=fitted,
                        stratify=targets > 0.5 if n_outputs == 1 else None,
                        decode=lambda o: decode_classes(o, known, out))

    @available_if(_BaseMLP._stochastic_solver)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """Update the model with a single epoch over the given data.

        It continues the weights and the optimizer (its moments, step count and
        learning-rate schedule). Only the stochastic solvers have it.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel 0/1 indicator matrix.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0, not all 0.
        classes : array_like or None, default None
            Every label y will ever hold: required on the first call, and if given
            later, the same.

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, X, y or sample_weight is refused, `classes` is
            missing on the first call or differs from the first call's, y holds
            unknown labels, early_stopping is True, or training diverges.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability estimates.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            (n_samples, n_classes), columns in the order of `classes_` (for one
            logistic output, [1 - p, p]); for a multilabel fit, the probability of
            each label (n_samples, n_labels).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        out = self._output(X)
        if out.shape[1] == 1:
            p = out[:, 0]
            return np.column_stack([1 - p, p])
        return out

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """The logarithm of `predict_proba`.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            log(predict_proba(X)); -inf where a probability underflowed to 0.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The predicted classes.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            The most probable class of each sample (labels from `classes_`), shape
            (n_samples,); for a multilabel fit, the (n_samples, n_labels) 0/1 matrix
            of probabilities > 0.5.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        return decode_classes(self._output(X), self.classes_, self.out_activation_)


class MLPRegressor(RegressorMixin, _BaseMLP):
    _parameter_constraints = REGRESSOR_CONSTRAINTS
    _score_function = staticmethod(r2_score)

    __doc__ = f"""Multi-layer perceptron regressor trained by fastprop.

    A drop-in for `sklearn.neural_network.MLPRegressor` (see the module docstring
    for the remaining differences): half the squared error with identity outputs, or
    half the Poisson deviance with exponential outputs. A 1-D y gives 1-D predictions.

    Parameters
    ----------
{_indent(LOSS_PARAM)}
{_indent(SKLEARN_PARAMS)}
{_indent(FASTPROP_PARAMS)}
    Attributes
    ----------
{_indent(FITTED_ATTRIBUTES)}    out_activation_ : str
        'identity' (squared_error) or 'exp' (poisson).

    See Also
    --------
    MLPClassifier : The classifier.
    fastprop.Model : The network it trains.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprop.sklearn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0)
    >>> reg = reg.fit(X, y)
    >>> reg.predict(X[:4]).shape
    (4,)
    >>> bool(reg.score(X, y) > 0.99)
    True
    """

    def __init__(self, loss: str = "squared_error",
                 hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu",
                 *, solver: str = "adam", alpha: float = 0.0001,
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
                 early_stopping_metric: str = "score") -> None:
        params = dict(locals())
        del params["self"]
        vars(self).update(params)     # each parameter as given (scikit-learn's rule)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True      # y of shape (n_samples, n_targets)
        return tags

    def _weighted(self, sample_weight, y):
        return sample_weight

    def _targets(self, y, first_pass, incremental, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        poisson = self.loss == "poisson"
        return Targets(y=y, targets=y, n_outputs=1 if y.ndim == 1 else y.shape[1],
                        loss="poisson" if poisson else "mse",
                        out_activation="exp" if poisson else "identity",
                        decode=lambda o: o.ravel() if o.shape[1] == 1 else o)

    @available_if(_BaseMLP._stochastic_solver)
    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """Update the model with a single epoch over the given data.

        It continues the weights and the optimizer (its moments, step count and
        learning-rate schedule). Only the stochastic solvers have it.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_targets)
            Regression targets, finite.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0, not all 0.

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, X, y or sample_weight is refused, y has a
            different number of targets than before, early_stopping is True, or
            training diverges.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            Predictions (n_samples,) for a single target, else (n_samples, n_targets).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        out = self._output(X)
        return out.ravel() if out.shape[1] == 1 else out


def __getattr__(name):
    """MLPEnsembleClassifier and MLPEnsembleRegressor, from fastprop.sklearn_ensemble
    (which builds on the estimators above, so it is imported once they exist)."""
    if name in ("MLPEnsembleClassifier", "MLPEnsembleRegressor"):
        from . import sklearn_ensemble
        return getattr(sklearn_ensemble, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MLPClassifier", "MLPRegressor", "MLPEnsembleClassifier", "MLPEnsembleRegressor",
           "NonFiniteWeightsError"]
