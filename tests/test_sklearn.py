"""fastprop.sklearn: scikit-learn's own estimator checks, and the behaviour scikit-learn
users rely on (labels, partial_fit, warm start, early stopping, pipelines, grid search,
pickling, views of the weights)."""
import copy
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

import fastprop as fp
from fastprop.sklearn import MLPClassifier, MLPRegressor

# Most fits here stop at max_iter on purpose (small and fast); scikit-learn then warns.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01)


def expected_failed_checks(estimator):
    """Checks that cannot apply to an instance, with the reason (scikit-learn marks them
    xfail). The default estimators pass every check."""
    failed = {}
    if estimator.dtype == "float32":
        # weights and repeated rows sum in other orders: float32 roundings (~1e-6)
        # differ by more than the checks' rtol of 1e-7
        failed.update({f"check_sample_weight_equivalence_on_{kind}_data":
                       "float32 rounds repeated rows and weights differently (~1e-6)"
                       for kind in ("dense", "sparse")})
    if estimator.dropout:
        failed.update({f"check_sample_weight_equivalence_on_{kind}_data":
                       "dropout draws a mask per row: a repeated row gets other masks"
                       for kind in ("dense", "sparse")})
    if isinstance(estimator, MLPRegressor) and estimator.dtype == "float32":
        failed["check_regressor_multioutput"] = ("dtype='float32' asks for float32 "
                                                 "predictions; this check demands float64")
    return failed


@parametrize_with_checks(
    [MLPClassifier(**SMALL), MLPRegressor(**SMALL),
     MLPClassifier(**SMALL, dtype="float32", dropout=0.1, optimizer="sgd"),
     MLPRegressor(**SMALL, dtype="float32")],
    expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- data
def digits(n_train=1000):
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, train_size=n_train, random_state=0, stratify=y)


def blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    labels = np.arange(n) % 3
    return centres[labels] + rng.normal(size=(n, 2)), labels


# ---------------------------------------------------------------- classifier
def test_digits_accuracy():
    X_train, X_test, y_train, y_test = digits()
    clf = MLPClassifier(hidden_layer_sizes=(64,), batch_size=32, max_iter=40, random_state=0)
    assert clf.fit(X_train, y_train) is clf
    assert clf.score(X_test, y_test) > 0.93
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert len(clf.loss_curve_) == clf.n_iter_ <= 40
    assert clf.t_ == clf.n_iter_ * len(X_train)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_string_labels_and_probabilities():
    X, labels = blobs()
    names = np.array(["setosa", "versicolor", "virginica"])[labels]
    clf = MLPClassifier(**SMALL, random_state=1).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    predicted = clf.predict(X)
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(axis=1)])
    assert (predicted == names).mean() > 0.95
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_binary_and_single_class():
    X, labels = blobs()
    y = np.where(labels == 0, -1, 1)
    clf = MLPClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y) > 0.95
    # scikit-learn's shapes: one logistic output, predict_proba [1 - p, p]
    assert clf.coefs_[-1].shape == (16, 1) and clf.out_activation_ == "logistic"
    assert clf.model_.loss_name == "binary_cross_entropy"
    p = clf.model_.predict(X)[:, 0]
    np.testing.assert_allclose(clf.predict_proba(X), np.column_stack([1 - p, p]))
    one = MLPClassifier(**SMALL, random_state=0).fit(X, np.full(len(X), "only"))
    np.testing.assert_array_equal(one.predict(X), "only")
    assert one.predict_proba(X).shape == (len(X), 2)        # as scikit-learn: [1 - p, p]
    assert (one.predict_proba(X)[:, 0] > 0.5).all()


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=4,
                                          random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01,
                        batch_size=16, random_state=0).fit(X, Y)
    assert clf.model_.loss_name == "binary_cross_entropy"
    assert clf.out_activation_ == "logistic"
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape and set(np.unique(predicted)) <= {0, 1}
    assert (predicted == Y).mean() > 0.9            # each label's majority: 0.55


def test_partial_fit_equals_fit():
    """k calls of partial_fit train exactly as fit for k epochs (same seed): the
    optimizer's moments and the shuffling order continue between calls. n_iter_ is
    the last call's epochs, as in scikit-learn."""
    X, y = blobs()
    params = dict(hidden_layer_sizes=(8,), random_state=3, batch_size=16, dropout=0.1)
    fitted = MLPClassifier(**params, max_iter=5, n_iter_no_change=10).fit(X, y)
    stepped = MLPClassifier(**params)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        stepped.partial_fit(X, y)
    for _ in range(5):
        stepped.partial_fit(X, y, classes=[0, 1, 2])
    assert stepped.n_iter_ == 1 and len(stepped.loss_curve_) == 5
    assert stepped.t_ == fitted.t_ == 5 * len(X)
    assert stepped.model_.params.tobytes() == fitted.model_.params.tobytes()
    assert stepped.loss_curve_ == fitted.loss_curve_
    with pytest.raises(ValueError, match="not in"):
        stepped.partial_fit(X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="not the same"):
        stepped.partial_fit(X, y, classes=[0, 1])


