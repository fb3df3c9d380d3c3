"""What every benchmark section shares: the run's settings, the environment, tables, targets."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1024 * 1024
GiB = 1024 * MiB

# A deterministic git environment for every repository the benchmark makes and every git it
# runs (as the test suite's conftest does): fixed identity and dates, no system or user config.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
    "GIT_CONFIG_NOSYSTEM": "1",
    "TZ": "UTC",
    "LC_ALL": "C",
    # No automatic gc: a background `git gc --auto` started by one step would slow the next.
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "gc.auto",
    "GIT_CONFIG_VALUE_0": "0",
}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("| " + " | ".join("---" for _ in self.columns) + " |")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


@dataclass
class Target:
    name: str
    held: Optional[bool]  # None: not measured in this run
    detail: str

    def render(self) -> str:
        mark = {True: "HELD", False: "MISSED", None: "NOT MEASURED"}[self.held]
        return f"| {self.name} | {mark} | {self.detail} |"


@dataclass
class Context:
    """Settings of this run and where its files go."""

    work: str  # a temporary folder, removed at the end
    python: str  # the project's interpreter (.venv)
    jellyml: str  # the project's `jellyml` console script
    v100_python: Optional[str]  # JellyML 1.0.0's venv interpreter, None when unavailable
    v100_note: str
    quick: bool
    reps: int
    home: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GIT_", "PYTHON", "XDG_")) and k not in ("HOME", "VIRTUAL_ENV")
        }
        env.update(GIT_IDENTITY)
        env["HOME"] = self.home
        env["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        env["XDG_DATA_HOME"] = os.path.join(self.home, ".local", "share")
        env["XDG_CACHE_HOME"] = os.path.join(self.home, ".cache")
        env.update(extra)
        return env

    @property
    def v100_jellyml(self) -> Optional[str]:
        if self.v100_python is None:
            return None
        return os.path.join(os.path.dirname(self.v100_python), "jellyml")

    def git(self, *args: str, cwd: str, stdin: Optional[bytes] = None) -> bytes:
        """Run git for setting things up (not measured); raise on failure."""
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env(), input=stdin, capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode()[-500:]}")
        return proc.stdout


def seconds(value: float) -> str:
    if value < 0:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def size(value: float) -> str:
    if value < 0:
        return "-"
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{int(value)} B"


def ratio(slow: float, fast: float) -> str:
    if slow <= 0 or fast <= 0:
        return "-"
    return f"{slow / fast:.2f}x"


def size_label(total: int) -> str:
    if total >= GiB and total % GiB == 0:
        return f"{total // GiB} GiB"
    return f"{total // MiB} MiB"


def parse_size(text: str) -> int:
    """``100M``, ``1G``, ``4G``, ``512K`` or a number of bytes."""
    text = text.strip().upper().rstrip("B").rstrip("I")
    scale = {"K": 1024, "M": MiB, "G": GiB}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "KMG" else text
    return int(float(number) * scale)


def counts_label(counts: Sequence[int]) -> str:
    return ", ".join(f"{c:,}" for c in counts)
