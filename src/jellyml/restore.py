"""Eating a snapshot (checking its code out) and undoing it, without ever losing the user's work.

Every step that changes the repository is preceded by a record from which ``undo`` can finish or
reverse it: the user's work is first saved as commits (``savepoint``) and kept alive by refs under
``refs/jellyml/<id>/`` (so ``git gc`` never prunes it), then the intent is written to the history,
then the tree changes, then the history item is completed. A ``kill -9`` anywhere leaves either
nothing changed or a history item that ``jellyml undo`` finishes from.

Set ``JELLYML_TEST_KILL_AT=<step>`` (one of ``KILL_POINTS``) and the process kills itself with
SIGKILL at that step: the crash tests use it.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from . import gitcmd, history, legacy_history, savepoint
from .errors import (
    CorruptSnapshotError,
    GitCommandError,
    JellyMLError,
    NotAFolderError,
    NotAGitRepoError,
)
from .history import EATEN, EATING, UNDOING, HistoryItem
from .reader import temporary_bundle
from .savepoint import Repo, SavePoint

KILL_ENV = "JELLYML_TEST_KILL_AT"
INTERRUPT_ENV = "JELLYML_TEST_INTERRUPT_AT"
KILL_POINTS = (
    "eat:saved",
    "eat:recorded",
    "eat:untracked-removed",
    "eat:checked-out",
    "undo:saved",
    "undo:recorded",
    "undo:untracked-removed",
    "undo:worktree-restored",
    "undo:head-restored",
)


class RepoBusyError(JellyMLError, RuntimeError):
    def __init__(self, top: str) -> None:
        self.path = top
        super().__init__(
            f"Another jellyml is changing {top} right now.",
            hint="Wait for it to finish and try again; nothing was changed.",
        )


class InterruptedOperationError(JellyMLError, RuntimeError):
    def __init__(self, top: str, state: str) -> None:
        self.path = top
        self.state = state
        what = "eat" if state == EATING else "undo"
        super().__init__(
            f"The last jellyml {what} in {top} was interrupted before it finished.",
            hint="Run `jellyml undo` to put your work back first; nothing was changed.",
        )


class DirectoryNotEmptyError(JellyMLError, ValueError):
    def __init__(self, folder: str) -> None:
        self.path = folder
        super().__init__(
            f"{folder} is not a git repository and is not empty.",
            hint="Eat into a git repository, an empty folder or a new one; nothing was changed.",
        )


class MissingFolderInRepoError(JellyMLError, FileNotFoundError):
    def __init__(self, folder: str, top: str) -> None:
        self.path = folder
        super().__init__(
            f"{folder} does not exist, and would be a new repository inside {top}.",
            hint=f"Pass -c {top} to eat into that repository, or a folder outside it to clone "
            "into; nothing was changed.",
        )


class OperationInProgressError(JellyMLError, RuntimeError):
    def __init__(self, top: str, operation: str) -> None:
        self.path = top
        self.operation = operation
        super().__init__(
            f"{top} is in the middle of a {operation}.",
            hint=f"Finish or abort the {operation} first; nothing was changed.",
        )


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


def killpoint(step: str) -> None:
    """SIGKILL this process at ``step`` when the crash tests ask for it (or, with
    ``JELLYML_TEST_INTERRUPT_AT``, raise KeyboardInterrupt there as Ctrl-C would)."""
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    if os.environ.get(INTERRUPT_ENV) == step:
        raise KeyboardInterrupt


def _folder(code_dir: Optional[str]) -> str:
    return os.path.abspath(os.path.expanduser(code_dir if code_dir else os.getcwd()))


@contextlib.contextmanager
def repo_lock(repo: Repo) -> Iterator[None]:
    """One eat or undo per repository at a time; a second one stops at once. The lock lives
    beside the history file (not in .git), and dies with its process, so a crash never leaves
    a stale lock behind."""
    path = history.history_path(repo.git_dir) + ".busy"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not history.try_lock(fd):
            raise RepoBusyError(repo.top)
        yield
    finally:
        os.close(fd)


def eat_snapshot(model: str, code_dir: Optional[str] = None) -> EatResult:
    """Check out the code saved in ``model`` into the repository holding ``code_dir``.

    In a repository the user's uncommitted work is saved first (``undo_last`` brings it back);
    a folder that is not in one is cloned into when it is empty or missing.
    """
    gitcmd.check_git()
    folder = _folder(code_dir)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotAFolderError(folder)
    with temporary_bundle(model) as (snapshot, bundle):
        tip = _check_heads(model, bundle, snapshot.commit)
        repo = savepoint.find_repo(folder) if os.path.isdir(folder) else None
        if repo is None:
            _refuse_new_folder_in_repo(folder)
            return _clone(model, bundle, folder)
        with repo_lock(repo):
            return _eat_into(repo, model, bundle, tip)


def _check_heads(model: str, bundle: str, commit: Optional[str]) -> str:
    """The bundle must be complete and hold the commit its header names (files from JellyML
    1.0.0 name none), before anything is touched. Returns the ref to fetch."""
    heads = gitcmd.bundle_heads(bundle)
    if not heads:
        raise CorruptSnapshotError(model, "its git bundle cannot be read")
    if commit is not None and commit not in (oid for oid, _name in heads):
        raise CorruptSnapshotError(model, f"its bundle does not hold commit {commit[:12]}")
    return heads[0][1]


def _refuse_new_folder_in_repo(folder: str) -> None:
    """A missing folder inside a repository is most likely a typo, not a wish for a nested
    repository: refuse it."""
    parent = _existing(folder)
    if parent != folder:
        outer = savepoint.find_repo(parent)
        if outer is not None:
            raise MissingFolderInRepoError(folder, outer.top)


def _clone(model: str, bundle: str, folder: str) -> EatResult:
    if os.path.isdir(folder) and os.listdir(folder):
        raise DirectoryNotEmptyError(folder)
    gitcmd.run(["-c", "advice.detachedHead=false", "clone", "-q", bundle, folder])
    # The bundle was a temporary file: a remote pointing at it would only confuse.
    gitcmd.run(["remote", "remove", "origin"], cwd=folder, check=False)
    commit = gitcmd.out(["rev-parse", "HEAD"], cwd=folder)
    files = gitcmd.run(["ls-files", "-z"], cwd=folder).stdout
    return EatResult(model, folder, commit, cloned=True, files_changed=len(gitcmd.split_z(files)))


def _eat_into(repo: Repo, model: str, bundle: str, tip: str) -> EatResult:
    hist = history.history_path(repo.git_dir)
    pending = history.read(hist, repo.top).last()
    if pending is not None and pending.state != EATEN:
        raise InterruptedOperationError(repo.top, pending.state)
    for name, operation in _IN_PROGRESS:
        if os.path.exists(os.path.join(repo.git_dir, name)):
            raise OperationInProgressError(repo.top, operation)
    item_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    prefix = f"refs/jellyml/{item_id}"
    commit = _fetch(repo, bundle, tip, f"{prefix}/snapshot")
    try:
        stay = _model_stays(repo, model, commit)
        saved = savepoint.save(repo, f"jellyml: before eating {os.path.basename(model)}", skip=stay)
        savepoint.check_ignored_collisions(repo, commit, saved.untracked)
        killpoint("eat:saved")
        repo.git("update-ref", f"{prefix}/saved", saved.worktree)
    except BaseException:
        _delete_refs(repo, prefix)
        raise
    item = _new_item(item_id, prefix, model, commit, saved)
    with history.transaction(hist, repo.top) as h:
        h.items.append(item)
        depth = len(h.items)
    try:
        killpoint("eat:recorded")
        savepoint.remove_untracked(repo, saved.untracked)
        killpoint("eat:untracked-removed")
        savepoint.checkout_detached(repo, commit)
        killpoint("eat:checked-out")
        _set_state(hist, repo, item.id, EATEN)
    except BaseException as exc:
        _roll_back(repo, hist, item, exc)
        raise
    return EatResult(
        model=model,
        top=repo.top,
        commit=commit,
        cloned=False,
        files_changed=_count_changed(repo, saved.worktree, commit),
        previous_branch=_short_branch(saved.branch),
        previous_commit=saved.head,
        saved=saved.worktree if saved.dirty else None,
        saved_ref=f"{prefix}/saved",
        untracked_saved=len(saved.untracked),
        depth=depth,
    )


def _model_stays(repo: Repo, model: str, target: str) -> frozenset[bytes]:
    """The model file itself, when it lies untracked in the repository: it stays where it is
    (a checkpoint can be gigabytes: no point copying it into git), unless ``target`` has a file
    at its path, in which case it is put aside like any other file."""
    rel = os.path.relpath(os.path.realpath(model), os.path.realpath(repo.top))
    if rel.startswith(os.pardir) or os.path.isabs(rel):
        return frozenset()
    path = os.fsencode(rel.replace(os.sep, "/"))
    return frozenset() if path in savepoint.entries(repo, target) else frozenset({path})


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
    no_fetch_head = ["--no-write-fetch-head"] if gitcmd.git_version() >= (2, 29) else []
    repo.git("fetch", "-q", "--no-tags", *no_fetch_head, bundle, f"+{source}:{ref}")
    return repo.git("rev-parse", f"{ref}^{{commit}}")


def _delete_refs(repo: Repo, prefix: str) -> None:
    listed = gitcmd.run(["for-each-ref", "--format=%(refname)", prefix], cwd=repo.top).stdout
    commands = b"".join(b"delete " + ref + b"\n" for ref in listed.split())
    if commands:  # one update-ref for all of them
        gitcmd.run(["update-ref", "--stdin"], cwd=repo.top, input=commands, check=False)


def _set_state(hist: str, repo: Repo, item_id: str, state: str, **changes: object) -> None:
    with history.transaction(hist, repo.top) as h:
        for item in h.items:
            if item.id == item_id:
                item.state = state
                for key, value in changes.items():
                    setattr(item, key, value)


def _roll_back(repo: Repo, hist: str, item: HistoryItem, cause: BaseException) -> None:
    """An eat failed midway (git error, Ctrl-C): put the user's work back at once."""
    try:
        _undo_item(repo, hist, item)
    except Exception as again:  # the item stays: `jellyml undo` finishes the job
        if isinstance(cause, JellyMLError):
            cause.hint = (
                f"Putting your work back failed too ({again}); run `jellyml undo` to finish."
            )


