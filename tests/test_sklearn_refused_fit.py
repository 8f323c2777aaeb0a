"""A fit or partial_fit of fastprop.sklearn's estimators that raises leaves the estimator
exactly as it was: the same fitted attributes with the same values, the same network
and predictions; an unfitted estimator stays unfitted.

The defect this guards against: fit assigned classes_ and n_features_in_ (validate_data
with reset=True) before the parameters and the new network were checked, so a refused
refit on other labels left the old network predicting the new labels, or an IndexError,
and a refused first fit left an estimator that looked fitted."""
import copy

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import fastprop as fp
from fastprop.model import Model
from fastprop.sklearn import MLPClassifier, MLPRegressor

# Tiny fits that stop at max_iter: scikit-learn's ConvergenceWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=5, learning_rate_init=0.01,
            random_state=0)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
LABELS = np.arange(30) % 3
TARGETS = X @ np.array([1.0, -2.0, 0.5])
# The data of a refused fresh fit: another feature count, and other class names; had
# fit assigned them before refusing, predict would name these from the old network.
X_NEW = RNG.normal(size=(30, 4))
LABELS_NEW = np.array(["a", "b"])[np.arange(30) % 2]
TARGETS_NEW = X_NEW.sum(axis=1)

# fresh: the failing call builds a new network; continued: it trains model_ in place
FRESH = ("first_fit", "first_partial_fit", "refit")
CONTINUED = ("partial_fit", "warm_start")
MODES = FRESH + CONTINUED
ESTIMATORS = (MLPClassifier, MLPRegressor)


def targets(cls, new=False):
    if cls is MLPClassifier:
        return LABELS_NEW if new else LABELS
    return TARGETS_NEW if new else TARGETS


def classes_kw(cls, new=False):
    if cls is not MLPClassifier:
        return {}
    return {"classes": np.unique(targets(cls, new))}


def prepared(cls, mode, **params):
    """An estimator as `mode` starts from: unfitted, or fitted by fit or partial_fit."""
    est = cls(**{**TINY, **params}, warm_start=mode == "warm_start")
    if mode in ("refit", "warm_start"):
        est.fit(X, targets(cls))
    elif mode == "partial_fit":
        est.partial_fit(X, targets(cls), **classes_kw(cls))
    return est


def call(est, mode, X_, y_, **kwargs):
    """The call that must fail (or, in twin checks, succeed): fit or partial_fit."""
    if mode in ("first_partial_fit", "partial_fit"):
        return est.partial_fit(X_, y_, **kwargs)
    return est.fit(X_, y_)


def snapshot(est):
    """Everything a failed call must leave unchanged, copied: every attribute (the
    parameters, the public fitted ones and private ones such as _multilabel), the
    network object's identity, its parameters, coefs_/intercepts_ and predictions."""
    state = {"vars": {k: (v if k == "model_" else copy.deepcopy(v))
                      for k, v in vars(est).items()}}
    if hasattr(est, "model_"):
        state["params"] = est.model_.params.copy()
        state["coefs_"] = [W.copy() for W in est.coefs_]
        state["intercepts_"] = [b.copy() for b in est.intercepts_]
        state["out_activation_"] = est.out_activation_
        state["predict"] = est.predict(X)
        if isinstance(est, MLPClassifier):
            state["predict_proba"] = est.predict_proba(X)
    return state


def assert_same(a, b, where):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, fp.optimizers.Optimizer):
        assert type(a) is type(b) and vars(a) == vars(b), where
    else:       # a NaN parameter (tol=nan) is the same NaN before and after
        same = a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))
        assert type(a) is type(b) and same, f"{where}: {a!r} != {b!r}"


def assert_unchanged(before, est):
    after = snapshot(est)
    assert set(after["vars"]) == set(before["vars"]), "attributes added or removed"
    for name, value in before["vars"].items():
        if name == "model_":
            assert after["vars"][name] is value, "model_ replaced"
        else:
            assert_same(value, after["vars"][name], name)
    assert set(after) == set(before)
    for name in set(before) - {"vars"}:
        assert_same(before[name], after[name], name)


def assert_unfitted(est):
    assert not [k for k in vars(est) if k.endswith("_")], vars(est)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        est.predict(X)


