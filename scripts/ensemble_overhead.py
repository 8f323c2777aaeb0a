#!/usr/bin/env python
"""The Python work of one `Ensemble.fit` around its compiled member loop: E1's fit
(32 networks 64-128-10, one epoch of W2's 1,408 rows, batch 32, Adam, no shuffling)
timed with the compiled loop replaced by a call that does nothing, so what is left is
validation, binding, the snapshot a failed fit restores from, stacking, the finiteness
checks and the histories. Median and minimum of --repeats fits, in ms.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/ensemble_overhead.py
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastprop as fp                      # noqa: E402
import fastprop.ensemble as ensemble_module  # noqa: E402
from bench import workloads                # noqa: E402

K = 32


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    wl = workloads.get("W2")
    ens = fp.Ensemble(wl.sizes, n_members=K, seeds=list(range(K)), loss="cross_entropy")
    optimizers = [fp.Adam(wl.lr) for _ in range(K)]

    def fit():
        ens.fit(wl.X, wl.y, epochs=1, batch_size=32, optimizer=optimizers, shuffle=False,
                n_threads=args.threads)

    for _ in range(3):                     # compile, and the stack the next fits reuse
        fit()
    compiled = time.perf_counter()
    fit()
    whole = time.perf_counter() - compiled
    ensemble_module.train_members = lambda *arguments: None
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    print(f"Ensemble.fit, {K} members, {args.threads} thread(s): whole fit "
          f"{1e3 * whole:.1f} ms; without the compiled loop median "
          f"{1e3 * statistics.median(times):.2f} ms, min {1e3 * min(times):.2f} ms "
          f"({args.repeats} fits)")


if __name__ == "__main__":
    main()
