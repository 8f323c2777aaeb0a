"""The frameworks the bench compares, behind one small interface.

Each module named in FRAMEWORKS has a class ``Trainer(workload, n_threads)`` with

  warmup()   compile / first-call work (may train a step; call reset() after it)
  reset()    back to the shared initial weights, optimizer state zeroed
  epoch()    train one epoch over the workload's data in order, continuing from the
             current state (optimizer state carries over, as in one longer run);
             returns when the work is done (JAX: blocks until ready)
  predict()  output activations for the workload's one sample (W4)
  params()   [(W (n_in, n_out), b (n_out,))] as NumPy arrays

Peers that are not installed raise ImportError from load(); tests use
pytest.importorskip on the library itself so they skip cleanly.
"""
import importlib
import time

FRAMEWORKS = {
    "fastprop": ("fastprop", "bench.peers_fastprop"),
    "numpy": ("numpy", "bench.numpy_reference"),
    "torch": ("torch", "bench.peers_torch"),
    "jax": ("jax", "bench.peers_jax"),
    "sklearn": ("sklearn", "bench.peers_sklearn"),
}
NAMES = tuple(FRAMEWORKS)
PEERS = tuple(n for n in NAMES if n != "fastprop")


def library(name):
    """The import name of the library framework `name` needs."""
    return FRAMEWORKS[name][0]


def load(name):
    """The Trainer class of framework `name` (ImportError if its library is missing)."""
    if name not in FRAMEWORKS:
        raise ValueError(f"unknown framework {name!r}; choose from {', '.join(NAMES)}")
    return importlib.import_module(FRAMEWORKS[name][1]).Trainer


def available(name):
    try:
        load(name)
        return True
    except ImportError:
        return False


def prepare(name, wl, n_threads):
    """A warmed-up trainer at the initial weights, and the seconds the construction
    plus warm-up (compilation, cache loading, first calls) took."""
    Trainer = load(name)
    t0 = time.perf_counter()
    trainer = Trainer(wl, n_threads)
    trainer.warmup()
    compile_s = time.perf_counter() - t0
    trainer.reset()
    return trainer, compile_s


def timed_call(trainer, wl):
    """The function one timed round calls: one epoch, or one predict for W4."""
    return trainer.predict if wl.predict_only else trainer.epoch


def rates(wl, seconds):
    """Derived figures for one round of `seconds`: samples/s, µs per optimizer step
    (W4: per prediction), GFLOP/s (6 x params x samples/s for training, 2 x params x
    predictions/s for W4)."""
    if wl.predict_only:
        return {"samples_per_s": 1.0 / seconds, "us_per_step": seconds * 1e6,
                "gflops": 2.0 * wl.n_params / seconds / 1e9}
    sps = wl.n_samples / seconds
    return {"samples_per_s": sps, "us_per_step": seconds / wl.n_batches * 1e6,
            "gflops": 6.0 * wl.n_params * sps / 1e9}
