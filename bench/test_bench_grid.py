"""Shape grid (bench/grid.py): fastprop alone on six representative points, one
pytest-benchmark group "grid", one thread. One round = one epoch, continuing.
scripts/compare.py --grid runs the whole grid against JAX and PyTorch.

  G31  16-64x1-10    batch 1     cross_entropy sgd   float32   per-step overhead
  G42  8-1024x1-10   batch 1     cross_entropy adam  float64   wide, single samples
  G45  8-256x3-1     batch 32    mse           adam  float64   small float64 GEMMs
  G17  64-128x3-10   batch 64    cross_entropy adam  float32   W2-like, deeper
  G44  784-512x4-10  batch 128   cross_entropy sgd   float32   GEMM throughput
  G13  784-64x5-1    batch 1024  mse           adam  float32   large batch, narrow
"""
import time

import pytest

from bench import frameworks, grid, workloads

POINTS = (31, 42, 45, 17, 44, 13)
_GRID = grid.points()


@pytest.mark.parametrize("index", POINTS, ids=[_GRID[i].name for i in POINTS])
def test_grid(benchmark, index):
    point = _GRID[index]
    wl = grid.workload(point)
    with workloads.pin_threads(1), grid.dtype_context(point.dtype):
        trainer, compile_s = frameworks.prepare("fastprop", wl, 1)
        benchmark.group = "grid"
        benchmark.name = point.label
        t0 = time.perf_counter()
        benchmark(trainer.epoch)
        bench_s = time.perf_counter() - t0
    if benchmark.stats is None:     # --benchmark-disable: the call ran once, untimed
        return
    info = benchmark.extra_info
    info.update(framework="fastprop", point=point.label, threads=1,
                compile_s=round(compile_s, 4), n_samples=wl.n_samples,
                batch_size=wl.batch_size, n_params=wl.n_params,
                macs_per_step=point.macs_per_step, rounds="epoch, continuing",
                bench_s=round(bench_s, 3), fit_n_threads=trainer.n_threads_passed)
    median = benchmark.stats.stats.median
    info["samples_per_s"] = round(wl.n_samples / median, 4)
    info["us_per_step"] = round(median / wl.n_batches * 1e6, 4)
