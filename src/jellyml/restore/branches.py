"""Branches jellyml makes: the ``jellyml-undo-*`` branches that keep work done after eating, the
branch ``eat -b NAME`` lands on, and ``jellyml fix clean-undo-branches``.

An undo branch is deleted only when every commit it holds is reachable from another branch:
then deleting it loses nothing. One that holds anything of its own is listed, never deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from ..errors import BranchNameError
from ..gitcore import run as gitrun
from ..gitcore.repo import Repo
from .common import ref_exists, require_repo

#: The prefix of every branch undo makes (JellyML 1.0.0's name for them).
UNDO_PREFIX = "jellyml-undo-"
#: The undo message suggests ``clean-undo-branches`` above this many undo branches.
FEW = 5


@dataclass(frozen=True)
class UndoBranch:
    name: str
    commit: str
    #: When its last commit was made (seconds since the epoch, and ISO 8601).
    timestamp: int
    date: str


def undo_branches(repo: Repo) -> list[UndoBranch]:
    """The ``jellyml-undo-*`` branches, newest first (by the date of their last commit)."""
    fmt = "%(refname:strip=2)%00%(objectname)%00%(committerdate:unix)%00%(committerdate:iso-strict)"
    raw = repo.git_bytes("for-each-ref", f"--format={fmt}", f"refs/heads/{UNDO_PREFIX}*")
    found = []
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        fields = line.split("\0")
        if len(fields) == 4 and fields[2].lstrip("-").isdigit():
            found.append(UndoBranch(fields[0], fields[1], int(fields[2]), fields[3]))
    return sorted(found, key=lambda b: (-b.timestamp, b.name))


def free_branch_name(repo: Repo, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... : the first name no branch has."""
    name, n = base, 1
    while ref_exists(repo, f"refs/heads/{name}"):
        n += 1
        name = f"{base}-{n}"
    return name


def check_new_branch(repo: Repo, name: str) -> None:
    """Refuse (``BranchNameError``, nothing changed) a name git would not take for a new
    branch, or one that exists."""
    proc = gitrun.run(["check-ref-format", "--branch", name], cwd=repo.top, check=False)
    shown = proc.stdout.decode("utf-8", "replace").strip()
    # --branch expands @{-1} and the like: only a name that is its own expansion is taken.
    if name.startswith("-") or proc.returncode != 0 or shown != name:
        raise BranchNameError(name, "is not a valid branch name")
    if ref_exists(repo, f"refs/heads/{name}"):
        raise BranchNameError(name, "already exists")


@dataclass(frozen=True)
class CleanResult:
    top: str
    dry_run: bool
    #: Deleted (or, with ``dry_run``, to delete): every commit is on another branch.
    deleted: tuple[UndoBranch, ...] = ()
    #: Kept: (branch, why), the commits of its own it holds or that it is checked out.
    kept: tuple[tuple[UndoBranch, str], ...] = ()
    #: Left alone by ``older_than``.
    recent: int = 0


def clean_undo_branches(
    code_dir: Optional[str] = None, *, older_than: Optional[float] = None, dry_run: bool = False
) -> CleanResult:
    """Delete the undo branches that hold nothing not reachable from another branch (only
    those whose last commit is over ``older_than`` days old, when given)."""
    repo = require_repo(code_dir)
    branches = undo_branches(repo)
    cutoff = None if older_than is None else time.time() - older_than * 86400
    old = [b for b in branches if cutoff is None or b.timestamp < cutoff]
    checked_out = _checked_out(repo)
    deleted: list[UndoBranch] = []
    kept = []
    for branch in old:
        why = _why_kept(repo, branch, checked_out, [b.name for b in deleted])
        if why:
            kept.append((branch, why))
            continue
        if not dry_run:
            # Deleted only if it still points where it was looked at (old value given).
            repo.git("update-ref", "-d", f"refs/heads/{branch.name}", branch.commit)
        deleted.append(branch)
    return CleanResult(repo.top, dry_run, tuple(deleted), tuple(kept), len(branches) - len(old))


def _why_kept(repo: Repo, branch: UndoBranch, checked_out: set[str], gone: list[str]) -> str:
    """'' when every commit of ``branch`` is on another branch (not one of those ``gone``,
    deleted before it: two branches at one commit must not each count on the other); else
    why it stays."""
    if branch.name in checked_out:
        return "checked out in a worktree"
    ref = f"refs/heads/{branch.name}"
    # Commits it reaches that no other branch reaches (branch names hold no glob characters).
    excluded = [f"--exclude={name}" for name in (branch.name, *gone)]
    argv = ["rev-list", "--count", ref, "--not", *excluded, "--branches"]
    unique = int(repo.git(*argv) or "0")
    if unique:
        return f"{unique} commit{'s' if unique != 1 else ''} on no other branch"
    return ""


def _checked_out(repo: Repo) -> set[str]:
    """The branches some worktree of the repository has checked out."""
    raw = repo.git_bytes("worktree", "list", "--porcelain")
    prefix = b"branch refs/heads/"
    return {
        line[len(prefix) :].decode("utf-8", "surrogateescape")
        for line in raw.splitlines()
        if line.startswith(prefix)
    }
