"""fastprop.sklearn side by side with scikit-learn's MLPClassifier and MLPRegressor: the
same parameters and seeds on bundled data sets and generated ones, for each solver.
The mean test score over a few seeds agrees within 0.01 (accuracy) or 0.02 (R^2).

lbfgs starts from scikit-learn's very initial weights (the same draws) and minimises the
same cost, so it agrees to rounding; the stochastic solvers shuffle with other draws,
so their scores differ by the spread of the seeds. Diabetes (221 training samples, a
noisy target) runs lbfgs only: its stochastic scores vary by more than 0.02 from seed
to seed in either library."""
import numpy as np
import pytest
import sklearn.neural_network as upstream
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastprop.sklearn as ours

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SEEDS = (0, 1, 2)
CLASSIFICATION = ("digits", "iris", "wine", "breast_cancer", "make_classification")
REGRESSION = ("diabetes", "make_regression")


def load(name):
    """(X_train, X_test, y_train, y_test): half for testing, standardised by the
    training half."""
    if name == "make_classification":
        X, y = datasets.make_classification(600, 20, n_informative=8, n_classes=3,
                                            random_state=0)
    elif name == "make_regression":
        X, y = datasets.make_regression(600, 10, noise=10.0, random_state=0)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    regression = name in REGRESSION
    if regression:
        y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=None if regression else y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def mean_score(library, name, **params):
    X_train, X_test, y_train, y_test = load(name)
    cls = library.MLPRegressor if name in REGRESSION else library.MLPClassifier
    return np.mean([cls(**params, random_state=seed).fit(X_train, y_train)
                    .score(X_test, y_test) for seed in SEEDS])


CASES = ([(name, solver) for name in CLASSIFICATION + ("make_regression",)
          for solver in ("adam", "sgd", "lbfgs")] + [("diabetes", "lbfgs")])


@pytest.mark.parametrize("name, solver", CASES)
def test_mean_score_matches_scikit_learn(name, solver):
    params = dict(solver=solver, hidden_layer_sizes=(32,), max_iter=200)
    if solver == "sgd":
        params["learning_rate_init"] = 0.05
    if name == "diabetes":
        params.update(hidden_layer_sizes=(16,), alpha=10.0)
    theirs = mean_score(upstream, name, **params)
    mine = mean_score(ours, name, **params)
    assert abs(mine - theirs) <= (0.02 if name in REGRESSION else 0.01), (mine, theirs)


@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_initial_weights_are_scikit_learns(activation):
    """The same draws from the same random_state: one step at a negligible rate leaves
    both networks at their initial weights."""
    X_train, _, y_train, _ = load("iris")
    params = dict(solver="sgd", hidden_layer_sizes=(5, 4), activation=activation,
                  learning_rate_init=1e-12, max_iter=1, random_state=3)
    theirs = upstream.MLPClassifier(**params).fit(X_train, y_train)
    mine = ours.MLPClassifier(**params).fit(X_train, y_train)
    for a, b in zip(mine.coefs_ + mine.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_lbfgs_reaches_scikit_learns_solution():
    """lbfgs minimises the same cost from the same start: the same loss_ and
    predicted probabilities, to the rounding of two implementations."""
    X_train, X_test, y_train, _ = load("wine")
    params = dict(solver="lbfgs", hidden_layer_sizes=(8,), alpha=1e-2, random_state=0)
    theirs = upstream.MLPClassifier(**params).fit(X_train, y_train)
    mine = ours.MLPClassifier(**params).fit(X_train, y_train)
    assert mine.loss_ == pytest.approx(theirs.loss_, rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(mine.predict_proba(X_test), theirs.predict_proba(X_test),
                               atol=1e-3)
