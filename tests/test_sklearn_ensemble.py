"""fastprop.sklearn's ensembles: scikit-learn's estimator checks; each member the bits of
the MLP estimator with its random_state fitted alone on its rows (bootstrap, early
stopping, the adaptive rate, lbfgs, warm start, 1 and 2 threads); predictions the
members' mean; a refused or diverging fit changes nothing; pickling."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastprop.sklearn import (MLPClassifier, MLPEnsembleClassifier, MLPEnsembleRegressor,
                              MLPRegressor)
from fastprop.threads import available_cores

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01)


def expected_failed_checks(estimator):
    """A bootstrap sample draws rows, not weights: a row repeated twice is drawn as
    two rows (scikit-learn's bagging fails these checks for the same reason)."""
    if not estimator.bootstrap:
        return {}
    return {f"check_sample_weight_equivalence_on_{kind}_data":
            "a bootstrap sample of repeated rows is not one of weighted rows"
            for kind in ("dense", "sparse")}


@parametrize_with_checks(
    [MLPEnsembleClassifier(n_estimators=3, **SMALL),
     MLPEnsembleRegressor(n_estimators=2, **SMALL),
     MLPEnsembleClassifier(n_estimators=2, bootstrap=True, solver="lbfgs",
                           hidden_layer_sizes=(8,), max_iter=50)],
    expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def classification(n=160, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.array(["a", "b", "c"])[rng.integers(0, k, n)]


def solo_like(ens, k, X, y, w=None, **params):
    """Member k's MLP fitted alone on its own rows."""
    member = ens.estimators_[k]
    rows = ens.estimators_samples_[k]
    cls = MLPClassifier if isinstance(ens, MLPEnsembleClassifier) else MLPRegressor
    solo = cls(**{**params, "random_state": member.random_state})
    if rows is None:
        return solo.fit(X, y, sample_weight=w)
    return solo.fit(X[rows], y[rows], sample_weight=None if w is None else w[rows])


def same_network(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                   b.coefs_ + b.intercepts_))


CASES = [
    dict(),
    dict(bootstrap=True, dropout=0.2),
    dict(early_stopping=True, class_weight={"a": 2.0, "b": 1.0, "c": 0.5}),
    dict(bootstrap=True, early_stopping=True, solver="sgd", learning_rate="adaptive",
         tol=1e-2, n_iter_no_change=2),
    dict(solver="lbfgs", bootstrap=True),
    dict(dtype="float32", optimizer="rmsprop"),
]


@pytest.mark.parametrize("params", CASES)
def test_members_are_the_bits_of_solo_fits(params):
    X, y = classification()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    base = dict(hidden_layer_sizes=(8,), max_iter=12, learning_rate_init=0.01,
                random_state=3)
    bootstrap = params.pop("bootstrap", False)
    ens = MLPEnsembleClassifier(n_estimators=3, bootstrap=bootstrap, **base,
                                **params).fit(X, y, sample_weight=w)
    assert len({m.random_state for m in ens.estimators_}) == 3
    for k, member in enumerate(ens.estimators_):
        solo = solo_like(ens, k, X, y, w, **base, **params)
        assert same_network(solo, member)
        assert solo.n_iter_ == member.n_iter_
        for name in ("loss_curve_", "validation_scores_", "best_loss_", "t_", "loss_"):
            assert getattr(solo, name, None) == getattr(member, name, None), name
    members = np.stack([m.predict_proba(X) for m in ens.estimators_])
    mean = members.mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(ens.predict_proba(X), mean, rtol=1e-12)
    assert np.array_equal(ens.predict(X), ens.classes_[mean.argmax(1)])


@pytest.mark.parametrize("threads", [1, 2] if available_cores() >= 2 else [1])
def test_regressor_members_mean_and_threads(threads):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 4))
    y = np.column_stack([X @ [1.0, -1.0, 0.5, 0.0], np.sin(X[:, 0])])
    base = dict(hidden_layer_sizes=(12,), max_iter=10, random_state=0, bootstrap=True)
    ens = MLPEnsembleRegressor(n_estimators=4, n_jobs=threads, **base).fit(X, y)
    for k in range(4):
        solo = solo_like(ens, k, X, y, hidden_layer_sizes=(12,), max_iter=10)
        assert same_network(solo, ens.estimators_[k])
    mean = np.mean([m.predict(X) for m in ens.estimators_], axis=0)
    np.testing.assert_allclose(ens.predict(X), mean, rtol=1e-12)
    assert ens.predict(X).shape == (120, 2) and ens.n_outputs_ == 2


def test_warm_start_continues_every_member():
    X, y = classification()
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=1, warm_start=True)
    ens = MLPEnsembleClassifier(n_estimators=2, **params).fit(X, y).fit(X, y)
    for k, member in enumerate(ens.estimators_):
        solo = MLPClassifier(**{**params, "random_state": member.random_state})
        solo.fit(X, y).fit(X, y)
        assert same_network(solo, member)
        assert solo.loss_curve_ == member.loss_curve_


def test_refused_and_diverging_fits_change_nothing():
    X, y = classification()
    ens = MLPEnsembleClassifier(n_estimators=2, hidden_layer_sizes=(8,), max_iter=5,
                                random_state=0, warm_start=True).fit(X, y)
    before = [[c.copy() for c in m.coefs_] for m in ens.estimators_]
    proba = ens.predict_proba(X)
    ens.set_params(n_estimators=3)
    with pytest.raises(ValueError, match="n_estimators"):
        ens.fit(X, y)
    ens.set_params(n_estimators=2, solver="sgd", learning_rate_init=1e300, momentum=0.0,
                   activation="identity")
    X_big = X * 1e3
    with pytest.raises(ValueError, match="non-finite"):
        ens.fit(X_big, y)
    for m, coefs in zip(ens.estimators_, before):
        assert all(np.array_equal(a, b) for a, b in zip(m.coefs_, coefs))
    assert np.array_equal(ens.predict_proba(X), proba)
    fresh = clone(ens).set_params(n_estimators=0)
    with pytest.raises(ValueError, match="n_estimators"):
        fresh.fit(X, y)
    assert not hasattr(fresh, "estimators_")


def test_pickle_round_trip_and_members_know_every_class():
    X, y = classification(n=40)
    y[:] = "a"
    y[:3] = "b"        # a bootstrap sample may lack "b"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens = MLPEnsembleClassifier(n_estimators=4, bootstrap=True, hidden_layer_sizes=(4,),
                                    max_iter=3, random_state=0).fit(X, y)
    assert all(list(m.classes_) == ["a", "b"] for m in ens.estimators_)
    copy = pickle.loads(pickle.dumps(ens))
    assert np.array_equal(copy.predict_proba(X), ens.predict_proba(X))
