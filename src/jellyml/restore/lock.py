"""Locks: one jellyml at a time on a history file, and one eat or undo at a time per repository.

POSIX only (``fcntl.flock``): the lock is released by the kernel when its process dies, so a
crash never leaves a stale jellyml lock. jellyml declares itself POSIX-only for this reason.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ..errors import JellyMLError, RepoBusyError
from ..gitcore.repo import Repo


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s lock file (waits for another jellyml to finish)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _flock(fd, blocking=True)
        yield
    finally:
        os.close(fd)  # closing releases the lock; so does the process dying


@contextlib.contextmanager
def repo_lock(repo: Repo, history_file: str) -> Iterator[None]:
    """One eat or undo per repository at a time; a second one stops at once. The lock lives
    beside the history file (not in .git), and dies with its process."""
    path = history_file + ".busy"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _flock(fd, blocking=False):
            raise RepoBusyError(repo.top)
        yield
    finally:
        os.close(fd)


def _flock(fd: int, *, blocking: bool) -> bool:
    """Take an exclusive lock on ``fd``; False if another process holds it (non-blocking)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        raise JellyMLError(
            "jellyml's eat and undo need POSIX file locks (Linux, macOS), which this system lacks.",
            hint="Use jellyml on Linux or macOS (WSL works on Windows).",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True
