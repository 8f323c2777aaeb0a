"""W4 latency: the W3 network, one single-sample predict from Python per round
(probabilities for the softmax output, returned as a NumPy array)."""
import pytest

from bench.frameworks import NAMES


@pytest.mark.parametrize("framework", NAMES)
def test_w4(bench_workload, framework):
    bench_workload("W4", framework)
