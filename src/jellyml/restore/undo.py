"""Undoing an eat: the repository back exactly as it was before, work done since kept.

What the user did while the snapshot was checked out is theirs too: commits and edits to
tracked files go to a ``jellyml-undo-<date>-<id>`` branch; new files (eval outputs, logs, plots)
stay where they were written, unless one stands where the user's own work goes back: that one
goes to the branch too, and is named.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from ..errors import (
    CorruptHistoryError,
    GitCommandError,
    GitLockedError,
    NotAGitRepoError,
    PathNotFoundError,
    PutAsideMissingError,
    WouldOverwriteIgnoredError,
)
from ..gitcore import run as gitrun
from ..gitcore.repo import (
    Repo,
    TreeEntry,
    empty_tree,
    find_repo,
    object_types,
    short_branch,
    tree_entries,
)
from ..gitcore.status import Status, status
from . import aside, crash, gitlocks, legacy, savepoint
from .branches import UNDO_PREFIX, free_branch_name, undo_branches
from .common import (
    check_no_operation,
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
from .inway import NotTracked, in_the_way
from .lock import repo_lock
from .savepoint import SavePoint

#: How many paths the result names (files kept on the branch, files written meanwhile).
NAMED = 10


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
    #: What of that work is on it: (status letter, path) of files changed since the eat
    #: (the first ``NAMED``), and the files written meanwhile that stood where the user's own
    #: work went back (kept on the branch, removed from the tree).
    after_files: tuple[tuple[str, str], ...] = ()
    in_the_way: tuple[str, ...] = ()
    #: The branch HEAD was on, when it moved since the eat (HEAD is then left detached).
    moved_branch: Optional[str] = None
    was_interrupted: bool = False
    remaining: int = 0
    #: git lock files that the interrupted run left, removed before finishing it.
    removed_locks: tuple[str, ...] = ()
    #: Files and folders brought back from the put-aside folder (how many are folders), and
    #: their bytes.
    came_back: int = 0
    came_back_folders: int = 0
    came_back_size: int = 0
    #: Files written while the snapshot was checked out that stay where they are: how many,
    #: and the first ``NAMED``.
    written: int = 0
    written_names: tuple[str, ...] = ()
    #: The branch ``eat -b`` made, left where it is.
    new_branch: Optional[str] = None
    #: How many ``jellyml-undo-*`` branches the repository has now.
    undo_branches: int = 0
    #: With nothing to undo: the worktrees ``eat --worktree`` made, which ``undo --worktree``
    #: removes.
    worktrees: tuple[str, ...] = ()


def undo_last(code_dir: Optional[str] = None) -> UndoResult:
    """Put the repository holding ``code_dir`` back as it was before the last eat."""
    gitrun.check_git()
    asked = folder_of(code_dir)
    folder = existing(asked)
    repo = find_repo(folder)
    if repo is None and not os.path.lexists(asked):
        raise PathNotFoundError(asked)
    if repo is None:
        raise NotAGitRepoError(folder, hint="Run `jellyml undo` inside the repository you ate in.")
    hist = history_of(repo)
    with repo_lock(repo, hist):
        # HEAD as it is now: another eat or undo may have finished while this one started.
        repo = find_repo(repo.top) or repo
        found = read_history(repo)
        # A folder with a journal and no item: an eat killed before it recorded itself.
        aside.sweep(repo, [i.id for i in found.items])
        item = found.last()
        if item is None and legacy.import_legacy(repo, hist):
            item = read_history(repo).last()
        if item is None:
            return UndoResult(repo.top, nothing_to_undo=True)
        return undo_item(repo, hist, item, up_to_date=True)


@dataclass(frozen=True)
class _After:
    """What was done after the eat, as undo handles it."""

    #: What must leave the tree before the user's work goes back (kept on the branch).
    in_the_way: list[bytes]
    branch: Optional[str]
    files: list[tuple[str, str]]
    #: Untracked and ignored paths that stay (candidates for "written meanwhile").
    staying: list[bytes]


def undo_item(repo: Repo, hist: str, item: HistoryItem, *, up_to_date: bool = False) -> UndoResult:
    """Undo ``item``. ``up_to_date``: ``repo`` was just read (HEAD as it is now); otherwise it is
    read again, HEAD may have moved since (an eat rolling itself back)."""
    if item.saved_worktree is None or item.saved_index is None:
        raise CorruptHistoryError(hist, f"item {item.id} records no saved work")
    trees, branch_tip = _check_commits(repo, hist, item)
    removed = tuple(gitlocks.remove_stale(repo, item)) if item.state != EATEN else ()
    lock = os.path.join(repo.git_dir, "index.lock")
    if os.path.exists(lock):
        raise GitLockedError(repo.top, lock)
    repo = repo if up_to_date else _read_again(repo)
    entries = _put_aside(repo, item)
    check_no_operation(repo)  # a bisect, rebase or merge started after the eat
    current = status(repo, untracked="normal")
    after = _work_after(repo, item, current, entries)
    set_state(hist, repo, item.id, UNDOING, after_branch=after.branch)
    crash.point("undo:recorded")
    _remove(repo, after.in_the_way)
    crash.point("undo:untracked-removed")
    savepoint.restore_tree(repo, item.saved_worktree)
    crash.point("undo:worktree-restored")
    back = aside.move_back(repo, item.id, entries, lambda: crash.point("undo:moving"))
    savepoint.load_index(repo, item.saved_index)
    moved = _restore_head(repo, item, branch_tip)
    _drop_unfinished_branch(repo, item)
    crash.point("undo:head-restored")
    with history_transaction(repo) as h:
        h.items = [i for i in h.items if i.id != item.id]
        remaining = len(h.items)
    delete_refs(repo, item.ref_prefix)
    aside.remove(repo, item.id)
    if item.legacy_stash is not None:
        legacy.drop_stash(repo, item.legacy_stash)
    written = _written_meanwhile(repo, item, after.staying)
    return UndoResult(
        top=repo.top,
        model=item.model,
        restored_branch=None if moved else short_branch(item.branch),
        restored_commit=item.head,
        restored_dirty=bool(item.untracked) or len(set(trees)) > 1,
        after_branch=after.branch,
        after_files=tuple(after.files[:NAMED]),
        in_the_way=tuple(os.fsdecode(p) for p in after.in_the_way),
        moved_branch=short_branch(moved),
        was_interrupted=item.state != EATEN,
        remaining=remaining,
        removed_locks=removed,
        came_back=back[0],
        came_back_folders=sum(1 for e in entries if e.kind == "folder"),
        came_back_size=back[1],
        written=len(written),
        written_names=tuple(written[:NAMED]),
        new_branch=item.new_branch if item.state == EATEN else None,
        undo_branches=len(undo_branches(repo)),
    )


def _drop_unfinished_branch(repo: Repo, item: HistoryItem) -> None:
    """The branch ``eat -b`` made is the user's once the eat finished; an eat that did not
    finish (rolled back, or killed) takes it back, if it is still at the snapshot commit."""
    if item.new_branch is None or item.state == EATEN:
        return
    ref = f"refs/heads/{item.new_branch}"
    gitrun.run(["update-ref", "-d", ref, item.snapshot_commit], cwd=repo.top, check=False)


def _read_again(repo: Repo) -> Repo:
    fresh = find_repo(repo.top)
    if fresh is None:
        raise NotAGitRepoError(
            repo.top, hint="Run `jellyml undo` inside the repository you ate in."
        )
    return fresh


def _check_commits(repo: Repo, hist: str, item: HistoryItem) -> tuple[list[str], Optional[str]]:
    """The commits an item names must be in the repository. One ``cat-file`` checks them and
    answers the rest: the trees of HEAD as it was (the empty tree when it had no commit), of
    the saved index and of the saved working tree, and where the item's branch is now (None
    when it was deleted since, or when HEAD was detached)."""
    wanted = [c for c in (item.head, item.saved_index, item.saved_worktree) if c is not None]
    questions = [*wanted, *(f"{c}^{{tree}}" for c in wanted), item.branch or "HEAD"]
    answers = object_types(questions, cwd=repo.top)
    for commit, (_oid, kind) in zip(wanted, answers):
        if kind != "commit":
            raise CorruptHistoryError(
                hist, f"item {item.id} names commit {commit[:12]}, which is not in {repo.top}"
            )
    trees = [oid for oid, _kind in answers[len(wanted) : 2 * len(wanted)]]
    if item.head is None:
        trees.insert(0, empty_tree(repo))
    tip, kind = answers[-1]
    branch_tip = tip if item.branch is not None and kind == "commit" else None
    return trees, branch_tip


def _put_aside(repo: Repo, item: HistoryItem) -> list[aside.Entry]:
    """The entries the item's eat put aside; ``PutAsideMissingError`` (nothing changed) when
    any of them is nowhere to be found (its folder removed by hand)."""
    if not item.aside:
        return []
    entries = aside.read_journal(repo, item.id, item.aside)
    lost = aside.missing(repo, item.id, entries, all_aside=item.state == EATEN)
    if lost:
        raise PutAsideMissingError(repo.top, aside.folder(repo, item.id), lost, len(entries))
    return entries


def _work_after(
    repo: Repo, item: HistoryItem, current: Status, entries: list[aside.Entry]
) -> _After:
    """What the user did after eating: commits and changes to tracked files, and what git does
    not track that stands where their work goes back. Saved and kept on a branch when there is
    any; what must leave the tree for the work to come back is returned."""
    staying = [*current.untracked, *current.ignored]
    way = _in_the_way(repo, item, current, entries) if staying else []
    landed = None if item.new_branch is None else f"refs/heads/{item.new_branch}"
    untouched = repo.head == item.snapshot_commit and repo.branch in (None, landed)
    if untouched and not current.tracked_changes and not way:  # the common case
        crash.point("undo:saved")
        return _After([], item.after_branch, [], staying)
    current_save = savepoint.save(repo, "jellyml: work after eating", current, extra=way)
    crash.point("undo:saved")
    branch, files = _keep_work_after(repo, item, current_save)
    kept = set(way)
    files = [(letter, path) for letter, path in files if os.fsencode(path) not in kept]
    return _After(way, branch, files, [p for p in staying if p.rstrip(b"/") not in kept])


def _in_the_way(
    repo: Repo, item: HistoryItem, current: Status, entries: list[aside.Entry]
) -> list[bytes]:
    """What git does not track (per the snapshot's own ignore rules: every such path counts)
    at a path of the user's work: their tracked files, and what eat put aside. A file made
    since goes to the branch; a nested repository or special file cannot: refused."""
    targets = {path: mode for path, (mode, _oid) in tree_entries(repo, item.saved_worktree).items()}
    top = os.fsencode(repo.top)
    back = set()
    for entry in entries:
        targets[entry.path] = "aside"
        if aside.missing(repo, item.id, [entry], all_aside=True):
            back.add(entry.path)  # moved back already, by an undo that was killed
    found = in_the_way(top, targets, NotTracked.of(current), skip=back)
    unkeepable = [
        os.fsdecode(p)
        for p in found
        if not os.path.islink(os.path.join(top, p))
        and (os.path.lexists(os.path.join(top, p, b".git")) or not _regular_or_folder(top, p))
    ]
    if unkeepable:
        raise WouldOverwriteIgnoredError(repo.top, unkeepable)
    return found


def _regular_or_folder(top: bytes, path: bytes) -> bool:
    full = os.path.join(top, path)
    return os.path.isfile(full) or os.path.isdir(full)


def _remove(repo: Repo, paths: Sequence[bytes]) -> None:
    """Remove what stood in the way (it is on the branch now)."""
    top = os.fsencode(repo.top)
    for path in paths:
        full = os.path.join(top, path)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)


def _keep_work_after(
    repo: Repo, item: HistoryItem, current: SavePoint
) -> tuple[Optional[str], list[tuple[str, str]]]:
    """Keep on a new branch whatever the user did after the eat (commits, edits, files in the
    way): any commit at HEAD or file content that is neither in the snapshot nor in the saved
    work. Returns the branch name (None when there was nothing of the kind) and the files."""
    if current.head == item.snapshot_commit and not current.dirty:
        return item.after_branch, []  # the snapshot as eaten: nothing was done after eating
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
    new = sorted({path for path, _entry in now - known})
    if not new and current.head in known_commits:
        return item.after_branch, []
    if not current.dirty and current.branch not in (None, item.branch):
        return item.after_branch, []  # committed on a branch the user made: it keeps the work
    tip = current.worktree if current.dirty else current.head
    if tip is None:  # an unborn, clean HEAD: nothing was done after eating
        return item.after_branch, []
    # JellyML 1.0.0's name for it, so scripts and habits built on 1.0.0 keep working
    # (the item id starts with the date: jellyml-undo-<date>-<time>-<id>).
    name = free_branch_name(repo, f"{UNDO_PREFIX}{item.id}")
    repo.git("update-ref", "-m", "jellyml undo: work done after eating", f"refs/heads/{name}", tip)
    snapshot_files = tree_entries(repo, item.snapshot_commit)
    files = [("M" if p in snapshot_files else "A", p.decode("utf-8", "replace")) for p in new]
    return name, files


def _restore_head(repo: Repo, item: HistoryItem, branch_tip: Optional[str]) -> Optional[str]:
    """Point HEAD where it was. ``branch_tip``: where the item's branch is now (None: deleted).
    Returns the branch name if that branch moved since the eat: it is left where the user put
    it and HEAD is detached at the old commit instead."""
    unmoved = branch_tip is None or item.head is None or branch_tip == item.head
    if item.branch is not None and unmoved:
        if branch_tip is None and item.head is not None:
            repo.git("update-ref", item.branch, item.head, "")  # deleted since: recreate
        repo.git("symbolic-ref", "-m", "jellyml undo", "HEAD", item.branch)
        return None
    if item.head is None:  # pragma: no cover - an unborn HEAD is always on a branch
        raise GitCommandError(["symbolic-ref", "HEAD"], 1, "HEAD had no commit and no branch")
    repo.git("update-ref", "--no-deref", "-m", "jellyml undo", "HEAD", item.head)
    return item.branch


def _written_meanwhile(repo: Repo, item: HistoryItem, staying: list[bytes]) -> list[str]:
    """Of the untracked and ignored paths that stayed, those written (changed) since the eat
    began: the user's outputs, where they are."""
    if not staying:
        return []
    import datetime  # only when there is something to look at

    try:
        started = datetime.datetime.fromisoformat(item.created_at).timestamp()
    except ValueError:
        return []
    top = os.fsencode(repo.top)
    found = []
    for path in sorted(staying):
        try:
            changed = os.lstat(os.path.join(top, path.rstrip(b"/"))).st_ctime
        except OSError:
            continue
        if changed >= started:
            found.append(path.decode("utf-8", "replace"))
    return found
