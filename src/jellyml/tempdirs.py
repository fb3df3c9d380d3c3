"""jellyml's temporary files and folders: named after their owner process, swept once it is gone.

A ``kill -9`` (the OOM killer, ``timeout -s KILL``, a lost node) gives Python no chance to remove
a temporary folder, and ours can hold a whole bundle. So every temporary folder and file jellyml
names is called ``jellyml-<pid>-<kind>-<random>`` (with a leading dot beside a file the user
asked for, where it must be on the same file system to be renamed into place), and creating
one first removes the entries of that shape in the same folder whose process no longer exists
and that are older than a minute (the minute covers a pid that was just reused by a process of
ours that is starting up). Entries of another user, or whose process is alive, are never touched.

This module is the only one that makes named temporary files or folders; a test keeps it so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Optional

#: An entry this old (seconds) whose owner process is gone is swept.
STALE_AFTER = 60.0

_NAME = re.compile(r"\.?jellyml-(\d+)-[A-Za-z0-9_.-]*\Z")


def _prefix(kind: str, *, hidden: bool) -> str:
    return f"{'.' if hidden else ''}jellyml-{os.getpid()}-{kind}-"


@contextlib.contextmanager
def temporary_dir(kind: str, *, beside: Optional[str] = None) -> Iterator[str]:
    """A new temporary folder ``jellyml-<pid>-<kind>-...``, removed when the block ends: in the
    system's temporary folder, or (``beside``) hidden in the folder of the path ``beside``, on
    its file system. Stale entries of dead jellyml processes there are swept first. An
    ``OSError`` making it (a folder one cannot write) propagates."""
    base, hidden = _where(beside)
    sweep(base)
    folder = tempfile.mkdtemp(prefix=_prefix(kind, hidden=hidden), dir=base)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_file_beside(target: str, kind: str, suffix: str) -> tuple[int, str]:
    """A new hidden file ``.jellyml-<pid>-<kind>-...<suffix>`` in ``target``'s folder (mode
    0600), open for writing: its descriptor and path. The caller renames or removes it; a
    killed process leaves it for the next sweep there."""
    base, hidden = _where(target)
    sweep(base)
    return tempfile.mkstemp(prefix=_prefix(kind, hidden=hidden), suffix=suffix, dir=base)


def _where(beside: Optional[str]) -> tuple[str, bool]:
    if beside is None:
        return tempfile.gettempdir(), False
    return os.path.dirname(os.path.abspath(beside)), True


def sweep(base: str, *, now: Optional[float] = None) -> list[str]:
    """Remove ``base``'s stale jellyml entries; return their paths. Never raises."""
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
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        removed.append(entry.path)
    return removed


def _is_stale(entry: os.DirEntry[str], pid: int, now: float) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    kind_ok = entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)
    if not kind_ok or st.st_uid != os.getuid():
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
