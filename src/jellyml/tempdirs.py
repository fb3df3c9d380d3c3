"""jellyml's temporary folders: named after their owner process, swept once that process is gone.

A ``kill -9`` (the OOM killer, ``timeout -s KILL``, a lost node) gives Python no chance to remove
a temporary folder, and ours can hold a whole bundle. So every folder is named
``jellyml-<pid>-<kind>-<random>``, and creating one first removes the folders of that shape in
the same temporary directory whose process no longer exists and that are older than a minute
(the minute covers a pid that was just reused by a process of ours that is starting up).
Folders of another user, or whose process is alive, are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator

#: A folder this old (seconds) whose owner process is gone is swept.
STALE_AFTER = 60.0

_NAME = re.compile(r"jellyml-(\d+)-[A-Za-z0-9_.-]*\Z")


@contextlib.contextmanager
def temporary_dir(kind: str) -> Iterator[str]:
    """A new temporary folder ``jellyml-<pid>-<kind>-...``, removed when the block ends; stale
    folders of dead jellyml processes are swept first."""
    base = tempfile.gettempdir()
    sweep(base)
    folder = tempfile.mkdtemp(prefix=f"jellyml-{os.getpid()}-{kind}-", dir=base)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(base: str, *, now: float | None = None) -> list[str]:
    """Remove ``base``'s stale jellyml folders; return their paths. Never raises."""
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not _is_stale(entry, int(match.group(1)), now):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _is_stale(entry: os.DirEntry[str], pid: int, now: float) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not entry.is_dir(follow_symlinks=False) or st.st_uid != os.getuid():
        return False
    return now - st.st_mtime > STALE_AFTER and not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a process of another user counts as alive)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is just not ours
        return True
    return True
