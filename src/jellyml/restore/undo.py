"""Undoing an eat: the repository back exactly as it was before, work done since kept."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from ..errors import CorruptHistoryError, GitCommandError, GitLockedError, NotAGitRepoError
from ..gitcore import run as gitrun
from ..gitcore.repo import Repo, TreeEntry, empty_tree, find_repo, short_branch, tree_entries
from . import crash, gitlocks, legacy, savepoint
from .common import (
    check_commits,
    delete_refs,
    existing,
    folder_of,
    history_of,
    history_transaction,
    read_history,
    ref_exists,
    set_state,
)
from .history import EATEN, UNDOING, HistoryItem
from .lock import repo_lock
from .savepoint import SavePoint


@dataclass(frozen=True)
class UndoResult:
    top: str
    nothing_to_undo: bool = False
    model: Optional[str] = None
    #: Where HEAD is again: on a branch (None when detached) at a commit.
    restored_branch: Optional[str] = None
    restored_commit: Optional[str] = None
    restored_dirty: bool = False
    #: Branch keeping work done after the eat (edits or commits), when there was any.
    after_branch: Optional[str] = None
    #: The branch HEAD was on, when it moved since the eat (HEAD is then left detached).
    moved_branch: Optional[str] = None
    was_interrupted: bool = False
    remaining: int = 0
    #: git lock files that the interrupted run left, removed before finishing it.
    removed_locks: tuple[str, ...] = ()


def undo_last(code_dir: Optional[str] = None) -> UndoResult:
    """Put the repository holding ``code_dir`` back as it was before the last eat."""
    gitrun.check_git()
    folder = existing(folder_of(code_dir))
    repo = find_repo(folder)
    if repo is None:
        raise NotAGitRepoError(folder, hint="Run `jellyml undo` inside the repository you ate in.")
    hist = history_of(repo)
    with repo_lock(repo, hist):
        item = read_history(repo).last()
        if item is None and legacy.import_legacy(repo, hist):
            item = read_history(repo).last()
        if item is None:
            return UndoResult(repo.top, nothing_to_undo=True)
        return undo_item(repo, hist, item, up_to_date=True)


def undo_item(repo: Repo, hist: str, item: HistoryItem, *, up_to_date: bool = False) -> UndoResult:
    """Undo ``item``. ``up_to_date``: ``repo`` was just read (HEAD as it is now); otherwise it is
    read again, HEAD may have moved since (an eat rolling itself back)."""
    if item.saved_worktree is None or item.saved_index is None:
        raise CorruptHistoryError(hist, f"item {item.id} records no saved work")
    check_commits(repo, hist, item)
    removed = tuple(gitlocks.remove_stale(repo, item)) if item.state != EATEN else ()
    lock = os.path.join(repo.git_dir, "index.lock")
    if os.path.exists(lock):
        raise GitLockedError(repo.top, lock)
    fresh = repo if up_to_date else find_repo(repo.top)
    if fresh is None:
        raise NotAGitRepoError(
            repo.top, hint="Run `jellyml undo` inside the repository you ate in."
        )
    repo = fresh
    untracked, after = _work_after(repo, item)
    was_interrupted = item.state != EATEN
    set_state(hist, repo, item.id, UNDOING, after_branch=after)
    crash.point("undo:recorded")
    savepoint.remove_untracked(repo, untracked)
    crash.point("undo:untracked-removed")
    savepoint.restore_tree(repo, item.saved_worktree)
    crash.point("undo:worktree-restored")
    savepoint.load_index(repo, item.saved_index)
    moved = _restore_head(repo, item)
    crash.point("undo:head-restored")
    savepoint.refresh_index(repo)
    restored_dirty = _was_dirty(repo, item)
    with history_transaction(repo) as h:
        h.items = [i for i in h.items if i.id != item.id]
        remaining = len(h.items)
    delete_refs(repo, item.ref_prefix)
    if item.legacy_stash is not None:
        legacy.drop_stash(repo, item.legacy_stash)
    return UndoResult(
        top=repo.top,
        model=item.model,
        restored_branch=None if moved else short_branch(item.branch),
        restored_commit=item.head,
        restored_dirty=restored_dirty,
        after_branch=after,
        moved_branch=short_branch(moved),
        was_interrupted=was_interrupted,
        remaining=remaining,
        removed_locks=removed,
    )


def _work_after(repo: Repo, item: HistoryItem) -> tuple[list[bytes], Optional[str]]:
    """Save what the user did after eating and keep it on a branch if there is any; return the
    untracked files to remove and that branch (checks for files in the way included)."""
    if _untouched(repo, item):  # the common case: one `git status` instead of a save point
        # git status does not show ignored files: one made since the eat (a file the
        # snapshot's .gitignore ignores) must not be overwritten by the work put back.
        savepoint.check_ignored_collisions(repo, item.saved_worktree, [])
        crash.point("undo:saved")
        return [], item.after_branch
    # Files ignored before the eat may show as untracked now (the snapshot's .gitignore differs):
    # they were never ours to move, so they stay where they are.
    target_paths = tree_entries(repo, item.saved_worktree)
    untracked = savepoint.list_untracked(repo)
    loose = [p for p in untracked if p not in target_paths]
    keep = savepoint.ignored_by(repo, item.saved_worktree, loose)
    keep |= savepoint.model_stays(repo, item.model, item.saved_worktree)
    current = savepoint.save(repo, "jellyml: work after eating", skip=keep, untracked=untracked)
    savepoint.check_ignored_collisions(repo, item.saved_worktree, current.untracked)
    crash.point("undo:saved")
    return current.untracked, _keep_work_after(repo, item, current)


def _untouched(repo: Repo, item: HistoryItem) -> bool:
    """HEAD is the eaten snapshot commit and nothing at all changed or was added since."""
    if repo.head != item.snapshot_commit or repo.branch is not None:
        return False
    argv = ["status", "--porcelain", "-z", "--untracked-files=all"]
    proc = gitrun.run(argv, cwd=repo.top, check=False)  # a snapshot's .gitmodules may upset it
    return proc.returncode == 0 and proc.stdout == b""


def _keep_work_after(repo: Repo, item: HistoryItem, current: SavePoint) -> Optional[str]:
    """Keep on a new branch whatever the user did after the eat (commits, edits, new files):
    any commit at HEAD or file content that is neither in the snapshot nor in the saved work.
    Returns the branch name, or None when there was nothing of the kind."""
    if current.head == item.snapshot_commit and not current.dirty:
        return item.after_branch  # the snapshot as eaten: nothing was done after eating
    known_commits = {item.head, item.snapshot_commit, item.saved_index, item.saved_worktree}
    known_trees = [item.snapshot_commit, item.saved_index, item.saved_worktree]
    if item.after_branch and ref_exists(repo, f"refs/heads/{item.after_branch}"):
        kept = repo.git("rev-parse", f"refs/heads/{item.after_branch}")
        known_commits.add(kept)
        known_trees += repo.git("rev-list", "--max-count=2", kept).split()
    known: set[tuple[bytes, TreeEntry]] = set()
    for tree in known_trees:
        known |= set(tree_entries(repo, tree).items())
    now = set(tree_entries(repo, current.index).items())
    now |= set(tree_entries(repo, current.worktree).items())
    if not (now - known) and current.head in known_commits:
        return item.after_branch
    if not current.dirty and current.branch not in (None, item.branch):
        return item.after_branch  # committed on a branch the user made: it keeps the work
    tip = current.worktree if current.dirty else current.head
    if tip is None:  # an unborn, clean HEAD: nothing was done after eating
        return item.after_branch
    # JellyML 1.0.0's name for it, so scripts and habits built on 1.0.0 keep working
    # (the item id starts with the date: jellyml-undo-<date>-<time>-<id>).
    name = _free_branch_name(repo, f"jellyml-undo-{item.id}")
    repo.git("update-ref", "-m", "jellyml undo: work done after eating", f"refs/heads/{name}", tip)
    return name


def _free_branch_name(repo: Repo, base: str) -> str:
    name, n = base, 1
    while ref_exists(repo, f"refs/heads/{name}"):
        n += 1
        name = f"{base}-{n}"
    return name


def _restore_head(repo: Repo, item: HistoryItem) -> Optional[str]:
    """Point HEAD where it was. Returns the branch name if that branch moved since the eat: it
    is left where the user put it and HEAD is detached at the old commit instead."""
    if item.branch is not None:
        now = gitrun.run(["rev-parse", "-q", "--verify", item.branch], cwd=repo.top, check=False)
        current = now.stdout.decode().strip() or None
        if current is None or item.head is None or current == item.head:
            if current is None and item.head is not None:
                repo.git("update-ref", item.branch, item.head, "")  # deleted since: recreate
            repo.git("symbolic-ref", "-m", "jellyml undo", "HEAD", item.branch)
            return None
    if item.head is None:  # pragma: no cover - an unborn HEAD is always on a branch
        raise GitCommandError(["symbolic-ref", "HEAD"], 1, "HEAD had no commit and no branch")
    repo.git("update-ref", "--no-deref", "-m", "jellyml undo", "HEAD", item.head)
    return item.branch


def _was_dirty(repo: Repo, item: HistoryItem) -> bool:
    if item.untracked:
        return True
    commits = [c for c in (item.head, item.saved_index, item.saved_worktree) if c is not None]
    trees = repo.git("rev-parse", *(f"{c}^{{tree}}" for c in commits)).split()
    if item.head is None:
        trees.insert(0, empty_tree(repo))
    return len(set(trees)) > 1
