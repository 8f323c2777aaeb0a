#!/usr/bin/env python
"""fastprop side by side with its peers on the workloads of WORKLOADS.md (W1-W4).

Runs the workloads itself (no pytest), every framework in this one process: for each
workload and thread count, every framework is built and warmed up (compile time
reported), one untimed calibration round is run, the trainers go back to the shared
initial weights, and then `--repeats` timed rounds are taken, interleaved across the
frameworks (round r of each before round r+1 of any) so that drift on a shared machine
hits all of them alike. A round is one training epoch (continuing from the previous
round's state) or, for W4, one single-sample predict; a round shorter than --min-time
is repeated that many times and averaged. Reported: the median.

Prints one markdown table per workload (samples/s, µs per optimizer step, how many
times faster fastprop is than each peer, threads; for W3 the achieved GFLOP/s =
6 x params x samples/s and its share of the float32 GEMM peak measured in the same
run), the machine, library versions, and fastprop's start-up time in a fresh process
with a warm and a cold numba cache.

    python scripts/compare.py                      # everything, 5 repeats
    python scripts/compare.py --workloads W1,W2 --repeats 3 --json out.json
    python scripts/compare.py --workloads W3 --threads 1,2

OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) may be set on this machine for the sake of old
OpenBLAS builds; they make every OpenBLAS user (the NumPy peer, the GEMM peak, fastprop's
BLAS calls through SciPy) run older, slower kernels. The script then also measures the
unrestricted peak in a subprocess with both unset. To run the whole comparison on the
machine's real kernels, unset both for this command alone:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py
"""
import argparse
import dataclasses
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))     # for `bench`; fastprop comes from the environment

import numpy as np  # noqa: E402

from bench import frameworks, workloads  # noqa: E402

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---------------------------------------------------------------------- machine
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                            if x in flags]
    except OSError:
        pass
    return []