def assert_refused(est, mode, X_, y_, error, match=None, **kwargs):
    """The call raises `error`; the estimator is as before it."""
    fresh_start = not hasattr(est, "model_")
    before = snapshot(est)
    with pytest.raises(error, match=match):
        call(est, mode, X_, y_, **kwargs)
    assert_unchanged(before, est)
    if fresh_start:
        assert_unfitted(est)


def assert_continues_as_twin(est, cls, mode, good_params):
    """After the refused call, est trains on exactly as a twin that never saw it."""
    twin = prepared(cls, mode)
    est.set_params(**good_params)
    call(est, mode, X, targets(cls))
    call(twin, mode, X, targets(cls))
    assert est.n_iter_ == twin.n_iter_ and est.loss_curve_ == twin.loss_curve_
    for mine, theirs in zip(est.coefs_ + est.intercepts_, twin.coefs_ + twin.intercepts_):
        np.testing.assert_array_equal(mine, theirs)


# ---------------------------------------------------------------- invalid parameters
# Each is refused by every fit and partial_fit, also a continued one that does not use it
# (scikit-learn validates every parameter on every call).
INVALID = [
    # scikit-learn's InvalidParameterError (a ValueError and a TypeError), its message
    (dict(activation="swish"), ValueError, "The 'activation' parameter of"),
    (dict(activation=None), ValueError, "The 'activation' parameter of"),
    (dict(dropout=1.5), ValueError, "The 'dropout' parameter of"),
    (dict(dropout=-0.1), ValueError, "The 'dropout' parameter of"),
    (dict(hidden_layer_sizes=None), ValueError, "The 'hidden_layer_sizes' parameter of"),
    (dict(random_state=-1), ValueError, "The 'random_state' parameter of"),
    (dict(random_state="seed"), ValueError, "The 'random_state' parameter of"),
    (dict(optimizer="lbfgs"), ValueError, "The 'optimizer' parameter of"),
    (dict(dtype="float16"), TypeError, "The 'dtype' parameter of"),
    (dict(dtype="int32"), TypeError, "The 'dtype' parameter of"),
    (dict(alpha=-1.0), ValueError, "The 'alpha' parameter of"),
    (dict(alpha=np.inf), ValueError, "The 'alpha' parameter of"),
    (dict(max_iter=0), ValueError, "The 'max_iter' parameter of"),
    (dict(batch_size=0), ValueError, "The 'batch_size' parameter of"),
    (dict(batch_size="big"), TypeError, "The 'batch_size' parameter of"),
    (dict(learning_rate="fast"), ValueError, "The 'learning_rate' parameter of"),
    (dict(learning_rate_init=0.0), ValueError, "The 'learning_rate_init' parameter of"),
    (dict(momentum=1.5), ValueError, "The 'momentum' parameter of"),
    (dict(tol=np.nan), ValueError, "The 'tol' parameter of"),
    (dict(validation_fraction=1.0), ValueError, "The 'validation_fraction' parameter of"),
    (dict(n_iter_no_change=0), ValueError, "The 'n_iter_no_change' parameter of"),
    (dict(shuffle="yes"), TypeError, "The 'shuffle' parameter of"),
    (dict(early_stopping=1), TypeError, "The 'early_stopping' parameter of"),
    (dict(early_stopping_metric="auc"), ValueError, "The 'early_stopping_metric' parameter"),
    # what the constraints cannot state: fastprop's checks
    (dict(activation=["relu", "tanh"]), ValueError, "one per hidden layer"),
    (dict(activation=["swish"]), ValueError, "activation must be one of"),
    (dict(dropout=[0.1, 0.2]), ValueError, "one per hidden layer"),
    (dict(dropout=[1.5]), ValueError, r"dropout\[0\]"),
    (dict(hidden_layer_sizes=(0,)), ValueError, r"hidden_layer_sizes must be > 0"),
    (dict(hidden_layer_sizes=(4, 2.5)), TypeError, r"hidden_layer_sizes\[1\]"),
]


def _param_id(case):
    (name, value), = case[0].items()
    return f"{name}={value!r}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad, error, match", INVALID, ids=[_param_id(c) for c in INVALID])