def _count_changed(repo: Repo, old: str, new: str) -> int:
    out = gitcmd.run(["diff-tree", "-r", "-z", "--name-only", old, new], cwd=repo.top).stdout
    return len(gitcmd.split_z(out))


def _short_branch(branch: Optional[str]) -> Optional[str]:
    if branch is None:
        return None
    return branch[len("refs/heads/") :] if branch.startswith("refs/heads/") else branch


def undo_last(code_dir: Optional[str] = None) -> UndoResult:
    """Put the repository holding ``code_dir`` back as it was before the last eat."""
    gitcmd.check_git()
    folder = _existing(_folder(code_dir))
    repo = savepoint.find_repo(folder)
    if repo is None:
        raise NotAGitRepoError(folder, hint="Run `jellyml undo` inside the repository you ate in.")
    with repo_lock(repo):
        hist = history.history_path(repo.git_dir)
        item = history.read(hist, repo.top).last()
        if item is None and legacy_history.import_legacy(repo, hist):
            item = history.read(hist, repo.top).last()
        if item is None:
            return UndoResult(repo.top, nothing_to_undo=True)
        return _undo_item(repo, hist, item)


def _undo_item(repo: Repo, hist: str, item: HistoryItem) -> UndoResult:
    assert item.saved_worktree is not None and item.saved_index is not None
    fresh = savepoint.find_repo(repo.top)  # HEAD may have moved since ``repo`` was read
    assert fresh is not None
    repo = fresh
    # Files ignored before the eat may show as untracked now (the snapshot's .gitignore differs):
    # they were never ours to move, so they stay where they are.
    target_paths = savepoint.entries(repo, item.saved_worktree)
    loose = [p for p in savepoint.list_untracked(repo) if p not in target_paths]
    keep = savepoint.ignored_by(repo, item.saved_worktree, loose)
    keep |= _model_stays(repo, item.model, item.saved_worktree)
    current = savepoint.save(repo, "jellyml: work after eating", skip=keep)
    savepoint.check_ignored_collisions(repo, item.saved_worktree, current.untracked)
    killpoint("undo:saved")
    after = _keep_work_after(repo, item, current)
    was_interrupted = item.state != EATEN
    _set_state(hist, repo, item.id, UNDOING, after_branch=after)
    killpoint("undo:recorded")
    savepoint.remove_untracked(repo, current.untracked)
    killpoint("undo:untracked-removed")
    savepoint.checkout_detached(repo, item.saved_worktree)
    killpoint("undo:worktree-restored")
    savepoint.load_index(repo, item.saved_index)
    moved = _restore_head(repo, item)
    killpoint("undo:head-restored")
    savepoint.refresh_index(repo)
    restored_dirty = _was_dirty(repo, item)
    with history.transaction(hist, repo.top) as h:
        h.items = [i for i in h.items if i.id != item.id]
        remaining = len(h.items)
    _delete_refs(repo, item.ref_prefix)
    if item.legacy_stash is not None:
        legacy_history.drop_stash(repo, item.legacy_stash)
    return UndoResult(
        top=repo.top,
        model=item.model,
        restored_branch=None if moved else _short_branch(item.branch),
        restored_commit=item.head,
        restored_dirty=restored_dirty,
        after_branch=after,
        moved_branch=_short_branch(moved),
        was_interrupted=was_interrupted,
        remaining=remaining,
    )


