"""What stands in the way of a tree that is about to be written into the working tree.

git's checkout overwrites an ignored file in its way, writes through a symbolic link where it
needs a folder, and removes a folder whose files are all ignored: the user's runs, data links
and nested repositories would go. So before eat checks a snapshot out (and before undo puts the
user's work back), everything git does not track that stands at a path of the new tree, or at a
folder above one, or inside a folder where the tree has a file, is found here, and moved aside
(eat) or kept on a branch (undo). Tracked files are git's to replace: their content is saved.

What git does not track comes from one ``git status`` (``gitcore.status``): untracked files,
ignored files and folders, nested repositories. Those few paths are matched against the new
tree; the disk is looked at only below a folder git does not track where the tree needs one.
"""

from __future__ import annotations

import os
import re
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


def in_the_way(
    top: bytes, tree: Mapping[bytes, str], not_tracked: NotTracked, skip: Iterable[bytes] = ()
) -> list[bytes]:
    """Everything git does not track in the way of ``tree`` (path -> mode), each a file, link,
    or a folder to move whole (a nested repository, an ignored folder), sorted, none inside
    another. ``skip``: paths already being taken care of (put aside anyway).

    Only what git does not track is looked at (a few paths, usually): one at a path of the
    tree, one where the tree needs a folder, one inside a folder where the tree has a file."""
    skipped = set(skip)
    if not (not_tracked.files | not_tracked.folders) - skipped:
        return []
    folders = _folders_of(tree)
    found: set[bytes] = set()
    for path in not_tracked.files | not_tracked.folders:
        if path in skipped:
            continue
        if path in tree:
            if tree[path] != "160000":  # where the tree has a submodule, git leaves the folder
                found.add(path)
        elif path in folders:
            found |= _where_a_folder_goes(top, path, tree, path in not_tracked.folders, skipped)
        elif any(prefix in tree for prefix in _ancestors(path)):
            found.add(path)  # inside a folder where the tree has a file
    return outermost(found)


def mounts_in_the_way(top: bytes, tree: Mapping[bytes, str]) -> list[bytes]:
    """Mount points below ``top`` at a path of the tree, or inside a folder where the tree has
    a file: nothing can move them aside, and git would fail halfway. An empty one is not in
    git's listings, so the system's list of mounts is read (Linux; elsewhere none are found)."""
    found = []
    for mount in _mount_points():
        rel = os.path.relpath(mount, top)
        if rel.startswith(b"..") or os.path.isabs(rel) or rel == b".":
            continue
        rel = rel.replace(os.sep.encode(), b"/")
        if rel in tree or any(prefix in tree for prefix in _ancestors(rel)):
            found.append(rel)
    return sorted(found)


def _mount_points() -> list[bytes]:
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    # The fifth field, with space, tab, newline and backslash written as octal escapes.
    points = [line.split(b" ")[4] for line in lines if line.count(b" ") >= 4]
    return [re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), p) for p in points]


def _where_a_folder_goes(
    top: bytes, path: bytes, tree: Mapping[bytes, str], is_folder: bool, skipped: set[bytes]
) -> set[bytes]:
    """What git does not track at ``path``, where the tree needs a folder: a file or link goes
    whole, and so does a nested repository; in a plain folder (ignored, or holding only
    untracked files), what stands at the tree's paths below it."""
    full = os.path.join(top, path)
    if not is_folder or os.path.islink(full) or os.path.lexists(os.path.join(full, b".git")):
        return {path}
    found: set[bytes] = set()
    below = path + b"/"
    for target in tree:
        if not target.startswith(below) or target in skipped:
            continue
        for prefix in [*_ancestors(target)[len(_ancestors(path)) + 1 :], target]:
            kind = _kind(os.path.join(top, prefix))
            if kind == "folder" and prefix != target:
                continue
            if kind:
                found.add(prefix)
            break
    return found


def _folders_of(tree: Iterable[bytes]) -> set[bytes]:
    """Every folder the tree's paths need (each path's parents, up to one already seen)."""
    folders: set[bytes] = set()
    for path in tree:
        cut = path.rfind(b"/")
        while cut > 0:
            folder = path[:cut]
            if folder in folders:
                break
            folders.add(folder)
            cut = folder.rfind(b"/")
    return folders


def _ancestors(path: bytes) -> list[bytes]:
    """``a``, ``a/b`` for ``a/b/c``."""
    parts = path.split(b"/")
    return [b"/".join(parts[:i]) for i in range(1, len(parts))]


def _kind(full: bytes) -> str:
    """'' (nothing there), 'folder' (a plain one) or 'other' (a file, a link, a special
    file, or a folder holding a repository)."""
    try:
        mode = os.lstat(full).st_mode
    except OSError:  # missing, or under a file (NotADirectoryError)
        return ""
    if stat.S_ISDIR(mode) and not os.path.lexists(os.path.join(full, b".git")):
        return "folder"
    return "other"


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