def system_busy_s():
    """CPU seconds every process on the machine has spent busy so far (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def self_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def versions():
    out = {"python": platform.python_version()}
    for mod in ("fastprop", "numpy", "numba", "scipy", "sklearn", "threadpoolctl", "torch",
                "jax", "jaxlib", "optax"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except Exception:
                out[mod] = None
                continue
        out[mod] = getattr(m, "__version__", "?")
    return out


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: d.get(k) for k in ("internal_api", "prefix", "version", "architecture",
                                   "threading_layer", "num_threads", "filepath")}
            for d in threadpool_info()]


# ---------------------------------------------------------------------- GEMM peak
def gemm_peak(n_threads, size=2048, repeats=5):
    """Best float32 GFLOP/s of a size^3 numpy matmul (call inside pin_threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty((size, size), np.float32)
    np.matmul(a, b, out=c)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size ** 3 / best / 1e9


_PEAK_CHILD = r"""
import json, os, sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
n = int(sys.argv[1])
cpus = sorted(os.sched_getaffinity(0))[:n]
os.sched_setaffinity(0, cpus)
with threadpool_limits(n):
    size = 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter(); np.matmul(a, b, out=c); best = min(best, time.perf_counter() - t0)
    arch = [d.get("architecture") for d in threadpool_info() if d.get("internal_api") == "openblas"]
print(json.dumps({"gflops": 2.0 * size ** 3 / best / 1e9, "architecture": arch}))
"""


def unrestricted_peak(n_threads):
    """The GEMM peak in a subprocess with OPENBLAS_CORETYPE/L2_SIZE unset (None when
    neither is set here, or on failure)."""
    if not any(v in os.environ for v in BLAS_ENV):
        return None
    env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    try:
        out = subprocess.run([sys.executable, "-c", _PEAK_CHILD, str(n_threads)], env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as err:
        return {"error": str(err)}


# ---------------------------------------------------------------------- measuring
def measure(wl, names, n_threads, repeats, min_time, log, settle=0.3):
    """Median seconds per round (and more) for each framework, all in this process."""
    results = {}
    trainers = {}
    busy0, cpu0, wall0 = system_busy_s(), self_cpu_s(), time.perf_counter()
    with workloads.pin_threads(n_threads):
        for name in names:
            try:
                trainer, compile_s = frameworks.prepare(name, wl, n_threads)
                fn = frameworks.timed_call(trainer, wl)
                t0 = time.perf_counter()
                fn()                                      # calibration round, untimed
                once = time.perf_counter() - t0
                trainer.reset()
                inner = max(1, math.ceil(min_time / max(once, 1e-9)))
                trainers[name] = (trainer, fn, inner)
                results[name] = {"compile_s": compile_s, "inner": inner, "times": [],
                                 "cpu_ratio": []}
                if hasattr(trainer, "opt_name"):
                    results[name]["optimizer"] = trainer.opt_name
                if hasattr(trainer, "n_threads_passed"):
                    results[name]["fit_n_threads"] = trainer.n_threads_passed
            except Exception as err:       # a broken framework must not stop the rest
                results[name] = {"error": f"{type(err).__name__}: {err}"}
                log(f"  {name}: {results[name]['error']}")
        live = list(trainers)
        # The peers' imports leave millions of objects for Python's cyclic collector: a
        # full collection (0.1-0.25 s, measured) then lands in whichever round's
        # allocations happen to trigger it, 7x a W1 round. Frozen, they are not scanned.
        gc.collect()
        gc.freeze()
        for r in range(repeats):
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for name in order:
                trainer, fn, inner = trainers[name]
                # Let the previous framework's pool threads go idle first: OpenBLAS and
                # OpenMP workers spin for a while after their last call and would steal
                # cores from whichever framework runs next (always the same neighbour).
                time.sleep(settle)
                c0 = self_cpu_s()
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                dt = time.perf_counter() - t0
                results[name]["times"].append(dt / inner)
                results[name]["cpu_ratio"].append((self_cpu_s() - c0) / dt)
        gc.unfreeze()
        peak = gemm_peak(n_threads) if wl.name == "W3" else None
    wall = time.perf_counter() - wall0
    others = None
    if busy0 is not None:
        others = max(0.0, (system_busy_s() - busy0) - (self_cpu_s() - cpu0)) / wall
    for name in live:
        res = results[name]
        times = res["times"]
        med = statistics.median(times)
        res.update(median_s=med, spread=(max(times) - min(times)) / med,
                   cpu_per_wall=statistics.median(res.pop("cpu_ratio")))
        res.update(frameworks.rates(wl, med))
    return results, peak, others


# ---------------------------------------------------------------------- printing
def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_us(x):
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def table(wl, blocks):
    """Markdown lines for one workload: blocks = [(threads, results, peak)]."""
    w3 = wl.name == "W3"
    unit = "predictions/s" if wl.predict_only else "samples/s"
    step = "µs/prediction" if wl.predict_only else "µs/step"
    head = ["framework", unit, step, "fastprop is ×faster", "threads"]
    if w3:
        head += ["GFLOP/s", "% of GEMM peak"]
    head += ["compile/warm-up s", "cpu/wall", "spread"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for n_threads, results, peak in blocks:
        fp_res = results.get("fastprop", {})
        fp_t = fp_res.get("median_s")
        for name, res in results.items():
            if "error" in res:
                lines.append(f"| {name} | error: {res['error'][:80]} |" + " |" * (len(head) - 2))
                continue
            ratio = f"{res['median_s'] / fp_t:.2f}" if fp_t else "—"
            row = [name, fmt_rate(res["samples_per_s"]), fmt_us(res["us_per_step"]), ratio,
                   str(n_threads)]
            if w3:
                row.append(f"{res['gflops']:.0f}")
                row.append(f"{100 * res['gflops'] / peak:.0f}%" if peak else "—")
            row += [f"{res['compile_s']:.2f}", f"{res['cpu_per_wall']:.2f}",
                    f"{100 * res['spread']:.0f}%"]
            lines.append("| " + " | ".join(row) + " |")
    return lines


# ---------------------------------------------------------------------- start-up
_STARTUP_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
d = np.load(sys.argv[1])
X, y = d["X"], d["y"]
t1 = time.perf_counter()
import fastprop as fp
t2 = time.perf_counter()
m = fp.Model([64, 128, 10], activation="relu", loss="cross_entropy", dtype=np.float32,
             seed=0, init="xavier_uniform")
opt = fp.Adam(lr=1e-3)
m.fit(X, y, epochs=1, batch_size=32, optimizer=opt, shuffle=False, verbose=0)
t3 = time.perf_counter()
m.fit(X, y, epochs=1, batch_size=32, optimizer=opt, shuffle=False, verbose=0)
t4 = time.perf_counter()
print(json.dumps({"import_s": t2 - t1, "first_fit_s": t3 - t2, "next_fit_s": t4 - t3,
                  "fastprop": fp.__file__}))
"""


def startup(log):
    """A fresh process importing fastprop and fitting one W2 epoch: with the numba
    cache warm (default cache location, run twice, the second reported) and cold
    (NUMBA_CACHE_DIR a fresh temporary folder)."""
    import fastprop
    wl = workloads.get("W2")
    pkg_root = str(Path(fastprop.__file__).resolve().parent.parent)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "w2.npz")
        np.savez(data, X=wl.X, y=wl.y)
        base = dict(os.environ)
        base["PYTHONPATH"] = os.pathsep.join(
            [pkg_root] + [p for p in [base.get("PYTHONPATH")] if p])
        cold_env = dict(base, NUMBA_CACHE_DIR=os.path.join(tmp, "numba-cache"))
        runs = [("warm", base), ("warm", base), ("cold", cold_env)]
        for label, env in runs:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, data], env=env,
                                  capture_output=True, text=True, timeout=900)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                out[label] = {"error": proc.stderr.strip().splitlines()[-1:]}
                log(f"  start-up ({label}) failed: {proc.stderr.strip()[-500:]}")
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["process_s"] = wall
            out[label] = res        # warm: the second run overwrites the first
    return out


# ---------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(workloads.NAMES),
                    help="comma-separated, from W1,W2,W3,W4 (default all)")
    ap.add_argument("--threads", default="1,2",
                    help="thread counts for W3 (default 1,2); W1, W2 and W4 run at the "
                         "first of them")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="train W1-W3 with this batch size instead of WORKLOADS.md's (it "
                         "must divide the workload's samples, for JAX's scan)")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds (median reported)")
    ap.add_argument("--frameworks", default=",".join(frameworks.NAMES),
                    help="comma-separated subset of " + ",".join(frameworks.NAMES))
    ap.add_argument("--min-time", type=float, default=0.05,
                    help="a timed round shorter than this many seconds is repeated "
                         "and averaged (default 0.05)")
    ap.add_argument("--settle", type=float, default=0.3,
                    help="seconds of sleep before each timed round, so that the previous "
                         "framework's spinning pool threads go idle (default 0.3)")
    ap.add_argument("--no-startup", action="store_true",
                    help="skip the fresh-process start-up measurement")
    ap.add_argument("--json", metavar="PATH", help="also write every figure to PATH")
    args = ap.parse_args(argv)

    wl_names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    for w in wl_names:
        if w not in workloads.NAMES:
            ap.error(f"unknown workload {w}; choose from {', '.join(workloads.NAMES)}")
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if not threads or min(threads) < 1:
        ap.error("--threads needs positive integers")
    if max(threads) > workloads.cores_available():
        ap.error(f"--threads {max(threads)} but only {workloads.cores_available()} cores "
                 f"are available")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    wanted = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    for f in wanted:
        if f not in frameworks.NAMES:
            ap.error(f"unknown framework {f}; choose from {', '.join(frameworks.NAMES)}")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    # Start-up first, before this process has loaded a peer or run a workload: at the
    # end of a full run the warm child took 0.58-0.62 s, at the end of a W2-only run
    # with the same peers 0.44 s (what the workloads leave behind in this process slowed
    # the children), and a user's fresh process sees neither.
    startup_result = None
    if not args.no_startup and "fastprop" in wanted:
        log("fastprop start-up ...")
        startup_result = startup(log)

    # Import every framework before any pinning (pools are sized when they load).
    names, missing = [], {}
    for f in wanted:
        try:
            __import__(frameworks.library(f))
            frameworks.load(f)
            names.append(f)
        except ImportError as err:
            missing[f] = str(err)

    report = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv),
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "machine": {"cpu": cpu_model(), "flags": cpu_flags(),
                          "logical_cpus": os.cpu_count(),
                          "cores_available": workloads.cores_available(),
                          "loadavg_before": os.getloadavg()},
              "env": {k: os.environ.get(k) for k in BLAS_ENV + ("NUMBA_CACHE_DIR",)},
              "versions": versions(), "blas": blas_info(), "missing": missing,
              "repeats": args.repeats, "workloads": {}}

    v = report["versions"]
    print("# fastprop vs peers\n")
    print(f"`{report['command']}` — {report['date']}\n")
    m = report["machine"]
    print(f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs "
          f"({m['cores_available']} available to this process); {' '.join(m['flags'])}; "
          f"load average before: {', '.join(f'{x:.2f}' for x in m['loadavg_before'])}")
    print("- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val))
    if missing:
        print("- not installed (skipped): " + ", ".join(missing))
    for b in report["blas"]:
        if b["internal_api"] in ("openblas", "mkl", "blis"):
            print(f"- BLAS: {b['internal_api']} {b['version']} ({b['prefix']}), "
                  f"kernels {b['architecture']}, {b['threading_layer']} threads")
    set_env = {k: val for k, val in report["env"].items() if k in BLAS_ENV and val}
    if set_env:
        print(f"- note: {' '.join(f'{k}={val}' for k, val in set_env.items())} is set: "
              f"OpenBLAS (NumPy peer, GEMM peak, fastprop's BLAS via SciPy) runs those "
              f"kernels. For the machine's real kernels: "
              f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py`")
    fp_fit_threads = workloads.fit_accepts("n_threads") if "fastprop" in names else None
    print(f"- fastprop fit(n_threads=): {'passed' if fp_fit_threads else 'not in its signature; threads set by pinning only'}")
    print(f"- method: median of {args.repeats} timed rounds per framework after warm-up and "
          f"a {args.settle} s pause before each round (pool threads go idle), "
          f"one calibration round, rounds interleaved across frameworks, objects alive before "
          f"the rounds frozen out of Python's garbage collector (gc.freeze); a training round "
          f"is one epoch continuing from the previous one (first from the shared Glorot "
          f"weights); ×faster = peer time / fastprop time; cpu/wall = CPU seconds this "
          f"process used per wall second (≈ threads kept busy); spread = (max-min)/median "
          f"of the rounds; compile/warm-up = building and warming up that trainer in this "
          f"process (kernels compiled for an earlier workload are reused).")
    print()

    for w in wl_names:
        wl = workloads.get(w)
        if args.batch_size and not wl.predict_only:
            if wl.n_samples % args.batch_size:
                ap.error(f"--batch-size {args.batch_size} does not divide {w}'s "
                         f"{wl.n_samples} samples")
            wl = dataclasses.replace(wl, batch_size=args.batch_size,
                                     group=f"{wl.group}, batch {args.batch_size}")
        counts = threads if w == "W3" else threads[:1]
        blocks = []
        entry = {"group": wl.group, "n_samples": wl.n_samples, "batch_size": wl.batch_size,
                 "n_params": wl.n_params, "runs": []}
        notes = []
        for n in counts:
            log(f"{wl.group}: {n} thread(s) ...")
            results, peak, others = measure(wl, names, n, args.repeats, args.min_time, log,
                                            args.settle)
            machine_peak = unrestricted_peak(n) if w == "W3" else None
            share_peak = peak     # the better of the two: a busy machine can spoil either
            if machine_peak and "gflops" in machine_peak:
                share_peak = max(peak, machine_peak["gflops"])
            blocks.append((n, results, share_peak))
            entry["runs"].append({"threads": n, "results": results, "gemm_peak_gflops": peak,
                                  "gemm_peak_unrestricted": machine_peak,
                                  "other_processes_cores": others})
            if peak:
                line = f"float32 GEMM peak at {n} thread(s): {peak:.0f} GFLOP/s in this process"
                if machine_peak and "gflops" in machine_peak:
                    line += (f", {machine_peak['gflops']:.0f} GFLOP/s with "
                             f"OPENBLAS_CORETYPE/L2_SIZE unset "
                             f"({'/'.join(a for a in machine_peak['architecture'] if a)} "
                             f"kernels); the % column uses the higher")
                notes.append(line)
            if others is not None and others > 0.1:
                notes.append(f"other processes kept {others:.2f} cores busy during the "
                             f"{n}-thread runs: figures are noisy")
        report["workloads"][w] = entry
        if wl.predict_only:
            what = "predict of one sample (softmax probabilities)"
        else:
            what = (f"{wl.n_samples:,} samples, batch {wl.batch_size}, {wl.loss}, "
                    f"{wl.optimizer} lr {wl.lr:g}")
        print(f"## {wl.group}: {'-'.join(map(str, wl.sizes))}, {what}, "
              f"{wl.n_params:,} parameters\n")
        print("\n".join(table(wl, blocks)))
        for note in notes:
            print(f"\n{note}")
        print(flush=True)

    if startup_result is not None:
        st = startup_result
        report["startup"] = st
        print("## fastprop start-up: fresh process, `import fastprop` + one W2 fit epoch\n")
        print("| numba cache | process wall s | import s | first fit epoch s | next epoch s |")
        print("|---|---:|---:|---:|---:|")
        for label in ("warm", "cold"):
            r = st.get(label, {})
            if "error" in r:
                print(f"| {label} | error: {r['error']} | | | |")
            elif r:
                print(f"| {label} | {r['process_s']:.2f} | {r['import_s']:.2f} | "
                      f"{r['first_fit_s']:.2f} | {r['next_fit_s']:.4f} |")
        print("\nwarm: the default numba cache, second of two runs; cold: NUMBA_CACHE_DIR "
              "set to a fresh temporary folder (everything compiled). Process wall "
              "includes Python's start and loading the data (NumPy) as well.\n")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=float)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