def _keep_work_after(repo: Repo, item: HistoryItem, current: SavePoint) -> Optional[str]:
    """Keep on a new branch whatever the user did after the eat (commits, edits, new files):
    any commit at HEAD or file content that is neither in the snapshot nor in the saved work.
    Returns the branch name, or None when there was nothing of the kind."""
    known_commits = {item.head, item.snapshot_commit, item.saved_index, item.saved_worktree}
    known_trees = [item.snapshot_commit, item.saved_index, item.saved_worktree]
    if item.after_branch and _ref_exists(repo, f"refs/heads/{item.after_branch}"):
        kept = repo.git("rev-parse", f"refs/heads/{item.after_branch}")
        known_commits.add(kept)
        known_trees += repo.git("rev-list", "--max-count=2", kept).split()
    known: set[tuple[bytes, savepoint.Entry]] = set()
    for tree in known_trees:
        known |= set(savepoint.entries(repo, tree).items())
    now = set(savepoint.entries(repo, current.index).items())
    now |= set(savepoint.entries(repo, current.worktree).items())
    if not (now - known) and current.head in known_commits:
        return item.after_branch
    tip = current.worktree if current.dirty else current.head
    assert tip is not None  # an unborn, clean HEAD has nothing new
    name = _free_branch_name(repo, f"jellyml-after-eat-{item.id}")
    repo.git("update-ref", "-m", "jellyml undo: work done after eating", f"refs/heads/{name}", tip)
    return name


