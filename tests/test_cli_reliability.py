"""The command line refuses what it cannot do right, in one line and without a
traceback: model files whose stored preprocessing does not fit the model, networks too
large for memory, data near the float64 limit, and CSV headers that do not name the
model's features. Most cases run `python -m fastprop` in a subprocess as a user would;
the many crafted model files go through `fastprop.cli.main` in this process."""
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from test_cli import assert_ok, assert_user_error, fastprop, write_csv

import fastprop as fp
from fastprop import io as fpio
from fastprop.cli import main

FEATURES = ["a", "b", "c"]
LABELS = np.array(["x", "y", "z"])
# An address-space limit for the process, so that a large allocation fails at once and
# predictably, whatever the machine's memory and overcommit policy.
LIMIT_MEMORY = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))"


def cli(capsys, *args):
    """`fastprop ARGS` in this process: the exit code and what it printed."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def numbers(text):
    """The values of a one-column prediction CSV (after its header)."""
    return np.array(text.split()[1:], dtype=np.float64)


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    """A regression model trained with `fastprop train --out` on a CSV with a header
    (features a, b, c and target y), and its predictions for that file."""
    folder = tmp_path_factory.mktemp("reliability")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -50.0]
    y = X @ [1.0, 0.2, 0.03] + rng.normal(scale=0.1, size=80)
    data = folder / "data.csv"
    write_csv(data, [*FEATURES, "y"], [[*x, t] for x, t in zip(X, y)])
    model = folder / "model.npz"
    assert_ok(fastprop("train", data, "--layers", "8", "--epochs", "5", "--optimizer", "adam",
                       "--out", model, "--quiet"))
    expected = assert_ok(fastprop("predict", model, data)).stdout
    return SimpleNamespace(folder=folder, X=X, y=y, data=data, model=model,
                           expected=expected)


def classifier_file(path, loss="cross_entropy", outputs=3, **changes):
    """A three-input classifier saved with the extras `train --out` writes; `changes`
    replaces extras (None removes one)."""
    model = fp.Model([3, 5, outputs], loss=loss, seed=0)
    extra = {"x_mean": np.zeros(3), "x_scale": np.ones(3), "classes": LABELS,
             "feature_names": np.array(FEATURES), "target_name": np.array("label")}
    extra.update(changes)
    fpio.save(model, path, extra={k: v for k, v in extra.items() if v is not None})
    return model


def regressor_file(path, **changes):
    """A three-input regressor saved with the extras `train --out` writes."""
    model = fp.Model([3, 5, 1], loss="mse", seed=0)
    extra = {"x_mean": np.zeros(3), "x_scale": np.ones(3), "y_mean": np.array([10.0]),
             "y_scale": np.array([2.0]), "feature_names": np.array(FEATURES),
             "target_name": np.array("y")}
    extra.update(changes)
    fpio.save(model, path, extra={k: v for k, v in extra.items() if v is not None})
    return model


# ---------------------------------------------------------------- stored preprocessing
def test_fitting_preprocessing_is_used(tmp_path, capsys):
    X = np.random.default_rng(1).normal(size=(6, 3))
    data = tmp_path / "d.csv"
    write_csv(data, FEATURES, X.tolist())
    clf = classifier_file(tmp_path / "c.npz", x_mean=np.array([1.0, 2.0, 3.0]),
                          x_scale=np.array([2.0, 4.0, 8.0]))
    result = assert_ok(cli(capsys, "predict", tmp_path / "c.npz", data))
    scores = clf.predict((X - [1.0, 2.0, 3.0]) / [2.0, 4.0, 8.0])
    assert result.stdout.split() == ["label", *LABELS[scores.argmax(1)]]
    proba = assert_ok(cli(capsys, "predict", tmp_path / "c.npz", data, "--proba")).stdout
    assert proba.splitlines()[0] == "x,y,z"

    reg = regressor_file(tmp_path / "r.npz")
    result = assert_ok(cli(capsys, "predict", tmp_path / "r.npz", data))
    assert result.stdout.split()[0] == "y"
    np.testing.assert_allclose(numbers(result.stdout),
                               reg.predict(X)[:, 0].astype(np.float64) * 2.0 + 10.0,
                               rtol=1e-7)


@pytest.mark.parametrize("changes, fragments", [
    ({"x_mean": np.zeros(2)}, ["extra.x_mean has shape (2,); the model has 3 inputs"]),
    ({"x_mean": np.zeros((1, 3))}, ["extra.x_mean has shape (1, 3)"]),
    ({"x_scale": np.ones(4)}, ["extra.x_scale has shape (4,)"]),
    ({"x_scale": None}, ["extra.x_mean without extra.x_scale"]),
    ({"x_mean": None}, ["extra.x_scale without extra.x_mean"]),
    ({"x_scale": np.array([1.0, 0.0, 1.0])}, ["extra.x_scale[1] is 0.0", "positive"]),
    ({"x_scale": np.array([1.0, 1.0, -2.0])}, ["extra.x_scale[2] is -2.0"]),
    ({"x_scale": np.array([np.nan, 1.0, 1.0])}, ["extra.x_scale[0] is nan", "finite"]),
    ({"x_mean": np.array([0.0, np.inf, 0.0])}, ["extra.x_mean[1] is inf"]),
    ({"x_mean": np.array(["0", "0", "0"])}, ["extra.x_mean holds <U1, not numbers"]),
    ({"classes": LABELS[:2]}, ["extra.classes holds 2 labels", "predicts 3 classes"]),
    ({"classes": np.array(["x", "y", "z", "w"])}, ["extra.classes holds 4 labels"]),
    ({"classes": np.array(["x", "x", "z"])}, ["extra.classes repeats a label"]),
    ({"classes": LABELS.reshape(1, 3)}, ["extra.classes must be a list of labels"]),
    ({"y_mean": np.zeros(1), "y_scale": np.ones(1)}, ["the model is a classifier"]),
    ({"feature_names": np.array(["a", "b"])}, ["extra.feature_names holds 2 names",
                                               "3 inputs"]),
    ({"feature_names": np.array(["a", "b", "a"])}, ["extra.feature_names repeats 'a'"]),
    ({"feature_names": np.arange(3)}, ["extra.feature_names must be a list of names"]),
    ({"target_name": np.array(["label"])}, ["extra.target_name must be one name"]),
])
def test_classifier_with_misfit_preprocessing(tmp_path, capsys, changes, fragments):
    data = tmp_path / "d.csv"
    write_csv(data, FEATURES, [[0.5, 1.0, 1.5], [1.0, 2.0, 3.0]])
    path = tmp_path / "bad.npz"
    classifier_file(path, **changes)
    result = cli(capsys, "predict", path, data)
    assert_user_error(result, str(path), "the stored preprocessing does not fit the model",
                      *fragments)
    assert result.stdout == ""


@pytest.mark.parametrize("changes, fragments", [
    ({"y_mean": np.zeros(3)}, ["extra.y_mean has shape (3,); the model has 1 output"]),
    ({"y_scale": np.ones((1, 1))}, ["extra.y_scale has shape (1, 1)"]),
    ({"y_mean": None}, ["extra.y_scale without extra.y_mean"]),
    ({"y_scale": np.array([0.0])}, ["extra.y_scale[0] is 0.0"]),
    ({"y_scale": np.array([np.inf])}, ["extra.y_scale[0] is inf"]),
    ({"classes": LABELS[:1]}, ["extra.classes holds class labels",
                               "the model does regression"]),
])
def test_regressor_with_misfit_preprocessing(tmp_path, capsys, changes, fragments):
    data = tmp_path / "d.csv"
    write_csv(data, FEATURES, [[0.5, 1.0, 1.5]])
    path = tmp_path / "bad.npz"
    regressor_file(path, **changes)
    result = cli(capsys, "predict", path, data)
    assert_user_error(result, str(path), *fragments)
    assert result.stdout == ""


def test_binary_classifier_needs_two_classes(tmp_path, capsys):
    data = tmp_path / "d.csv"
    write_csv(data, FEATURES, [[0.5, 1.0, 1.5]])
    classifier_file(tmp_path / "ok.npz", loss="binary_cross_entropy", outputs=1,
                    classes=np.array(["no", "yes"]))
    assert assert_ok(cli(capsys, "predict", tmp_path / "ok.npz", data)).stdout.split()[1] \
        in ("no", "yes")
    classifier_file(tmp_path / "bad.npz", loss="binary_cross_entropy", outputs=1)
    assert_user_error(cli(capsys, "predict", tmp_path / "bad.npz", data),
                      "extra.classes holds 3 labels but the model predicts 2 classes")


def test_misfit_preprocessing_from_a_subprocess(regression, tmp_path):
    model, extra = fpio.load(regression.model, return_extra=True)
    path = tmp_path / "short.npz"
    fpio.save(model, path, extra=dict(extra, x_mean=extra["x_mean"][:2]))
    assert_user_error(fastprop("predict", path, regression.data), "short.npz",
                      "extra.x_mean has shape (2,); the model has 3 inputs")


# ---------------------------------------------------------------- memory
def test_layers_too_large_for_memory():
    # the digits data set: 64 inputs, 10 classes
    result = fastprop("train", "--layers", "1000000000000", "--epochs", "1", "--quiet")
    assert_user_error(result, "--layers 1000000000000: a network of 75,000,000,000,010 "
                              "parameters needs at least", "GiB;", "choose smaller layers")
    assert result.stdout == ""


@pytest.mark.parametrize("layers, fragment", [
    ("100000000000000000000000", "the width 100000000000000000000000 is larger than a "
                                 "64-bit integer"),
    ("16," + "9" * 40, "larger than a 64-bit integer"),
    ("3037000500,3037000500", "more than a 64-bit count can index"),
    ("4000000000,4000000000,4000000000", "more than a 64-bit count can index"),
])
def test_layer_widths_beyond_int64_are_refused_by_the_parser(capsys, layers, fragment):
    assert_user_error(cli(capsys, "train", "--layers", layers), "argument --layers",
                      fragment)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS")
def test_failed_allocation_in_train_is_one_line():
    # Under the limit the parameters alone (3.6 GB) cannot be allocated; a machine with
    # less memory than the network needs refuses it before trying, in the same words.
    result = fastprop("train", "--layers", "30000,30000", "--epochs", "1", "--quiet",
                      prelude=LIMIT_MEMORY)
    assert_user_error(result, "--layers 30000,30000: a network of 902,280,010 parameters "
                              "needs at least 14 GiB;")


def model_file_claiming(path, sizes, with_params=True):
    """A model file whose metadata claims the layer `sizes` (with a parameter vector of
    the matching length, or the small model's)."""
    arrays = fpio.to_arrays(fp.Model([3, 4, 1], seed=0))
    meta = json.loads(str(arrays["meta"]))
    meta["layer_sizes"] = sizes
    arrays["meta"] = np.array(json.dumps(meta))
    if with_params:
        arrays["params"] = np.zeros(sum((a + 1) * b for a, b in zip(sizes, sizes[1:])),
                                    np.float32)
    np.savez(path, **arrays)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS")
def test_model_file_too_large_for_memory(tmp_path):
    # 20 MB of parameters, but a workspace of 4 GB for its million-wide layer
    model_file_claiming(tmp_path / "wide.npz", [3, 1_000_000, 1])
    write_csv(tmp_path / "d.csv", None, [[1.0, 2.0, 3.0]])
    result = fastprop("predict", tmp_path / "wide.npz", tmp_path / "d.csv",
                      prelude=LIMIT_MEMORY)
    assert_user_error(result, "cannot load", "wide.npz",
                      "not enough memory for a network of 5,000,001 parameters")


@pytest.mark.parametrize("sizes", [[3, 10**12, 1], [3, 2**64, 1], [3, 2**63 - 1, 1]])
def test_model_file_with_absurd_layer_sizes(tmp_path, sizes):
    model_file_claiming(tmp_path / "big.npz", sizes, with_params=False)
    write_csv(tmp_path / "d.csv", None, [[1.0, 2.0, 3.0]])
    result = fastprop("predict", tmp_path / "big.npz", tmp_path / "d.csv",
                      prelude=LIMIT_MEMORY)
    assert_user_error(result, "big.npz")


# ---------------------------------------------------------------- values near the limit
def huge_classes(n=40):
    """Column a alternates between -1e308 and 1e308 and decides the class; b is small."""
    sign = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    X = np.column_stack([sign * 1e308, np.arange(n) % 5])
    return X, np.where(sign > 0, "up", "down")


def test_training_on_values_near_the_float64_limit(tmp_path):
    X, labels = huge_classes()
    data = tmp_path / "huge.csv"
    write_csv(data, ["a", "b", "label"], [[*x, s] for x, s in zip(X, labels)])
    result = assert_ok(fastprop("train", data, "--epochs", "20", "--optimizer", "adam",
                                "--lr", "0.05", "--out", tmp_path / "m.npz", "--quiet"))
    assert "nan" not in result.stderr + result.stdout
    assert "Warning" not in result.stderr
    assert "test accuracy: 1.0000" in result.stdout
    model, extra = fpio.load(tmp_path / "m.npz", return_extra=True)
    assert np.isfinite(extra["x_mean"]).all() and np.isfinite(extra["x_scale"]).all()
    np.testing.assert_allclose(extra["x_scale"][0], 1e308, rtol=1e-6)

    result = assert_ok(fastprop("predict", tmp_path / "m.npz", data))
    assert result.stderr == ""
    expected = np.array(["down", "up"])[
        model.predict((X - extra["x_mean"]) / extra["x_scale"]).argmax(1)]
    assert result.stdout.split() == ["label", *expected]
    assert list(expected) == list(labels)


def test_regression_targets_near_the_float64_limit(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=60)
    y = np.where(x > 0, 1e300, -1e300)       # squares overflow; the mean and std do not
    data = tmp_path / "huge_y.csv"
    write_csv(data, ["x", "y"], np.column_stack([x, y]).tolist())
    result = assert_ok(fastprop("train", data, "--loss", "mse", "--epochs", "5", "--out",
                                tmp_path / "m.npz", "--quiet"))
    assert "nan" not in result.stderr + result.stdout
    assert "Warning" not in result.stderr
    assert np.isfinite(float(result.stdout.split("test R^2: ")[1].split()[0]))
    model, extra = fpio.load(tmp_path / "m.npz", return_extra=True)
    assert 0.5e300 < extra["y_scale"][0] < 1.000001e300

    result = assert_ok(fastprop("predict", tmp_path / "m.npz", data))
    predicted = numbers(result.stdout)
    expected = (model.predict((x[:, None] - extra["x_mean"]) / extra["x_scale"])[:, 0]
                .astype(np.float64) * extra["y_scale"] + extra["y_mean"])
    assert np.isfinite(predicted).all()
    np.testing.assert_allclose(predicted, expected, rtol=1e-7)


def test_predict_far_from_the_training_mean(tmp_path):
    # every training value is large and positive, so the mean is too: subtracting it from
    # -1.7e308 overflows float64 although the standardised value is an ordinary number
    X = np.column_stack([np.linspace(1.0e308, 1.6e308, 30), np.arange(30.0)])
    write_csv(tmp_path / "t.csv", ["a", "b", "y"], [[*r, r[1] * 2] for r in X])
    assert_ok(fastprop("train", tmp_path / "t.csv", "--epochs", "2", "--dtype", "float64",
                       "--loss", "mse", "--out", tmp_path / "m.npz", "--quiet"))
    model, extra = fpio.load(tmp_path / "m.npz", return_extra=True)
    new = np.array([[-1.7e308, 3.0], [1.7e308, 4.0]])
    write_csv(tmp_path / "new.csv", ["a", "b"], new.tolist())
    result = assert_ok(fastprop("predict", tmp_path / "m.npz", tmp_path / "new.csv"))
    assert "Warning" not in result.stderr
    standardised = (new / 2 - extra["x_mean"] / 2) / extra["x_scale"] * 2
    assert np.isfinite(standardised).all()
    expected = (model.predict(standardised)[:, 0] * extra["y_scale"] + extra["y_mean"])
    np.testing.assert_allclose(numbers(result.stdout), expected, rtol=1e-12)


def test_predict_value_beyond_the_model_dtype(regression, tmp_path):
    # std of b is about 10: 1e300 standardised is far beyond float32
    bad = tmp_path / "bad.csv"
    write_csv(bad, FEATURES, [[0.0, 1.0, 2.0], [0.0, 1e300, 2.0]])
    result = fastprop("predict", regression.model, bad)
    assert_user_error(result, "bad.csv: column 'b' holds 1e+300, too far from the training "
                              "data", "float32")
    assert "nan" not in result.stderr
    headerless = tmp_path / "bare.csv"
    write_csv(headerless, None, [[0.0, 1.0, -1e300]])
    assert_user_error(fastprop("predict", regression.model, headerless),
                      "column 'c' holds -1e+300")


# ---------------------------------------------------------------- feature names
def reordered(regression, path, header, rows=None):
    """Write the regression data with the columns `header` (names of a, b, c, y)."""
    table = dict(zip([*FEATURES, "y"], np.column_stack([regression.X, regression.y]).T))
    columns = [table[name] for name in header]
    write_csv(path, header, rows if rows is not None else np.column_stack(columns).tolist())
    return path


@pytest.mark.parametrize("header", [
    ["c", "a", "b", "y"],
    ["y", "b", "c", "a"],
    ["b", "c", "a"],            # no target column
    ["c", "b", "a"],
])
def test_permuted_columns_give_the_same_predictions(regression, tmp_path, header):
    path = reordered(regression, tmp_path / "permuted.csv", header)
    assert assert_ok(fastprop("predict", regression.model, path)).stdout == \
        regression.expected


def test_extra_columns_are_ignored(regression, tmp_path):
    rows = [[9.0, t, x[2], x[0], -1.0, x[1]] for x, t in zip(regression.X, regression.y)]
    path = tmp_path / "wide.csv"
    write_csv(path, ["z", "y", "c", "a", "note", "b"], rows)
    assert assert_ok(fastprop("predict", regression.model, path)).stdout == \
        regression.expected


@pytest.mark.parametrize("header, fragment", [
    (["a", "b", "C"], "lacks the column 'c' the model was trained on"),   # same width
    (["a", "bb", "cc", "y"], "lacks the columns 'b', 'c'"),
    (["x1", "x2", "x3"], "lacks the columns 'a', 'b', 'c'"),
    (["c", "b", "y"], "lacks the column 'a'"),
])
def test_misspelled_columns_are_refused(regression, tmp_path, header, fragment):
    path = tmp_path / "misspelled.csv"
    write_csv(path, header, regression.X[:, :len(header)].tolist()
              if len(header) == 3 else np.column_stack([regression.X, regression.y]).tolist())
    result = fastprop("predict", regression.model, path)
    assert_user_error(result, "misspelled.csv", fragment,
                      f"its columns are {', '.join(header)}")
    assert result.stdout == ""


def test_repeated_column_is_refused(regression, tmp_path):
    path = tmp_path / "twice.csv"
    write_csv(path, ["a", "b", "c", "b"], np.column_stack([regression.X,
                                                           regression.X[:, 1]]).tolist())
    assert_user_error(fastprop("predict", regression.model, path),
                      "more than one column named 'b'")


def test_headerless_files_are_read_by_position(regression, tmp_path):
    bare = tmp_path / "bare.csv"
    write_csv(bare, None, regression.X.tolist())
    assert assert_ok(fastprop("predict", regression.model, bare)).stdout == \
        regression.expected
    np.savez(tmp_path / "bare.npz", X=regression.X)
    assert assert_ok(fastprop("predict", regression.model, tmp_path / "bare.npz")).stdout \
        == regression.expected
    with_target = tmp_path / "with_target.csv"
    write_csv(with_target, None, np.column_stack([regression.X, regression.y]).tolist())
    assert_user_error(fastprop("predict", regression.model, with_target),
                      "4 feature columns but the model takes 3", "give the file a header row")


def test_predict_help_describes_name_matching(capsys):
    text = " ".join(assert_ok(cli(capsys, "predict", "--help")).stdout.split())
    assert "must name every one of them" in text
    assert "matched by name, in any order" in text
    assert "without a header row, or an .npz file, is taken by position" in text
