"""What a snapshot cost, said once: a log line, and a warning naming the largest files when
the bundle is large (a 285 MB snapshot made in silence is how checkpoints quietly balloon)."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Mapping, Sequence

from ..gitcore import run as gitrun
from ..warn import warn

logger = logging.getLogger("jellyml")
MiB = 1024 * 1024
#: Above this bundle size, a warning lists the largest files of the snapshot.
LARGE_SNAPSHOT_WARNING = 100 * MiB
#: Above this total of untracked files in a snapshot, a warning names the largest of them.
UNTRACKED_WARNING_SIZE = 5 * MiB
_LISTED = 10


def index_entries(index: str) -> int:
    """The number of entries in an index file, from its 12-byte header (no git needed)."""
    try:
        with open(index, "rb") as f:
            head = f.read(12)
    except OSError:
        return 0
    if len(head) < 12 or head[:4] != b"DIRC":
        return 0
    return int(struct.unpack(">I", head[8:12])[0])


def log_snapshot(*, size: int, files: int, seconds: float, history: str, top: str) -> None:
    logger.info(
        "JellyML snapshot of %s: %.1f MiB (history: %s), %d files, %.2f s",
        top,
        size / MiB,
        history,
        files,
        seconds,
    )


def warn_if_large(size: int, cwd: str, env: Mapping[str, str], tree: str, history: str) -> None:
    if size <= LARGE_SNAPSHOT_WARNING:
        return
    largest = ", ".join(f"{path} ({n / MiB:.1f} MiB)" for n, path in _largest(cwd, env, tree))
    advice = (
        " history='shallow' leaves the history out."
        if history == "full"
        else " Add large files to .gitignore, or leave them out with exclude=[...]."
    )
    warn(
        f"JellyML's snapshot is {size / MiB:.1f} MiB, and it goes into every checkpoint. "
        f"Its largest files: {largest}.{advice}"
    )


def _largest(cwd: str, env: Mapping[str, str], tree: str) -> list[tuple[int, str]]:
    raw = gitrun.run(["ls-tree", "-r", "-l", "-z", tree], cwd=cwd, env=env).stdout
    found: list[tuple[int, str]] = []
    for record in gitrun.split_z(raw):
        meta, _, path = record.partition(b"\t")
        parts = meta.split()
        if len(parts) == 4 and parts[3].isdigit():
            found.append((int(parts[3]), os.fsdecode(path)))
    return sorted(found, reverse=True)[:_LISTED]


def warn_if_untracked_large(paths: Sequence[bytes], sizes: Sequence[int]) -> None:
    """One warning when the untracked files a snapshot carries add up to more than
    ``UNTRACKED_WARNING_SIZE``, naming the largest (data or outputs that went in unnoticed)."""
    total = sum(sizes)
    if total <= UNTRACKED_WARNING_SIZE:
        return
    largest = sorted(zip(sizes, paths), reverse=True)[:3]
    named = ", ".join(f"{os.fsdecode(path)} ({size / MiB:.1f} MiB)" for size, path in largest)
    warn(
        f"JellyML's snapshot carries {total / MiB:.1f} MiB of untracked files "
        f"({len(paths)} files), over the {UNTRACKED_WARNING_SIZE / MiB:.0f} MiB that is usual "
        f"for code; the largest: {named}. Add them to .gitignore, or leave them out with "
        "exclude=[...]."
    )