def test_invalid_parameter_changes_nothing(bad, error, match, cls, mode):
    est = prepared(cls, mode)
    est.set_params(**bad)           # scikit-learn's convention: checked at fit, not here
    good = {name: TINY.get(name, type(est)().get_params()[name]) for name in bad}
    if mode in FRESH:   # on data of another shape and labels: none of it may stick
        assert_refused(est, mode, X_NEW, targets(cls, new=True), error, match,
                       **classes_kw(cls, new=True) if mode == "first_partial_fit" else {})
    else:               # on the same data: only the parameter is wrong
        assert_refused(est, mode, X, targets(cls), error, match)
        assert_continues_as_twin(est, cls, mode, good)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_invalid_solver(cls):
    """fit refuses it (InvalidParameterError); partial_fit, which only the stochastic
    solvers have, is then no attribute (scikit-learn's available_if)."""
    est = prepared(cls, "refit")
    est.set_params(solver="newton")
    assert_refused(est, "refit", X, targets(cls), ValueError, "The 'solver' parameter of")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        cls(solver="lbfgs").partial_fit
    assert "lbfgs is not stochastic" in str(info.value.__cause__)


def test_refused_refit_keeps_classes_and_predictions():
    """The reported case: a refit on other labels and features, refused for an unknown
    activation, leaves classes_, n_features_in_ and predict as they were."""
    clf = MLPClassifier(**TINY).fit(X, LABELS)
    before = clf.predict(X)
    clf.set_params(activation="swish")
    with pytest.raises(ValueError, match="activation"):
        clf.fit(X_NEW, LABELS_NEW)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 3
    np.testing.assert_array_equal(clf.predict(X), before)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(X_NEW)


# ---------------------------------------------------------------- refused data
def _wrong_length(cls, mode):
    return X, targets(cls)[:-1], {}


def _nan_in_X(cls, mode):
    bad = X.copy()
    bad[3, 1] = np.nan
    return bad, targets(cls), {}


def _inf_in_y(cls, mode):
    y = TARGETS.copy()
    y[2] = np.inf
    return X, y, {}


def _empty(cls, mode):
    return X[:0], targets(cls)[:0], {}


def _one_d_X(cls, mode):
    return X[:, 0], targets(cls), {}


def _continuous_labels(cls, mode):
    return X, TARGETS, {}


def _text_targets(cls, mode):
    return X, LABELS_NEW.astype(object), {}        # "a", "b": no float reading


def _other_feature_count(cls, mode):
    return X_NEW, targets(cls), {}


def _unknown_classes(cls, mode):
    return X, LABELS + 5, {}


def _other_classes_argument(cls, mode):
    return X, LABELS, {"classes": [0, 1]}


def _other_output_count(cls, mode):
    return X, np.column_stack([TARGETS, TARGETS]), {}


def _no_classes(cls, mode):
    return X_NEW, LABELS_NEW, {"classes": None}


ALL = (MLPClassifier, MLPRegressor)
# (make, estimators, modes, error, match)
BAD_DATA = [
    (_wrong_length, ALL, MODES, ValueError, "inconsistent numbers of samples"),
    (_nan_in_X, ALL, MODES, ValueError, "NaN"),
    (_empty, ALL, MODES, ValueError, "0 sample"),
    (_one_d_X, ALL, MODES, ValueError, "2D array"),
    (_inf_in_y, (MLPRegressor,), MODES, ValueError, "infinity|Inf"),
    (_continuous_labels, (MLPClassifier,), MODES, ValueError, "continuous|Unknown label"),
    (_text_targets, (MLPRegressor,), MODES, ValueError, "convert|numeric|float"),
    (_other_feature_count, ALL, CONTINUED, ValueError, "features"),
    (_unknown_classes, (MLPClassifier,), ("partial_fit",), ValueError, "not in"),
    (_unknown_classes, (MLPClassifier,), ("warm_start",), ValueError,
     "warm_start can only be used where `y` has the same classes"),
    (_other_classes_argument, (MLPClassifier,), ("partial_fit",), ValueError,
     "not the same"),
    (_other_output_count, (MLPRegressor,), CONTINUED, ValueError, "outputs"),
    (_no_classes, (MLPClassifier,), ("first_partial_fit",), ValueError,
     "classes must be passed"),
]
DATA_CASES = [pytest.param(make, cls, mode, error, match,
                           id=f"{make.__name__.strip('_')}-{cls.__name__}-{mode}")
              for make, estimators, modes, error, match in BAD_DATA
              for cls in estimators for mode in modes]


