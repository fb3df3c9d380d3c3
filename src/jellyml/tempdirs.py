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
import time

# tempfile and shutil (~5 ms together: random, bz2, lzma, ...) are imported when a folder or
# file is made, not when a reader that may never make one imports this module.
TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Optional

#: An entry this old (seconds) whose owner process is gone is swept.
STALE_AFTER = 60.0

_PREFIX = "jellyml-"


def _prefix(kind: str, *, hidden: bool) -> str:
    return f"{'.' if hidden else ''}{_PREFIX}{os.getpid()}-{kind}-"


@contextlib.contextmanager
def temporary_dir(kind: str, *, beside: Optional[str] = None) -> Iterator[str]:
    """A new temporary folder ``jellyml-<pid>-<kind>-...``, removed when the block ends: in the
    system's temporary folder, or (``beside``) hidden in the folder of the path ``beside``, on
    its file system. Stale entries of dead jellyml processes there are swept first. An
    ``OSError`` making it (a folder one cannot write) propagates."""
    import shutil
    import tempfile

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
    killed process leaves it for the next sweep there.

    Made as ``tempfile.mkstemp`` makes one (a random name, ``O_EXCL``), without importing
    tempfile, which costs an ``extract-bundle`` a tenth of its start-up."""
    base, hidden = _where(target)
    sweep(base)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        path = os.path.join(base, f"{_prefix(kind, hidden=hidden)}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {base}")


def _where(beside: Optional[str]) -> tuple[str, bool]:
    if beside is None:
        import tempfile

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
        pid = owner(entry.name)
        if pid is None or not _is_stale(entry, pid, now):
            continue
        if entry.is_dir(follow_symlinks=False):
            import shutil

            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        removed.append(entry.path)
    return removed


def owner(name: str) -> Optional[int]:
    """The pid in a name of ours (``jellyml-<pid>-...``, ``.jellyml-<pid>-...``), else None."""
    bare = name[1:] if name.startswith(".") else name
    pid, dash, _rest = bare[len(_PREFIX) :].partition("-")
    return int(pid) if bare.startswith(_PREFIX) and dash and pid.isdigit() else None


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
