"""Bad input raises ValueError/TypeError naming what was wrong, and changes nothing."""
import numpy as np
import pytest

import fastprop as fp

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 4))
LABELS = RNG.integers(0, 3, 10)


def classifier():
    return fp.Model([4, 5, 3], loss="cross_entropy", dtype=np.float64, seed=0)


def regressor():
    return fp.Model([4, 5, 1], loss="mse", dtype=np.float64, seed=0)


def with_nan(a, value=np.nan):
    a = np.array(a, dtype=float)
    a.flat[3] = value
    return a


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(layer_sizes=[4]), ValueError, "layer_sizes"),
    (dict(layer_sizes=[4, 0, 3]), ValueError, r"layer_sizes\[1\]"),
    (dict(layer_sizes=[4, 2.5, 3]), TypeError, r"layer_sizes\[1\]"),
    (dict(layer_sizes=5), TypeError, "layer_sizes"),
    (dict(activation="relux"), ValueError, "activation.*relu"),
    (dict(activation="softmax"), ValueError, "activation"),
    (dict(activation=["relu", "tanh"]), ValueError, "one per hidden layer"),
    (dict(loss="hinge"), ValueError, "loss.*cross_entropy"),
    (dict(loss="cross_entropy", output_activation="sigmoid"), ValueError, "does not pair"),
    (dict(loss="binary_cross_entropy", output_activation="identity"), ValueError,
     "does not pair"),
    (dict(output_activation="swish"), ValueError, "output_activation"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(dtype=np.float16), TypeError, "dtype"),
    (dict(dtype="complex128"), TypeError, "dtype"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="abc"), TypeError, "seed"),
    (dict(init="orthogonal"), ValueError, "init.*he_normal"),
])
def test_bad_model_arguments(kwargs, error, match):
    args = dict(layer_sizes=[4, 5, 3])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fp.Model(**args)


@pytest.mark.parametrize("make,X,y,kwargs,error,match", [
    (classifier, X[:, :3], LABELS, {}, ValueError, "X has 3 features"),
    (classifier, X[0], LABELS, {}, ValueError, "X must be 2-D"),
    (classifier, X[:0], LABELS[:0], {}, ValueError, "X is empty"),
    (classifier, with_nan(X), LABELS, {}, ValueError, "X must be finite"),
    (classifier, with_nan(X, np.inf), LABELS, {}, ValueError, "X must be finite"),
    (classifier, X.astype(complex), LABELS, {}, TypeError, "X must hold real numbers"),
    (classifier, X.astype(object), LABELS, {}, TypeError, "X must hold real numbers"),
    (classifier, np.full((10, 4), "a"), LABELS, {}, TypeError, "X must hold real numbers"),
    (classifier, X, LABELS[:9], {}, ValueError, "y has 9 samples but X has 10"),
    (classifier, X, LABELS + 1, {}, ValueError, r"labels.*0\.\.2"),
    (classifier, X, LABELS - 1, {}, ValueError, r"labels.*0\.\.2"),
    (classifier, X, LABELS + 0.5, {}, ValueError, "non-integral"),
    (classifier, X, np.ones((10, 3)), {}, ValueError, "probabilities"),
    (classifier, X, np.ones((10, 2)) / 2, {}, ValueError, r"shape \(10, 3\)"),
    (regressor, X, with_nan(np.ones(10)), {}, ValueError, "y must be finite"),
    (regressor, X, np.ones((10, 2)), {}, ValueError, r"shape \(10, 1\)"),
    (regressor, X, np.ones((10, 1, 1)), {}, ValueError, "y must be 1-D or 2-D"),
    (classifier, X, LABELS, dict(epochs=0), ValueError, "epochs"),
    (classifier, X, LABELS, dict(epochs=2.0), TypeError, "epochs"),
    (classifier, X, LABELS, dict(batch_size=0), ValueError, "batch_size"),
    (classifier, X, LABELS, dict(shuffle="yes"), TypeError, "shuffle"),
    (classifier, X, LABELS, dict(verbose=3), ValueError, "verbose"),
    (classifier, X, LABELS, dict(optimizer="nadam"), ValueError, "optimizer must be one of"),
    (classifier, X, LABELS, dict(optimizer=3), TypeError, "optimizer"),
    (classifier, X, LABELS.reshape(-1, 1) + 1, {}, ValueError, r"labels.*0\.\.2"),
])
def test_refused_fit_changes_nothing(make, X, y, kwargs, error, match):
    model = make()
    model.fit(np.zeros((2, 4)), np.zeros(2, dtype=int) if model.loss_name != "mse"
              else np.zeros(2), epochs=1, optimizer=fp.Adam())
    params = model.params.copy()
    state = model.net.opt_state.copy()
    step = model.net.opt_step.copy()
    optimizer = model.optimizer
    with pytest.raises(error, match=match):
        model.fit(X, y, **kwargs)
    assert np.array_equal(model.params, params)
    assert np.array_equal(model.net.opt_state, state)
    assert np.array_equal(model.net.opt_step, step)
    assert model.optimizer is optimizer


