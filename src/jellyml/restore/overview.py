"""``jellyml status``: what jellyml has done in a repository and not undone yet.

Read only: the history (the active eats of this worktree, the worktrees ``eat --worktree``
made, kept in the main worktree's history), the put-aside folders' sizes and the
``jellyml-undo-*`` branches. Nothing is written, not even the repository's identity.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Optional

from ..gitcore.repo import Repo, short_branch
from . import aside
from .branches import FEW, undo_branches
from .common import read_history, require_repo, shared
from .history import EATEN, HistoryItem, WorktreeRecord


@dataclass(frozen=True)
class ActiveEat:
    model: str
    #: The snapshot commit checked out, and when the eat began (ISO 8601, UTC).
    commit: str
    created_at: str
    #: ``eaten``; ``eating`` or ``undoing`` when a run was interrupted (undo finishes it).
    state: str
    #: Where the user was: a branch (short name) and/or a commit.
    previous_branch: Optional[str]
    previous_commit: Optional[str]
    #: The user's changes to tracked files were saved (in ``saved_commit``).
    saved_changes: bool
    saved_commit: Optional[str]
    #: Files and folders moved into the put-aside folder, and their bytes now.
    put_aside: int
    put_aside_size: int
    #: The branch ``eat -b`` made, if any.
    new_branch: Optional[str]


@dataclass(frozen=True)
class MadeWorktree:
    path: str
    model: str
    commit: str
    created_at: str
    state: str
    #: The folder is still there (a worktree deleted by hand is still recorded).
    exists: bool
    branch: Optional[str]


@dataclass(frozen=True)
class UndoBranchInfo:
    name: str
    commit: str
    #: The date of its last commit (ISO 8601).
    date: str


@dataclass(frozen=True)
class Overview:
    top: str
    #: Newest first.
    eats: tuple[ActiveEat, ...]
    worktrees: tuple[MadeWorktree, ...]
    undo_branches: tuple[UndoBranchInfo, ...]
    #: The one command to run next (None: nothing to do).
    next_command: Optional[str]

    @property
    def nothing(self) -> bool:
        return not (self.eats or self.worktrees or self.undo_branches)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_active": self.nothing}


def overview(code_dir: Optional[str] = None) -> Overview:
    """What jellyml has done in the repository holding ``code_dir``."""
    repo = require_repo(code_dir)
    items = read_history(repo).items
    records = read_history(shared(repo)).worktrees
    eats = tuple(_eat(repo, item) for item in reversed(items))
    worktrees = tuple(_worktree(r) for r in sorted(records, key=lambda r: r.id, reverse=True))
    branches = tuple(UndoBranchInfo(b.name, b.commit, b.date) for b in undo_branches(repo))
    return Overview(
        repo.top, eats, worktrees, branches, _next_command(code_dir, eats, worktrees, branches)
    )


def _eat(repo: Repo, item: HistoryItem) -> ActiveEat:
    saved = item.saved_worktree is not None and item.saved_worktree != item.head
    return ActiveEat(
        model=item.model,
        commit=item.snapshot_commit,
        created_at=item.created_at,
        state=item.state,
        previous_branch=short_branch(item.branch),
        previous_commit=item.head,
        saved_changes=saved,
        saved_commit=item.saved_worktree if saved else None,
        put_aside=item.aside,
        put_aside_size=aside.stored_size(repo, item.id) if item.aside else 0,
        new_branch=item.new_branch,
    )


def _worktree(record: WorktreeRecord) -> MadeWorktree:
    return MadeWorktree(
        path=record.path,
        model=record.model,
        commit=record.commit,
        created_at=record.created_at,
        state=record.state,
        exists=os.path.isdir(record.path),
        branch=record.branch,
    )


def _next_command(
    code_dir: Optional[str],
    eats: tuple[ActiveEat, ...],
    worktrees: tuple[MadeWorktree, ...],
    branches: tuple[UndoBranchInfo, ...],
) -> Optional[str]:
    where = f" -c {_quoted(code_dir)}" if code_dir else ""
    if eats:
        return f"jellyml undo{where}"
    if worktrees:
        return f"jellyml undo --worktree {_quoted(worktrees[0].path)}{where}"
    if len(branches) > FEW:
        return f"jellyml fix clean-undo-branches{where}"
    return None


def _quoted(path: str) -> str:
    import shlex

    return shlex.quote(path)


def interrupted(found: Overview) -> bool:
    """Whether the newest eat was interrupted (``jellyml undo`` finishes it)."""
    return bool(found.eats) and found.eats[0].state != EATEN
