"""The big-history benchmark part still runs (its quick shape): so that it does not rot.

No time is asserted. Sizes are not times: the shallow snapshot of the generated repository is the
same bytes on every machine, so its size target is checked here too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@pytest.mark.slow  # ~15 s: a 300-commit repository, gc, and a dozen snapshots
def test_big_history_part_prints_its_rows_and_targets(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    argv = [sys.executable, str(RUN), "--quick", "--no-v100", "--only", "history"]
    proc = subprocess.run(
        [*argv, "--workdir", str(work)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout
    for row in (
        "| clean | git bundle create HEAD |",
        "| clean | git archive HEAD \\| gzip |",
        "| dirty | ours, history='shallow' |",
        "| dirty | ours, history='auto' (chose full) |",
        "| dirty | before issue 9 (0964821), full |",
    ):
        assert row in printed
    assert (
        "| Shallow snapshot size within 1.2x of `git archive HEAD \\| gzip` (big history) | HELD"
        in printed
    )
    assert list(work.iterdir()) == []
