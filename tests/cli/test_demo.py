"""examples/demo.py runs end to end and prints each step once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


@pytest.mark.torch
@pytest.mark.slow
def test_the_demo_prints_each_step_once(tmp_path):
    pytest.importorskip("torch")
    proc = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for step in range(1, 6):
        assert out.count(f"== {step}.") == 1
    assert out.count("$ git status --short") == 2  # step 1 and step 3, each once
    assert out.count("?? notes.txt") == 1  # step 1's output, not printed twice
    assert "differ from what you had:" in out and out.rstrip().endswith("demo finished")