def test_binary_targets_outside_zero_one():
    model = fp.Model([4, 3, 2], loss="binary_cross_entropy", dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.loss(X, np.full((10, 2), 2.0))


@pytest.mark.parametrize("method", ["predict", "loss", "gradients", "trace"])
def test_other_entry_points_check_their_input(method):
    model = classifier()
    params = model.params.copy()
    args = (X[:, :2],) if method == "predict" else (X[:, :2], LABELS)
    with pytest.raises(ValueError, match="X has 2 features"):
        getattr(model, method)(*args)
    assert np.array_equal(model.params, params)


def test_integer_bool_and_fortran_inputs_are_accepted():
    model = classifier()
    Xi = (X * 10).astype(np.int64)
    expected = model.predict(Xi.astype(np.float64))
    assert np.array_equal(model.predict(Xi), expected)
    assert np.array_equal(model.predict(np.asfortranarray(Xi)), expected)
    assert np.array_equal(model.predict(Xi.tolist()), expected)
    model.predict(X > 0)
    assert np.isfinite(model.loss(X, LABELS.astype(np.float64)))


def test_fortran_and_strided_inputs_train_bit_identically():
    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(40, 8))
    y = rng.integers(0, 3, 40)
    results = []
    for X in (Xc, np.asfortranarray(Xc), np.repeat(Xc, 2, axis=1)[:, ::2]):
        model = fp.Model([8, 6, 3], loss="cross_entropy", dtype=np.float32, seed=0)
        model.fit(X, y, epochs=2, batch_size=8)
        results.append((model.params.copy(), model.predict(X)))
    for params, out in results[1:]:
        assert np.array_equal(params, results[0][0])
        assert np.array_equal(out, results[0][1])


# ---------------------------------------------------------------- kernels and files
from fastprop import kernels  # noqa: E402


@pytest.mark.parametrize("call,match", [
    (lambda net: kernels.sgd_step(net, np.zeros((2, 3)), np.zeros((2, 1)), 0.1),
     "X must be 2-D"),
    (lambda net: kernels.sgd_step(net, np.zeros((2, 4)), np.zeros((2, 2)), 0.1),
     "Y must be 2-D"),
    (lambda net: kernels.train_step(net, np.zeros((2, 4)), np.zeros((3, 1))),
     "same number of rows"),
    (lambda net: kernels.loss_and_gradients(net, np.zeros((0, 4)), np.zeros((0, 1))),
     "at least one row"),
    (lambda net: kernels.loss_and_gradients(net, np.zeros((300, 4)), np.zeros((300, 1))),
     "capacity"),
    (lambda net: kernels.predict(net, np.zeros((2, 4)), np.zeros((2, 2))), "out must be"),
    (lambda net: kernels.predict(net, np.zeros((2, 5)), np.zeros((2, 1))), "X must be 2-D"),
])
def test_kernel_entry_points_check_sizes(call, match):
    model = fp.Model([4, 3, 1], dtype=np.float64, seed=0)
    params = model.params.copy()
    with pytest.raises(ValueError, match=match):
        call(model.net)
    assert np.array_equal(model.params, params)


@pytest.mark.parametrize("content,error,match", [
    (None, FileNotFoundError, "no such file"),
    (b"", ValueError, "the file is empty"),
    (b"PK\x03\x04 truncated zip", ValueError, "damaged or truncated"),
    ("foreign", ValueError, "not a fastprop model"),
])
def test_load_refuses_bad_files(tmp_path, content, error, match):
    path = tmp_path / "model.npz"
    if content == "foreign":
        np.savez(path, weights=np.zeros(3))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=match):
        fp.load(path)


