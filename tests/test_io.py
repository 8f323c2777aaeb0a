"""Save and load: bit-exact round trips, exact resumption of training, refusal of
damaged, foreign and newer files, no pickle, atomic writes."""
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import fastprop as fp
import fastprop.config
from fastprop import io as fpio
from fastprop import debug
from helpers import cut_fine

DTYPES = [np.float32, np.float64]


def make_data(n=120, n_in=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, k, n)


def trained_model(dtype, optimizer=None, dropout=0.25, epochs=2, batch_size=16):
    X, y = make_data()
    model = fp.Model([5, 16, 8, 3], activation=["relu", "tanh"], loss="cross_entropy",
                     dtype=dtype, seed=7, dropout=dropout, l2=1e-3, init="he_uniform")
    model.fit(X, y, epochs=epochs, batch_size=batch_size,
              optimizer=optimizer if optimizer is not None else fp.Adam(3e-3))
    return model


def rewrite(src, dst, change):
    """Copy the archive `src` to `dst`, passing its {name: array} dict through `change`."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(dst, **arrays)


def edit_meta(edit):
    def change(arrays):
        meta = json.loads(str(arrays["meta"]))
        edit(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    return change


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", [
    fp.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-4), fp.Adam(3e-3, betas=(0.8, 0.99)),
    fp.AdamW(2e-3), fp.RMSprop(1e-3, momentum=0.5), fp.Adagrad(0.01), fp.Adadelta()],
    ids=lambda o: type(o).__name__)
def test_round_trip_is_bit_exact(tmp_path, dtype, optimizer):
    model = trained_model(dtype, optimizer)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fp.load(path)
    assert loaded.params.dtype == dtype
    assert loaded.params.tobytes() == model.params.tobytes()
    for attr in ("sizes", "activations", "loss_name", "dtype", "seed", "init", "dropout",
                 "l2"):
        assert getattr(loaded, attr) == getattr(model, attr), attr
    assert type(loaded.optimizer) is type(optimizer)
    assert vars(loaded.optimizer) == vars(optimizer)
    np.testing.assert_array_equal(loaded.net.opt_state, model.net.opt_state)
    np.testing.assert_array_equal(loaded.net.opt_step, model.net.opt_step)
    X, _ = make_data(seed=1)
    assert loaded.predict(X).tobytes() == model.predict(X).tobytes()
    # the weight/bias views still share memory with the flat parameters
    loaded.weights[0][0, 0] = 42
    assert loaded.params[0] == 42


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size,tiled", [(16, False), (64, True)])
def test_resumed_training_matches_uninterrupted(tmp_path, monkeypatch, dtype, batch_size,
                                                tiled):
    """Adam moments, step count, shuffling order and dropout masks all continue (on the
    one-thread path, and on the multi-threaded one: tiles)."""
    if tiled:
        cut_fine(monkeypatch)
        monkeypatch.setattr(fastprop.config, "BLAS_MIN", 0)   # every layer on BLAS
    X, y = make_data()
    straight = trained_model(dtype, epochs=5, batch_size=batch_size)
    first = trained_model(dtype, epochs=2, batch_size=batch_size)
    first.save(tmp_path / "mid.npz")
    resumed = fp.load(tmp_path / "mid.npz")
    resumed.fit(X, y, epochs=3, batch_size=batch_size)   # optimizer=None: the loaded one
    first.fit(X, y, epochs=3, batch_size=batch_size)
    assert (debug.walk(resumed, X.shape[0], batch_size, 2).trainer
            == "train_batches_parallel") == tiled
    assert resumed.params.tobytes() == first.params.tobytes()
    assert resumed.params.tobytes() == straight.params.tobytes()
    np.testing.assert_array_equal(resumed.net.opt_state, straight.net.opt_state)


def test_without_optimizer(tmp_path):
    model = trained_model(np.float32)
    model.save(tmp_path / "m.npz", include_optimizer=False)
    loaded = fp.load(tmp_path / "m.npz")
    assert loaded.optimizer is None
    assert loaded.params.tobytes() == model.params.tobytes()
    with np.load(tmp_path / "m.npz") as npz:
        assert "optimizer_state" not in npz.files
    untrained = fp.Model([3, 2], seed=1)              # never fitted: no optimizer yet
    untrained.save(tmp_path / "u.npz")
    assert fp.load(tmp_path / "u.npz").optimizer is None


def test_extra_arrays(tmp_path):
    model = trained_model(np.float64)
    extra = {"x_mean": np.arange(5.0), "classes": np.array(["cat", "dog", "émeu"]),
             "count": np.int64(3)}
    fpio.save(model, tmp_path / "m.npz", extra=extra)
    loaded, got = fpio.load(tmp_path / "m.npz", return_extra=True)
    assert set(got) == set(extra)
    for name, value in extra.items():
        np.testing.assert_array_equal(got[name], value)
    assert fpio.load(tmp_path / "m.npz").params.tobytes() == model.params.tobytes()
    with pytest.raises(ValueError, match="pickle"):
        fpio.save(model, tmp_path / "x.npz", extra={"bad": np.array([{}, 1], dtype=object)})
    with pytest.raises(ValueError, match="identifiers"):
        fpio.save(model, tmp_path / "x.npz", extra={"no/slash": np.zeros(1)})
    assert not (tmp_path / "x.npz").exists()


def test_path_is_used_as_given(tmp_path):
    model = fp.Model([2, 1], seed=0)
    model.save(str(tmp_path / "weights.bin"))
    assert sorted(os.listdir(tmp_path)) == ["weights.bin"]   # no ".npz" appended
    assert fp.load(str(tmp_path / "weights.bin")).params.tobytes() == model.params.tobytes()


# ---------------------------------------------------------------- refused files
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        fp.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("what", ["truncated", "corrupted", "empty", "text", "npy",
                                  "foreign_npz", "folder"])
def test_damaged_or_foreign_file(tmp_path, what):
    good = tmp_path / "good.npz"
    trained_model(np.float32).save(good)
    data = good.read_bytes()
    path = tmp_path / "bad.npz"
    if what == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif what == "corrupted":                  # flip bytes inside the stored params
        with np.load(good) as npz:
            params = npz["params"].tobytes()
        start = data.index(params[:64]) + 16
        path.write_bytes(data[:start] + bytes(b ^ 0xFF for b in data[start:start + 8])
                         + data[start + 8:])
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "text":
        path.write_text("weights: 1, 2, 3\n")
    elif what == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros(3))
    elif what == "foreign_npz":
        np.savez(path, X=np.zeros((2, 2)), y=np.zeros(2))
    elif what == "folder":
        path.mkdir()
    with pytest.raises(ValueError) as info:
        fp.load(path)
    message = str(info.value)
    assert "bad.npz" in message and "\n" not in message
    expected = {"truncated": "damaged or truncated", "corrupted": "damaged or truncated",
                "empty": "empty", "text": "not a fastprop model", "npy": "not a fastprop",
                "foreign_npz": "not a fastprop model file", "folder": "folder"}[what]
    assert expected in message


def test_newer_version_refused(tmp_path):
    trained_model(np.float32).save(tmp_path / "m.npz")
    rewrite(tmp_path / "m.npz", tmp_path / "new.npz",
            edit_meta(lambda meta: meta.update(version=fpio.VERSION + 1)))
    with pytest.raises(ValueError, match=r"newer fastprop.*version 2.*upgrade"):
        fp.load(tmp_path / "new.npz")


@pytest.mark.parametrize("edit, message", [
    (edit_meta(lambda m: m.update(format="other.thing")), "not a fastprop model file"),
    (edit_meta(lambda m: m.update(layer_sizes=[5, 16, 8, 4])), "params should be"),
    (edit_meta(lambda m: m.update(loss="hinge")), "invalid architecture: loss"),
    (edit_meta(lambda m: m.update(dtype="float16")), "float32 or float64"),
    (edit_meta(lambda m: m["optimizer"].update({"class": "Lion"})), "unknown optimizer"),
    (edit_meta(lambda m: m.pop("seed")), "lacks 'seed'"),
    (lambda a: a.update(params=a["params"].astype(np.float64)), "params should be float32"),
    (lambda a: a.pop("optimizer_state"), "missing: optimizer_state"),
    (lambda a: a.update(surprise=np.zeros(1)), "unexpected entries: surprise"),
    (lambda a: a.update(meta=np.array(b"{}")), "not a JSON string"),
    (lambda a: a.update(meta=np.array("{not json")), "invalid JSON"),
])
def test_inconsistent_contents_refused(tmp_path, edit, message):
    trained_model(np.float32).save(tmp_path / "m.npz")
    rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(ValueError, match=message):
        fp.load(tmp_path / "bad.npz")


class _Payload:
    """Unpickling this would create the file `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"
    trained_model(np.float32).save(tmp_path / "m.npz")
    payload = np.empty((), dtype=object)
    payload[()] = _Payload(str(marker))
    rewrite(tmp_path / "m.npz", tmp_path / "evil.npz", lambda a: a.update(meta=payload))
    pickle.loads(pickle.dumps(_Payload(str(tmp_path / "control"))))   # the payload works
    assert (tmp_path / "control").exists()
    with pytest.raises(ValueError, match="evil.npz"):
        fp.load(tmp_path / "evil.npz")
    assert not marker.exists()


# ---------------------------------------------------------------- atomic writes
def test_failed_save_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = trained_model(np.float32)
    old.save(path)
    before = path.read_bytes()
    newer = trained_model(np.float32, epochs=4)

    def crash_midway(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(fpio.np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        newer.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]             # no temporary file left behind
    assert fp.load(path).params.tobytes() == old.params.tobytes()

    newer.save(path)                                     # a completed save replaces it
    assert fp.load(path).params.tobytes() == newer.params.tobytes()
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        fp.Model([2, 1], seed=0).save(tmp_path / "no" / "such" / "m.npz")


def test_pickled_model_keeps_its_views_and_training_state():
    import pickle
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 2, 40)
    model = fp.Model([3, 5, 2], loss="cross_entropy", dtype=np.float32, seed=0, dropout=0.2)
    model.fit(X, y, epochs=2, batch_size=8, optimizer=fp.Adam(0.01))
    copy = pickle.loads(pickle.dumps(model))
    assert np.array_equal(copy.params, model.params)
    copy.weights[0][0, 0] = 123.0                      # a view into the copy's params
    assert copy.params[0] == 123.0 and model.params[0] != 123.0
    copy.weights[0][0, 0] = model.weights[0][0, 0]
    model.fit(X, y, epochs=2, batch_size=8)
    copy.fit(X, y, epochs=2, batch_size=8)             # continues exactly the same way
    assert np.array_equal(copy.params, model.params)
