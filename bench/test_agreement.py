"""The frameworks do the same work: trained for a few steps from the shared initial
weights on the same batches, each ends where the NumPy reference does.

Not a benchmark (it runs without --benchmark-only). Adam normalises each update, so an
entry whose gradient is at rounding level may move by up to lr per step in either
direction; the check is therefore: most entries agree tightly (median difference), and
none is further off than that bound allows.
"""
import dataclasses

import numpy as np
import pytest

from bench import frameworks, workloads
from bench.numpy_reference import Trainer as NumpyTrainer

STEPS = {"W1": 500, "W2": 10, "W3": 3}


def truncated(wl, steps):
    """The workload cut to its first `steps` batches."""
    n = steps * wl.batch_size
    return dataclasses.replace(wl, X=wl.X[:n], y=wl.y[:n], Y=wl.Y[:n])


@pytest.fixture(scope="module")
def reference():
    cache = {}

    def get(name):
        if name not in cache:
            wl = truncated(workloads.get(name), STEPS[name])
            trainer = NumpyTrainer(wl, 1)
            trainer.epoch()
            cache[name] = trainer.params()
        return cache[name]
    return get


@pytest.mark.parametrize("framework", [f for f in frameworks.NAMES if f != "numpy"])
@pytest.mark.parametrize("workload", list(STEPS))
def test_same_trajectory(reference, workload, framework):
    pytest.importorskip(frameworks.library(framework))
    wl = truncated(workloads.get(workload), STEPS[workload])
    with workloads.pin_threads(1):
        trainer, _ = frameworks.prepare(framework, wl, 1)
        trainer.epoch()
    got, want = trainer.params(), reference(workload)
    assert len(got) == len(want)
    steps = STEPS[workload]
    for l, ((W, b), (W0, b0)) in enumerate(zip(got, want)):
        assert W.shape == W0.shape and b.shape == b0.shape, f"layer {l} shapes"
        start = wl.init[l][0]
        moved = np.abs(W0 - start).max()
        assert moved > 0, "the reference did not train"
        for name, a, a0 in (("W", W, W0), ("b", b, b0)):
            diff = np.abs(a.astype(np.float64) - a0)
            if wl.optimizer == "sgd":
                assert diff.max() <= 1e-4 * max(1.0, np.abs(a0).max()), \
                    f"{framework} {workload} layer {l} {name}: max diff {diff.max()}"
            else:
                assert np.median(diff) <= 1e-5, \
                    f"{framework} {workload} layer {l} {name}: median diff {np.median(diff)}"
                assert diff.max() <= 2.0 * wl.lr * steps, \
                    f"{framework} {workload} layer {l} {name}: max diff {diff.max()}"


@pytest.mark.parametrize("framework", frameworks.NAMES)
def test_same_prediction(framework):
    pytest.importorskip(frameworks.library(framework))
    wl = workloads.get("W4")
    trainer = frameworks.load(framework)(wl, 1)
    want = NumpyTrainer(wl, 1).predict()
    got = np.asarray(trainer.predict())
    assert got.shape == want.shape == (1, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
