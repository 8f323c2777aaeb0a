#!/usr/bin/env python
"""E1 of WORKLOADS.md, many models: 32 W2-shaped networks (64-128-10, each its own
Glorot init from default_rng(100 + i)), one epoch each of W2's data (1,408 digits),
batch 32, Adam 1e-3, no shuffling: 32 sequential `Model.fit` calls against one
`fp.Ensemble.fit`, and JAX's `jit(vmap(lax.scan epoch))` over the stacked parameters,
on 1 and 2 threads. Each thread count runs in a fresh process (JAX sizes its thread
pool at start), the three timed alternately in it, --repeats rounds, medians.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/many_models.py
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K = 32


def run(threads, repeats):
    """Time the three in this process, on `threads` threads; print one JSON line."""
    os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
                               f" intra_op_parallelism_threads={threads}")
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import fastprop as fp
    from bench import workloads

    wl = workloads.get("W2")
    inits = [workloads.glorot_uniform(wl.sizes, np.random.default_rng(100 + i))
             for i in range(K)]
    X, y = wl.X, wl.y

    def load(model, init):
        for (W, b), W0, b0 in zip(init, model.weights, model.biases):
            W0[...] = W
            b0[...] = b

    solos = [fp.Model(wl.sizes, loss="cross_entropy", seed=i) for i in range(K)]
    ens = fp.Ensemble(wl.sizes, n_members=K, seeds=list(range(K)), loss="cross_entropy")
    for i in range(K):
        load(solos[i], inits[i])
        load(ens.members[i], inits[i])
    opts = [fp.Adam(wl.lr) for _ in range(K)]
    ens_opts = [fp.Adam(wl.lr) for _ in range(K)]

    def sequential():
        for model, opt in zip(solos, opts):
            model.fit(X, y, epochs=1, batch_size=32, optimizer=opt, shuffle=False,
                      n_threads=threads)

    def ensemble():
        ens.fit(X, y, epochs=1, batch_size=32, optimizer=ens_opts, shuffle=False,
                n_threads=threads)

    jax_epoch = _jax_epochs(wl, inits)
    runs = {"sequential": sequential, "ensemble": ensemble, "jax": jax_epoch}
    for f in runs.values():      # compile and warm up
        f()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    print(json.dumps({name: statistics.median(v) for name, v in times.items()}))


def _jax_epochs(wl, inits):
    """JAX's best case for K models: vmap over the stacked parameters of the whole
    epoch, a lax.scan of Adam steps, under one jit (donated buffers)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from bench.peers_jax import make_epoch

    epoch, opt_init, _ = make_epoch(wl)
    many = jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None)), donate_argnums=(0, 1))
    n, B = wl.n_samples, wl.batch_size
    Xb = jnp.asarray(wl.X.reshape(n // B, B, -1))
    Tb = jnp.asarray(wl.Y.reshape(n // B, B, -1))
    stacked = [(jnp.asarray(np.stack([init[l][0] for init in inits])),
                jnp.asarray(np.stack([init[l][1] for init in inits])))
               for l in range(len(inits[0]))]
    state = {"params": stacked,
             "opt": jax.vmap(opt_init)(stacked)}

    def run_epoch():
        state["params"], state["opt"], loss = many(state["params"], state["opt"], Xb, Tb)
        loss.block_until_ready()

    return run_epoch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        run(args.child, args.repeats)
        return
    rows = {}
    for t in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ, NUMBA_NUM_THREADS=str(max(t, 1)))
        out = subprocess.run([sys.executable, __file__, "--child", str(t), "--repeats",
                              str(args.repeats)], capture_output=True, text=True, env=env,
                             check=True).stdout
        rows[t] = json.loads(out.strip().splitlines()[-1])
    print(f"E1: {K} x 64-128-10, one epoch of 1,408 rows, batch 32, Adam; medians of "
          f"{args.repeats}, ms")
    print("| threads | 32 x Model.fit | Ensemble.fit | JAX jit(vmap(scan)) | Ensemble vs "
          "sequential | Ensemble vs JAX |")
    print("|---|---:|---:|---:|---:|---:|")
    for t, r in rows.items():
        print(f"| {t} | {r['sequential'] * 1e3:.1f} | {r['ensemble'] * 1e3:.1f} | "
              f"{r['jax'] * 1e3:.1f} | {r['sequential'] / r['ensemble']:.2f}x | "
              f"{r['jax'] / r['ensemble']:.2f}x |")
    if 1 in rows and 2 in rows:
        print(f"Ensemble, 2 threads vs 1: {rows[1]['ensemble'] / rows[2]['ensemble']:.2f}x")


if __name__ == "__main__":
    main()
