"""The command line on real-world CSV files (delimiters, encodings, quoting, NA markers,
text columns, gaps), the example data set, honest reports, the plot and `fastprop
warmup`. Most cases run `fastprop.cli.main` in this process (fast); the example, the
warm-up and one train/predict round trip run `python -m fastprop` as a user would."""
import contextlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_cli import PNG_MAGIC, assert_ok, assert_user_error, fastprop
from test_cli_reliability import cli

from fastprop import io as fpio
from fastprop.cli import main
from fastprop.cli import train as train_module
from fastprop.cli.data import read_csv_frame, read_data, split
from fastprop.cli.encode import Encoding
from fastprop.cli.predict import check_preprocessing

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HOUSES = EXAMPLES / "houses.csv"


def table_rows(n=60, seed=0):
    """Rows of (size, rooms, city, price) with gaps, a decimal comma and a quoted text."""
    rng = np.random.default_rng(seed)
    cities = ["Zürich", "Genève", "Basel", "Bern"]
    rows = []
    for i in range(n):
        size = rng.uniform(30, 150)
        rooms = int(rng.integers(1, 6))
        city = cities[i % 4]
        price = 3 * size + 20 * rooms + 100 * (i % 4) + rng.normal(0, 5)
        rows.append([f"{size:.2f}".replace(".", ","), str(rooms), city, f"{price:.2f}"])
    rows[3][0] = ""             # empty cell
    rows[5][1] = "NA"           # NA marker
    rows[7][2] = "N/A"          # a missing text value
    rows[9][2] = '"Basel; Stadt"'   # a quoted field holding the delimiter
    return rows


def write_semicolon_latin1(path, rows):
    text = "size;rooms;city;price\n" + "".join(";".join(r) + "\n" for r in rows)
    path.write_bytes(text.encode("latin-1"))
    return path


@pytest.fixture(scope="module")
def semicolon(tmp_path_factory):
    """A semicolon-separated Latin-1 CSV trained with --out (in this process)."""
    folder = tmp_path_factory.mktemp("csv")
    data = write_semicolon_latin1(folder / "flats.csv", table_rows())
    model = folder / "flats.npz"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", str(data), "--target", "price", "--epochs", "40", "--optimizer",
                     "adam", "--lr", "0.01", "--layers", "16", "--out", str(model)])
    result = SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
    return folder, data, model, assert_ok(result)


