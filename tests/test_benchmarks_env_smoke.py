"""The `jellyml env` benchmark still runs (one repetition): so that it does not rot. No timing
is asserted: only that it prints its two tables and judges both targets of issue 20."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.mark.slow  # a few dozen processes, and uv installing ten packages (PyPI, then cache)
def test_env_benchmark_prints_its_tables(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    argv = [sys.executable, str(RUN), "--quick", "--no-v100", "--only", "env"]
    proc = subprocess.run(
        [*argv, "--workdir", str(work)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| a 10-package venv |" in out and "| the project's .venv |" in out
    assert "| `jellyml env` within 2x of `jellyml show` | " in out
    assert "| `env --venv` within 1.5x of `uv pip install --no-deps -r`" in out
    assert "NOT MEASURED" not in out
    assert list(work.iterdir()) == []
