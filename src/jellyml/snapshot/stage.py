"""Staging the working tree as it is into the snapshot's temporary index, and the one rule of
which untracked files a snapshot carries (``carried_untracked``), which ``jellyml eat`` applies
too: eat puts aside exactly what a snapshot would carry.

What goes in: tracked files as they are on disk (``--assume-unchanged`` and ``--skip-worktree``
flags are cleared in the temporary copy of the index, so their edits are not silently missed),
and untracked files that the user's ignore rules do not ignore, minus what the guards (secrets,
sizes, model and data files), the ``exclude=`` patterns, an unreadable file or a file holding a
snapshot of its own leave out; a modified tracked file that cannot be read is left out too (the
version in the index goes in). Each left-out path is recorded with its reason.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from .. import format as fmt
from ..errors import GitCommandError, SnapshotTooLargeError
from ..gitcore import run as gitrun
from ..gitcore.index import NO_SPLIT, add_paths, list_untracked
from ..gitcore.repo import Repo
from .guards import CARRIES_A_SNAPSHOT, Guards, LeftOut

EXCLUDED = "matches an exclude= pattern"
# An `ls-files -v` record whose tag is lowercase (assume-unchanged) or S (skip-worktree).
_FLAGGED = re.compile(rb"(?:^|\0)[a-zS] ")
#: How a snapshot tensor starts inside the files that carry one (torch zips store tensors
#: uncompressed, safetensors files and the snapshot file as they are).
_SNAPSHOT_START = b'{"magic_number": "' + fmt.SNAPSHOT_MAGIC.encode() + b'"'
_ZIP_START = b"PK\x03\x04"


@dataclass
class Carried:
    """The untracked files a snapshot carries (with their sizes), and those it leaves out."""

    included: list[bytes] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(self.sizes)


@dataclass
class Staged:
    included: list[bytes] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    #: Tracked paths whose assume-unchanged / skip-worktree flag was ignored (read as on disk).
    flags_ignored: list[str] = field(default_factory=list)


def carried_untracked(
    repo: Repo,
    guards: Guards,
    *,
    listed: Optional[Sequence[bytes]] = None,
    env: Optional[dict[str, str]] = None,
    exclude_from: Sequence[str] = (),
) -> Carried:
    """Which untracked files a snapshot of ``repo`` carries: those the user's ignore rules as
    they are now (``.gitignore`` files, ``.git/info/exclude``, ``core.excludesFile``) and the
    files ``exclude_from`` do not ignore, that ``guards`` do not leave out, that can be read and
    that do not hold a JellyML snapshot themselves. ``listed``: git's listing of those paths,
    when the caller has it (eat's ``git status``)."""
    found = Carried()
    if listed is None:
        listing = list_untracked(repo, env, exclude_from=exclude_from)
        listed = listing.paths
        found.left_out += [
            LeftOut(os.fsdecode(path), f"cannot be read ({reason})")
            for path, reason in listing.unreadable
        ]
    top = os.fsencode(repo.top)
    for rel in listed:
        full = os.path.join(top, rel)
        size = _lstat_size(full)
        reason = guards.reason_to_leave_out(os.fsdecode(rel), size) or _look_inside(
            full, guards.included(os.fsdecode(rel))
        )
        if reason is None:
            found.included.append(rel)
            found.sizes.append(size)
        else:
            found.left_out.append(LeftOut(os.fsdecode(rel), reason))
    return found


def stage_working_tree(
    repo: Repo, env: dict[str, str], guards: Guards, exclude: Sequence[str], tmp: str
) -> Staged:
    """Make the temporary index match the working tree, minus what is left out."""
    staged = Staged(flags_ignored=_clear_index_flags(repo, env))
    exclude_from = _exclude_file(exclude, tmp)
    if exclude_from:
        staged.left_out += [LeftOut(p, EXCLUDED) for p in _excluded(repo, env, exclude_from)]
    carried = carried_untracked(repo, guards, env=env, exclude_from=exclude_from)
    staged.included, staged.sizes = carried.included, carried.sizes
    staged.left_out += carried.left_out
    if carried.size > guards.max_total_size:
        raise SnapshotTooLargeError(carried.size, guards.max_total_size, "untracked files total")
    if not staged.left_out:
        _add(repo, env, "-A", staged)
    else:
        _add(repo, env, "-u", staged)
        add_paths(repo, env, staged.included)
    return staged


def _add(repo: Repo, env: dict[str, str], what: str, staged: Staged) -> None:
    """``git add -A`` or ``-u``. A modified tracked file git cannot read fails the whole add:
    then it is left out (recorded, warned about), as an unreadable untracked file is, and the
    snapshot holds its version in the index; the other files are added again."""
    argv = [*NO_SPLIT, "add", what]
    try:
        gitrun.run(argv, cwd=repo.top, env=env)
    except GitCommandError:
        unreadable = _unreadable_tracked(repo, env)
        if not unreadable:
            raise
        staged.left_out += unreadable
        paths = b"".join(os.fsencode(item.path) + b"\0" for item in unreadable)
        # In the temporary index only: git add then takes them as unchanged.
        gitrun.run(
            [*NO_SPLIT, "update-index", "-z", "--assume-unchanged", "--stdin"],
            cwd=repo.top,
            env=env,
            input=paths,
        )
        gitrun.run(argv, cwd=repo.top, env=env)


def _unreadable_tracked(repo: Repo, env: dict[str, str]) -> list[LeftOut]:
    """The modified tracked files that cannot be read (permissions), with why."""
    listed = gitrun.run(["ls-files", "-m", "-z"], cwd=repo.top, env=env).stdout
    top = os.fsencode(repo.top)
    found = []
    for rel in gitrun.split_z(listed):
        reason = _look_inside(os.path.join(top, rel), included=True)
        if reason is not None:
            found.append(LeftOut(os.fsdecode(rel), reason))
    return found


def _lstat_size(path: bytes) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:  # removed since git listed it; git add will skip it too
        return 0


def _look_inside(path: bytes, included: bool) -> Optional[str]:
    """Why this untracked file is left out for what it holds, or None: it cannot be read (which
    must not fail the snapshot, and with it a training run at its start), or it holds a JellyML
    snapshot of its own (a checkpoint: carrying it would make every checkpoint carry the last
    one), unless ``included``. Only files that start like a zip, a safetensors file or a
    snapshot are searched, up to the size limit the guards already checked."""
    try:
        st = os.lstat(path)
    except OSError:  # removed since git listed it; git add will skip it too
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # a link is stored as its target; a nested repository the guards took
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or errno.errorcode.get(exc.errno or 0, exc)})"
    try:
        return None if included else _holds_snapshot(fd, st.st_size)
    finally:
        os.close(fd)


