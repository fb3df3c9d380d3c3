"""The state of a working tree in one ``git status``: what changed in tracked files, what is
untracked and what is ignored.

eat and undo ask these questions together; one process answers all of them (``ls-files``
twice and a ``diff`` would be three). Ignored folders come as one entry (``runs/``), never
walked into: a folder of a million ignored files costs nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from . import run
from .repo import Repo


@dataclass
class Status:
    #: Tracked paths whose index entry differs from HEAD (staged) or whose file differs from
    #: the index (unstaged).
    staged: list[bytes] = field(default_factory=list)
    unstaged: list[bytes] = field(default_factory=list)
    #: Paths with unresolved merge conflicts.
    unmerged: list[bytes] = field(default_factory=list)
    #: Untracked, not ignored files (a nested repository as ``dir/``).
    untracked: list[bytes] = field(default_factory=list)
    #: Ignored files and folders (``dir/``), each as the ignore rules name it.
    ignored: list[bytes] = field(default_factory=list)

    @property
    def tracked_changes(self) -> bool:
        return bool(self.staged or self.unstaged or self.unmerged)


def status(
    repo: Repo, env: Optional[Mapping[str, str]] = None, *, untracked: str = "all"
) -> Status:
    """The working tree of ``repo`` as the ignore rules in it see it now. ``untracked``:
    ``"all"`` lists every untracked file, ``"normal"`` a wholly untracked folder as one entry.
    Submodules count as changed when their commit moved, not when their own files did (that
    would start a ``git status`` inside each)."""
    argv = [
        "status",
        "--porcelain=v2",
        "-z",
        f"--untracked-files={untracked}",
        "--ignored=matching",
        "--no-renames",
        "--ignore-submodules=dirty",
    ]
    return parse(run.run(argv, cwd=repo.top, env=env).stdout)


def parse(raw: bytes) -> Status:
    """``git status --porcelain=v2 -z`` output, read."""
    found = Status()
    records = iter(run.split_z(raw))
    for record in records:
        kind = record[:1]
        if kind == b"?":
            found.untracked.append(record[2:])
        elif kind == b"!":
            found.ignored.append(record[2:])
        elif kind == b"u":
            found.unmerged.append(record.split(b" ", 10)[10])
        elif kind in (b"1", b"2"):
            fields = record.split(b" ", 9 if kind == b"2" else 8)
            xy, path = fields[1], fields[-1]
            if kind == b"2":  # a rename (not asked for): the path it came from follows
                next(records, None)
            if xy[:1] != b".":
                found.staged.append(path)
            if xy[1:2] != b".":
                found.unstaged.append(path)
    return found
