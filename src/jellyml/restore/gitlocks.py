"""git's own lock files that a crashed eat or undo left behind.

``kill -9`` of the whole process group (``timeout -s KILL``, the OOM killer, a lost node) kills
git in the middle of a checkout: its ``index.lock`` (or ``HEAD.lock``, a ref's ``.lock``) stays,
and every later git command in the repository fails. git cannot tell a stale lock from a live
one, but recovery can: it runs only for a history item left half done (``eating`` or
``undoing``), under jellyml's repository lock (so no other jellyml is running there), and only
removes lock files at least as recent as that item that git does not remove by itself within a
short wait (a git child of a killed jellyml that survived finishes and removes its own lock).
Each removed file is reported to the user.
"""

from __future__ import annotations

import os
import time

from ..gitcore.repo import Repo
from .history import HistoryItem

#: How long to wait for a surviving git to finish and remove its lock itself (seconds).
GRACE = 1.0
_FIXED = ("index.lock", "HEAD.lock", "packed-refs.lock", "ORIG_HEAD.lock")


def candidates(repo: Repo, item: HistoryItem) -> list[str]:
    """git lock files in the repository that may be the crashed run's."""
    found = [os.path.join(repo.git_dir, name) for name in _FIXED]
    for root in {os.path.join(repo.git_dir, "refs"), _common_refs(repo)}:
        for folder, _dirs, files in os.walk(root):
            found += [os.path.join(folder, f) for f in files if f.endswith(".lock")]
    since = _started(item)
    return [p for p in found if _mtime(p) >= since]


def remove_stale(repo: Repo, item: HistoryItem) -> list[str]:
    """Remove the lock files the interrupted run left; return their paths."""
    locks = candidates(repo, item)
    deadline = time.monotonic() + GRACE
    while locks and time.monotonic() < deadline:
        time.sleep(0.05)
        locks = [p for p in locks if os.path.exists(p)]
    removed = []
    for path in locks:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def _common_refs(repo: Repo) -> str:
    # A linked worktree's refs live in the main git dir ("commondir").
    try:
        with open(os.path.join(repo.git_dir, "commondir"), encoding="utf-8") as f:
            common = f.read().strip()
    except OSError:
        return os.path.join(repo.git_dir, "refs")
    return os.path.join(os.path.normpath(os.path.join(repo.git_dir, common)), "refs")


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return -1.0


def _started(item: HistoryItem) -> float:
    """When the item's eat started (its ``created_at``, seconds; one second of slack), or 0
    when the file does not say (1.0.0's items): any lock then counts."""
    import datetime  # only for recovery: the common path does not pay for it

    try:
        when = datetime.datetime.fromisoformat(item.created_at)
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        return 0.0
    return when.timestamp() - 1.0
