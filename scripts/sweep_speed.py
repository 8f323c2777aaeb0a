#!/usr/bin/env python
"""A cross-validated grid on W2's data (64-128-10, 1,408 digits): 16 points (4 learning
rates x 4 L2 penalties) x 5 folds = 80 networks, 3 epochs each, batch 32, Adam. Three
ways, alternating, --repeats rounds, medians: `fp.sweep` (the 16 points as one
Ensemble of 80 members), the same 80 `Model.fit` calls one after another, and
scikit-learn's GridSearchCV over fastprop's MLPClassifier (the same grid as
learning_rate_init x alpha, max_iter=3, tol=0).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/sweep_speed.py
"""
import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastprop as fp  # noqa: E402
from bench import workloads  # noqa: E402

LRS = [3e-4, 1e-3, 3e-3, 1e-2]
L2S = [0.0, 1e-5, 1e-4, 1e-3]
EPOCHS, FOLDS, BATCH = 3, 5, 32


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from fastprop.sklearn import MLPClassifier

    wl = workloads.get("W2")
    X, y = wl.X, wl.y
    folds = list(StratifiedKFold(FOLDS).split(X, y))
    grid = {"lr": LRS, "l2": L2S}

    def sweep():
        fp.sweep(wl.sizes, grid, X, y, cv=FOLDS, loss="cross_entropy", epochs=EPOCHS,
                 batch_size=BATCH, n_threads=args.threads)

    def loop():
        for lr in LRS:
            for l2 in L2S:
                for f, (train, val) in enumerate(folds):
                    model = fp.Model(wl.sizes, loss="cross_entropy", l2=l2, seed=f)
                    model.fit(X[train], y[train], epochs=EPOCHS, batch_size=BATCH,
                              optimizer=fp.Adam(lr), validation_data=(X[val], y[val]),
                              n_threads=args.threads)

    def search():
        est = MLPClassifier(hidden_layer_sizes=wl.sizes[1:-1], max_iter=EPOCHS,
                            batch_size=BATCH, tol=0.0, random_state=0, dtype="float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GridSearchCV(est, {"learning_rate_init": LRS, "alpha": L2S}, cv=FOLDS,
                         n_jobs=1).fit(X, y)

    runs = {"fp.sweep": sweep, "80 x Model.fit": loop, "GridSearchCV": search}
    for f in runs.values():
        f()                     # compile and warm up
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"16 points x {FOLDS} folds of 64-128-10, {EPOCHS} epochs, batch {BATCH}, Adam, "
          f"{args.threads} thread(s); medians of {args.repeats}")
    print("| way | seconds | vs fp.sweep |")
    print("|---|---:|---:|")
    for name, s in med.items():
        print(f"| {name} | {s:.3f} | {s / med['fp.sweep']:.2f}x |")


if __name__ == "__main__":
    main()
