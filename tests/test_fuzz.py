"""Hypothesis fuzzing of fp.load (mutated valid files) and of the kernel API (mutated
Nets), each in a subprocess: a crash (a signal) fails the test, it cannot take the
test run down with it. The fuzzers are derandomised: the same examples every run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).parent / "fuzz"


@pytest.mark.parametrize("script, examples", [("load_files.py", 150),
                                              ("kernel_nets.py", 300)])
def test_fuzzer_finds_no_crash_and_no_raw_exception(script, examples):
    result = subprocess.run([sys.executable, str(FUZZ / script), str(examples)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    assert result.returncode == 0, (
        f"{script} ended with {result.returncode} (negative: killed by a signal)\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    assert result.stdout.strip().endswith("ok")
