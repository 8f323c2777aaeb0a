"""`fastprop warmup`: compile fastprop's kernels ahead of time (for Docker images and CI
caches), by fitting, predicting and evaluating tiny models of each dtype through the
same public calls, and so the same compiled trainers, that `fastprop train` and
Model.fit use. Numba keeps the compiled code in its on-disk cache, so later processes
load it in a fraction of a second."""
import time

import numpy as np

import fastprop as fp
from fastprop import debug

from .common import DTYPES, UsageError, positive_int, user_errors

# (what, layer sizes, loss, optimizer, batch size, rows): each walk Model.fit chooses
# from (training.choose_walk). The last is wide enough for a step to be shared among
# threads (config.PARALLEL_MIN_WORK multiply-adds) when more than one is given.
RUNS = [
    ("online SGD, narrow regression net (batch 1)", (2, 4, 1), "mse", "sgd", 1, 16),
    ("batches on one thread, classifier", (8, 16, 3), "cross_entropy", "adam", 32, 70),
    ("batches on one thread, regression", (8, 16, 1), "mse", "sgd", 32, 70),
    ("batches on one thread, binary classifier", (8, 16, 1), "binary_cross_entropy",
     "adam", 32, 70),
    ("wide steps (several threads where they are given)", (512, 1024, 10),
     "cross_entropy", "adam", 64, 130),
]


def add_warmup_parser(subparsers):
    """Register `fastprop warmup`."""
    p = subparsers.add_parser(
        "warmup", help="compile fastprop's kernels ahead of time",
        description="Compile fastprop's kernels for float32 and float64 (or --dtype) ahead "
                    "of time, by fitting, predicting and evaluating tiny models through "
                    "each training walk that `fastprop train` and Model.fit use: online "
                    "SGD, batches on one thread, and steps shared among threads. Numba "
                    "caches the compiled code on disk, so run this once when building a "
                    "Docker image or a CI cache; later runs start in a fraction of a "
                    "second.")
    p.add_argument("--dtype", choices=[*DTYPES, "both"], default="both",
                   help="default: both")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads of the wide run (default: every core this process may "
                        "use)")
    p.set_defaults(run=cmd_warmup)


def warm(dtype, n_threads=None, report=print):
    """Run every RUNS entry in `dtype`; returns the seconds it took."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for what, sizes, loss, optimizer, batch_size, rows in RUNS:
        began = time.perf_counter()
        X = rng.normal(size=(rows, sizes[0])).astype(dtype)
        if loss == "cross_entropy":
            y = rng.integers(0, sizes[-1], rows)
        elif loss == "binary_cross_entropy":
            y = rng.integers(0, 2, rows).astype(np.float64)
        else:
            y = rng.normal(size=rows)
        opt = fp.SGD(0.01) if optimizer == "sgd" else fp.Adam(1e-3)
        with user_errors():
            model = fp.Model(list(sizes), loss=loss, dtype=dtype, seed=0)
            model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=opt,
                      validation_split=0.2, n_threads=n_threads)
            model.predict(X)
            model.evaluate(X, y)
        walk = debug.walk(model, X.shape[0] - int(0.2 * X.shape[0]), batch_size, n_threads)
        threads = f" on {walk.threads} threads" if walk.threads > 1 else ""
        report(f"  {np.dtype(dtype).name} {what}: {walk.trainer}{threads}, "
               f"{time.perf_counter() - began:.2f} s")
    return time.perf_counter() - start


def cmd_warmup(args):
    """Run `fastprop warmup`."""
    names = list(DTYPES) if args.dtype == "both" else [args.dtype]
    total = 0.0
    for name in names:
        print(f"warming up fastprop's {name} kernels (compiled once per machine, then "
              f"loaded from Numba's cache)...", flush=True)
        try:
            seconds = warm(DTYPES[name], args.threads,
                           report=lambda line: print(line, flush=True))
        except MemoryError:
            raise UsageError("not enough memory for the warm-up's tiny models") from None
        total += seconds
        print(f"{name}: ready in {seconds:.1f} s")
    print(f"compiled (or loaded from Numba's cache) in {total:.1f} s; later runs load "
          f"the cached kernels")
    return 0
