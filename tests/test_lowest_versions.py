"""A smoke test of every training walk, the BLAS route, save/load and the scikit-learn
estimators: .ci/run also runs it (with a few other files) against the lowest versions
pyproject.toml admits, so these paths are known to work across the pinned range."""
import numba
import numpy as np
import pytest

import fastprop as fp
from fastprop import debug
from fastprop.sklearn import MLPClassifier
from helpers import cut_fine


def test_versions_are_within_the_pins():
    assert (0, 60) <= tuple(int(p) for p in numba.__version__.split(".")[:2]) < (1, 0)
    assert (2, 0) <= tuple(int(p) for p in np.__version__.split(".")[:2]) < (3, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_walk_trains_and_agrees_with_the_one_thread_bits(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y_reg = np.abs(X[:, :1])
    y_cls = rng.integers(0, 3, 120)
    online = fp.Model([3, 4, 1], dtype=dtype, seed=0)
    online.fit(X, y_reg, epochs=2, batch_size=1, optimizer=fp.SGD(0.01))
    assert debug.walk(online, 120, 1).trainer == "train_online_sgd_narrow"
    rows = fp.Model([3, 8, 3], loss="cross_entropy", dtype=dtype, seed=0)
    rows.fit(X, y_cls, epochs=2, batch_size=1, optimizer=fp.Adam())
    assert debug.walk(rows, 120, 1).trainer == "train_batches"
    results = []
    cut_fine(monkeypatch)
    for n_threads in (1, 2):
        model = fp.Model([3, 16, 3], loss="cross_entropy", dtype=dtype, seed=0, dropout=0.1)
        debug.set_blas_min(model, 0)
        model.fit(X, y_cls, epochs=2, batch_size=32, optimizer=fp.Adam(), n_threads=n_threads)
        results.append(model.params.tobytes())
        assert np.isfinite(model.predict(X)).all()
    assert results[0] == results[1]


def test_blas_products_match_numpy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 300))
    model = fp.Model([300, 200, 5], activation="identity", dtype=np.float64, seed=0)
    expected = (X @ model.weights[0] + model.biases[0]) @ model.weights[1] + model.biases[1]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_save_load_and_estimator(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    assert clf.predict(X).shape == (80,)
    model = clf.model_
    model.save(tmp_path / "m.npz")
    assert fp.load(tmp_path / "m.npz").params.tobytes() == model.params.tobytes()


def test_the_command_line_reads_and_encodes_a_csv(tmp_path, capsys):
    # pandas' CSV reader and scikit-learn's encoders at their lowest pins
    from pathlib import Path
    from fastprop.cli import main
    houses = Path(__file__).resolve().parent.parent / "examples" / "houses.csv"
    out = tmp_path / "price.npz"
    assert main(["train", str(houses), "--target", "price", "--epochs", "3", "--quiet",
                 "--out", str(out)]) == 0
    assert main(["predict", str(out), str(houses)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-201] == "price" and len(lines) >= 201
