"""scikit-learn estimators trained by fastprop: `MLPClassifier` and `MLPRegressor`.

    from fastprop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0).fit(X, y)
    clf.predict_proba(X_test)

They follow `sklearn.neural_network.MLPClassifier` / `MLPRegressor`: the same parameter
names where the concept is the same, `fit`, `partial_fit`, `predict`, `predict_proba`,
`score`, the fitted attributes `classes_`, `n_features_in_`, `loss_curve_`, `n_iter_`,
`coefs_`/`intercepts_`, and they work in pipelines, `clone` and `GridSearchCV`. The
network is a `fastprop.Model`, kept in `model_`. Where fastprop differs::

    optimizer       replaces `solver`: "adam" (default; Adam(lr=learning_rate_init)), "sgd"
                    (SGD with momentum 0.9 and Nesterov, scikit-learn's defaults), "adamw",
                    "rmsprop", "adagrad", "adadelta", or a fastprop optimizer object such as
                    fp.SGD(0.1, momentum=0.5), whose own lr then applies (learning_rate_init
                    is ignored). There is no lbfgs.
    alpha           L2 penalty, scaled as scikit-learn scales it: each batch of B samples
                    minimises mean loss + alpha / (2 B) * sum of squared weights, so fastprop's
                    `l2` is alpha / batch_size (the gradient of every full batch matches
                    scikit-learn's; the last, smaller batch of an epoch gets the same l2).
    early_stopping  holds out validation_fraction of the training data (a fixed seeded
                    split, not stratified) and stops when the validation *loss* has not
                    improved by `tol` for `n_iter_no_change` epochs, restoring the best
                    epoch's weights (scikit-learn watches the validation score). Without it,
                    training stops when the training loss has not improved by `tol` for
                    `n_iter_no_change` epochs, as in scikit-learn.
    dropout         inverted-dropout rate of the hidden layers (one rate or one per layer).
    dtype           None (default) keeps float32 input in float32 and trains everything else
                    in float64, as scikit-learn does; "float32" or "float64" force one.
    activation      scikit-learn's identity, logistic, tanh, relu, or any of fastprop's
                    hidden activations (leaky_relu, elu, sigmoid, softplus, gelu), one name
                    or one per hidden layer.

The classifier trains softmax outputs with cross-entropy, one output per class (two for
a binary problem, one for a single class, which then always wins), or, for a multilabel
indicator matrix y, one sigmoid output per label with binary cross-entropy. The regressor
minimises half the squared error with identity outputs; a 1-D y gives 1-D predictions.
`random_state` seeds initialisation, shuffling, dropout and the validation split: an
integer is used as the Model's seed itself.

Fitted estimators pickle (and joblib.dump) through fastprop.io's arrays, never by
pickling the compiled kernels' buffers.
"""
from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import codes
from .io import from_arrays, to_arrays
from .model import Model
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop, _check_number
from .validation import check_dtype, check_int

# scikit-learn's activation names, then fastprop's own.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               **{name: name for name in codes.HIDDEN_ACTIVATIONS}}

OPTIMIZERS = {
    "adam": lambda lr: Adam(lr),
    "sgd": lambda lr: SGD(lr, momentum=0.9, nesterov=True),
    "adamw": lambda lr: AdamW(lr),
    "rmsprop": lambda lr: RMSprop(lr),
    "adagrad": lambda lr: Adagrad(lr),
    "adadelta": lambda lr: Adadelta(lr),
}

FLOAT_DTYPES = (np.float64, np.float32)   # validate_data keeps float32, else float64