@pytest.mark.parametrize("make, cls, mode, error, match", DATA_CASES)
def test_refused_data_changes_nothing(make, cls, mode, error, match):
    est = prepared(cls, mode)
    X_, y_, kwargs = make(cls, mode)
    if mode == "first_partial_fit" and cls is MLPClassifier:
        kwargs = {"classes": np.unique(LABELS), **kwargs}
        if kwargs["classes"] is None:
            del kwargs["classes"]
    assert_refused(est, mode, X_, y_, error, match, **kwargs)
    if mode in CONTINUED:
        assert_continues_as_twin(est, cls, mode, {})


# ---------------------------------------------------------------- failed training
def _diverging(cls):
    """Finite data that makes SGD overflow within the first epoch."""
    return X * 1e200, targets(cls)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_diverging_training_changes_nothing(cls, mode):
    """FloatingPointError from Model.fit, raised as scikit-learn's ValueError (which is
    also a FloatingPointError). A fresh fit trains a network that is never committed;
    a continued one trains model_ in place, which Model.fit restores."""
    est = prepared(cls, mode, optimizer="sgd")
    X_, y_ = _diverging(cls)
    kwargs = classes_kw(cls) if mode == "first_partial_fit" else {}
    for error in (ValueError, FloatingPointError):
        assert_refused(est, mode, X_, y_, error, "Solver produced non-finite parameter "
                       "weights", **kwargs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_any_exception_from_training_changes_nothing(cls, mode, monkeypatch):
    """Whatever Model.fit raises (here a RuntimeError, before it trains), the estimator's
    attributes stay; an unfitted one stays unfitted."""
    est = prepared(cls, mode)

    def broken(self, *args, **kwargs):
        raise RuntimeError("broken")

    monkeypatch.setattr(Model, "fit", broken)
    y_ = targets(cls, new=mode in FRESH)
    kwargs = classes_kw(cls, new=True) if mode == "first_partial_fit" else {}
    assert_refused(est, mode, X_NEW if mode in FRESH else X, y_, RuntimeError, "broken",
                   **kwargs)


def test_failed_fit_does_not_consume_a_random_state():
    """A RandomState random_state seeds a new network by a draw: a failed fit leaves it
    where it was, so that the retry builds the network a first attempt would have."""
    rng = np.random.RandomState(7)
    clf = MLPClassifier(**{**TINY, "random_state": rng}, optimizer="sgd")
    state = rng.get_state()
    with pytest.raises(FloatingPointError):
        clf.fit(*_diverging(MLPClassifier))
    after = rng.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state, after))
    assert_unfitted(clf)
    clf.fit(X, LABELS)
    fresh = MLPClassifier(**{**TINY, "random_state": np.random.RandomState(7)},
                          optimizer="sgd").fit(X, LABELS)
    assert clf.model_.seed == fresh.model_.seed
    np.testing.assert_array_equal(clf.model_.params, fresh.model_.params)


# assert_unchanged predicts from plain arrays, about which scikit-learn warns
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_feature_names_survive_a_refused_refit():
    """validate_data(reset=True) sets feature_names_in_, or deletes it for an X without
    names: neither may happen in a refit that is then refused."""
    import pandas as pd
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"])
    clf = MLPClassifier(**TINY).fit(frame, LABELS)
    np.testing.assert_array_equal(clf.feature_names_in_, ["x0", "x1", "x2"])
    clf.set_params(dropout=1.5)
    for X_ in (X_NEW, pd.DataFrame(X_NEW, columns=["a", "b", "c", "d"])):
        before = snapshot(clf)
        with pytest.raises(ValueError, match="dropout"):
            clf.fit(X_, LABELS_NEW)
        assert_unchanged(before, clf)
    np.testing.assert_array_equal(clf.feature_names_in_, ["x0", "x1", "x2"])
    clf.set_params(dropout=0.0).fit(X_NEW, LABELS_NEW)      # a good refit: names go
    assert not hasattr(clf, "feature_names_in_") and clf.n_features_in_ == 4