def test_semicolon_latin1_file_trains_and_predicts(semicolon, capsys):
    folder, data, model, result = semicolon
    assert "3 feature columns (7 inputs) -> 1 target (target 'price')" in result.stdout
    assert ("2 numeric columns scaled, 1 text column one-hot (city: 5 categories), "
            "3 missing values filled (2 with the median and 1 with the most frequent value "
            "of the training part)") in result.stdout
    _, extra = fpio.load(model, return_extra=True)
    assert list(extra["columns"]) == ["size", "rooms", "city"]
    assert list(extra["numeric_columns"]) == ["size", "rooms"]
    assert list(extra["text_columns"]) == ["city"]
    assert sorted(extra["cat_0"]) == ["Basel", "Basel; Stadt", "Bern", "Genève", "Zürich"]
    assert extra["cat_0"].dtype.kind == "U" and extra["numeric_fill"].dtype == np.float64
    assert all(a.dtype.kind in "biufU" for a in extra.values())       # no objects
    out = assert_ok(cli(capsys, "predict", model, data)).stdout.split()
    assert out[0] == "price" and len(out) == 61
    truth = np.array([float(r[3]) for r in table_rows()])
    predicted = np.array(out[1:], dtype=np.float64)
    assert 1 - ((predicted - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum() > 0.8


def test_predict_reproduces_the_training_transformation_exactly(semicolon, capsys):
    folder, data, model_path, _ = semicolon
    model, extra = fpio.load(model_path, return_extra=True)
    table = read_data(str(data), "price")
    rows_train, _, _, _ = split(np.arange(len(table.frame)), table.y, "regression", 0, 0.25)
    _, transformer = Encoding.fit(table.frame, rows_train)
    expected = Encoding.transformed(transformer, table.frame)      # scikit-learn's
    frame, names, header = read_csv_frame(str(data))
    frame = frame[[names.index(c) for c in extra["columns"]]]
    frame.columns = list(extra["columns"])
    prep = check_preprocessing(model, extra, str(model_path))
    got = Encoding.from_checked(prep, model.sizes[0]).transform(frame, str(data), header,
                                                                model.dtype)
    np.testing.assert_array_equal(got, expected)                  # numpy, from the arrays
    # and `fastprop predict` writes exactly these inputs' predictions
    out = assert_ok(cli(capsys, "predict", model_path, data)).stdout.split()[1:]
    values = model.predict(expected).astype(np.float64) * extra["y_scale"] + extra["y_mean"]
    assert out == [f"{v:.9g}" for v in values[:, 0]]


def test_unknown_categories_and_gaps_at_predict(semicolon, capsys, tmp_path):
    folder, data, model_path, _ = semicolon
    model, extra = fpio.load(model_path, return_extra=True)
    new = tmp_path / "new.csv"
    new.write_text("city,rooms,size,notes\nOslo,2,50.5,x\nBern,,70,y\n,3,NA,z\n")
    out = assert_ok(cli(capsys, "predict", model_path, new)).stdout.split()
    cats = list(extra["cat_0"])
    fill = extra["numeric_fill"]
    raw = np.array([[50.5, 2.0], [70.0, fill[1]], [fill[0], 3.0]])
    X = np.zeros((3, model.sizes[0]))
    X[:, :2] = (raw - extra["x_mean"][:2]) / extra["x_scale"][:2]
    X[1, 2 + cats.index("Bern")] = 1.0                     # Oslo: unknown, all zeros
    X[2, 2 + cats.index(str(extra["text_fill"][0]))] = 1.0
    values = model.predict(X).astype(np.float64)[:, 0] * extra["y_scale"] + extra["y_mean"]
    assert out[1:] == [f"{v:.9g}" for v in values]
    bad = tmp_path / "bad.csv"
    bad.write_text("city,rooms,size\nBern,two,50\n")
    assert_user_error(cli(capsys, "predict", model_path, bad),
                      "line 2, column 'rooms': 'two' is not a number")


def test_drop_and_no_impute(tmp_path, capsys):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    lines = ["id\tx\tnote\ty"] + [f"{i}\t{rng.normal():.4f}\t{'NA' if i % 7 == 0 else 'ok'}"
                                   f"\t{i % 2}" for i in range(40)]
    data.write_text("\n".join(lines) + "\n")
    assert_user_error(cli(capsys, "train", data, "--no-impute"),
                      "column 'note' has 6 missing values (first at line 2)", "--no-impute")
    result = assert_ok(cli(capsys, "train", data, "--drop", "id,note", "--no-impute",
                           "--epochs", "1", "--out", tmp_path / "m.npz"))
    assert "1 numeric column scaled, no missing values" in result.stdout
    _, extra = fpio.load(tmp_path / "m.npz", return_extra=True)
    assert list(extra["columns"]) == ["x"]
    assert_user_error(cli(capsys, "train", data, "--drop", "colour"),
                      "--drop colour", "no column 'colour'", "id, x, note, y")
    assert_user_error(cli(capsys, "train", data, "--drop", "y"), "the target column")
    assert_user_error(cli(capsys, "train", "--drop", "x"), "give the file too")


@pytest.mark.parametrize("changes, fragment", [
    ({"cat_0": None}, "extra.cat_0 (the categories of text column 'city') is missing"),
    ({"cat_0": np.array(["a", "a"])}, "extra.cat_0 repeats a category"),
    ({"cat_0": np.array(["x", "y", "z", "w"])}, "make 6 inputs; the model has 5"),
    ({"text_fill": np.array(["w"])}, "extra.text_fill[0] 'w' is not among extra.cat_0"),
    ({"numeric_fill": np.array([1.0])}, "extra.numeric_fill must hold 2 numbers"),
    ({"numeric_fill": np.array([1.0, np.nan])}, "extra.numeric_fill[1] is not finite"),
    ({"text_columns": None}, "without extra.text_columns"),
    ({"columns": np.array(["a", "b", "x"])}, "must share out extra.columns"),
    ({"x_scale": np.array([1.0, 1.0, 2.0, 1.0, 1.0])}, "0 and 1 for the one-hot inputs"),
    ({"cat_1": np.array(["q"])}, "extra.cat_1 has no text column"),
])
def test_misfit_column_arrays_are_refused(tmp_path, capsys, changes, fragment):
    import fastprop as fp
    model = fp.Model([5, 4, 1], seed=0)
    extra = {"columns": np.array(["a", "city", "b"]), "numeric_columns": np.array(["a", "b"]),
             "numeric_fill": np.array([0.0, 1.0]), "text_columns": np.array(["city"]),
             "text_fill": np.array(["x"]), "cat_0": np.array(["x", "y", "z"]),
             "x_mean": np.zeros(5), "x_scale": np.ones(5), "y_mean": np.zeros(1),
             "y_scale": np.ones(1), "feature_names": np.array(list("abcde"))}
    extra.update(changes)
    path = tmp_path / "m.npz"
    fpio.save(model, path, extra={k: v for k, v in extra.items() if v is not None})
    data = tmp_path / "d.csv"
    data.write_text("a,b,city\n1,2,x\n")
    result = cli(capsys, "predict", path, data)
    assert_user_error(result, "the stored preprocessing does not fit the model", fragment)
    assert result.stdout == ""


# ---------------------------------------------------------------- the example
def test_houses_example_is_deterministic_and_trains(tmp_path):
    subprocess.run([sys.executable, str(EXAMPLES / "make_houses.py"), str(tmp_path / "h.csv")],
                   check=True, capture_output=True, timeout=60)
    assert (tmp_path / "h.csv").read_bytes() == HOUSES.read_bytes()
    text = HOUSES.read_text()
    assert len(text.splitlines()) == 201 and ",NA," in text and ",," in text
    result = assert_ok(fastprop("train", HOUSES, "--target", "price", "--out", "h.npz",
                                cwd=tmp_path))
    assert "4 numeric columns scaled, 1 text column one-hot (city: 5 categories)" in \
        result.stdout
    assert re.search(r"\d+ missing values filled", result.stdout)
    r2 = float(result.stdout.split("test R^2: ")[1].split()[0])
    assert r2 > 0.7
    assert "in the target's units" in result.stdout
    assert "on the standardised target" in result.stdout
    out = assert_ok(fastprop("predict", "h.npz", HOUSES, cwd=tmp_path)).stdout.split()
    assert out[0] == "price" and len(out) == 201


# ---------------------------------------------------------------- honest output
def test_early_stopping_reports_the_kept_epoch(capsys, monkeypatch):
    result = assert_ok(cli(capsys, "train", "--dataset", "iris", "--epochs", "200",
                           "--optimizer", "adam", "--lr", "0.05", "--early-stopping",
                           "--patience", "2", "--layers", "8"))
    found = re.search(r"early stopping after epoch (\d+); kept the weights of epoch (\d+)",
                      result.stdout)
    assert found, result.stdout
    kept = int(found.group(2))
    epoch_lines = [line for line in (result.stdout + result.stderr).splitlines()
                   if line.startswith(f"epoch {kept} - ")]
    val_loss = epoch_lines[-1].split("val_loss ")[1].split()[0]
    line = next(line for line in result.stdout.splitlines() if "training loss" in line)
    assert line.startswith(f"epoch {kept} (kept) training loss")
    assert f"validation loss: {val_loss}" in line


def test_bench_prints_significant_digits(capsys):
    result = assert_ok(cli(capsys, "bench", "--workload", "W1", "--epochs", "1",
                           "--repeats", "1", "--no-torch"))
    us = result.stdout.split(" us/step")[0].split()[-1]
    assert float(us) > 0 and len(us.replace(".", "").lstrip("0")) >= 2, result.stdout
    from fastprop.cli.bench import us_per_step
    assert us_per_step(0.0389e-6 * 1000, 1000) == "0.0389"
    assert us_per_step(2.5, 1000) == "2,500"


def test_layers_and_out_options(capsys, tmp_path):
    assert_user_error(cli(capsys, "train", "--layers", ""), "argument --layers",
                      "empty value", "none")
    assert_user_error(cli(capsys, "train", "--out", tmp_path / "m.txt"), "--out",
                      "must end with .npz")
    assert not (tmp_path / "m.txt").exists()
    result = assert_ok(cli(capsys, "train", "--dataset", "iris", "--layers", "none",
                           "--epochs", "1", "--out", tmp_path / "m.npz", "--quiet"))
    assert "test accuracy" in result.stdout
    assert fpio.load(tmp_path / "m.npz").sizes == (4, 3)
    text = " ".join(assert_ok(cli(capsys, "train", "--help")).stdout.split())
    for words in ("--drop COL[,COL...]", "(default: none)", "--no-impute",
                  "or none for a network without hidden layers (default: 128)",
                  "must end with .npz (default: not saved)"):
        assert words in text


# ---------------------------------------------------------------- the plot
@pytest.mark.parametrize("args, title, metric", [
    (["--dataset", "iris", "--layers", "16,8", "--optimizer", "adam"],
     "4-16-8-3 relu \u00b7 adam lr 1e-3 \u00b7 float32", "accuracy"),
    ([str(HOUSES), "--target", "price", "--dtype", "float64", "--activation", "tanh"],
     "9-128-1 tanh \u00b7 sgd lr 0.01 \u00b7 float64", "RMSE (target units)"),
])
def test_plot_has_a_short_title(capsys, tmp_path, monkeypatch, args, title, metric):
    pytest.importorskip("matplotlib")
    seen = {}
    plot = train_module.plot_curves

    def spy(history, path, title, kept=None, metric=None, results=(), loss_label="loss"):
        seen.update(metric=metric[0] if metric else None, results=results,
                    kept=kept, loss_label=loss_label)
        seen["title"] = plot(history, path, title, kept, metric, results, loss_label)
        return seen["title"]

    monkeypatch.setattr(train_module, "plot_curves", spy)
    png = tmp_path / "c.png"
    assert_ok(cli(capsys, "train", *args, "--epochs", "8", "--early-stopping", "--plot", png,
                  "--quiet"))
    assert seen["title"] == title
    assert seen["metric"] == metric and seen["kept"] is not None
    assert any(r.startswith("test ") for r in seen["results"])
    assert any(r.startswith("validation ") for r in seen["results"])
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and 20_000 < len(data) < 1_000_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 800 < width < 1400 and 350 < height < 600


# ---------------------------------------------------------------- first runs
def test_warmup_runs():
    # one dtype per run (the default does both in turn); float64 on one thread, which
    # spares the suite compiling the float64 multi-threaded trainer for this test alone
    result = assert_ok(fastprop("warmup", "--dtype", "float32"))
    for text in ("float32", "train_batches", "train_online_sgd_narrow", "ready in"):
        assert text in result.stdout
    result = assert_ok(fastprop("warmup", "--dtype", "float64", "--threads", "1"))
    assert "float64" in result.stdout and "float32" not in result.stdout
    assert "warmup" in assert_ok(fastprop("--help")).stdout


def test_a_slow_warm_up_is_announced(capsys, monkeypatch):
    from fastprop import compile_notice
    monkeypatch.setattr(train_module, "COMPILE_NOTICE_SECONDS", 0.05)
    monkeypatch.setattr(compile_notice, "_told", set())     # a process's first warm-up

    class Slow:
        def fit(self, *args, **kwargs):
            time.sleep(0.3)

        def predict(self, X):
            return X

    seconds = train_module.warm_up(Slow, lambda: None, np.zeros((4, 2)), np.zeros(4), 2,
                                   "float64")
    err = capsys.readouterr().err
    assert seconds >= 0.3
    assert "compiling fastprop's float64 kernels (once per machine" in err
    assert "compiled fastprop's float64 kernels in" in err
    train_module.warm_up(lambda: Slow(), lambda: None, np.zeros((4, 2)), np.zeros(4), 2,
                         notice=False)
    assert capsys.readouterr().err == ""