def _holds_snapshot(fd: int, size: int) -> Optional[str]:
    start = os.pread(fd, 16, 0)
    looks = start.startswith((_ZIP_START, _SNAPSHOT_START[:8])) or _safetensors_like(start)
    if not looks:
        return None
    overlap, offset = len(_SNAPSHOT_START), 0
    while offset < size:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            break
        if _SNAPSHOT_START in chunk:
            return CARRIES_A_SNAPSHOT
        offset += max(len(chunk) - overlap, 1)
    return None


def _safetensors_like(start: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then the JSON header."""
    return len(start) >= 9 and start[8:9] == b"{" and int.from_bytes(start[:8], "little") > 1


def _exclude_file(exclude: Sequence[str], tmp: str) -> list[str]:
    """The patterns in a file for git's own gitignore matching (``--exclude-from``): its path
    in a list, or an empty list when there are none."""
    patterns = [p for p in exclude if p.strip()]
    if not patterns:
        return []
    path = os.path.join(tmp, "exclude")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(p.rstrip("\n") + "\n" for p in patterns))
    return [path]


def _excluded(repo: Repo, env: dict[str, str], exclude_from: list[str]) -> list[str]:
    """Untracked paths the patterns leave out (a whole folder as ``dir/``), minus those
    ``.gitignore`` already ignores (they were never going in)."""
    matched = gitrun.run(
        [
            *("ls-files", "-z", "--others", "--ignored", "--directory"),
            *(f"--exclude-from={path}" for path in exclude_from),
        ],
        cwd=repo.top,
        env=env,
    ).stdout
    paths = gitrun.split_z(matched)
    if not paths:
        return []
    ignored = gitrun.run(
        ["check-ignore", "-z", "--stdin"],
        cwd=repo.top,
        env=env,
        input=b"\0".join(paths) + b"\0",
        check=False,
    ).stdout
    already = set(gitrun.split_z(ignored))
    return [os.fsdecode(p) for p in paths if p not in already]


def _clear_index_flags(repo: Repo, env: dict[str, str]) -> list[str]:
    """Clear assume-unchanged and skip-worktree in the temporary index, so ``git add`` reads
    those files as they are. A skip-worktree file absent from disk (a sparse checkout) keeps
    its flag: it is not deleted, only not checked out."""
    listed = gitrun.run(["ls-files", "-v", "-z"], cwd=repo.top, env=env).stdout
    if _FLAGGED.search(listed) is None:  # the usual case, found in C: nothing to parse
        return []
    assumed: list[bytes] = []
    skipped: list[bytes] = []
    top = os.fsencode(repo.top)
    for record in gitrun.split_z(listed):
        tag, path = record[:1], record[2:]
        if tag.islower():
            assumed.append(path)
        if tag.upper() == b"S" and os.path.lexists(os.path.join(top, path)):
            skipped.append(path)
    for flag, paths in (("--no-assume-unchanged", assumed), ("--no-skip-worktree", skipped)):
        if paths:
            gitrun.run(
                [*NO_SPLIT, "update-index", "-z", flag, "--stdin"],
                cwd=repo.top,
                env=env,
                input=b"\0".join(paths) + b"\0",
            )
    return sorted({os.fsdecode(p) for p in assumed + skipped})