def test_partial_fit_classes_beyond_first_batch():
    X, y = blobs()
    clf = MLPClassifier(**SMALL, random_state=0)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 2


def test_warm_start_continues():
    X, y = blobs()
    clf = MLPClassifier(**dict(SMALL, max_iter=3), random_state=0, warm_start=True)
    clf.fit(X, y)
    after_first = [W.copy() for W in clf.coefs_]
    model = clf.model_
    clf.fit(X, y)
    # n_iter_ counts the last fit's epochs (scikit-learn's), loss_curve_ all of them
    assert clf.model_ is model and clf.n_iter_ == 3 and len(clf.loss_curve_) == 6
    assert not np.array_equal(after_first[0], clf.coefs_[0])
    cold = MLPClassifier(**dict(SMALL, max_iter=3), random_state=0)
    cold.fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], after_first[0])
    cold.fit(X, y)                              # without warm start: the same fresh fit
    np.testing.assert_array_equal(cold.coefs_[0], after_first[0])
    assert cold.n_iter_ == 3
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the "
                                         "same classes"):
        clf.fit(X, y + 1)


def test_early_stopping():
    X_train, _, y_train, _ = digits(600)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, learning_rate_init=0.02,
                        early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                        random_state=0).fit(X_train, y_train)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_       # validation accuracies
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf.score(X_train, y_train) > 0.9
    assert clf.t_ == clf.n_iter_ * 480                    # 20% held out


def test_stops_when_training_loss_stalls():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(**dict(SMALL, max_iter=2), random_state=0).fit(X, y)
    clf = MLPClassifier(**dict(SMALL, max_iter=10_000), tol=1e-2, n_iter_no_change=2,
                        random_state=0)
    clf.fit(X, y)                              # no warning: converged by tol
    assert clf.n_iter_ < 10_000
    assert clf.best_loss_ == min(clf.loss_curve_)


