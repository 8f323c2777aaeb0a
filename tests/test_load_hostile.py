"""fp.load on files made to hurt: it refuses them with a ValueError naming the file,
before allocating or inflating more than the model it declares needs, never hangs on
a path that is not a regular file, and never lets a raw OverflowError, TypeError or
RecursionError out."""
import json
import os
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastprop as fp
from fastprop import io as fpio


def saved(tmp_path, optimizer=True):
    model = fp.Model([3, 6, 2], seed=0)
    if optimizer:
        model.set_optimizer(fp.Adam(1e-3))
    path = tmp_path / "good.npz"
    model.save(path)
    return model, path


def arrays_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def with_meta(tmp_path, edit, name="bad.npz"):
    _, good = saved(tmp_path)
    arrays = arrays_of(good)
    meta = json.loads(str(arrays["meta"]))
    edit(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def refused(path, match=None):
    """load raises a ValueError that names the file (and `match`)."""
    with pytest.raises(ValueError) as info:
        fp.load(path)
    assert repr(str(path)) in str(info.value)
    if match:
        assert match in str(info.value)
    return str(info.value)


def peak_bytes(call):
    tracemalloc.start()
    try:
        call()
    except ValueError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


# ---------------------------------------------------------------- sizes before memory
@pytest.mark.parametrize("sizes", [[3, 10**8, 2], [3, 2**31 - 1, 2], [10**6, 10**6, 2]])
def test_a_small_file_declaring_a_huge_network_allocates_nothing(tmp_path, sizes):
    def edit(meta):
        meta["layer_sizes"] = sizes
    path = with_meta(tmp_path, edit)
    assert os.path.getsize(path) < 4096
    assert peak_bytes(lambda: fp.load(path)) < 2**20
    refused(path, "params should be")


@pytest.mark.parametrize("sizes", [[3, 10**30, 2], [3, -4, 2], [3, 0, 2], [3, 2.5, 2],
                                   [3, True, 2], [3], [], [3, "6", 2]])
def test_impossible_layer_sizes(tmp_path, sizes):
    def edit(meta):
        meta["layer_sizes"] = sizes
    refused(with_meta(tmp_path, edit), "layer_sizes")


def test_an_undeclared_member_is_never_inflated(tmp_path):
    _, good = saved(tmp_path)
    path = tmp_path / "bomb.npz"
    path.write_bytes(good.read_bytes())
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("more.npy", b"\0" * (200 * 2**20))   # 200 MB inflated, ~200 KB stored
    assert os.path.getsize(path) < 2**20
    assert peak_bytes(lambda: fp.load(path)) < 4 * 2**20
    refused(path, "unexpected entries")


def test_a_member_claiming_more_than_deflate_can_hold(tmp_path):
    _, good = saved(tmp_path)
    data = zipfile.ZipFile(good)
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in data.infolist():
            dst.writestr(info.filename, data.read(info))
    data.close()
    # raise the uncompressed size recorded for params.npy in the central directory
    raw = bytearray(path.read_bytes())
    at = raw.find(b"params.npy", raw.find(b"PK\x01\x02"))
    header = raw.rfind(b"PK\x01\x02", 0, at)
    raw[header + 24:header + 28] = (2**31).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    refused(path, "claims more data")


def test_non_finite_parameters_are_refused(tmp_path):
    _, good = saved(tmp_path)
    for name in ("params", "optimizer_state"):
        arrays = arrays_of(good)
        arrays[name] = arrays[name].copy()
        arrays[name].flat[3] = np.nan if name == "params" else np.inf
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        refused(path, "non-finite")


# ---------------------------------------------------------------- paths that are not files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    outcome = []

    def load():
        try:
            fp.load(path)
        except ValueError as err:
            outcome.append(str(err))
    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "load blocked on a FIFO"
    assert outcome and "not a regular file" in outcome[0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.npz"
    link.symlink_to("/dev/zero")
    refused(link, "not a regular file")


# ---------------------------------------------------------------- crafted metadata
def big_state(meta):
    meta["shuffle_rng"]["state"]["state"] = 2**200


def bad_state_type(meta):
    meta["shuffle_rng"]["state"] = [1, 2]


def unhashable_optimizer(meta):
    meta["optimizer"]["class"] = ["Adam"]


def optimizer_setting_too_large(meta):
    meta["optimizer"]["settings"]["lr"] = 10**400


def l2_beyond_float(meta):
    meta["l2"] = 10**400


def dropout_of_objects(meta):
    meta["dropout"] = [{"rate": 0.5}]


def negative_seed(meta):
    meta["seed"] = -1


def activations_unhashable(meta):
    meta["activations"] = [["relu"]]


def extra_not_names(meta):
    meta["extra"] = [{"a": 1}]


@pytest.mark.parametrize("edit", [big_state, bad_state_type, unhashable_optimizer,
                                  optimizer_setting_too_large, l2_beyond_float,
                                  dropout_of_objects, negative_seed,
                                  activations_unhashable, extra_not_names])
def test_crafted_metadata_is_a_value_error_naming_the_file(tmp_path, edit):
    refused(with_meta(tmp_path, edit))


def test_deeply_nested_json_is_refused(tmp_path):
    _, good = saved(tmp_path)
    arrays = arrays_of(good)
    text = str(arrays["meta"])
    arrays["meta"] = np.array(text[:-1] + ', "deep": ' + "[" * 50000 + "]" * 50000 + "}")
    path = tmp_path / "deep.npz"
    np.savez(path, **arrays)
    refused(path, "nested too deeply")
    with pytest.raises(ValueError, match="nested too deeply"):   # the pickle path too
        fpio.from_arrays(arrays_of(path))


def test_oversized_metadata_is_refused_unread(tmp_path):
    _, good = saved(tmp_path)
    arrays = arrays_of(good)
    arrays["meta"] = np.array(str(arrays["meta"])[:-1] + ', "pad": "' + "x" * 2**20 + '"}')
    path = tmp_path / "padded.npz"
    np.savez(path, **arrays)
    refused(path, "metadata")


def test_the_good_file_still_loads(tmp_path):
    model, path = saved(tmp_path)
    loaded = fp.load(path)
    np.testing.assert_array_equal(loaded.params, model.params)
