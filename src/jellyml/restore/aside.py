"""The put-aside folder: untracked and ignored files moved out of the snapshot's way, by rename.

eat puts aside exactly the untracked files a snapshot would carry, and whatever else stands
where the snapshot has a file or folder; everything else stays where it is. Each goes by
``rename`` to ``<git dir>/jellyml/<item id>/files/<its path>``: on the same file system that is
one system call whatever the size, and the file keeps its inode, mode, mtime and content. The
folder is 0700, so nothing put aside is readable by anyone who could not read it before, and no
byte of it goes into git's object store. Across file systems (a mount inside the tree, a git
folder elsewhere) an entry is copied instead (mode and times kept), then its original removed.

The journal (``journal`` in the folder) lists every entry before the first one moves. An entry
is always whole in one place, whenever the process is killed: in the tree, in the folder, or
(across file systems only) a complete copy named ``<path>.jellyml-part`` beside one of them, so
``jellyml undo`` can always tell where each one is from the journal and the disk alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Optional

from ..errors import CannotPutAsideError, PutAsideMissingError
from ..gitcore.repo import Repo
from ..outputs import replacing, tree_size

#: jellyml's folder in the git dir; one folder per eat under it, named after its history item.
ASIDE = "jellyml"
_FILES = b"files"
_JOURNAL = "journal"
_PART = b".jellyml-part"
#: A journal larger than this is not one jellyml wrote.
MAX_JOURNAL = 256 << 20
JOURNAL_VERSION = 1

#: Why an entry was put aside.
CARRIED = "carried"  # a snapshot would carry it: it is part of the user's work
IN_THE_WAY = "in the way"  # the snapshot has a file or folder at its path, or below it
_KINDS = ("file", "link", "folder", "other")
_WHY = (CARRIED, IN_THE_WAY)


@dataclass(frozen=True)
class Entry:
    """One file, symbolic link or folder (moved whole) put aside, by its path from the top."""

    path: bytes
    kind: str
    size: int
    why: str


def folder(repo: Repo, item_id: str) -> str:
    return os.path.join(repo.git_dir, ASIDE, item_id)


def stored_size(repo: Repo, item_id: str) -> int:
    """The bytes of the files an item's eat put aside, as they are now (``jellyml status``)."""
    files = os.path.join(os.fsencode(folder(repo, item_id)), _FILES)
    return tree_size(files) if os.path.isdir(files) else 0


def entry(top: bytes, path: bytes, why: str) -> Entry:
    """What is at ``path`` now (never following a symbolic link), to put aside."""
    full = os.path.join(top, path)
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        return Entry(path, "link", 0, why)
    if stat.S_ISDIR(st.st_mode):
        return Entry(path, "folder", tree_size(full), why)
    return Entry(path, "file" if stat.S_ISREG(st.st_mode) else "other", st.st_size, why)


def check_movable(repo: Repo, entries: Iterable[Entry]) -> int:
    """Refuse (``CannotPutAsideError``, nothing changed) an entry that cannot be moved: a
    mount point, one in a folder that cannot be written, anything but a file, link or folder
    on another file system. Returns the bytes that will be copied across file systems."""
    top = os.fsencode(repo.top)
    device = os.stat(repo.git_dir).st_dev
    copied = 0
    for item in entries:
        full = os.path.join(top, item.path)
        reason = _unmovable(full, item)
        if not reason and os.lstat(full).st_dev != device:
            if item.kind == "other":
                reason = "a special file on another file system than the repository's .git"
            copied += item.size
        if reason:
            raise CannotPutAsideError(repo.top, os.fsdecode(item.path), reason)
    return copied


def _unmovable(full: bytes, item: Entry) -> str:
    if item.kind == "folder" and os.path.ismount(full):
        return "it is a mount point"
    if not os.access(os.path.dirname(full), os.W_OK | os.X_OK):
        return "its folder cannot be written"
    if item.kind == "folder" and not os.access(full, os.W_OK):  # rename rewrites its ".."
        return "it is a folder that cannot be written"
    return ""


