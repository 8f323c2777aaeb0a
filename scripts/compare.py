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

With --grid it runs bench/grid.py's shape grid instead (fastprop, JAX scan, PyTorch
eager; same measuring as above, one point at a time) and writes a markdown table
sorted by fastprop/JAX, worst first, and a heat map of fastprop/JAX:

    python scripts/compare.py --grid                       # all points, 1 thread
    python scripts/compare.py --grid --threads 1,2 --json grid.json
    python scripts/compare.py --grid --grid-points 0-3 --grid-samples 1024 --out /tmp/g
    python scripts/compare.py --grid --grid-select batch=1 --grid-list

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

from bench import frameworks, grid, workloads  # noqa: E402

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


def header_lines(report, settle):
    """Markdown lines under a report's title: the command, machine, versions, BLAS and
    method (`settle`: the pause before each timed round, in seconds)."""
    m = report["machine"]
    lines = [f"`{report['command']}` — {report['date']}", "",
             f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs "
             f"({m['cores_available']} available to this process); {' '.join(m['flags'])}; "
             f"load average before: {', '.join(f'{x:.2f}' for x in m['loadavg_before'])}",
             "- versions: " + ", ".join(f"{k} {val}" for k, val in report["versions"].items()
                                        if val)]
    if report["missing"]:
        lines.append("- not installed (skipped): " + ", ".join(report["missing"]))
    for b in report["blas"]:
        if b["internal_api"] in ("openblas", "mkl", "blis"):
            lines.append(f"- BLAS: {b['internal_api']} {b['version']} ({b['prefix']}), "
                         f"kernels {b['architecture']}, {b['threading_layer']} threads")
    set_env = {k: val for k, val in report["env"].items() if k in BLAS_ENV and val}
    if set_env:
        lines.append(f"- note: {' '.join(f'{k}={val}' for k, val in set_env.items())} is set: "
                     f"OpenBLAS (NumPy peer, GEMM peak, fastprop's BLAS via SciPy) runs those "
                     f"kernels. For the machine's real kernels: "
                     f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py`")
    passed = ("passed" if report["fit_n_threads"]
              else "not in its signature; threads set by pinning only")
    lines.append(f"- fastprop fit(n_threads=): {passed}")
    lines.append(f"- method: median of {report['repeats']} timed rounds per framework after "
                 f"warm-up and a {settle} s pause before each round (pool threads go idle), "
                 f"one calibration round, rounds interleaved across frameworks, objects alive "
                 f"before the rounds frozen out of Python's garbage collector (gc.freeze); a "
                 f"training round is one epoch continuing from the previous one (first from "
                 f"the shared Glorot weights); ×faster = peer time / fastprop time; "
                 f"cpu/wall = CPU seconds this process used per wall second (≈ threads kept "
                 f"busy); "
                 f"spread = (max-min)/median of the rounds; compile/warm-up = building and "
                 f"warming up that trainer in this process (kernels compiled for an earlier "
                 f"workload are reused).")
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


# ---------------------------------------------------------------------- shape grid
def machine_tag():
    """A file-name tag for this machine, e.g. "2-core-amd-epyc": the cores this process
    may use and the CPU model."""
    slug = "".join(c if c.isalnum() else "-" for c in cpu_model().lower())
    slug = "-".join(part for part in slug.split("-") if part) or platform.machine()
    return f"{workloads.cores_available()}-core-{slug}"


def grid_ratios(results):
    """{peer: fastprop samples/s / peer samples/s} for the peers measured next to
    fastprop (> 1: fastprop is faster); {} when fastprop itself failed."""
    fp_res = results.get("fastprop", {})
    if "samples_per_s" not in fp_res:
        return {}
    return {name: fp_res["samples_per_s"] / res["samples_per_s"]
            for name, res in results.items()
            if name != "fastprop" and "samples_per_s" in res}


def run_grid_point(point, names, threads, args, log):
    """Measure one grid point (bench.grid) at each of `threads` (counts above 1 only
    when the point has bench.grid.MULTI_THREAD_MACS multiply-adds per step): a JSON-able
    row with the point, its sizes, the per-thread results and ratios, and its wall time."""
    wl = grid.workload(point, args.grid_samples)
    row = {"point": dataclasses.asdict(point), "name": point.name, "label": point.label,
           "network": point.network, "n_samples": wl.n_samples, "n_params": wl.n_params,
           "macs_per_step": point.macs_per_step, "runs": {}}
    t0 = time.perf_counter()
    for n in threads:
        if n > 1 and point.macs_per_step < grid.MULTI_THREAD_MACS:
            continue
        with grid.dtype_context(point.dtype):
            results, _, others = measure(wl, names, n, args.repeats, args.min_time, log,
                                         args.settle)
        row["runs"][str(n)] = {"results": results, "ratios": grid_ratios(results),
                               "other_processes_cores": others}
    row["wall_s"] = time.perf_counter() - t0
    return row


def _ratio(row, peer, n=1):
    return row["runs"].get(str(n), {}).get("ratios", {}).get(peer)


def _geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(statistics.fmean(math.log(x) for x in xs)) if xs else None


def grid_summary(rows, peer):
    """One markdown line: the 1-thread fastprop/peer ratios' geometric mean, worst and
    best point, and how many points are below 1."""
    pairs = [(_ratio(r, peer), r["name"]) for r in rows if _ratio(r, peer)]
    if not pairs:
        return f"- fastprop/{peer}: not measured"
    lo, hi = min(pairs), max(pairs)
    below = sum(x < 1 for x, _ in pairs)
    mean = _geomean(x for x, _ in pairs)
    return (f"- fastprop/{peer}, 1 thread: geometric mean {mean:.2f}, "
            f"worst {lo[0]:.2f} ({lo[1]}), best {hi[0]:.2f} ({hi[1]}); below 1.0 on "
            f"{below} of {len(pairs)} points")


def grid_markdown(report, rows, threads, peers, settle):
    """The grid report: title, header_lines, the grid's rules, summaries and one table
    row per point, sorted by the 1-thread ratio to the first of `peers` (JAX), worst
    first. `threads` must include 1."""
    g = report["grid"]
    multi = [n for n in threads if n > 1]
    lines = ["# fastprop on the shape grid", ""] + header_lines(report, settle)
    lines += [f"- grid: {len(rows)} of bench/grid.py's {g['n_points']} points "
              f"({g['selection']}); {g['samples']}; frameworks {', '.join(g['frameworks'])}; "
              f"1 thread"
              + (f", and {'/'.join(map(str, multi))} threads on points with >= "
                 f"{grid.MULTI_THREAD_MACS:,.0f} multiply-adds per step" if multi else ""),
              "- fastprop/peer = fastprop samples/s ÷ the peer's (> 1: fastprop is faster); "
              "MACs/step = batch × (3·weights − first layer's weights), the multiply-adds "
              "a training step needs; s = the point's wall time, warm-ups included", ""]
    lines += [grid_summary(rows, peer) for peer in peers] + [""]
    head = ["point", "network", "batch", "loss", "opt", "dtype", "samples", "MACs/step",
            "fastprop samples/s"] + [f"{p} samples/s" for p in peers]
    head += [f"fastprop/{p}" for p in peers]
    for n in multi:
        head += [f"fastprop samples/s ({n}t)"] + [f"fastprop/{p} ({n}t)" for p in peers]
    head += ["s"]
    lines += ["| " + " | ".join(head) + " |",
              "|" + "|".join(["---"] * 6 + ["---:"] * (len(head) - 6)) + "|"]

    def rate(row, name, n=1):
        res = row["runs"].get(str(n), {}).get("results", {}).get(name, {})
        if "error" in res:
            return "error"
        return fmt_rate(res["samples_per_s"]) if "samples_per_s" in res else "—"

    def ratio(row, peer, n=1):
        x = _ratio(row, peer, n)
        return f"{x:.2f}" if x else "—"

    first = peers[0] if peers else None
    order = sorted(rows, key=lambda r: (_ratio(r, first) is None, _ratio(r, first) or 0))
    for r in order:
        p = r["point"]
        cells = [r["name"], r["network"], str(p["batch"]), p["loss"], p["optimizer"],
                 p["dtype"], f"{r['n_samples']:,}", f"{r['macs_per_step']:,}",
                 rate(r, "fastprop")] + [rate(r, q) for q in peers]
        cells += [ratio(r, q) for q in peers]
        for n in multi:
            cells += [rate(r, "fastprop", n)] + [ratio(r, q, n) for q in peers]
        cells.append(f"{r['wall_s']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    errors = [(r["name"], n, name, res["error"]) for r in rows
              for n, run in r["runs"].items() for name, res in run["results"].items()
              if "error" in res]
    noisy = [(r["name"], n, run["other_processes_cores"]) for r in rows
             for n, run in r["runs"].items() if (run["other_processes_cores"] or 0) > 0.1]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {name} at {n} thread(s), {fw}: {err}"
                                        for name, n, fw, err in errors]
    if noisy:
        lines += ["", "Other processes kept cores busy (figures noisy): "
                  + ", ".join(f"{name} at {n}t: {c:.2f} cores" for name, n, c in noisy)]
    lines += ["", f"Total wall time {g['wall_s']:.0f} s."]
    return lines


def grid_heatmap(rows, path, peer="jax"):
    """Write a PNG heat map of the 1-thread fastprop/`peer` ratios to `path`: one panel
    per dtype, rows hidden width × depth, columns batch size; a cell holding several
    points (other input widths, losses, optimizers) shows their geometric mean and
    their count. Diverging colours on log2(ratio), white at 1.0. False when there is
    nothing to draw (or no matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cells = {}
    for r in rows:
        x = _ratio(r, peer)
        if x:
            p = r["point"]
            key = (p["dtype"], (p["hidden"], p["depth"]), p["batch"])
            cells.setdefault(key, []).append(x)
    if not cells:
        return False
    shapes = sorted({k[1] for k in cells})
    batches = list(grid.BATCHES)
    values = {k: _geomean(v) for k, v in cells.items()}
    limit = max(math.log2(1.25), max(abs(math.log2(v)) for v in values.values()))
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("0.9")
    fig, axes = plt.subplots(1, len(grid.DTYPES), sharey=True, squeeze=False,
                             layout="constrained",
                             figsize=(2.2 + 4.2 * len(grid.DTYPES), 2.0 + 0.32 * len(shapes)))
    for ax, dtype in zip(axes[0], grid.DTYPES):
        data = np.full((len(shapes), len(batches)), np.nan)
        for (dt, shape, batch), v in values.items():
            if dt == dtype:
                data[shapes.index(shape), batches.index(batch)] = math.log2(v)
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=-limit, vmax=limit,
                       aspect="auto")
        for (dt, shape, batch), v in values.items():
            if dt == dtype:
                n = len(cells[(dt, shape, batch)])
                text = f"{v:.2f}" + (f" ({n})" if n > 1 else "")
                ax.text(batches.index(batch), shapes.index(shape), text, ha="center",
                        va="center", fontsize=7,
                        color="white" if abs(math.log2(v)) > 0.6 * limit else "black")
        ax.set_title(dtype)
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("batch")
        ax.set_yticks(range(len(shapes)), [f"{h} × {d}" for h, d in shapes])
    axes[0][0].set_ylabel("hidden width × depth")
    ticks = [t for t in (0.2, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 5)
             if abs(math.log2(t)) <= limit]
    bar = fig.colorbar(im, ax=axes[0].tolist(), ticks=[math.log2(t) for t in ticks])
    bar.ax.set_yticklabels([f"{t:g}" for t in ticks])
    bar.set_label(f"fastprop / {peer} samples/s, 1 thread")
    fig.suptitle(f"fastprop / {peer} on the shape grid (> 1: fastprop faster; "
                 f"(n): geometric mean of n points)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def grid_listing(pts):
    """One line per grid point: label, samples, multiply-adds per step and per epoch."""
    return [f"{p.label:58s} {p.n_samples:>6,} samples {p.macs_per_step:>14,} MACs/step "
            f"{p.epoch_macs / 1e9:5.1f}G MACs/epoch" for p in pts]


def main_grid(args, names, report, threads, log):
    """compare.py --grid: measure the selected grid points, print the markdown report,
    write it to <prefix>.md with the heat map <prefix>.png (and --json)."""
    pts = grid.select(grid.points(), args.grid_points, args.grid_select)
    names = [n for n in grid.FRAMEWORKS if n in names]
    peers = [n for n in names if n != "fastprop"]
    samples = (f"samples capped at {args.grid_samples:,} (whole batches)"
               if args.grid_samples else
               f"{grid.N_SAMPLES:,} samples ({grid.N_SAMPLES_BATCH1:,} at batch 1)")
    report["grid"] = {"n_points": grid.N_POINTS, "frameworks": names, "samples": samples,
                      "selection": (f"--grid-points {args.grid_points or 'all'}"
                                    + (f" --grid-select {args.grid_select}"
                                       if args.grid_select else "")),
                      "threads": threads, "rows": []}
    rows = report["grid"]["rows"]
    t0 = time.perf_counter()
    for i, point in enumerate(pts):
        log(f"[{i + 1}/{len(pts)}] {point.label} ...")
        row = run_grid_point(point, names, threads, args, log)
        rows.append(row)
        ratios = row["runs"]["1"]["ratios"]
        log("    " + ", ".join(f"fastprop/{q} {x:.2f}" for q, x in ratios.items())
            + f" ({row['wall_s']:.0f} s)")
    report["grid"]["wall_s"] = time.perf_counter() - t0
    prefix = (Path(args.out) if args.out
              else ROOT / "bench" / "results" / f"grid-{machine_tag()}")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md = "\n".join(grid_markdown(report, rows, threads, peers, args.settle)) + "\n"
    png = prefix.with_name(prefix.name + ".png")
    if peers and grid_heatmap(rows, png, peers[0]):
        md += f"\n![fastprop/{peers[0]} heat map]({png.name})\n"
    else:
        png = None
    prefix.with_name(prefix.name + ".md").write_text(md)
    print(md)
    log(f"written: {prefix.with_name(prefix.name + '.md')}" + (f", {png}" if png else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=float)
        log(f"figures written to {args.json}")
    return 0


# ---------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(workloads.NAMES),
                    help="comma-separated, from W1,W2,W3,W4 (default all)")
    ap.add_argument("--threads", default=None,
                    help="thread counts for W3 (default 1,2); W1, W2 and W4 run at the "
                         "first of them. --grid always runs 1; counts above 1 (e.g. "
                         "--threads 1,2) run on points with >= 2M multiply-adds per step")
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
    g = ap.add_argument_group("shape grid (bench/grid.py)")
    g.add_argument("--grid", action="store_true",
                   help="run the shape grid (fastprop, jax, torch) instead of W1-W4; "
                        "writes <--out>.md and .png")
    g.add_argument("--grid-points", metavar="SPEC",
                   help="N (the first N points), or names/indices and ranges such as "
                        "G17 or 0,5,10-12 (default all)")
    g.add_argument("--grid-select", metavar="AXIS=VALUE,...",
                   help="only points with these values, e.g. batch=1,dtype=float64")
    g.add_argument("--grid-samples", type=int, metavar="N",
                   help="cap every point's sample count at N (rounded down to whole "
                        "batches) for a quick run")
    g.add_argument("--grid-list", action="store_true",
                   help="print the selected points and exit")
    g.add_argument("--out", metavar="PREFIX",
                   help="grid output prefix (default bench/results/grid-<machine-tag>)")
    args = ap.parse_args(argv)
    if args.threads is None:
        args.threads = "1" if args.grid else "1,2"

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

    if args.grid:
        try:
            pts = grid.select(grid.points(), args.grid_points, args.grid_select)
        except ValueError as err:
            ap.error(str(err))
        if not pts:
            ap.error("no grid point matches --grid-points/--grid-select")
        if args.grid_list:
            print("\n".join(grid_listing(pts)))
            return 0
        if args.grid_samples is not None and args.grid_samples < 1:
            ap.error("--grid-samples must be >= 1")
        wanted = [f for f in wanted if f in grid.FRAMEWORKS]
        threads = sorted(set(threads) | {1})

    # Start-up first, before this process has loaded a peer or run a workload: at the
    # end of a full run the warm child took 0.58-0.62 s, at the end of a W2-only run
    # with the same peers 0.44 s (what the workloads leave behind in this process slowed
    # the children), and a user's fresh process sees neither.
    startup_result = None
    if not args.no_startup and not args.grid and "fastprop" in wanted:
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
              "repeats": args.repeats, "workloads": {},
              "fit_n_threads": (workloads.fit_accepts("n_threads") if "fastprop" in names
                                else None)}

    if args.grid:
        return main_grid(args, names, report, threads, log)
    print("# fastprop vs peers\n")
    print("\n".join(header_lines(report, args.settle)))
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
