"""Eating a snapshot: checking its code out, without ever losing the user's work.

Every step that changes the repository is preceded by a record from which ``undo`` can finish or
reverse it: the user's work is first saved as commits (``savepoint``) and kept alive by refs under
``refs/jellyml/<id>/`` (so ``git gc`` never prunes it), then the intent is written to the history,
then the tree changes, then the history item is completed. A ``kill -9`` anywhere leaves either
nothing changed or a history item that ``jellyml undo`` finishes from.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..errors import (
    CorruptSnapshotError,
    DirectoryNotEmptyError,
    GitCommandError,
    GitLockedError,
    GitUnusableError,
    InterruptedOperationError,
    JellyMLError,
    MissingFolderInRepoError,
    NotAFolderError,
    OperationInProgressError,
    ReadOnlyRepoError,
    UnrelatedSnapshotError,
)
from ..gitcore import run as gitrun
from ..gitcore.bundle import bundle_heads, require_object_format
from ..gitcore.preflight import git_failure
from ..gitcore.repo import Repo, find_repo, short_branch
from ..read.reader import Snapshot, read_snapshot
from ..tempdirs import temporary_dir
from . import crash, savepoint
from . import shallow as shallow_eat  # shallow snapshots: the real commit, or what to fetch
from .common import (
    delete_refs,
    existing,
    folder_of,
    history_of,
    history_transaction,
    read_history,
    set_state,
)
from .history import EATEN, EATING, HistoryItem
from .incoming import check_limits, fetch_to_store, is_related, move_into
from .lock import repo_lock
from .savepoint import SavePoint, model_stays

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
    #: Files that differ between what the user had (untracked included) and the snapshot
    #: (None: git could not count them; the snapshot is checked out all the same).
    files_changed: Optional[int] = 0
    #: Where HEAD was: on a branch (its short name) and/or at a commit (None: no commits yet).
    previous_branch: Optional[str] = None
    previous_commit: Optional[str] = None
    #: The commit holding the user's uncommitted work, when there was any.
    saved: Optional[str] = None
    saved_ref: Optional[str] = None
    untracked_saved: int = 0
    depth: int = 0
    #: The snapshot was checked out already, with nothing changed since: nothing was done.
    already: bool = False
    #: The folder the command ran in, when the snapshot does not have it (it is gone now).
    gone_cwd: Optional[str] = None
    #: History items of an earlier repository at the same path, dropped.
    dropped_history: int = 0
    #: The remote the clone's ``origin`` points at (from the snapshot's metadata).
    origin: Optional[str] = None
    #: A shallow snapshot whose real commit could not be rebuilt here: what to fetch.
    history_note: Optional[str] = None


def eat_snapshot(model: str, code_dir: Optional[str] = None, *, force: bool = False) -> EatResult:
    """Check out the code saved in ``model`` into the repository holding ``code_dir``.

    In a repository the user's uncommitted work is saved first (``undo_last`` brings it back);
    a folder that is not in one is cloned into when it is empty or missing. A snapshot that
    shares no history with the repository is refused unless ``force``.
    """
    gitrun.check_git()
    folder = folder_of(code_dir)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotAFolderError(folder)
    with temporary_dir("eat") as tmp:
        snapshot = read_snapshot(model)
        bundle = snapshot.extract_bundle(os.path.join(tmp, "snapshot.bundle"))
        tip = _check_heads(model, bundle, shallow_eat.expected_bundle_commit(snapshot))
        repo = find_repo(folder) if os.path.isdir(folder) else None
        if repo is not None:
            require_object_format(bundle, repo, model=model)
        if repo is None:
            _refuse_new_folder_in_repo(folder)
            cloned = _clone(model, bundle, folder, tip, snapshot.metadata)
            return shallow_eat.annotate(cloned, snapshot)
        with repo_lock(repo, history_of(repo)):
            incoming = _Incoming(model, bundle, tip, tmp, snapshot, force)
            return shallow_eat.annotate(_eat_into(repo, incoming, folder), snapshot)


@dataclass(frozen=True)
class _Incoming:
    model: str
    bundle: str
    tip: str
    tmp: str
    snapshot: Snapshot
    force: bool

    @property
    def metadata(self) -> Optional[dict[str, Any]]:
        return self.snapshot.metadata


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


def _clone(
    model: str, bundle: str, folder: str, tip: str, metadata: Optional[dict[str, Any]]
) -> EatResult:
    """Clone into an empty or new folder: objects first (no checkout), then the limits, then
    the files; on any failure the folder is left as it was (removed if it was made here)."""
    if os.path.isdir(folder) and os.listdir(folder):
        raise DirectoryNotEmptyError(folder)
    made = not os.path.exists(folder)
    try:
        try:
            gitrun.run(["clone", "-q", "--no-checkout", bundle, folder])
        except GitCommandError as exc:
            last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "git failed"
            raise CorruptSnapshotError(model, f"its git bundle is damaged ({last[:200]})") from None
        commit = gitrun.out(["rev-parse", f"{_cloned_ref(tip)}^{{commit}}"], cwd=folder)
        check_limits(model, os.path.join(folder, ".git"), commit)
        gitrun.run(
            ["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit], cwd=folder
        )
    except BaseException:
        _empty(folder, remove=made)
        raise
    # The bundle was a temporary file: origin points at the recorded remote instead, if any.
    origin = recorded_origin(metadata)
    gitrun.run(["remote", "remove", "origin"], cwd=folder, check=False)
    if origin is not None:
        gitrun.run(["remote", "add", "origin", origin], cwd=folder, check=False)
    files = gitrun.run(["ls-files", "-z"], cwd=folder).stdout
    return EatResult(
        model,
        folder,
        commit,
        cloned=True,
        files_changed=len(gitrun.split_z(files)),
        origin=origin,
    )


def _cloned_ref(tip: str) -> str:
    """Where a clone keeps the bundle's ref ``tip``: a bundle of a branch alone (no ``HEAD``,
    as `git bundle create x main` makes) has it as a remote-tracking branch."""
    if tip.startswith("refs/heads/"):
        return "refs/remotes/origin/" + tip[len("refs/heads/") :]
    return tip


def _empty(folder: str, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def recorded_origin(metadata: Optional[dict[str, Any]]) -> Optional[str]:
    """The snapshot's ``origin`` remote (or its only one), credentials stripped; metadata is
    untrusted: anything but a plain, printable URL is ignored."""
    git = metadata.get("git") if isinstance(metadata, dict) else None
    remotes = git.get("remotes") if isinstance(git, dict) else None
    if not isinstance(remotes, dict) or not remotes:
        return None
    url = remotes.get("origin") if "origin" in remotes else next(iter(remotes.values()))
    if not isinstance(url, str) or not url or len(url) > 2048 or not url.isprintable():
        return None
    if url.startswith("-") or url.startswith("ext::"):
        return None
    from ..snapshot.metadata import strip_credentials

    return strip_credentials(url)


def _eat_into(repo: Repo, incoming: _Incoming, folder: str) -> EatResult:
    hist = history_of(repo)
    checked = _checked(repo, incoming)
    if isinstance(checked, EatResult):
        return checked
    store, commit, untracked = checked
    item_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()
    prefix = f"refs/jellyml/{item_id}"
    commit = _fetch(repo, store, commit, f"{prefix}/snapshot")
    # A shallow snapshot's real commit, rebuilt on its base commit when the repository has it.
    commit = shallow_eat.resolve_snapshot_commit(
        repo, incoming.snapshot, commit, f"{prefix}/snapshot"
    )
    try:
        name = os.path.basename(incoming.model)
        message = f"jellyml: before eating {name}"
        saved = savepoint.save(repo, message, untracked=untracked, merged=True)
        crash.point("eat:saved")
        repo.git("update-ref", f"{prefix}/saved", saved.worktree)
    except BaseException:
        delete_refs(repo, prefix)
        raise
    item = _new_item(item_id, prefix, incoming.model, commit, saved)
    with history_transaction(repo, create_id=True) as h:
        h.items.append(item)
        depth = len(h.items)
        dropped = h.dropped
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
    # Done: what follows only describes it, and must not turn a success into a failure.
    return EatResult(
        model=incoming.model,
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
        gone_cwd=None if os.path.isdir(folder) else folder,
        dropped_history=dropped,
    )


def _checked(repo: Repo, incoming: _Incoming) -> Union[EatResult, tuple[str, str, list[bytes]]]:
    """Every refusal, before the repository's .git is written to: returns the store holding
    the snapshot, its commit and the untracked files to put aside (or the result of an eat that
    has nothing to do)."""
    found = read_history(repo)
    pending = found.last()
    if pending is not None and pending.state != EATEN:
        raise InterruptedOperationError(repo.top, pending.state)
    _check_repo(repo)
    model = incoming.model
    store, commit = fetch_to_store(repo, model, incoming.bundle, incoming.tip, incoming.tmp)
    check_limits(model, store, commit)
    if not incoming.force and not is_related(repo, store, commit, incoming.metadata):
        raise UnrelatedSnapshotError(model, repo.top)
    if _already_checked_out(repo, model, commit):
        return EatResult(model, repo.top, commit, False, already=True, depth=len(found.items))
    in_store = {"GIT_DIR": store}
    stay = model_stays(repo, model, commit, in_store)
    untracked = [p for p in savepoint.list_untracked(repo) if p not in stay]
    savepoint.check_ignored_collisions(repo, commit, untracked, in_store)
    return store, commit, untracked


def _check_repo(repo: Repo) -> None:
    """Refuse, changing nothing, what would make the checkout fail halfway."""
    for name, operation in _IN_PROGRESS:
        if os.path.exists(os.path.join(repo.git_dir, name)):
            raise OperationInProgressError(repo.top, operation)
    lock = os.path.join(repo.git_dir, "index.lock")
    if os.path.exists(lock):
        raise GitLockedError(repo.top, lock)
    for path in (repo.git_dir, repo.objects, repo.top):
        reason = _not_writable(path)
        if reason:
            raise ReadOnlyRepoError(repo.top, path, reason)
    failure = git_failure(repo.top)  # git itself dies here (its configuration): stop now
    if failure is not None:
        raise GitUnusableError(repo.top, *failure)


def _not_writable(path: str) -> str:
    """Why ``path`` cannot be written ('' when it can), asked without creating anything there
    (a probe file left by a kill would be a stray file in the user's tree)."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError as exc:
        return exc.strerror or str(exc)
    return "" if os.access(path, os.W_OK | os.X_OK) else "permission denied"


def _already_checked_out(repo: Repo, model: str, commit: str) -> bool:
    """HEAD is the snapshot commit and nothing changed (the model file itself aside)."""
    if repo.head != commit:
        return False
    argv = ["status", "--porcelain", "-z", "--untracked-files=all"]
    proc = gitrun.run(argv, cwd=repo.top, check=False)  # a snapshot's .gitmodules may upset it
    if proc.returncode != 0:
        return False
    stays = model_stays(repo, model, commit)
    changed = [r[3:] for r in gitrun.split_z(proc.stdout) if r[:2] != b"  "]
    return all(path in stays for path in changed)


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


def _fetch(repo: Repo, store: str, source: str, ref: str) -> str:
    """Bring the snapshot commit ``source``, fetched and checked in ``store``
    (``incoming.fetch_to_store``), into the repository under ``ref`` (kept from gc); return
    its id."""
    move_into(store, repo)
    repo.git("update-ref", ref, source)
    return source


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


def _count_changed(repo: Repo, old: str, new: str) -> Optional[int]:
    """How many files differ; None when git refuses to say (a snapshot's odd .gitmodules can
    make diff-tree fail), since by then the eat has succeeded."""
    proc = gitrun.run(["diff-tree", "-r", "-z", "--name-only", old, new], cwd=repo.top, check=False)
    return len(gitrun.split_z(proc.stdout)) if proc.returncode == 0 else None
