#!/usr/bin/env python
"""fastprop.sklearn against scikit-learn's own MLP estimators, side by side in one
process: the sklearn-parity workloads of WORKLOADS.md, the same parameters and the
same number of epochs or L-BFGS iterations (tol=0 and n_iter_no_change=max_iter, so
neither stops early), float64 input as scikit-learn users pass it, one thread.

For each workload and solver, fit times are taken alternately (scikit-learn, fastprop
float64, fastprop dtype="float32", then again), --repeats rounds, after one untimed
warm-up fit of each (fastprop's compile; its time is reported apart). Reported: the
median fit time, how many times faster fastprop is, and each one's test score
(accuracy, or R^2 for the regression workload) so that speed is not bought with worse
models; for adam and sgd also the arithmetic rate of each fit (6 flops per weight per
sample, less the input layer's unneeded error) beside this core's GEMM rate measured
in the same run (a 512 x 512 product), the ceiling a fit made of such products meets.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/sklearn_parity.py
    python scripts/sklearn_parity.py --repeats 5 --out bench/results/sklearn-parity.md
"""
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"       # one thread, before NumPy, SciPy or Numba load

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastprop  # noqa: E402
from fastprop import sklearn as fp_sklearn  # noqa: E402


def workloads():
    """(name, classifier?, X_train, X_test, y_train, y_test, params) per workload."""
    X, y = load_digits(return_X_y=True)
    digits = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    X, y = make_classification(n_samples=10_000, n_features=40, n_informative=20,
                               n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    cls = train_test_split(X, y, train_size=8_000, random_state=0)
    X, y = make_regression(n_samples=10_000, n_features=30, n_informative=20, noise=10.0,
                           random_state=0)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    reg = train_test_split(X, y, train_size=8_000, random_state=0)
    return [
        ("digits, defaults (100,)", True, *digits, dict()),
        ("digits, (256, 128), sgd", True, *digits,
         dict(hidden_layer_sizes=(256, 128), solver="sgd", learning_rate_init=0.05)),
        ("8,000 x 40 classification, (128, 64)", True, *cls,
         dict(hidden_layer_sizes=(128, 64))),
        ("8,000 x 30 regression, (128, 64)", False, *reg,
         dict(hidden_layer_sizes=(128, 64))),
    ]


def gemm_rate(dtype):
    """GFLOP/s of a 512 x 512 x 512 product in NumPy's BLAS (best of several)."""
    a = np.random.default_rng(0).random((512, 512)).astype(dtype)
    best = np.inf
    for _ in range(20):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * 512**3 / best / 1e9


def flops_per_sample(n_in, hidden, n_out):
    """Multiply-adds x 2 of one sample's forward and backward pass."""
    sizes = [n_in, *hidden, n_out]
    products = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 2 * (3 * products - sizes[0] * sizes[1])


def timed_fit(make, X, y):
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t0, est


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30, help="max_iter of adam and sgd")
    ap.add_argument("--lbfgs-iter", type=int, default=100, help="max_iter of lbfgs")
    ap.add_argument("--out", default=None, help="also write the table to this file")
    args = ap.parse_args()

    lines = [f"fastprop {fastprop.__version__}, scikit-learn {sklearn.__version__}, "
             f"numpy {np.__version__}; {platform.processor() or platform.machine()}, "
             f"one thread; median of {args.repeats} fits; epochs {args.epochs} "
             f"(adam/sgd), {args.lbfgs_iter} L-BFGS iterations.", "",
             f"GEMM rate of this core: float64 {gemm_rate(np.float64):.0f} GFLOP/s, "
             f"float32 {gemm_rate(np.float32):.0f} GFLOP/s.", "",
             "| workload | solver | scikit-learn s | fastprop s | x | fastprop f32 s | x "
             "| GFLOP/s sk / fp / fp32 | score sk / fp / fp32 |",
             "|---|---|---|---|---|---|---|---|---|"]
    ratios, ratios32 = [], []
    for name, classifier, X_tr, X_te, y_tr, y_te, params in workloads():
        solvers = [params.get("solver", "adam"), "lbfgs"]
        for solver in solvers:
            kw = dict(params, solver=solver, tol=0.0, random_state=0,
                      max_iter=args.lbfgs_iter if solver == "lbfgs" else args.epochs)
            if solver != "lbfgs":
                kw["n_iter_no_change"] = kw["max_iter"]
            else:
                kw.pop("learning_rate_init", None)
            sk = (MLPClassifier if classifier else MLPRegressor)
            fp = (fp_sklearn.MLPClassifier if classifier else fp_sklearn.MLPRegressor)
            makers = {"sk": lambda: sk(**kw), "fp": lambda: fp(**kw),
                      "fp32": lambda: fp(dtype="float32", **kw)}
            compile_s = {k: timed_fit(m, X_tr[:64], y_tr[:64])[0]
                         for k, m in makers.items()}     # warm-up (fastprop compiles)
            times = {k: [] for k in makers}
            scores = {}
            for _ in range(args.repeats):
                for key, make in makers.items():
                    seconds, est = timed_fit(make, X_tr, y_tr)
                    times[key].append(seconds)
                    scores[key] = est.score(X_te, y_te)
            med = {k: statistics.median(v) for k, v in times.items()}
            rate = "-"
            if solver != "lbfgs":
                n_out = len(np.unique(y_tr)) if classifier else 1
                n_out = 1 if n_out == 2 else n_out
                work = flops_per_sample(X_tr.shape[1], kw.get("hidden_layer_sizes", (100,)),
                                        n_out) * len(y_tr) * args.epochs / 1e9
                rate = " / ".join(f"{work / med[k]:.0f}" for k in ("sk", "fp", "fp32"))
            ratios.append(med["sk"] / med["fp"])
            ratios32.append(med["sk"] / med["fp32"])
            lines.append(
                f"| {name} | {solver} | {med['sk']:.3f} | {med['fp']:.3f} | "
                f"{med['sk'] / med['fp']:.1f} | {med['fp32']:.3f} | "
                f"{med['sk'] / med['fp32']:.1f} | {rate} | {scores['sk']:.3f} / {scores['fp']:.3f}"
                f" / {scores['fp32']:.3f} |")
            print(lines[-1], f"(warm-up fits: {compile_s})", flush=True)
    lines += ["", f"geometric mean: float64 {statistics.geometric_mean(ratios):.1f}x, "
                  f"float32 {statistics.geometric_mean(ratios32):.1f}x"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
