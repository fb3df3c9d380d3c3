"""Eating a snapshot: checking its code out, without ever losing the user's work.

Every step that changes the repository is preceded by a record from which ``undo`` can finish or
reverse it: the user's work is first saved as commits (``savepoint``) and kept alive by refs under
``refs/jellyml/<id>/`` (so ``git gc`` never prunes it), then the intent is written to the history,
then the tree changes, then the history item is completed. A ``kill -9`` anywhere leaves either
nothing changed or a history item that ``jellyml undo`` finishes from.
"""

from __future__ import annotations

import datetime
import os
import secrets
from dataclasses import dataclass
from typing import Optional

from ..errors import (
    CorruptSnapshotError,
    DirectoryNotEmptyError,
    InterruptedOperationError,
    JellyMLError,
    MissingFolderInRepoError,
    NotAFolderError,
    OperationInProgressError,
)
from ..gitcore import run as gitrun
from ..gitcore.bundle import bundle_heads
from ..gitcore.repo import Repo, find_repo, short_branch, tree_entries
from ..read.reader import Snapshot, temporary_bundle
from . import crash, history, savepoint
from . import shallow as shallow_eat  # issue 9: shallow snapshots
from .common import delete_refs, existing, folder_of, history_of, set_state
from .history import EATEN, EATING, HistoryItem
from .lock import repo_lock
from .savepoint import SavePoint

