"""sample_weight and class_weight of fastprop.sklearn's estimators, by scikit-learn's
definition: each batch minimises its weighted mean cost sum_i w_i C_i / sum_i w_i, the
L2 penalty scaled by 1 / (the sum of the weights)."""
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_sample_weight

from fastprop.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
LABELS = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
TARGETS = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
COUNTS = RNG.integers(0, 4, size=40)          # 0 to 3 copies of each row

LBFGS = dict(solver="lbfgs", hidden_layer_sizes=(6,), alpha=1e-3, max_iter=30,
             random_state=0)


def params_of(est):
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])


@pytest.mark.parametrize("cls, y", [(MLPClassifier, LABELS), (MLPRegressor, TARGETS)])
@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_unit_weights_are_no_weights(cls, y, solver):
    params = dict(LBFGS, solver=solver, batch_size=16)
    weighted = cls(**params).fit(X, y, sample_weight=np.ones(len(X)))
    plain = cls(**params).fit(X, y)
    np.testing.assert_array_equal(params_of(weighted), params_of(plain))
    assert weighted.n_iter_ == plain.n_iter_


@pytest.mark.parametrize("cls, y", [(MLPClassifier, LABELS), (MLPRegressor, TARGETS)])
def test_integer_weights_are_repeated_rows(cls, y):
    """lbfgs, float64: weight k is k copies of the row (weight 0 none)."""
    weighted = cls(**LBFGS).fit(X, y, sample_weight=COUNTS)
    repeated = cls(**LBFGS).fit(np.repeat(X, COUNTS, axis=0), np.repeat(y, COUNTS))
    np.testing.assert_allclose(params_of(weighted), params_of(repeated), rtol=0,
                               atol=1e-10)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-12)


@pytest.mark.parametrize("cls, y", [(MLPClassifier, LABELS), (MLPRegressor, TARGETS)])
def test_zero_weights_are_dropped_rows(cls, y):
    keep = COUNTS > 0
    weighted = cls(**LBFGS).fit(X, y, sample_weight=keep.astype(float))
    dropped = cls(**LBFGS).fit(X[keep], y[keep])
    np.testing.assert_allclose(params_of(weighted), params_of(dropped), rtol=0,
                               atol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_balanced_class_weight_is_its_sample_weight(solver):
    params = dict(LBFGS, solver=solver)
    balanced = MLPClassifier(**params, class_weight="balanced").fit(X, LABELS)
    weights = compute_sample_weight("balanced", LABELS)
    weighted = MLPClassifier(**params).fit(X, LABELS, sample_weight=weights)
    np.testing.assert_array_equal(params_of(balanced), params_of(weighted))
    both = MLPClassifier(**params, class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    both.fit(X, LABELS, sample_weight=COUNTS + 1.0)
    same = MLPClassifier(**params).fit(
        X, LABELS, sample_weight=(COUNTS + 1.0) * np.array([1.0, 2.0, 0.5])[LABELS])
    np.testing.assert_array_equal(params_of(both), params_of(same))


def test_partial_fit_takes_weights():
    """Weights all 2 are weights all 1 where no penalty is scaled by their sum."""
    params = dict(hidden_layer_sizes=(4,), random_state=0, batch_size=10, alpha=0.0)
    reg = MLPRegressor(**params)
    twin = MLPRegressor(**params)
    for _ in range(3):
        reg.partial_fit(X, TARGETS, sample_weight=np.full(len(X), 2.0))
        twin.partial_fit(X, TARGETS)
    np.testing.assert_allclose(params_of(reg), params_of(twin), rtol=1e-9)
