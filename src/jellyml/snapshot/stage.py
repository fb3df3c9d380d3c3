"""Staging the working tree as it is into the snapshot's temporary index.

What goes in: tracked files as they are on disk (``--assume-unchanged`` and ``--skip-worktree``
flags are cleared in the temporary copy of the index, so their edits are not silently missed),
and untracked files that git does not ignore, minus what the guards, the ``exclude=`` patterns
or an unreadable file leave out; a modified tracked file that cannot be read is left out too
(the version in the index goes in). Each left-out path is recorded with its reason.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..errors import GitCommandError, SnapshotTooLargeError
from ..gitcore import run as gitrun
from ..gitcore.index import NO_SPLIT, add_paths
from ..gitcore.repo import Repo
from .guards import Guards, LeftOut

EXCLUDED = "matches an exclude= pattern"
# An `ls-files -v` record whose tag is lowercase (assume-unchanged) or S (skip-worktree).
_FLAGGED = re.compile(rb"(?:^|\0)[a-zS] ")
# What `ls-files --others` says (LC_ALL=C) about a folder it cannot list; it goes on without it.
_UNREADABLE_DIR = re.compile(rb"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)


@dataclass
class Staged:
    included: list[bytes] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    #: Tracked paths whose assume-unchanged / skip-worktree flag was ignored (read as on disk).
    flags_ignored: list[str] = field(default_factory=list)


def stage_working_tree(
    repo: Repo, env: dict[str, str], guards: Guards, exclude: Sequence[str], tmp: str
) -> Staged:
    """Make the temporary index match the working tree, minus what is left out."""
    staged = Staged(flags_ignored=_clear_index_flags(repo, env))
    exclude_args = _exclude_args(exclude, tmp)
    if exclude_args:
        staged.left_out += [LeftOut(p, EXCLUDED) for p in _excluded(repo, env, exclude_args)]
    total = 0
    top = os.fsencode(repo.top)
    untracked, unreadable_dirs = _list_untracked(repo, env, exclude_args)
    staged.left_out += unreadable_dirs
    for rel in untracked:
        full = os.path.join(top, rel)
        size = _lstat_size(full)
        reason = guards.reason_to_leave_out(os.fsdecode(rel), size) or _unreadable(full)
        if reason is None:
            staged.included.append(rel)
            total += size
        else:
            staged.left_out.append(LeftOut(os.fsdecode(rel), reason))
    if total > guards.max_total_size:
        raise SnapshotTooLargeError(total, guards.max_total_size, "untracked files total")
    if not staged.left_out:
        _add(repo, env, "-A", staged)
    else:
        _add(repo, env, "-u", staged)
        add_paths(repo, env, staged.included, force=False)
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
        reason = _unreadable(os.path.join(top, rel))
        if reason is not None:
            found.append(LeftOut(os.fsdecode(rel), reason))
    return found


def _list_untracked(
    repo: Repo, env: dict[str, str], exclude_args: list[str]
) -> tuple[list[bytes], list[LeftOut]]:
    """Untracked, not ignored paths (a nested repository ends with ``/``), and the folders git
    could not read, which it leaves out with only a warning on stderr: they are recorded."""
    proc = gitrun.run(
        ["ls-files", "-z", "--others", "--exclude-standard", *exclude_args],
        cwd=repo.top,
        env=env,
    )
    unreadable = [
        LeftOut(
            os.fsdecode(m.group(1)), f"cannot be read ({m.group(2).decode('utf-8', 'replace')})"
        )
        for m in _UNREADABLE_DIR.finditer(proc.stderr)
    ]
    return gitrun.split_z(proc.stdout), unreadable


def _lstat_size(path: bytes) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:  # removed since git listed it; git add will skip it too
        return 0


def _unreadable(path: bytes) -> Optional[str]:
    """Why ``git add`` could not read this untracked file, or None. An unreadable file must
    not fail the snapshot (that would stop a training run at its start): it is left out."""
    if path.endswith(b"/") or os.path.islink(path):
        return None  # a nested repository (the guards took it), or a link stored as its target
    try:
        os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or errno.errorcode.get(exc.errno or 0, exc)})"
    return None


def _exclude_args(exclude: Sequence[str], tmp: str) -> list[str]:
    """git's own gitignore matching for the patterns, through an exclude file."""
    patterns = [p for p in exclude if p.strip()]
    if not patterns:
        return []
    path = os.path.join(tmp, "exclude")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(p.rstrip("\n") + "\n" for p in patterns))
    return [f"--exclude-from={path}"]


def _excluded(repo: Repo, env: dict[str, str], exclude_args: list[str]) -> list[str]:
    """Untracked paths the patterns leave out (a whole folder as ``dir/``), minus those
    ``.gitignore`` already ignores (they were never going in)."""
    matched = gitrun.run(
        ["ls-files", "-z", "--others", "--ignored", "--directory", *exclude_args],
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