# ---------------------------------------------------------------- regressor
def test_regressor():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2
    reg = MLPRegressor(hidden_layer_sizes=(32, 32), activation="tanh", max_iter=200,
                       learning_rate_init=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (400,)
    assert reg.score(X, y) > 0.95
    assert reg.model_.activations == ["tanh", "tanh", "identity"]
    Y = np.column_stack([y, -y])
    multi = MLPRegressor(**SMALL, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (400, 2) and multi.n_outputs_ == 2
    with pytest.raises(ValueError, match="outputs"):
        multi.partial_fit(X, y)


# ---------------------------------------------------------------- ecosystem
def test_pipeline_grid_search_and_clone():
    X, _, y, _ = digits(300)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(batch_size=16, max_iter=20,
                                                         random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
                                 "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(8,), (32,)]
    assert search.score(X, y) > 0.8
    fitted = search.best_estimator_[-1]
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params()
    assert not hasattr(fresh, "model_")
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("dump", ["pickle", "joblib", "deepcopy"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_pickle_round_trip(tmp_path, dump, cls):
    X, y = blobs()
    est = cls(**SMALL, random_state=0, optimizer="adam", dropout=0.2, dtype="float32")
    est.partial_fit(X, y, **({"classes": [0, 1, 2]} if cls is MLPClassifier else {}))
    if dump == "pickle":
        copied = pickle.loads(pickle.dumps(est))
    elif dump == "joblib":
        joblib.dump(est, tmp_path / "est.joblib")
        copied = joblib.load(tmp_path / "est.joblib")
    else:
        copied = copy.deepcopy(est)
    assert copied.predict(X).tobytes() == est.predict(X).tobytes()
    assert copied.get_params() == est.get_params()
    assert copied.loss_curve_ == est.loss_curve_
    assert np.shares_memory(copied.coefs_[0], copied.model_.params)
    for _ in range(2):     # training continues exactly: moments, shuffling, dropout
        copied.partial_fit(X, y)
        est.partial_fit(X, y)
    assert copied.model_.params.tobytes() == est.model_.params.tobytes()


def test_coefs_are_views_of_the_model():
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=5, random_state=0).fit(X, y)
    assert [W.shape for W in clf.coefs_] == [(2, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    for W, b in zip(clf.coefs_, clf.intercepts_):
        assert np.shares_memory(W, clf.model_.params)
        assert np.shares_memory(b, clf.model_.params)
    before = clf.predict_proba(X)
    clf.intercepts_[-1][...] = [50.0, 0.0, 0.0]
    assert (clf.predict(X) == 0).all()
    assert not np.array_equal(before, clf.predict_proba(X))


# ---------------------------------------------------------------- parameters
def test_parameter_mapping():
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=7, activation="logistic", alpha=0.3,
                        batch_size=30, max_iter=2, random_state=5).fit(X, y)
    assert clf.model_.sizes == (2, 7, 3)
    assert clf.model_.activations == ["sigmoid", "softmax"]
    assert clf.model_.l2 == 0.3 / 30                      # scikit-learn's alpha / batch
    assert isinstance(clf.model_.optimizer, fp.Adam) and clf.model_.optimizer.lr == 1e-3
    assert clf.model_.optimizer.betas == (0.9, 0.999) and clf.model_.optimizer.eps == 1e-8
    for how in (dict(solver="sgd"), dict(optimizer="sgd")):
        sgd = MLPClassifier(**how, learning_rate_init=0.05, max_iter=1).fit(X, y)
        opt = sgd.model_.optimizer
        assert (type(opt), opt.lr, opt.momentum, opt.nesterov) == (fp.SGD, 0.05, 0.9, True)
    plain = MLPClassifier(solver="sgd", momentum=0.0, max_iter=1).fit(X, y).model_.optimizer
    assert (plain.momentum, plain.nesterov) == (0.0, False)
    adam = MLPClassifier(beta_1=0.8, beta_2=0.99, epsilon=1e-6, max_iter=1).fit(X, y)
    assert (adam.model_.optimizer.betas, adam.model_.optimizer.eps) == ((0.8, 0.99), 1e-6)
    other = MLPClassifier(optimizer="rmsprop", learning_rate_init=0.02, max_iter=1)
    assert type(other.fit(X, y).model_.optimizer) is fp.RMSprop
    assert MLPClassifier(max_iter=1).fit(X, y).model_.l2 == 1e-4 / 90   # auto: min(200, n)


def test_optimizer_object_is_copied():
    X, y = blobs()
    mine = fp.RMSprop(0.01, momentum=0.5)
    clf = MLPClassifier(optimizer=mine, max_iter=2, random_state=0).fit(X, y)
    assert clf.optimizer is mine and clf.model_.optimizer is not mine
    assert vars(clf.model_.optimizer) == vars(mine)


def test_dtype():
    X, y = blobs()
    assert MLPClassifier(max_iter=1).fit(X, y).model_.dtype == np.float64
    c32 = MLPClassifier(max_iter=1).fit(X.astype(np.float32), y)
    assert c32.model_.dtype == np.float32 and c32.predict_proba(X).dtype == np.float32
    forced = MLPRegressor(max_iter=1, dtype="float32").fit(X, y.astype(float))
    assert forced.model_.dtype == np.float32 and forced.predict(X).dtype == np.float32


@pytest.mark.parametrize("params, message", [
    (dict(max_iter=0), "The 'max_iter' parameter of MLPClassifier must be"),
    (dict(optimizer="lbfgs"), "The 'optimizer' parameter"),
    (dict(solver="lbfgs", optimizer="adam"), "needs a stochastic solver"),
    (dict(solver="lbfgs", dropout=0.1), "needs a stochastic solver"),
    (dict(activation="swish"), "The 'activation' parameter"),
    (dict(activation=["relu", "swish"]), "activation must be one of"),
    (dict(hidden_layer_sizes=(10, 0)), r"hidden_layer_sizes must be > 0, got \[10, 0\]"),
    (dict(batch_size="big"), "The 'batch_size' parameter"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(dropout=1.5), "dropout"),
    (dict(dtype="float16"), "The 'dtype' parameter"),
    (dict(class_weight="even"), "The 'class_weight' parameter"),
])
def test_bad_parameters_refused_at_fit(params, message):
    X, y = blobs()
    clf = MLPClassifier(**params)            # scikit-learn convention: no check here
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = blobs()
    clf = MLPClassifier(max_iter=2, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Iteration {i + 1}, loss = {loss:.8f}"
                     for i, loss in enumerate(clf.loss_curve_)]


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_parameter_validation_is_scikit_learns(cls):
    """scikit-learn's own check: a constraint for every parameter, and its
    InvalidParameterError with its message for a value of the wrong type or range."""
    check_param_validation(cls.__name__, cls(**SMALL))


def test_assigned_weights_are_used():
    """coefs_ and intercepts_ are plain attributes: arrays assigned to them (rather
    than written into) are what predictions and the next partial_fit start from."""
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    model = clf.model_
    clf.coefs_ = [np.zeros((2, 4)), np.zeros((4, 3))]
    clf.intercepts_ = [np.zeros(4), np.array([0.0, 5.0, 0.0])]
    assert (clf.predict(X) == 1).all()
    assert clf.model_ is model                     # predicting changes nothing
    clf.partial_fit(X, y)
    assert clf.model_ is not model and np.shares_memory(clf.coefs_[0], clf.model_.params)
    assert abs(clf.intercepts_[1][1] - 5.0) < 0.5  # one epoch on from the assigned ones