class _BaseMLP(BaseEstimator):
    """What the classifier and regressor share: parameters, checks, the training loop
    around Model.fit, the fitted attributes and pickling."""

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu", *,
                 optimizer: str | Optimizer = "adam", alpha: float = 1e-4,
                 batch_size: int | str = "auto", learning_rate_init: float = 1e-3,
                 max_iter: int = 200, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, dropout: float | Sequence[float] = 0.0,
                 dtype: str | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.dtype = dtype

    # ------------------------------------------------------------------ parameters
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, (bool, np.bool_)):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got "
                             f"{self.hidden_layer_sizes!r}") from None
        return [check_int(f"hidden_layer_sizes[{i}]", s, 1) for i, s in enumerate(sizes)]

    def _hidden_activations(self, n_hidden):
        names = [self.activation] * n_hidden if isinstance(self.activation, str) else None
        if names is None:
            try:
                names = list(self.activation)
            except TypeError:
                names = [self.activation]       # refused below, with the message
        for name in names:
            if not isinstance(name, str) or name not in ACTIVATIONS:
                raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)} (or a "
                                 f"list of them, one per hidden layer); got {name!r}")
        if len(names) != n_hidden:
            raise ValueError(f"activation must be one name or a list of {n_hidden} names "
                             f"(one per hidden layer); got {len(names)}")
        return [ACTIVATIONS[name] for name in names]

    def _check_dropout(self, n_hidden):
        rates = [self.dropout] * n_hidden if np.ndim(self.dropout) == 0 else list(self.dropout)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout must be one rate or a list of {n_hidden} rates "
                             f"(one per hidden layer); got {len(rates)}")
        for i, rate in enumerate(rates):
            _check_number(f"dropout[{i}]", rate, 0.0, 1.0, high_open=True)

    def _check_random_state(self):
        """What _seed accepts, checked without drawing from a RandomState."""
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, (bool, np.bool_)):
            check_int("random_state", state, 0)
        else:
            check_random_state(state)           # None, a RandomState; raises otherwise

    def _check_params(self):
        """Check every parameter, on every fit and partial_fit (as scikit-learn's own
        estimators do), also those that only shape a new network (hidden_layer_sizes,
        activation, dropout, random_state, dtype): a continued fit ignores them, yet an
        invalid value is refused there too rather than surfacing at some later fit.
        scikit-learn's convention: nothing is checked in __init__ or set_params."""
        check_int("max_iter", self.max_iter, 1)
        check_int("n_iter_no_change", self.n_iter_no_change, 1)
        _check_number("alpha", self.alpha)
        _check_number("tol", self.tol)
        _check_number("learning_rate_init", self.learning_rate_init, low_open=True)
        _check_number("validation_fraction", self.validation_fraction, 0.0, 1.0,
                      low_open=True, high_open=True)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int("batch_size", self.batch_size, 1)
        for name in ("shuffle", "warm_start", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype is not None:
            check_dtype(self.dtype)
        if not isinstance(self.optimizer, Optimizer) and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or a fastprop "
                             f"optimizer such as fastprop.SGD(0.1); got {self.optimizer!r}")
        n_hidden = len(self._hidden_sizes())
        self._hidden_activations(n_hidden)
        self._check_dropout(n_hidden)
        self._check_random_state()

    def _new_optimizer(self):
        if isinstance(self.optimizer, Optimizer):
            return copy.deepcopy(self.optimizer)    # the parameter itself stays untouched
        return OPTIMIZERS[self.optimizer](self.learning_rate_init)

    def _seed(self):
        """The Model seed: the integer random_state itself, one drawn from a RandomState,
        or None (fresh entropy)."""
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral) and \
                not isinstance(self.random_state, (bool, np.bool_)):
            return check_int("random_state", self.random_state, 0)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    # ------------------------------------------------------------------ training
    def _validate_X_y(self, X, y, reset, **check):
        """validate_data(self, X, y, ...) that leaves self untouched. With reset=True
        validate_data sets n_features_in_ and sets or deletes feature_names_in_; that
        runs here on a shallow copy instead, and the values come back in a dict for
        _commit, so that data refused later (or a failed fit) cannot leave a fitted
        estimator with the new data's feature count and its old network. reset=False
        only compares X with the fitted attributes."""
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

    def _fit(self, X, y, incremental, classes=None):
        """fit (incremental=False) or partial_fit (True).

        Everything that can refuse the call runs before any fitted attribute is
        assigned: the parameters, the data, a new network's construction and its
        training, which work on locals. Only _commit, after training returned,
        changes the estimator, so a call that raises (refused input, an invalid
        parameter, a FloatingPointError from diverging training, anything else)
        leaves it as it was: an unfitted estimator stays unfitted, a fitted one keeps
        its classes_, n_features_in_, network and curves. A continued fit (warm_start,
        partial_fit) trains the existing model_ in place; a Model.fit that raises
        puts the model's own state back itself."""
        self._check_params()
        fresh = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, targets, n_outputs, loss, fitted = self._validate_training_data(
            X, y, fresh, incremental, classes)
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        l2 = self.alpha / batch_size
        if fresh:
            # a RandomState random_state gives the Model its seed by a draw; a call that
            # fails does not consume it, so that retrying gives the same network
            rng = self.random_state
            rng_state = rng.get_state() if isinstance(rng, np.random.RandomState) else None
            try:
                model, history = self._train_new(X, targets, n_outputs, loss, batch_size,
                                                 l2, incremental)
            except BaseException:
                if rng_state is not None:
                    rng.set_state(rng_state)
                raise
            fitted.update(model_=model, n_outputs_=n_outputs, n_layers_=len(model.sizes),
                          n_iter_=0, t_=0, loss_curve_=[], best_loss_=None,
                          validation_loss_curve_=None, best_validation_loss_=None)
        else:
            if n_outputs != self.n_outputs_:
                raise ValueError(f"y has {n_outputs} outputs but the network was fitted "
                                 f"with {self.n_outputs_}")
            history = self._train(self.model_, X, targets, batch_size, l2, incremental)
            fitted.update(n_iter_=self.n_iter_, t_=self.t_, loss_curve_=self.loss_curve_,
                          best_loss_=self.best_loss_,
                          validation_loss_curve_=self.validation_loss_curve_,
                          best_validation_loss_=self.best_validation_loss_)

        fitted["n_iter_"] += history.epochs
        fitted["t_"] += history.epochs * history.samples
        # a new list: the one a caller may hold from before stays as it was
        fitted["loss_curve_"] = fitted["loss_curve_"] + [float(v) for v in history.loss]
        if history.val_loss:
            fitted["validation_loss_curve_"] = [float(v) for v in history.val_loss]
            fitted["best_validation_loss_"] = min(fitted["validation_loss_curve_"])
            fitted["best_loss_"] = None
        elif fitted["loss_curve_"]:
            fitted["best_loss_"] = min(fitted["loss_curve_"])
        self._commit(fitted)
        # after the commit: the fit is complete (a continued model_ is already trained),
        # so a warning turned into an error reports on a consistent estimator
        if not incremental and history.stopped_epoch is None and not history.interrupted:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          f"reached and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=3)
        return self

    def _train_new(self, X, targets, n_outputs, loss, batch_size, l2, incremental):
        """A new network for X, trained: (model, history). Nothing of self changes
        (bar the draw of a seed from a RandomState random_state)."""
        hidden = self._hidden_sizes()
        dtype = X.dtype if self.dtype is None else check_dtype(self.dtype)
        model = Model([X.shape[1], *hidden, n_outputs],
                      activation=self._hidden_activations(len(hidden)), loss=loss,
                      dtype=dtype, seed=self._seed(), dropout=self.dropout, l2=l2)
        return model, self._train(model, X, targets, batch_size, l2, incremental)

    def _train(self, model, X, targets, batch_size, l2, incremental):
        """model.fit as this estimator's parameters say; returns the History."""
        if incremental:        # one epoch; the same optimizer object continues its moments
            optimizer = self._new_optimizer() if model.optimizer is None else None
            stopping = {"epochs": 1}
        elif self.early_stopping:
            optimizer = self._new_optimizer()
            stopping = {"epochs": self.max_iter, "validation_split": self.validation_fraction,
                        "early_stopping": True, "monitor": "val_loss", "restore_best": True,
                        "patience": self.n_iter_no_change, "min_delta": float(self.tol)}
        else:
            optimizer = self._new_optimizer()
            stopping = {"epochs": self.max_iter, "early_stopping": True, "monitor": "loss",
                        "restore_best": False, "patience": self.n_iter_no_change,
                        "min_delta": float(self.tol)}
        return model.fit(X, targets, batch_size=batch_size, optimizer=optimizer,
                         shuffle=bool(self.shuffle), verbose=1 if self.verbose else 0,
                         l2=l2, **stopping)

    def fit(self, X: ArrayLike, y: ArrayLike) -> _BaseMLP:
        """Train on (X, y) for up to max_iter epochs.

        A new network is trained, or with warm_start=True a fitted estimator continues
        from its current weights (with a fresh optimizer, as in scikit-learn). A call
        that raises leaves the estimator as it was.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)
            Class labels (or, for the classifier, a multilabel 0/1 indicator matrix),
            or regression targets.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, or X or y is refused.
        FloatingPointError
            If training diverges.

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            If max_iter epochs ran without the stopping criterion being met.
        """
        return self._fit(X, y, incremental=False)

    # ------------------------------------------------------------------ inference
    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        return self.model_.predict(X)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """list of numpy.ndarray: The weight matrices (n_in, n_out) of each layer.

        Views into ``model_.params``.
        """
        check_is_fitted(self)
        return self.model_.weights

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """list of numpy.ndarray: The bias vectors (n_out,) of each layer.

        Views into ``model_.params``.
        """
        check_is_fitted(self)
        return self.model_.biases

    @property
    def out_activation_(self) -> str:
        """str: The output activation's name ('softmax', 'logistic' or 'identity')."""
        check_is_fitted(self)
        return {"softmax": "softmax", "sigmoid": "logistic"}.get(
            self.model_.activations[-1], self.model_.activations[-1])

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        if isinstance(state.get("model_"), Model):
            state["model_"] = to_arrays(state["model_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("model_"), dict):
            state["model_"], _ = from_arrays(state["model_"], source="a pickled estimator")
        super().__setstate__(state)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by fastprop.

    It follows `sklearn.neural_network.MLPClassifier`; see the module docstring for
    where it differs. It trains softmax outputs with cross-entropy, one output per
    class (two for a binary problem), or, for a multilabel indicator matrix y, one
    sigmoid output per label with binary cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        The width of each hidden layer.
    activation : str or list of str, default 'relu'
        Hidden-layer activation, one name for all or one per hidden layer:
        scikit-learn's 'identity', 'logistic', 'tanh', 'relu', or any of fastprop's
        ('leaky_relu', 'elu', 'sigmoid', 'softplus', 'gelu').
    optimizer : str or Optimizer, default 'adam'
        Replaces scikit-learn's `solver`: 'adam' (``Adam(lr=learning_rate_init)``),
        'sgd' (SGD with momentum 0.9 and Nesterov, scikit-learn's defaults),
        'adamw', 'rmsprop', 'adagrad', 'adadelta', or a fastprop optimizer object
        such as ``fp.SGD(0.1, momentum=0.5)``, whose own lr then applies
        (`learning_rate_init` is ignored; each fit trains a copy). There is no lbfgs.
    alpha : float, default 1e-4
        L2 penalty, scaled as scikit-learn scales it: each batch of B samples
        minimises mean loss + alpha / (2 B) * sum of squared weights (fastprop's
        `l2` is alpha / batch_size).
    batch_size : int or 'auto', default 'auto'
        Samples per gradient step; 'auto' is min(200, n_samples).
    learning_rate_init : float, default 1e-3
        The learning rate of a named optimizer, > 0.
    max_iter : int, default 200
        The most epochs a fit trains, at least 1.
    shuffle : bool, default True
        Shuffle the samples before each epoch.
    random_state : int, numpy.random.RandomState or None, default None
        Seeds initialisation, shuffling, dropout and the validation split; an integer
        is used as the Model's seed itself, None draws fresh entropy.
    tol : float, default 1e-4
        The improvement of the loss (or, with early_stopping, of the validation loss)
        that counts, >= 0.
    verbose : bool, default False
        Show a progress bar while training.
    warm_start : bool, default False
        Let `fit` continue from the current weights of a fitted estimator (with a
        fresh optimizer, as in scikit-learn) instead of starting a new network.
    early_stopping : bool, default False
        Hold out `validation_fraction` of the training data (a fixed seeded split, not
        stratified) and stop when the validation loss has not improved by `tol` for
        `n_iter_no_change` epochs, restoring the best epoch's weights (scikit-learn
        watches the validation score). Without it, training stops when the training
        loss has not improved by `tol` for `n_iter_no_change` epochs.
    validation_fraction : float, default 0.1
        The share of the training data held out by early stopping, in (0, 1).
    n_iter_no_change : int, default 10
        Epochs without improvement before training stops, at least 1.
    dropout : float or list of float, default 0.0
        Inverted-dropout rate of the hidden layers (one rate or one per layer), in
        [0, 1).
    dtype : {None, 'float32', 'float64'}, default None
        None keeps float32 input in float32 and trains everything else in float64, as
        scikit-learn does; 'float32' or 'float64' force one.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels (for a multilabel fit, 0..n_labels-1).
    n_features_in_ : int
        The number of features seen by fit.
    feature_names_in_ : numpy.ndarray of str
        The feature names seen by fit, where X had string column names.
    model_ : fastprop.Model
        The trained network.
    coefs_ : list of numpy.ndarray
        The weight matrices (n_in, n_out) of each layer: views into model_.params.
    intercepts_ : list of numpy.ndarray
        The bias vectors (n_out,) of each layer: views into model_.params.
    loss_curve_ : list of float
        The training loss of each epoch, across fits and partial fits.
    n_iter_ : int
        The number of epochs trained.
    t_ : int
        The number of training samples seen.
    best_loss_ : float or None
        The lowest training loss (None with early_stopping).
    validation_loss_curve_ : list of float or None
        The validation loss of each epoch (with early_stopping).
    best_validation_loss_ : float or None
        The lowest validation loss (with early_stopping).
    n_layers_ : int
        The number of layers, input and output included.
    n_outputs_ : int
        The number of outputs.
    out_activation_ : str
        The output activation's name.

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
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=1e-2, tol=1e-2,
    ...                     random_state=0)
    >>> clf = clf.fit(X, y)         # stops once the loss gains less than tol
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True    # a 0/1 indicator matrix y
        return tags

    def _validate_training_data(self, X, y, fresh, incremental, classes):
        """(X, targets, n_outputs, loss, fitted): the checked data, the targets as
        Model.fit takes them, and for a fresh fit the fitted attributes the data set
        (n_features_in_, feature_names_in_, classes_, _multilabel), which _fit commits
        only once training has succeeded."""
        X, y, fitted = self._validate_X_y(X, y, fresh, multi_output=True,
                                          dtype=FLOAT_DTYPES)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"{type(self).__name__} takes class labels (binary or "
                             f"multiclass) or a multilabel indicator matrix; got {kind} y")
        multilabel = kind == "multilabel-indicator"
        if fresh:
            if multilabel:
                known = np.arange(y.shape[1])
            elif incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to "
                                     "partial_fit.")
                known = unique_labels(classes)
            else:
                known = unique_labels(y)
            fitted.update(classes_=known, _multilabel=multilabel)
        else:
            known = self.classes_
            if multilabel != self._multilabel:
                raise ValueError(
                    f"y is {'a multilabel indicator' if multilabel else 'labels'} but the "
                    f"estimator was fitted on "
                    f"{'a multilabel indicator' if self._multilabel else 'labels'}")
            if classes is not None and not np.array_equal(known, unique_labels(classes)):
                raise ValueError(f"`classes={classes!r}` is not the same as on the first "
                                 f"call to partial_fit, was: {known!r}")
        loss = "binary_cross_entropy" if multilabel else "cross_entropy"
        if multilabel:
            if y.shape[1] != len(known):
                raise ValueError(f"y has {y.shape[1]} labels but the estimator was fitted "
                                 f"with {len(known)}")
            return X, y.astype(X.dtype), len(known), loss, fitted
        unknown = np.setdiff1d(unique_labels(y), known)
        if unknown.size:
            what = ("`classes` given to the first partial_fit" if incremental
                    else "the previous fit")
            raise ValueError(f"y has classes {unknown!r} that are not in {what}: "
                             f"{known!r}")
        return (X, np.searchsorted(known, y).astype(np.int64), len(known), loss, fitted)

    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over (X, y), continuing the weights and the optimizer's moments.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel 0/1 indicator matrix.
        classes : array_like or None, default None
            Every label y will ever hold: required on the first call (unless y is a
            multilabel indicator matrix), and if given later, the same.

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, X or y is refused, `classes` is missing on the
            first call or differs from the first call's, or y holds unknown labels.
        FloatingPointError
            If training diverges.
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            (n_samples, n_classes), rows summing to 1, columns in the order of
            `classes_`; for a multilabel fit, the probability of each label
            (n_samples, n_labels).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        return self._forward(X)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """The logarithm of `predict_proba`.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
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
        X : array_like, shape (n_samples, n_features)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray
            The most probable class of each sample (labels from `classes_`),
            shape (n_samples,); for a multilabel fit, the (n_samples, n_labels) 0/1
            matrix of probabilities > 0.5.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X is refused.
        """
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by fastprop.

    It follows `sklearn.neural_network.MLPRegressor`, minimising half the squared
    error with identity outputs; see the module docstring for where it differs. A 1-D
    y gives 1-D predictions.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        The width of each hidden layer.
    activation : str or list of str, default 'relu'
        Hidden-layer activation, one name for all or one per hidden layer:
        scikit-learn's 'identity', 'logistic', 'tanh', 'relu', or any of fastprop's
        ('leaky_relu', 'elu', 'sigmoid', 'softplus', 'gelu').
    optimizer : str or Optimizer, default 'adam'
        Replaces scikit-learn's `solver`: 'adam' (``Adam(lr=learning_rate_init)``),
        'sgd' (SGD with momentum 0.9 and Nesterov, scikit-learn's defaults),
        'adamw', 'rmsprop', 'adagrad', 'adadelta', or a fastprop optimizer object
        such as ``fp.SGD(0.1, momentum=0.5)``, whose own lr then applies
        (`learning_rate_init` is ignored; each fit trains a copy). There is no lbfgs.
    alpha : float, default 1e-4
        L2 penalty, scaled as scikit-learn scales it: each batch of B samples
        minimises mean loss + alpha / (2 B) * sum of squared weights (fastprop's
        `l2` is alpha / batch_size).
    batch_size : int or 'auto', default 'auto'
        Samples per gradient step; 'auto' is min(200, n_samples).
    learning_rate_init : float, default 1e-3
        The learning rate of a named optimizer, > 0.
    max_iter : int, default 200
        The most epochs a fit trains, at least 1.
    shuffle : bool, default True
        Shuffle the samples before each epoch.
    random_state : int, numpy.random.RandomState or None, default None
        Seeds initialisation, shuffling, dropout and the validation split; an integer
        is used as the Model's seed itself, None draws fresh entropy.
    tol : float, default 1e-4
        The improvement of the loss (or, with early_stopping, of the validation loss)
        that counts, >= 0.
    verbose : bool, default False
        Show a progress bar while training.
    warm_start : bool, default False
        Let `fit` continue from the current weights of a fitted estimator (with a
        fresh optimizer, as in scikit-learn) instead of starting a new network.
    early_stopping : bool, default False
        Hold out `validation_fraction` of the training data (a fixed seeded split, not
        stratified) and stop when the validation loss has not improved by `tol` for
        `n_iter_no_change` epochs, restoring the best epoch's weights (scikit-learn
        watches the validation score). Without it, training stops when the training
        loss has not improved by `tol` for `n_iter_no_change` epochs.
    validation_fraction : float, default 0.1
        The share of the training data held out by early stopping, in (0, 1).
    n_iter_no_change : int, default 10
        Epochs without improvement before training stops, at least 1.
    dropout : float or list of float, default 0.0
        Inverted-dropout rate of the hidden layers (one rate or one per layer), in
        [0, 1).
    dtype : {None, 'float32', 'float64'}, default None
        None keeps float32 input in float32 and trains everything else in float64, as
        scikit-learn does; 'float32' or 'float64' force one.

    Attributes
    ----------
    n_features_in_ : int
        The number of features seen by fit.
    feature_names_in_ : numpy.ndarray of str
        The feature names seen by fit, where X had string column names.
    model_ : fastprop.Model
        The trained network.
    coefs_ : list of numpy.ndarray
        The weight matrices (n_in, n_out) of each layer: views into model_.params.
    intercepts_ : list of numpy.ndarray
        The bias vectors (n_out,) of each layer: views into model_.params.
    loss_curve_ : list of float
        The training loss of each epoch, across fits and partial fits.
    n_iter_ : int
        The number of epochs trained.
    t_ : int
        The number of training samples seen.
    best_loss_ : float or None
        The lowest training loss (None with early_stopping).
    validation_loss_curve_ : list of float or None
        The validation loss of each epoch (with early_stopping).
    best_validation_loss_ : float or None
        The lowest validation loss (with early_stopping).
    n_layers_ : int
        The number of layers, input and output included.
    n_outputs_ : int
        The number of outputs.
    out_activation_ : str
        The output activation's name.

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
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)
    >>> reg = reg.fit(X, y)         # converges in ~1,400 epochs of 60 samples
    >>> reg.predict(X[:4]).shape
    (4,)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True      # y of shape (n_samples, n_targets)
        return tags

    def _validate_training_data(self, X, y, fresh, incremental, classes):
        """(X, targets, n_outputs, loss, fitted), as MLPClassifier's."""
        X, y, fitted = self._validate_X_y(X, y, fresh, multi_output=True, y_numeric=True,
                                          dtype=FLOAT_DTYPES)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y, 1 if y.ndim == 1 else y.shape[1], "mse", fitted

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> MLPRegressor:
        """One epoch over (X, y), continuing the weights and the optimizer's moments.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Training inputs, finite.
        y : array_like, shape (n_samples,) or (n_samples, n_targets)
            Regression targets, finite.

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid, X or y is refused, or y has a different number
            of targets than before.
        FloatingPointError
            If training diverges.
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict regression targets.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
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
        out = self._forward(X)
        return out.ravel() if self.n_outputs_ == 1 else out


__all__ = ["MLPClassifier", "MLPRegressor"]
