#!/usr/bin/env python
"""The overhead of a Dask cluster on a scikit-learn sweep: GridSearchCV over
fastprop's MLPClassifier, 16 grid points x 3 folds on scikit-learn's digits (1,797
rows, 64 features), run locally (n_jobs=1, one process) and under
``joblib.parallel_backend("dask")`` on a LocalCluster of --workers workers x 1
thread (n_jobs=-1), which gives the same cv_results_ scores (checked here).

The cluster's workers start with NUMBA_NUM_THREADS=1 (Dask sets OMP, MKL and
OpenBLAS to one thread in its workers, not Numba), so W workers use W cores. The
local sweep runs after a small one that loads fastprop's compiled kernels (from
Numba's cache) in this process; the first sweep on the cluster includes each worker's
first import of fastprop and loading of its kernels, the second is warm. The
overhead is the wall time beyond an ideal split of the local sweep over the workers
(local / W). Prints a markdown table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/dask_sweep.py
"""
import argparse
import os
import time
import warnings


def sweep(X, y, n_jobs, max_iter):
    from sklearn.model_selection import GridSearchCV
    from fastprop.sklearn import MLPClassifier

    grid = {"hidden_layer_sizes": [(32,), (64,), (128,), (64, 32)],
            "alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    estimator = MLPClassifier(max_iter=max_iter, batch_size=64, random_state=0)
    start = time.perf_counter()
    search = GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start, search


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=30,
                        help="epochs of each fit (default 30)")
    args = parser.parse_args()

    import dask
    import distributed
    import joblib
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    sweep(X[:200], y[:200], 1, 1)       # this process loads the kernels (Numba's cache)
    local, expected = sweep(X, y, 1, args.max_iter)

    dask.config.set({"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": 1})
    start = time.perf_counter()
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                  processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(args.workers)
        started = time.perf_counter() - start
        runs = []
        for _ in range(2):      # the first in each worker loads the kernels, here too
            with joblib.parallel_backend("dask"):
                runs.append(sweep(X, y, -1, args.max_iter))
    for _, search in runs:
        for key, values in expected.cv_results_.items():
            if key.startswith(("split", "mean_test", "rank_test")):
                assert np.array_equal(search.cv_results_[key], values), key

    W = args.workers
    fits = 16 * 3 + 1
    print(f"GridSearchCV, 16 points x 3 folds + refit ({fits} fits of "
          f"MLPClassifier(max_iter={args.max_iter}, batch_size=64)) on digits; "
          f"{os.cpu_count()} cores; dask {distributed.__version__}, "
          f"joblib {joblib.__version__}; the same cv_results_ scores everywhere\n")
    print(f"| run | wall s | speed-up vs local | overhead vs local / {W} s |")
    print("|---|---:|---:|---:|")
    print(f"| local, n_jobs=1 | {local:.2f} | 1.00 | |")
    for name, (wall, _) in zip(("first (cold workers)", "second (warm)"), runs):
        print(f"| dask, {W} workers x 1 thread, {name} | {wall:.2f} | "
              f"{local / wall:.2f} | {wall - local / W:+.2f} |")
    print(f"\nstarting the LocalCluster: {started:.2f} s (not in the figures above)")


if __name__ == "__main__":
    main()
