"""Fuzz fp.load with mutated valid files (run by tests/test_fuzz.py in a subprocess, so
that a crash fails that test instead of killing the run). Every mutated file must load
or be refused with ValueError; anything else escapes as a failure."""
import json
import os
import sys
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import fastprop as fp

EXAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
FOLDER = tempfile.mkdtemp()
MODEL = fp.Model([3, 5, 2], loss="cross_entropy", seed=0, dropout=0.1)
MODEL.set_optimizer(fp.Adam(1e-3))
GOOD = os.path.join(FOLDER, "good.npz")
MODEL.save(GOOD, )
GOOD_BYTES = open(GOOD, "rb").read()
with np.load(GOOD, allow_pickle=False) as npz:
    ARRAYS = {k: npz[k] for k in npz.files}
META = json.loads(str(ARRAYS["meta"]))
OPTIONS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))


def try_load(path):
    try:
        fp.load(path)
    except ValueError as err:
        assert "cannot load fastprop model from" in str(err), err


edits = st.lists(st.tuples(st.integers(0, len(GOOD_BYTES) - 1), st.integers(0, 255)),
                 min_size=1, max_size=8)


@OPTIONS
@given(edits, st.integers(0, len(GOOD_BYTES)))
def fuzz_bytes(changes, cut):
    data = bytearray(GOOD_BYTES)
    for at, value in changes:
        data[at] = value
    path = os.path.join(FOLDER, "bytes.npz")
    with open(path, "wb") as f:
        f.write(bytes(data[:cut] if cut < 64 else data))
    try_load(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)


def keys(meta, prefix=()):
    """Every path into the metadata (nested dicts)."""
    for key, value in meta.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from keys(value, prefix + (key,))


PATHS = sorted(keys(META))


@OPTIONS
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def fuzz_metadata(changes):
    meta = json.loads(json.dumps(META))
    for path, value in changes:
        node = meta
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                break
            node = node[key]
        else:
            node[path[-1]] = value
    arrays = dict(ARRAYS, meta=np.array(json.dumps(meta)))
    path = os.path.join(FOLDER, "meta.npz")
    np.savez(path, **arrays)
    try_load(path)


@OPTIONS
@given(st.sampled_from(sorted(ARRAYS)), st.sampled_from(["float32", "float64", "int64",
                                                          "uint64", "U3", "bool"]),
       st.lists(st.integers(0, 6), max_size=3), st.booleans())
def fuzz_arrays(name, dtype, shape, drop):
    arrays = dict(ARRAYS)
    if drop:
        del arrays[name]
    else:
        arrays[name] = np.ones(shape, dtype)
    path = os.path.join(FOLDER, "arrays.npz")
    np.savez(path, **arrays)
    try_load(path)


if __name__ == "__main__":
    fuzz_bytes()
    fuzz_metadata()
    fuzz_arrays()
    print("ok")
