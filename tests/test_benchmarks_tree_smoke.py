"""The ls / cat / diff benchmark still runs (tiny sizes): so that it does not rot. No timing is
asserted: only that it prints its table, that our output matched git's, and that it cleans up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.mark.slow  # ~15 s: a few dozen CLI processes
def test_quick_tree_benchmark_prints_its_table(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    argv = [sys.executable, str(RUN), "--quick", "--no-v100", "--only", "tree"]
    argv += ["--tree-files", "60", "--tree-sizes", "1M,2M", "--workdir", str(work)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 1 MiB |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "`ls`",
        "`cat`",
        "`diff A B`",
        "`diff A (working tree)`",
    ]
    assert all(row.endswith("| yes |") for row in rows), rows  # same output as git's
    assert "reading the bundle independent of the checkpoint's size" in proc.stdout
    assert list(work.iterdir()) == []
