"""The `fastprop` command line, end to end: every command runs in a subprocess as a user
would run it (`python -m fastprop ...`, and the installed console script)."""
import csv
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastprop as fp
from fastprop import io as fpio

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SPECIES = np.array(["setosa", "versicolor", "virginica"])


def fastprop(*args, cwd=None, prelude=None):
    """Run the command line; `prelude` is Python run first in the same process (to hide
    an optional dependency)."""
    if prelude is None:
        command = [sys.executable, "-m", "fastprop", *map(str, args)]
    else:
        code = (f"import sys; {prelude}; from fastprop.cli import main; "
                f"sys.exit(main({[str(a) for a in args]!r}))")
        command = [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def assert_user_error(result, *fragments):
    """Exit code 2, one line `fastprop: error: ...` on stderr naming the problem."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fastprop: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)


def blob_table(n=150, seed=0):
    """Three well-separated classes in 4 features, with text labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + 4.0 * np.eye(3, 4)[labels]
    return X, SPECIES[labels]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained from a CSV with a header and text labels, saved with --out."""
    folder = tmp_path_factory.mktemp("cli")
    X, labels = blob_table()
    data = folder / "flowers.csv"
    write_csv(data, ["a", "b", "c", "d", "species"],
              [[*x.tolist(), s] for x, s in zip(X, labels)])
    model = folder / "model.npz"
    result = assert_ok(fastprop("train", data, "--target", "species", "--optimizer", "adam",
                                "--lr", "0.01", "--epochs", "20", "--layers", "16",
                                "--out", model, "--quiet"))
    return folder, data, model, X, labels, result


# ---------------------------------------------------------------- entry points
def test_console_script_installed():
    scripts = importlib.metadata.entry_points(group="console_scripts", name="fastprop")
    assert [ep.value for ep in scripts] == ["fastprop.cli:main"]
    script = Path(sys.executable).with_name("fastprop")
    script = str(script) if script.exists() else shutil.which("fastprop")
    if script is None:
        pytest.skip("the fastprop script is not beside this Python nor on PATH")
    result = assert_ok(subprocess.run([script, "--help"], capture_output=True, text=True,
                                      timeout=120))
    for command in ("train", "predict", "bench"):
        assert command in result.stdout


def test_help_and_version():
    result = assert_ok(fastprop("--help"))
    for command in ("train", "predict", "bench"):
        assert command in result.stdout
    train_help = assert_ok(fastprop("train", "--help")).stdout
    for option in ("--target", "--dataset", "--layers", "--activation", "--loss",
                   "--optimizer", "--lr", "--epochs", "--batch-size", "--dropout", "--dtype",
                   "--seed", "--val-split", "--early-stopping", "--out", "--plot"):
        assert option in train_help
    assert fp.__version__ in assert_ok(fastprop("--version")).stdout
    assert_user_error(fastprop(), "COMMAND")


# ---------------------------------------------------------------- train
def test_train_bundled_dataset_with_plot(tmp_path):
    result = assert_ok(fastprop(
        "train", "--dataset", "iris", "--layers", "16,8", "--activation", "tanh",
        "--optimizer", "adam", "--lr", "0.01", "--epochs", "12", "--batch-size", "16",
        "--dropout", "0.1", "--dtype", "float64", "--seed", "3", "--val-split", "0.2",
        "--early-stopping", "--out", "iris.npz", "--plot", "curves.png", cwd=tmp_path))
    out = result.stdout
    assert "iris: 112 train / 38 test samples, 4 features -> 3 classes" in out
    for text in ("test accuracy:", "validation loss:", "throughput:", "samples/s",
                 "wrote the model to iris.npz", "wrote the training curves to curves.png"):
        assert text in out
    assert "epoch 1/12" in result.stderr                    # the progress bar
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_MAGIC)
    model, extra = fpio.load(tmp_path / "iris.npz", return_extra=True)
    assert model.sizes == (4, 16, 8, 3) and model.dtype == np.float64
    assert model.activations == ["tanh", "tanh", "softmax"] and model.dropout == [0.1, 0.1]
    assert isinstance(model.optimizer, fp.Adam) and model.optimizer.lr == 0.01
    assert {"x_mean", "x_scale", "classes", "feature_names"} <= set(extra)
    np.testing.assert_array_equal(extra["classes"], [0, 1, 2])


def test_plot_without_matplotlib(tmp_path):
    result = fastprop("train", "--dataset", "iris", "--plot", tmp_path / "c.png",
                      prelude="sys.modules['matplotlib'] = None")
    assert_user_error(result, "--plot needs matplotlib", "pip install")
    assert not (tmp_path / "c.png").exists()


def test_train_csv_and_predict(trained, tmp_path):
    folder, data, model_path, X, labels, result = trained
    assert "Model(" not in result.stdout                      # --quiet: no header
    accuracy = float(result.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.9
    model, extra = fpio.load(model_path, return_extra=True)
    np.testing.assert_array_equal(extra["classes"], SPECIES)
    assert list(extra["feature_names"]) == ["a", "b", "c", "d"]

    # the training file itself (the target column is ignored), to stdout
    predicted = assert_ok(fastprop("predict", model_path, data)).stdout.splitlines()
    assert predicted[0] == "species" and len(predicted) == len(X) + 1
    assert np.mean(np.array(predicted[1:]) == labels) > 0.9
    expected = SPECIES[model.predict((X - extra["x_mean"]) / extra["x_scale"]).argmax(1)]
    np.testing.assert_array_equal(predicted[1:], expected)

    # columns matched by name, whatever their order; probabilities to a file
    shuffled = tmp_path / "shuffled.csv"
    write_csv(shuffled, ["d", "species", "b", "a", "c"],
              [[x[3], s, x[1], x[0], x[2]] for x, s in zip(X, labels)])
    assert_ok(fastprop("predict", model_path, shuffled, "--proba", "--out", tmp_path / "p.csv"))
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(SPECIES)
    proba = np.array(rows[1:], dtype=np.float64)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(SPECIES[proba.argmax(1)], expected)

    # a headerless file of just the features, by position; .npz output
    bare = tmp_path / "bare.csv"
    write_csv(bare, None, X.tolist())
    assert_ok(fastprop("predict", model_path, bare, "--out", tmp_path / "p.npz"))
    with np.load(tmp_path / "p.npz") as npz:
        np.testing.assert_array_equal(npz["predictions"], expected)


def test_train_npz_regression_and_predict(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(300, 3))
    price = 100 + 20 * X[:, 0] - 10 * X[:, 1] ** 2 + rng.normal(size=300)
    np.savez(tmp_path / "houses.npz", X=X, price=price)
    result = assert_ok(fastprop("train", "houses.npz", "--target", "price", "--optimizer",
                                "adam", "--lr", "0.01", "--epochs", "40", "--out", "m.npz",
                                cwd=tmp_path))
    assert "-> 1 target (target 'price')" in result.stdout
    r2 = float(result.stdout.split("test R^2: ")[1].split()[0])
    assert r2 > 0.9
    model, extra = fpio.load(tmp_path / "m.npz", return_extra=True)
    assert model.loss_name == "mse"

    np.savez(tmp_path / "new.npz", X=X[:10])
    lines = assert_ok(fastprop("predict", "m.npz", "new.npz", cwd=tmp_path)).stdout.split()
    assert lines[0] == "price"
    expected = (model.predict((X[:10] - extra["x_mean"]) / extra["x_scale"])[:, 0]
                .astype(np.float64) * extra["y_scale"] + extra["y_mean"])
    np.testing.assert_allclose(np.array(lines[1:], dtype=np.float64), expected, rtol=1e-8)


# ---------------------------------------------------------------- bench
def test_bench():
    result = assert_ok(fastprop("bench", "--workload", "W2", "--epochs", "1", "--repeats",
                                "1", "--no-torch"))
    assert "W2 small: 64-128-10" in result.stdout
    assert "fastprop: " in result.stdout and "samples/s" in result.stdout
    assert "torch" not in result.stdout.split("fastprop: ")[1]


def test_bench_without_torch():
    result = assert_ok(fastprop("bench", "--workload", "W1", "--epochs", "1", "--repeats",
                                "1", prelude="sys.modules['torch'] = None"))
    assert "PyTorch is not installed" in result.stdout


def test_bench_against_torch():
    pytest.importorskip("torch")
    result = assert_ok(fastprop("bench", "--workload", "W2", "--epochs", "1", "--repeats",
                                "1"))
    assert "fastprop / torch:" in result.stdout


# ---------------------------------------------------------------- user mistakes
def test_errors_in_data(trained, tmp_path):
    folder, data, model_path, X, labels, _ = trained
    assert_user_error(fastprop("train", tmp_path / "missing.csv"), "no such file",
                      "missing.csv")
    assert_user_error(fastprop("train", data, "--target", "colour"), "no column 'colour'",
                      "its columns are a, b, c, d, species")
    gaps = tmp_path / "gaps.csv"          # n/a is a missing value: filled, or refused
    write_csv(gaps, ["a", "b", "y"], [[1, 2, 0], [3, "n/a", 1], [5, 6, 0], [7, 8, 1]])
    assert_user_error(fastprop("train", gaps, "--no-impute"), "column 'b' has 1 missing "
                      "value (first at line 3)", "--no-impute")
    ragged = tmp_path / "ragged.csv"     # a short row lacks its last fields
    ragged.write_text("a,b,y\n1,2,0\n3,4\n")
    assert_user_error(fastprop("train", ragged), "the target 'y'", "is missing in 1 row "
                      "(first at line 3)")
    long = tmp_path / "long.csv"
    long.write_text("a,b,y\n1,2,0\n3,4,5,6\n")
    assert_user_error(fastprop("train", long), "cannot read", "line 3")
    np.savez(tmp_path / "arrays.npz", features=np.zeros((5, 2)), labels=np.zeros(5))
    assert_user_error(fastprop("train", tmp_path / "arrays.npz"), "no array 'y'",
                      "features, labels")


def test_errors_in_predict(trained, tmp_path):
    folder, data, model_path, X, labels, _ = trained
    narrow = tmp_path / "narrow.csv"
    write_csv(narrow, None, X[:, :3].tolist())
    assert_user_error(fastprop("predict", model_path, narrow),
                      "has 3 feature columns but the model takes 4")
    renamed = tmp_path / "renamed.csv"
    write_csv(renamed, ["a", "b", "c", "e", "species"], [[*x, s] for x, s in zip(X, labels)])
    assert_user_error(fastprop("predict", model_path, renamed), "lacks the column 'd'")
    assert_user_error(fastprop("predict", tmp_path / "none.npz", data), "no such model file")
    assert_user_error(fastprop("predict", data, data), "not a fastprop model file")
    np.savez(tmp_path / "wide.npz", X=np.zeros((2, 7)))
    assert_user_error(fastprop("predict", model_path, tmp_path / "wide.npz"),
                      "7 feature columns but the model takes 4")


def test_errors_in_options(tmp_path):
    assert_user_error(fastprop("train", "--layers", "64,0"), "positive integers")
    assert_user_error(fastprop("train", "--optimizer", "lbfgs"), "invalid choice")
    assert_user_error(fastprop("train", "--dataset", "wine", "--loss", "mse"),
                      "wine is a classification data set")
    assert_user_error(fastprop("train", "--out", tmp_path / "no" / "m.npz"),
                      "does not exist")
