"""W3 mnist-shape: 784-512-256-10, 12,800 N(0,1) samples, cross-entropy, Adam 1e-3,
batch 128, at 1 and 2 threads (one group per thread count). GEMM throughput.
One round = one epoch (100 steps), continuing."""
import pytest

from bench.frameworks import NAMES


@pytest.mark.parametrize("framework", NAMES)
@pytest.mark.parametrize("threads", [1, 2])
def test_w3(bench_workload, framework, threads):
    label = "thread" if threads == 1 else "threads"
    bench_workload("W3", framework, threads, group=f"W3 mnist-shape, {threads} {label}")
