"""What stands in the way of a tree that is about to be written into the working tree.

git's checkout overwrites an ignored file in its way, writes through a symbolic link where it
needs a folder, and removes a folder whose files are all ignored: the user's runs, data links
and nested repositories would go. So before eat checks a snapshot out (and before undo puts the
user's work back), everything git does not track that stands at a path of the new tree, or at a
folder above one, or inside a folder where the tree has a file, is found here, and moved aside
(eat) or kept on a branch (undo). Tracked files are git's to replace: their content is saved.

What git does not track comes from one ``git status`` (``gitcore.status``): untracked files,
ignored files and folders, nested repositories. Only the paths of the new tree are looked at on
disk (``lstat``), never a whole ignored folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..gitcore.status import Status


@dataclass
class NotTracked:
    """The paths git does not track, as one ``git status`` lists them."""

    files: set[bytes] = field(default_factory=set)
    #: Ignored folders and nested repositories: everything under them is not tracked either.
    folders: set[bytes] = field(default_factory=set)

    @classmethod
    def of(cls, found: Status) -> NotTracked:
        listed = [*found.untracked, *found.ignored]
        return cls(
            {p for p in listed if not p.endswith(b"/")},
            {p[:-1] for p in listed if p.endswith(b"/")},
        )

    def covers(self, path: bytes) -> bool:
        if path in self.files or path in self.folders:
            return True
        parts = path.split(b"/")
        return any(b"/".join(parts[:i]) in self.folders for i in range(1, len(parts)))


def in_the_way(
    top: bytes, tree: Mapping[bytes, str], not_tracked: NotTracked, skip: Iterable[bytes] = ()
) -> list[bytes]:
    """Everything git does not track in the way of ``tree`` (path -> mode), each a file, link,
    special file, or a folder to move whole (a nested repository, an ignored folder), sorted,
    none inside another. ``skip``: paths already being taken care of (put aside anyway)."""
    skipped = set(skip)
    found: set[bytes] = set()
    folders_seen: set[bytes] = set()
    for path, mode in tree.items():
        parts = path.split(b"/")
        clear = True
        for i in range(1, len(parts)):
            prefix = b"/".join(parts[:i])
            if prefix in folders_seen:
                continue
            kind = _kind(os.path.join(top, prefix))
            if kind == "folder":
                folders_seen.add(prefix)
                continue
            # Missing (nothing below exists either), or something where a folder must be.
            if kind and prefix not in skipped and _not_git_s(prefix, kind, not_tracked):
                found.add(prefix)
            clear = False
            break
        if clear and path not in skipped and mode != "160000":  # a submodule is git's
            found |= _at(top, path, not_tracked, skipped)
    return outermost(found)


def _at(top: bytes, path: bytes, not_tracked: NotTracked, skipped: set[bytes]) -> set[bytes]:
    """What is in the way at ``path``, where the new tree has a file."""
    full = os.path.join(top, path)
    kind = _kind(full)
    if not kind:
        return set()
    if kind != "folder" or not_tracked.covers(path):
        return {path} if _not_git_s(path, kind, not_tracked) else set()
    return _inside(top, path, not_tracked, skipped)


def _inside(top: bytes, folder: bytes, not_tracked: NotTracked, skipped: set[bytes]) -> set[bytes]:
    """A folder where a file goes: git removes the tracked files in it; everything else in it
    must go aside first (whole, for a folder git does not track)."""
    found: set[bytes] = set()
    for root, dirs, files in os.walk(os.path.join(top, folder)):
        rel_root = os.path.relpath(root, top).replace(os.sep.encode(), b"/")
        for name in list(dirs):
            rel = rel_root + b"/" + name
            kind = _kind(os.path.join(root, name))
            if kind != "folder" or not_tracked.covers(rel):
                dirs.remove(name)  # a link to a folder, an ignored folder: not walked into
                if rel not in skipped and _not_git_s(rel, kind, not_tracked):
                    found.add(rel)
        for name in files:
            rel = rel_root + b"/" + name
            kind = _kind(os.path.join(root, name))
            if rel not in skipped and _not_git_s(rel, kind, not_tracked):
                found.add(rel)
    return found


def _kind(full: bytes) -> str:
    """'' (nothing there), 'folder', 'nested' (a folder holding a repository), 'file'
    (a regular file or a symbolic link) or 'special' (a FIFO, a socket, a device)."""
    try:
        mode = os.lstat(full).st_mode
    except OSError:  # missing, or under a file (NotADirectoryError)
        return ""
    if stat.S_ISDIR(mode):
        return "nested" if os.path.lexists(os.path.join(full, b".git")) else "folder"
    return "file" if stat.S_ISREG(mode) or stat.S_ISLNK(mode) else "special"


def _not_git_s(path: bytes, kind: str, not_tracked: NotTracked) -> bool:
    """Whether ``path`` (of ``kind``) is not git's to replace: git lists it as untracked or
    ignored, or does not list such a thing at all (special files). A folder git does not list
    either holds only tracked files; a repository it does not list is a submodule."""
    if kind == "special":
        return True
    return not_tracked.covers(path)


def outermost(paths: Iterable[bytes]) -> list[bytes]:
    """``paths``, sorted, without those inside another one (a folder moved whole takes them
    along)."""
    unique = set(paths)
    kept = []
    for path in sorted(unique):
        parts = path.split(b"/")
        if not any(b"/".join(parts[:i]) in unique for i in range(1, len(parts))):
            kept.append(path)
    return kept
