#!/usr/bin/env python
"""Are fastprop's trained parameters bit-identical for every thread count?

Trains the same models with fit(n_threads=k) for each k given (default: 1, 2, 4, ...
up to every core) and prints a digest of the parameters and loss history for each;
the run fails (exit 1) if any digest differs from the 1-thread one. The models, each
trained on the multi-threaded (tiled) path, in float32 and float64: W3's network and
batch (784-512-256-10, batch 128, Adam), the same with batch 1024, and a net with
dropout and an L2 penalty whose last layer is small enough for the loop path
(300-512-8-3, batch 256). fit runs no more threads than a step has tasks: the threads
that actually ran are printed after each count asked for, and for one thread whether it
computed the products whole (where this machine's BLAS gives them the tiles' bits:
fastprop/tile_bits.py) or by the plan's tiles.

    python scripts/thread_bits.py                  # 1, 2, 4, ... all cores
    python scripts/thread_bits.py --threads 1,3,16
"""
import argparse
import hashlib
import sys

import numpy as np

import fastprop as fp
from fastprop import debug
from fastprop.threads import available_cores


def cases():
    rng = np.random.default_rng(0)
    X3 = rng.standard_normal((2048, 784))
    y3 = (X3 @ rng.standard_normal((784, 10))).argmax(axis=1)
    Xs = rng.standard_normal((1000, 300))
    ys = rng.integers(0, 3, 1000)
    for dtype in (np.float32, np.float64):
        yield ("W3 net, batch 128", dtype, [784, 512, 256, 10], {}, X3, y3, 128)
        yield ("W3 net, batch 1024", dtype, [784, 512, 256, 10], {}, X3, y3, 1024)
        yield ("300-512-8-3, dropout 0.3, l2 1e-3, batch 256", dtype, [300, 512, 8, 3],
               {"dropout": 0.3, "l2": 1e-3}, Xs, ys, 256)


def digest(dtype, sizes, extra, X, y, batch_size, n_threads):
    """(digest of the parameters and loss history, threads that ran) of one fit; for
    one thread, "1 whole" or "1 cut" (the products whole, or by the plan's tiles)."""
    model = fp.Model(sizes, activation="relu", loss="cross_entropy", dtype=dtype, seed=1,
                     **extra)
    model.set_optimizer(fp.Adam(1e-3))
    cut, whole = debug.plans(model, batch_size)
    if cut is None:
        raise SystemExit(f"{sizes} at batch {batch_size} is not on the tiled path")
    walk = debug.walk(model, X.shape[0], batch_size, n_threads)
    ran = walk.threads
    if ran == 1:
        ran = "1 whole" if walk.tiles is whole else "1 cut"
    h = model.fit(X, y, epochs=2, batch_size=batch_size, n_threads=n_threads)
    data = model.params.tobytes() + np.asarray(h.loss).tobytes()
    return hashlib.sha256(data).hexdigest()[:16], ran


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", help="comma-separated thread counts (default 1, 2, 4, "
                                      "... and every core)")
    args = ap.parse_args(argv)
    cores = available_cores()
    if args.threads:
        counts = [int(t) for t in args.threads.split(",")]
    else:
        counts = sorted({min(2 ** i, cores) for i in range(cores.bit_length() + 1)})
    print(f"thread counts: {counts} ({cores} cores available)")
    same = True
    for name, dtype, sizes, extra, X, y, batch_size in cases():
        found = [digest(dtype, sizes, extra, X, y, batch_size, k) for k in counts]
        ok = len({d for d, _ in found}) == 1
        same &= ok
        print(f"{'same' if ok else 'DIFFERENT'}  {np.dtype(dtype).name:7}  {name}: "
              + " ".join(f"{k}({ran}):{d}" for k, (d, ran) in zip(counts, found)))
    print("bit-identical for every thread count" if same else "NOT bit-identical")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
