"""W1 tiny online: 1-2-1 ReLU net, 20,000 samples, mse, SGD lr 0.01, batch 1.
Per-step overhead. One round = one epoch (20,000 steps), continuing."""
import pytest

from bench.frameworks import NAMES


@pytest.mark.parametrize("framework", NAMES)
def test_w1(bench_workload, framework):
    bench_workload("W1", framework)