#: Files in the git dir that mean an operation is half done; checking out would upset it.
_IN_PROGRESS = (
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase or am"),
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


@dataclass(frozen=True)
class EatResult:
    model: str
    top: str
    commit: str
    cloned: bool
    #: Files that differ between what the user had (untracked included) and the snapshot.
    files_changed: int = 0
    #: Where HEAD was: on a branch (its short name) and/or at a commit (None: no commits yet).
    previous_branch: Optional[str] = None
    previous_commit: Optional[str] = None
    #: The commit holding the user's uncommitted work, when there was any.
    saved: Optional[str] = None
    saved_ref: Optional[str] = None
    untracked_saved: int = 0
    depth: int = 0
    #: A shallow snapshot whose real commit could not be rebuilt here: what to fetch (issue 9).
    history_note: Optional[str] = None


def eat_snapshot(model: str, code_dir: Optional[str] = None) -> EatResult:
    """Check out the code saved in ``model`` into the repository holding ``code_dir``.

    In a repository the user's uncommitted work is saved first (``undo_last`` brings it back);
    a folder that is not in one is cloned into when it is empty or missing.
    """
    gitrun.check_git()
    folder = folder_of(code_dir)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotAFolderError(folder)
    with temporary_bundle(model) as (snapshot, bundle):
        tip = _check_heads(model, bundle, shallow_eat.expected_bundle_commit(snapshot))
        repo = find_repo(folder) if os.path.isdir(folder) else None
        if repo is None:
            _refuse_new_folder_in_repo(folder)
            return shallow_eat.annotate(_clone(model, bundle, folder), snapshot)
        with repo_lock(repo, history_of(repo)):
            return shallow_eat.annotate(_eat_into(repo, model, bundle, tip, snapshot), snapshot)


def _check_heads(model: str, bundle: str, commit: Optional[str]) -> str:
    """The bundle must be complete and hold the commit its header names (files from JellyML
    1.0.0 name none), before anything is touched. Returns the ref to fetch."""
    heads = bundle_heads(bundle)
    if not heads:
        raise CorruptSnapshotError(model, "its git bundle cannot be read")
    if commit is not None and commit not in (oid for oid, _name in heads):
        raise CorruptSnapshotError(model, f"its bundle does not hold commit {commit[:12]}")
    return heads[0][1]


def _refuse_new_folder_in_repo(folder: str) -> None:
    """A missing folder inside a repository is most likely a typo, not a wish for a nested
    repository: refuse it."""
    parent = existing(folder)
    if parent != folder:
        outer = find_repo(parent)
        if outer is not None:
            raise MissingFolderInRepoError(folder, outer.top)


def _clone(model: str, bundle: str, folder: str) -> EatResult:
    if os.path.isdir(folder) and os.listdir(folder):
        raise DirectoryNotEmptyError(folder)
    gitrun.run(["-c", "advice.detachedHead=false", "clone", "-q", bundle, folder])
    # The bundle was a temporary file: a remote pointing at it would only confuse.
    gitrun.run(["remote", "remove", "origin"], cwd=folder, check=False)
    commit = gitrun.out(["rev-parse", "HEAD"], cwd=folder)
    files = gitrun.run(["ls-files", "-z"], cwd=folder).stdout
    return EatResult(model, folder, commit, cloned=True, files_changed=len(gitrun.split_z(files)))


def _eat_into(repo: Repo, model: str, bundle: str, tip: str, snapshot: Snapshot) -> EatResult:
    hist = history_of(repo)
    pending = history.read(hist, repo.top).last()
    if pending is not None and pending.state != EATEN:
        raise InterruptedOperationError(repo.top, pending.state)
    for name, operation in _IN_PROGRESS:
        if os.path.exists(os.path.join(repo.git_dir, name)):
            raise OperationInProgressError(repo.top, operation)
    item_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    prefix = f"refs/jellyml/{item_id}"
    commit = _fetch(repo, bundle, tip, f"{prefix}/snapshot")
    # issue 9: a shallow snapshot's real commit, rebuilt on its base when the repo has it
    commit = shallow_eat.resolve_snapshot_commit(repo, snapshot, commit, f"{prefix}/snapshot")
    try:
        stay = model_stays(repo, model, commit)
        saved = savepoint.save(repo, f"jellyml: before eating {os.path.basename(model)}", skip=stay)
        savepoint.check_ignored_collisions(repo, commit, saved.untracked)
        crash.point("eat:saved")
        repo.git("update-ref", f"{prefix}/saved", saved.worktree)
    except BaseException:
        delete_refs(repo, prefix)
        raise
    item = _new_item(item_id, prefix, model, commit, saved)
    with history.transaction(hist, repo.top) as h:
        h.items.append(item)
        depth = len(h.items)
    try:
        crash.point("eat:recorded")
        savepoint.remove_untracked(repo, saved.untracked)
        crash.point("eat:untracked-removed")
        savepoint.checkout_detached(repo, commit)
        crash.point("eat:checked-out")
        set_state(hist, repo, item.id, EATEN)
    except BaseException as exc:
        _roll_back(repo, hist, item, exc)
        raise
    return EatResult(
        model=model,
        top=repo.top,
        commit=commit,
        cloned=False,
        files_changed=_count_changed(repo, saved.worktree, commit),
        previous_branch=short_branch(saved.branch),
        previous_commit=saved.head,
        saved=saved.worktree if saved.dirty else None,
        saved_ref=f"{prefix}/saved",
        untracked_saved=len(saved.untracked),
        depth=depth,
    )


def model_stays(repo: Repo, model: str, target: str) -> frozenset[bytes]:
    """The model file itself, when it lies untracked in the repository: it stays where it is
    (a checkpoint can be gigabytes: no point copying it into git), unless ``target`` has a file
    at its path, in which case it is put aside like any other file."""
    rel = os.path.relpath(os.path.realpath(model), os.path.realpath(repo.top))
    if rel.startswith(os.pardir) or os.path.isabs(rel):
        return frozenset()
    path = os.fsencode(rel.replace(os.sep, "/"))
    return frozenset() if path in tree_entries(repo, target) else frozenset({path})


def _new_item(item_id: str, prefix: str, model: str, commit: str, saved: SavePoint) -> HistoryItem:
    return HistoryItem(
        id=item_id,
        state=EATING,
        model=os.path.abspath(model),
        snapshot_commit=commit,
        branch=saved.branch,
        head=saved.head,
        saved_index=saved.index,
        saved_worktree=saved.worktree,
        ref_prefix=prefix,
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        untracked=[os.fsdecode(p) for p in saved.untracked],
    )


def _fetch(repo: Repo, bundle: str, source: str, ref: str) -> str:
    """Fetch the bundle's ``source`` ref (its snapshot commit) into ``ref`` (kept from gc);
    return its id."""
    no_fetch_head = ["--no-write-fetch-head"] if gitrun.git_version() >= (2, 29) else []
    repo.git("fetch", "-q", "--no-tags", *no_fetch_head, bundle, f"+{source}:{ref}")
    return repo.git("rev-parse", f"{ref}^{{commit}}")


def _roll_back(repo: Repo, hist: str, item: HistoryItem, cause: BaseException) -> None:
    """An eat failed midway (git error, Ctrl-C): put the user's work back at once."""
    try:
        from .undo import undo_item  # undo imports nothing of eat

        undo_item(repo, hist, item)
    except Exception as again:  # the item stays: `jellyml undo` finishes the job
        if isinstance(cause, JellyMLError):
            cause.hint = (
                f"Putting your work back failed too ({again}); run `jellyml undo` to finish."
            )


def _count_changed(repo: Repo, old: str, new: str) -> int:
    out = gitrun.run(["diff-tree", "-r", "-z", "--name-only", old, new], cwd=repo.top).stdout
    return len(gitrun.split_z(out))