# ---------------------------------------------------------------- estimators
from fastprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.mark.parametrize("make,fit_args,error,match", [
    (lambda: MLPClassifier(hidden_layer_sizes=(0,)), (X, LABELS), ValueError,
     "hidden_layer_sizes"),
    (lambda: MLPClassifier(activation="swish"), (X, LABELS), ValueError, "activation"),
    (lambda: MLPClassifier(learning_rate_init=-1.0), (X, LABELS), ValueError,
     "learning_rate_init"),
    (lambda: MLPClassifier(optimizer="lbfgs"), (X, LABELS), ValueError, "optimizer"),
    (lambda: MLPRegressor(max_iter=0), (X, X[:, 0]), ValueError, "max_iter"),
    (lambda: MLPRegressor(), (with_nan(X), X[:, 0]), ValueError, "NaN"),
])
def test_estimators_refuse_bad_settings_and_data(make, fit_args, error, match):
    with pytest.raises(error, match=match):
        make().fit(*fit_args)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fitted_estimator_is_unchanged_by_a_refused_call():
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, LABELS)
    params = clf.model_.params.copy()
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], LABELS)
    with pytest.raises(ValueError):
        clf.predict(X[:, :3])
    assert np.array_equal(clf.model_.params, params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_non_finite_input_wherever_it_is(dtype, bad):
    # predict counts non-finite inputs in the compiled pass that copies X in
    # (kernels.network.predict_rows); the error still names the first culprit, for
    # any row, including rows past the first workspace chunk
    model = fp.Model([4, 5, 3], dtype=dtype, seed=0)
    rows = model.net.capacity + 7
    for where in [(0, 0), (3, 2), (rows - 1, 3)]:
        Xb = np.ones((rows, 4), dtype)
        Xb[where] = bad
        with pytest.raises(ValueError, match=rf"X must be finite; found {bad} at index "
                                             rf"\({where[0]}, {where[1]}\)"):
            model.predict(Xb)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_predict_refuses_input_that_overflows_the_model_dtype():
    # finite in float64, inf once converted to the float32 model's dtype
    model = fp.Model([4, 5, 3], dtype=np.float32, seed=0)
    Xb = np.ones((2, 4))
    Xb[1, 2] = 1e300
    with pytest.raises(ValueError, match=r"X must be finite; found inf at index \(1, 2\)"):
        model.predict(Xb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_any_non_finite_entry_and_accepts_overflowing_sums(dtype):
    from fastprop.validation import all_finite
    big = np.finfo(dtype).max
    assert all_finite(np.zeros((0, 3), dtype))
    assert all_finite(np.ones((5, 3), dtype))
    # finite entries whose sum overflows to inf, or to inf - inf = nan
    assert all_finite(np.full(4, big, dtype))
    assert all_finite(np.array([big, big, -big, -big], dtype))
    for bad in (np.nan, np.inf, -np.inf):
        for where in range(7):
            a = np.ones(7, dtype)
            a[where] = bad
            assert not all_finite(a)
            # strided views: entries 0, 2, 4, 6 and 1, 3, 5
            assert all_finite(a[::2]) == (where % 2 == 1)
            assert all_finite(a[1::2]) == (where % 2 == 0)
        # with entries that overflow, before and after the bad one
        assert not all_finite(np.array([big, bad, big], dtype))
        assert not all_finite(np.array([-big, -big, bad], dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_on_large_arrays_every_layout(dtype):
    # above all_finite's entry-by-entry size: the sum of squares (contiguous, C or F
    # order) or the sum (strided views), overflow falling back to min and max
    from fastprop.validation import all_finite
    big = np.finfo(dtype).max
    base = np.ones((300, 40), dtype)
    views = [lambda a: a, lambda a: np.asfortranarray(a), lambda a: a[:, ::3],
             lambda a: a[::2], lambda a: a.T]
    for view in views:
        assert all_finite(view(base))
        huge = base.copy()
        huge[::7] = big                   # squares and sums overflow, entries finite
        assert all_finite(view(huge))
        for bad in (np.nan, np.inf, -np.inf):
            for where in [(0, 0), (151, 9), (299, 39)]:
                for a in (base.copy(), huge.copy()):
                    a[where] = bad
                    seen = view(a)
                    assert all_finite(seen) == bool(np.isfinite(seen).all())


@pytest.mark.parametrize("where", ["X", "y"])
def test_fit_refuses_float64_data_beyond_a_float32_models_range(where):
    # finite in float64, inf once cast to float32: named, and nothing changes
    model = fp.Model([3, 4, 1], dtype=np.float32, seed=0)
    params = model.params.copy()
    X, y = np.ones((8, 3)), np.ones(8)
    (X if where == "X" else y)[5] = -1e39
    with pytest.raises(ValueError, match=rf"{where} must fit the model's dtype float32: "
                                         r"-1e\+39 at index \(5"):
        model.fit(X, y, epochs=1)
    assert np.array_equal(model.params, params)
    from fastprop.validation import as_features          # within the range: accepted
    assert as_features(np.full((2, 3), -3.4e38), 3, np.float32).dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fit_refuses_non_finite_input_among_overflowing_values(bad):
    # all_finite's sum overflows on such X; min and max decide
    Xb = np.full((10, 4), 1e308)
    Xb[6, 1] = bad
    model = regressor()
    params = model.params.copy()
    with pytest.raises(ValueError, match=r"X must be finite; found .* at index \(6, 1\)"):
        model.fit(Xb, np.ones(10), epochs=1)
    assert np.array_equal(model.params, params)