# --- the journal ---------------------------------------------------------------------------


def write_journal(repo: Repo, item_id: str, entries: list[Entry]) -> None:
    """Make the item's folder (0700) and write its journal, durably, before anything moves."""
    base = folder(repo, item_id)
    os.makedirs(os.path.dirname(base), mode=0o700, exist_ok=True)
    os.mkdir(base, 0o700)
    body = {
        "version": JOURNAL_VERSION,
        "entries": [[os.fsdecode(e.path), e.kind, e.size, e.why] for e in entries],
    }
    with replacing(os.path.join(base, _JOURNAL), ".tmp", durable=True) as (out, _tmp):
        out.write(json.dumps(body).encode("ascii"))


def read_journal(repo: Repo, item_id: str, expected: int) -> list[Entry]:
    """The entries of an item that put ``expected`` of them aside; ``PutAsideMissingError``
    when its folder or journal is gone, or the journal is not one jellyml wrote."""
    base = folder(repo, item_id)
    try:
        with open(os.path.join(base, _JOURNAL), "rb") as f:
            raw = f.read(MAX_JOURNAL + 1)
        found = _parse_journal(raw)
    except (OSError, ValueError, RecursionError):
        found = None
    if found is None or len(found) != expected:
        shown = base if os.path.isdir(base) else f"{base} (the whole folder)"
        raise PutAsideMissingError(repo.top, base, [f"its journal, in {shown}"], expected)
    return found


def _parse_journal(raw: bytes) -> Optional[list[Entry]]:
    """The journal's entries, each checked (it lives in .git, where anything may write): a
    path inside the working tree, a known kind and reason. None when anything is off."""
    if len(raw) > MAX_JOURNAL:
        return None
    data = json.loads(raw.decode("ascii"))
    if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
        return None
    rows = data.get("entries")
    if not isinstance(rows, list):
        return None
    found = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str)):
            return None
        path, kind, size, why = os.fsencode(row[0]), row[1], row[2], row[3]
        if not _safe(path) or kind not in _KINDS or why not in _WHY:
            return None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None
        found.append(Entry(path, kind, size, why))
    return found


def _safe(path: bytes) -> bool:
    parts = path.split(b"/")
    return (
        bool(path)
        and b"\0" not in path
        and all(p not in (b"", b".", b"..") for p in parts)
        and parts[0] != b".git"
    )


# --- moving ----------------------------------------------------------------------------------


def move_aside(
    repo: Repo, item_id: str, entries: list[Entry], after_first: Callable[[], None]
) -> None:
    """Move every entry into the item's folder (whose journal lists them), then remove the
    folders that emptying leaves in the tree. ``after_first`` runs once the first has moved
    (a crash point)."""
    top = os.fsencode(repo.top)
    base = os.path.join(os.fsencode(folder(repo, item_id)), _FILES)
    for n, item in enumerate(entries):
        source = os.path.join(top, item.path)
        _move(source, os.path.join(base, item.path), mode=0o700)
        _remove_empty_parents(top, source)
        if n == 0:
            after_first()


def missing(repo: Repo, item_id: str, entries: list[Entry], *, all_aside: bool) -> list[str]:
    """The entries found nowhere. ``all_aside``: the eat finished, so each must be in the
    folder; otherwise (an interrupted eat or undo) one may also be back in the tree already."""
    top = os.fsencode(repo.top)
    base = os.path.join(os.fsencode(folder(repo, item_id)), _FILES)
    lost = []
    for item in entries:
        aside = os.path.join(base, item.path)
        places = [aside, aside + _PART]
        if not all_aside:
            tree = os.path.join(top, item.path)
            places += [tree, tree + _PART]
        if not any(os.path.lexists(p) for p in places):
            lost.append(os.fsdecode(item.path))
    return lost


