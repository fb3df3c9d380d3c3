"""The benchmark still runs (tiny sizes, no JellyML 1.0.0): so that benchmarks/ does not rot.

No timing is asserted: only that the command works, prints its tables, agrees with torch on
the bundle it extracts, and leaves nothing behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.mark.torch
@pytest.mark.slow  # ~10 s: four interpreters import torch
def test_quick_benchmark_prints_its_tables(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    output = tmp_path / "results.md"
    argv = [
        sys.executable,
        str(RUN),
        "--quick",
        "--no-v100",
        "--only",
        "extraction,startup",
        "--sizes",
        "1M",
        "--tensors",
        "3",
        "--first",
        "1M:3",
        "--startup-runs",
        "1",
        "--workdir",
        str(work),
        "--output",
        str(output),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout
    assert "| 1 MiB / 3 tensors / snapshot last |" in printed
    assert "| 1 MiB / 3 tensors / snapshot first |" in printed
    assert "| `jellyml --help` |" in printed
    assert "## Targets" in printed and "## Machine" in printed
    # Every tool wrote the same bundle (a note names them when they differ).
    assert "bundles differ" not in printed
    assert output.read_text() == printed.rstrip("\n") + "\n"
    assert list(work.iterdir()) == []


def test_unknown_part_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--no-v100", "--only", "nonsense", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Unknown part(s) ['nonsense']" in proc.stderr
    assert list(tmp_path.iterdir()) == []