def _free_branch_name(repo: Repo, base: str) -> str:
    name, n = base, 1
    while _ref_exists(repo, f"refs/heads/{name}"):
        n += 1
        name = f"{base}-{n}"
    return name


def _ref_exists(repo: Repo, ref: str) -> bool:
    return (
        gitcmd.run(["rev-parse", "-q", "--verify", ref], cwd=repo.top, check=False).returncode == 0
    )


def _restore_head(repo: Repo, item: HistoryItem) -> Optional[str]:
    """Point HEAD where it was. Returns the branch name if that branch moved since the eat: it
    is left where the user put it and HEAD is detached at the old commit instead."""
    if item.branch is not None:
        now = gitcmd.run(["rev-parse", "-q", "--verify", item.branch], cwd=repo.top, check=False)
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
        trees.insert(0, savepoint.empty_tree(repo))
    return len(set(trees)) > 1


def delete_last_item(code_dir: Optional[str] = None) -> tuple[str, Optional[HistoryItem]]:
    """Drop the last history item (its saved work stays under its refs); return the repo top
    and the item, or None when the history was empty."""
    repo = _require_repo(code_dir)
    hist = history.history_path(repo.git_dir)
    with history.transaction(hist, repo.top) as h:
        item = h.items.pop() if h.items else None
    return repo.top, item


def _existing(folder: str) -> str:
    """``folder``, or its nearest existing parent: a subfolder the eaten snapshot does not have
    is gone until the undo brings it back."""
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def _require_repo(code_dir: Optional[str]) -> Repo:
    gitcmd.check_git()
    folder = _existing(_folder(code_dir))
    repo = savepoint.find_repo(folder)
    if repo is None:
        raise NotAGitRepoError(folder, hint="Pass -c with a folder inside the repository.")
    return repo


def history_file(code_dir: Optional[str] = None) -> tuple[str, str]:
    """The repository top and the path of its history file."""
    repo = _require_repo(code_dir)
    return repo.top, history.history_path(repo.git_dir)


def clear_history(code_dir: Optional[str] = None) -> tuple[str, bool, list[str]]:
    """Delete the history file; return its path, whether it existed, and the refs under
    ``refs/jellyml/`` that still hold put-aside work (they are kept, never deleted here)."""
    repo = _require_repo(code_dir)
    path = history.history_path(repo.git_dir)
    existed = history.clear(path)
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/").split()
    return path, existed, refs