def move_back(
    repo: Repo, item_id: str, entries: list[Entry], after_first: Callable[[], None]
) -> tuple[int, int]:
    """Move every entry back to its place in the tree (whatever the kill it follows left);
    return how many came back and their bytes."""
    top = os.fsencode(repo.top)
    base = os.path.join(os.fsencode(folder(repo, item_id)), _FILES)
    count = size = 0
    for item in entries:
        if _move_back_one(os.path.join(base, item.path), os.path.join(top, item.path)):
            count += 1
            size += item.size
            if count == 1:
                after_first()
    return count, size


def _move_back_one(aside: bytes, tree: bytes) -> bool:
    """Put one entry back; False when it was in the tree already (never moved, or moved back
    before a kill). Checked against every state a kill can leave (see the module's doc)."""
    if os.path.lexists(aside):
        _remove_any(aside + _PART)  # an unfinished copy from the tree: the entry is here
        if os.path.lexists(tree + _PART):
            _remove_any(tree + _PART)  # an unfinished copy back into the tree
        _move(aside, tree, mode=0o777)
        return True
    if os.path.lexists(aside + _PART):
        if os.path.lexists(tree):
            _remove_any(aside + _PART)  # the copy aside was not finished: the original stayed
            return False
        _move(aside + _PART, tree, mode=0o777)
        return True
    if os.path.lexists(tree + _PART) and not os.path.lexists(tree):
        os.rename(tree + _PART, tree)  # copied back, the copy aside removed, not yet renamed
        return True
    return False


def _move(source: bytes, target: bytes, *, mode: int) -> None:
    """Rename ``source`` to ``target`` (making its folders with ``mode``); across file systems,
    copy to ``target.jellyml-part``, remove the source, then rename the copy into place."""
    os.makedirs(os.path.dirname(target), mode=mode, exist_ok=True)
    if os.path.isdir(target) and not os.path.islink(target):
        with contextlib.suppress(OSError):  # an empty folder git made (a submodule's path)
            os.rmdir(target)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "something is in the way", os.fsdecode(target))
    try:
        os.rename(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    part = target + _PART
    _remove_any(part)
    _copy_any(source, part)
    _remove_any(source)
    os.rename(part, target)


def _copy_any(source: bytes, target: bytes) -> None:
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISDIR(st.st_mode):
        shutil.copytree(os.fsdecode(source), os.fsdecode(target), symlinks=True)
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(source, target, follow_symlinks=False)
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)  # complete on disk before its original goes
        finally:
            os.close(fd)
    else:
        raise OSError(errno.EXDEV, "a special file cannot be copied", os.fsdecode(source))


def _remove_any(path: bytes) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _remove_empty_parents(top: bytes, path: bytes) -> None:
    parent = os.path.dirname(path)
    while parent != top and parent.startswith(top):
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)


# --- clean-up ------------------------------------------------------------------------------


def remove(repo: Repo, item_id: str) -> bool:
    """Remove an item's folder once every entry is back: its journal and empty folders only,
    never a file (one left there is the user's). True when it is gone."""
    base = folder(repo, item_id)
    if not os.path.isdir(base):
        return True
    files = os.path.join(base, os.fsdecode(_FILES))
    for root, _dirs, _files in os.walk(files, topdown=False):
        try:
            os.rmdir(root)
        except OSError:
            return False
    try:
        for name in os.listdir(base):  # the journal, and one a kill left half written
            if name == _JOURNAL or name.startswith(".jellyml-"):
                os.unlink(os.path.join(base, name))
        os.rmdir(base)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    with contextlib.suppress(OSError):  # .git/jellyml, when no other eat is outstanding
        os.rmdir(os.path.dirname(base))
    return True


def sweep(repo: Repo, known: Iterable[str]) -> None:
    """Remove the folders of eats that no history item names and that hold no file: what an
    eat killed after writing its journal, before recording itself, left. A folder that holds
    files is the user's work (its history was cleared): it stays."""
    parent = os.path.join(repo.git_dir, ASIDE)
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in set(names) - set(known):
        remove(repo, name)
    with contextlib.suppress(OSError):  # made by an eat killed before its own folder
        os.rmdir(parent)
