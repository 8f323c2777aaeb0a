"""Every ```python block of README.md runs as a script, and prints what the README
shows after it (the ```text block that follows "prints"). Numbers are compared with a
tolerance: the last digits of a trained network's figures may differ between machines
(their BLAS kernels add in different orders), the text around them may not."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```\n(?:\nprints\n\n```text\n(.*?)```)?", TEXT, re.S)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def same_output(got, expected):
    """Whether `got` is `expected` up to small differences in its numbers: within
    25% (epoch counts where early stopping decides) or 0.03 (accuracies, losses)."""
    if NUMBER.sub("#", " ".join(got.split())) != \
            NUMBER.sub("#", " ".join(expected.split())):
        return False
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(expected)):
        a, b = float(a), float(b)
        if abs(a - b) > max(0.03, 0.25 * max(abs(a), abs(b))):
            return False
    return True


def test_readme_has_examples_and_each_shows_its_output():
    assert len(BLOCKS) >= 4
    for code, output in BLOCKS:
        assert output, f"this README example shows no output:\n{code[:300]}"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs_and_prints_what_it_shows(index, tmp_path):
    code, expected = BLOCKS[index]
    script = tmp_path / f"example_{index}.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", str(script)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Warning" not in proc.stderr, proc.stderr[-3000:]
    assert same_output(proc.stdout, expected), (
        f"README example {index} printed\n{proc.stdout}\ninstead of\n{expected}")


def test_the_comparison_is_strict_about_text():
    assert same_output("36 epochs; best 20\n", "36 epochs; best 21")
    assert not same_output("36 epochs; best 20", "36 epochs, best 20")
    assert not same_output("accuracy 0.70", "accuracy 0.976")


SHELL = [b for b in re.findall(r"```bash\n(.*?)```", TEXT, re.S) if "fastprop train --" in b]


def test_readme_command_lines_run(tmp_path):
    # the README's command-line block, line by line, in a fresh folder with the
    # examples beside it, as a user who cloned the repository runs it
    assert SHELL, "the README's command-line block is missing"
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    for command in SHELL[0].replace("\\\n", " ").strip().splitlines():
        args = command.split()
        assert args[0] == "fastprop"
        proc = subprocess.run([sys.executable, "-m", "fastprop", *args[1:]],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
    assert (tmp_path / "curves.png").stat().st_size > 10000
    assert len((tmp_path / "predictions.csv").read_text().splitlines()) == 201
