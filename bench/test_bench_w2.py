"""W2 small: 64-128-10 on digits (1,408 samples), cross-entropy, Adam 1e-3, batch 32.
Small-matrix kernels + optimizer update. One round = one epoch (44 steps), continuing."""
import pytest

from bench.frameworks import NAMES


@pytest.mark.parametrize("framework", NAMES)
def test_w2(bench_workload, framework):
    bench_workload("W2", framework)
