"""Shared machinery of the pytest-benchmark tests (see bench/README.md).

Every installed framework is imported here, before any test pins threads: numba, the
BLAS libraries and XLA size their thread pools when they load, and a pool sized while
the process is pinned to one core would stay that small.
"""
import importlib
import time

import pytest

from bench import frameworks, workloads

for _name in frameworks.NAMES:
    try:
        importlib.import_module(frameworks.library(_name))
        frameworks.load(_name)
    except ImportError:
        pass


def run_bench(benchmark, workload, framework, n_threads=1, group=None):
    """Benchmark one framework on one workload at `n_threads` threads.

    The trainer is built and warmed up (compiled) first, untimed; that time goes to
    extra_info["compile_s"]. Then each round trains one epoch continuing from the
    previous round's state, the first from the shared initial weights (W1-W3), or
    makes one single-sample prediction (W4).
    """
    pytest.importorskip(frameworks.library(framework))
    wl = workloads.get(workload)
    if n_threads > workloads.cores_available():
        pytest.skip(f"{n_threads} threads asked, {workloads.cores_available()} cores here")
    with workloads.pin_threads(n_threads):
        trainer, compile_s = frameworks.prepare(framework, wl, n_threads)
        benchmark.group = group or wl.group
        benchmark.name = framework
        t0 = time.perf_counter()
        benchmark(frameworks.timed_call(trainer, wl))
        bench_s = time.perf_counter() - t0
    if benchmark.stats is None:     # --benchmark-disable: the call ran once, untimed
        return trainer
    stats = benchmark.stats.stats
    info = benchmark.extra_info
    info.update(framework=framework, workload=wl.name, threads=n_threads,
                compile_s=round(compile_s, 4), n_samples=wl.n_samples,
                batch_size=wl.batch_size, n_params=wl.n_params,
                rounds="predict" if wl.predict_only else "epoch, continuing",
                bench_s=round(bench_s, 3))
    for key, value in frameworks.rates(wl, stats.median).items():
        info[key] = round(value, 4)
    if framework == "fastprop":
        info["fit_n_threads"] = getattr(trainer, "n_threads_passed", False)
    for attr in ("opt_name",):
        if hasattr(trainer, attr):
            info[attr] = getattr(trainer, attr)
    return trainer


@pytest.fixture
def bench_workload(benchmark):
    """run_bench bound to this test's `benchmark`: bench_workload("W2", "torch")."""
    def run(workload, framework, n_threads=1, group=None):
        return run_bench(benchmark, workload, framework, n_threads, group)
    return run
