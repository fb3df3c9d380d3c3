"""Eating a snapshot: checking its code out, without ever losing the user's work.

eat puts aside exactly what a snapshot would carry, and leaves everything else where it is:
changes to tracked files are saved as commits (``savepoint``), the untracked files a snapshot
would carry (``snapshot.stage.carried_untracked``, the rule ``create_snapshot`` uses) and
whatever else stands in the snapshot's way (``inway``) are moved by rename into a folder of
jellyml's under ``.git`` (``aside``); ignored files, large files, secrets, model and data files
and the model being eaten stay untouched.

Every step that changes the repository is preceded by a record from which ``undo`` can finish or
reverse it: the saved commits are kept alive by refs under ``refs/jellyml/<id>/`` (so
``git gc`` never prunes them), the moves are listed in the put-aside folder's journal, then the
intent is written to the history, then the tree changes, then the history item is completed. A
``kill -9`` anywhere leaves either nothing changed or a history item that ``jellyml undo``
finishes from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..errors import (
    CannotPutAsideError,
    CorruptSnapshotError,
    DirectoryNotEmptyError,
    GitCommandError,
    GitLockedError,
    GitUnusableError,
    InterruptedOperationError,
    JellyMLError,
    MissingFolderInRepoError,
    NotAFolderError,
    ReadOnlyRepoError,
    UnmergedIndexError,
    UnrelatedSnapshotError,
)
from ..gitcore import run as gitrun
from ..gitcore.bundle import require_object_format
from ..gitcore.preflight import git_failure
from ..gitcore.repo import Repo, find_repo, short_branch
from ..gitcore.status import Status, status
from ..read.reader import Snapshot, read_snapshot
from ..snapshot.guards import Guards, LeftOut
from ..snapshot.stage import carried_untracked
from ..tempdirs import temporary_dir
from . import aside, crash, savepoint
from . import shallow as shallow_eat  # shallow snapshots: the real commit, or what to fetch
from .branches import check_new_branch
from .common import (
    check_no_operation,
    create_refs,
    delete_refs,
    existing,
    folder_of,
    history_of,
    history_transaction,
    new_id,
    read_history,
    set_state,
    utc_now,
)
from .history import EATEN, EATING, HistoryItem
from .incoming import Bundle, check_limits, fetch_to_store, is_related, move_into, read_bundle
from .inway import NotTracked, in_the_way, mounts_in_the_way, outermost
from .lock import repo_lock
from .savepoint import SavePoint, model_stays

#: How many of the files left in place eat names.
LEFT_NAMED = 5


@dataclass(frozen=True)
class EatResult:
    model: str
    top: str
    commit: str
    cloned: bool
    #: Files that differ between what the user had (tracked files, saved work included) and
    #: the snapshot (None: git could not count them; the snapshot is checked out all the same).
    files_changed: Optional[int] = 0
    #: Those files, as (git's status letter, path); empty when eat had nothing to compare.
    changed: tuple[tuple[str, str], ...] = ()
    #: Where HEAD was: on a branch (its short name) and/or at a commit (None: no commits yet).
    previous_branch: Optional[str] = None
    previous_commit: Optional[str] = None
    #: The commit holding the user's changes to tracked files, when there were any.
    saved: Optional[str] = None
    saved_ref: Optional[str] = None
    #: Untracked files (of the user's work, as a snapshot would carry them) put aside.
    untracked_saved: int = 0
    #: Everything moved into the put-aside folder (those untracked files, and what stood in
    #: the snapshot's way), their bytes, and the folder.
    put_aside: int = 0
    put_aside_folders: int = 0
    put_aside_size: int = 0
    aside_folder: Optional[str] = None
    #: Bytes that had to be copied, not renamed (another file system than the .git folder's).
    copied: int = 0
    #: Untracked and ignored files and folders left where they are (the snapshot does not
    #: need them): how many, and the first few.
    left_in_place: int = 0
    left_in_place_names: tuple[str, ...] = ()
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
    #: ``eat --worktree``: the repository the new worktree (``top``) was added to.
    worktree_of: Optional[str] = None
    #: ``eat -b NAME``: the branch made at the snapshot commit, HEAD on it.
    new_branch: Optional[str] = None
    #: ``--recurse-submodules`` failed: what happened and what to do.
    submodule_note: Optional[str] = None


def eat_snapshot(
    model: str,
    code_dir: Optional[str] = None,
    *,
    force: bool = False,
    branch: Optional[str] = None,
) -> EatResult:
    """Check out the code saved in ``model`` into the repository holding ``code_dir``.

    In a repository the user's uncommitted work is saved first (``undo_last`` brings it back);
    a folder that is not in one is cloned into when it is empty or missing. A snapshot that
    shares no history with the repository is refused unless ``force``. ``branch``: land on
    that new branch at the snapshot commit instead of a detached HEAD (``undo`` leaves it).
    """
    gitrun.check_git()
    folder = folder_of(code_dir)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotAFolderError(folder)
    with temporary_dir("eat") as tmp:
        snapshot, path, bundle = open_snapshot(model, tmp)
        repo = find_repo(folder) if os.path.isdir(folder) else None
        if repo is not None:
            require_object_format(bundle.header.object_format, repo, model=model)
        if repo is None:
            _refuse_new_folder_in_repo(folder)
            cloned = _clone(model, path, folder, bundle.tip[1], snapshot.metadata, branch)
            return shallow_eat.annotate(cloned, snapshot)
        if branch is not None:
            check_new_branch(repo, branch)
        with repo_lock(repo, history_of(repo)):
            # HEAD as it is now: another eat may have finished while this one started.
            repo = find_repo(repo.top) or repo
            incoming = _Incoming(model, bundle, tmp, snapshot, force, branch)
            return shallow_eat.annotate(_eat_into(repo, incoming, folder), snapshot)


def open_snapshot(model: str, tmp: str) -> tuple[Snapshot, str, Bundle]:
    """The snapshot in ``model``, its bundle extracted into ``tmp`` (the path) and read."""
    snapshot = read_snapshot(model)
    path = snapshot.extract_bundle(os.path.join(tmp, "snapshot.bundle"))
    return snapshot, path, read_bundle(model, path, shallow_eat.expected_bundle_commit(snapshot))


@dataclass(frozen=True)
class _Incoming:
    model: str
    bundle: Bundle
    tmp: str
    snapshot: Snapshot
    force: bool
    branch: Optional[str] = None

    @property
    def metadata(self) -> Optional[dict[str, Any]]:
        return self.snapshot.metadata


def _refuse_new_folder_in_repo(folder: str) -> None:
    """A missing folder inside a repository is most likely a typo, not a wish for a nested
    repository: refuse it."""
    parent = existing(folder)
    if parent != folder:
        outer = find_repo(parent)
        if outer is not None:
            raise MissingFolderInRepoError(folder, outer.top)


def clone_into(model: str, folder: str, *, branch: Optional[str] = None) -> EatResult:
    """Clone the snapshot in ``model`` into ``folder``, empty or new (``eat --worktree`` where
    there is no repository to add a worktree to)."""
    if os.path.isdir(folder) and os.listdir(folder):
        raise DirectoryNotEmptyError(folder)
    with temporary_dir("eat") as tmp:
        snapshot, path, bundle = open_snapshot(model, tmp)
        cloned = _clone(model, path, folder, bundle.tip[1], snapshot.metadata, branch)
        return shallow_eat.annotate(cloned, snapshot)


def _clone(
    model: str,
    bundle: str,
    folder: str,
    tip: str,
    metadata: Optional[dict[str, Any]],
    branch: Optional[str] = None,
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
        where = ["-b", branch] if branch else ["--detach"]
        gitrun.run(
            ["-c", "advice.detachedHead=false", "checkout", "-q", *where, commit], cwd=folder
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
        new_branch=branch,
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


@dataclass(frozen=True)
class _Plan:
    """What the checks found: the snapshot fetched and its files, the working tree as it is,
    and what goes aside (and what stays)."""

    store: str
    commit: str
    status: Status
    entries: list[aside.Entry]
    copied: int
    left: list[str]


def _eat_into(repo: Repo, incoming: _Incoming, folder: str) -> EatResult:
    hist = history_of(repo)
    checked = _checked(repo, incoming)
    if isinstance(checked, EatResult):
        return checked
    plan = checked
    item_id = new_id()
    prefix = f"refs/jellyml/{item_id}"
    move_into(plan.store, repo)
    # A shallow snapshot's real commit, rebuilt on its base commit when the repository has it.
    commit = shallow_eat.resolve_snapshot_commit(repo, incoming.snapshot, plan.commit)
    saved = _save(repo, incoming, plan, prefix, commit)
    if plan.entries:
        aside.write_journal(repo, item_id, plan.entries)
    item = _new_item(item_id, prefix, incoming.model, commit, saved, plan.entries)
    item.new_branch = incoming.branch
    with history_transaction(repo, create_id=True) as h:
        h.items.append(item)
        depth = len(h.items)
        dropped = h.dropped
    try:
        crash.point("eat:recorded")
        aside.move_aside(repo, item_id, plan.entries, lambda: crash.point("eat:moving"))
        crash.point("eat:untracked-removed")
        savepoint.checkout_detached(repo, commit)
        if incoming.branch is not None:
            _land_on_branch(repo, incoming.branch, commit)
        crash.point("eat:checked-out")
        set_state(hist, repo, item.id, EATEN)
    except BaseException as exc:
        _roll_back(repo, hist, item, exc)
        raise
    # Done: what follows only describes it, and must not turn a success into a failure.
    changed = _changed(repo, saved.worktree, commit)
    carried = [e for e in plan.entries if e.why == aside.CARRIED]
    folders = [e for e in plan.entries if e.kind == "folder"]
    return EatResult(
        model=incoming.model,
        top=repo.top,
        commit=commit,
        cloned=False,
        files_changed=None if changed is None else len(changed),
        changed=tuple(changed or ()),
        previous_branch=short_branch(saved.branch),
        previous_commit=saved.head,
        saved=saved.worktree if saved.dirty else None,
        saved_ref=f"{prefix}/saved",
        untracked_saved=len(carried),
        put_aside=len(plan.entries),
        put_aside_folders=len(folders),
        put_aside_size=sum(e.size for e in plan.entries),
        aside_folder=aside.folder(repo, item_id) if plan.entries else None,
        copied=plan.copied,
        left_in_place=len(plan.left),
        left_in_place_names=tuple(plan.left[:LEFT_NAMED]),
        depth=depth,
        gone_cwd=None if os.path.isdir(folder) else folder,
        dropped_history=dropped,
        new_branch=incoming.branch,
    )


def _land_on_branch(repo: Repo, name: str, commit: str) -> None:
    """``eat -b NAME``: HEAD on the new branch NAME at the snapshot commit (made only if no
    branch of that name appeared since the check)."""
    ref = f"refs/heads/{name}"
    repo.git("update-ref", "-m", "jellyml eat -b", ref, commit, "")
    repo.git("symbolic-ref", "-m", "jellyml eat -b", "HEAD", ref)


def _save(repo: Repo, incoming: _Incoming, plan: _Plan, prefix: str, commit: str) -> SavePoint:
    """Save the user's changes to tracked files as commits, and keep them and the snapshot
    from ``git gc`` under the item's refs (removed again if this fails)."""
    try:
        message = f"jellyml: before eating {os.path.basename(incoming.model)}"
        saved = savepoint.save(repo, message, plan.status)
        crash.point("eat:saved")
        create_refs(repo, prefix, snapshot=commit, saved=saved.worktree)
    except BaseException:
        delete_refs(repo, prefix)
        raise
    return saved


def _checked(repo: Repo, incoming: _Incoming) -> Union[EatResult, _Plan]:
    """Every refusal, before the repository's .git is written to: returns what goes aside
    (or the result of an eat that has nothing to do)."""
    found = read_history(repo)
    pending = found.last()
    if pending is not None and pending.state != EATEN:
        raise InterruptedOperationError(repo.top, pending.state)
    _check_repo(repo)
    model = incoming.model
    fetched = fetch_to_store(repo, model, incoming.bundle, incoming.tmp, incoming.metadata)
    store, commit = fetched.store, fetched.commit
    tree = check_limits(model, store, commit)
    if not incoming.force and not is_related(repo, fetched, incoming.metadata):
        raise UnrelatedSnapshotError(model, repo.top)
    current = status(repo)
    # A shallow snapshot eaten before is checked out as its real commit (the header's).
    head = repo.head
    there = head is not None and head in (commit, incoming.snapshot.commit)
    if there and head is not None and not current.tracked_changes and incoming.branch is None:
        # Checked out already: only untracked files differ, which a second eat leaves alone
        # (the user's outputs since the first one), whatever the ignore files say.
        return EatResult(model, repo.top, head, False, already=True, depth=len(found.items))
    if current.unmerged:
        raise UnmergedIndexError(repo.top)
    aside.sweep(repo, [i.id for i in found.items])
    return _plan(repo, incoming, store, commit, tree, current)


def _plan(
    repo: Repo,
    incoming: _Incoming,
    store: str,
    commit: str,
    tree: dict[bytes, str],
    current: Status,
) -> _Plan:
    """What goes aside: the untracked files a snapshot would carry (the model file itself
    stays), and what git does not track in the snapshot's way; refused (nothing changed) if
    any of it cannot be moved."""
    top = os.fsencode(repo.top)
    mounts = mounts_in_the_way(top, tree)
    if mounts:
        raise CannotPutAsideError(repo.top, os.fsdecode(mounts[0]), "it is a mount point")
    stays = model_stays(repo, incoming.model, tree)
    # The model stays where it is; a checkpoint folder, with every file in it.
    listed = [p for p in current.untracked if stays is None or not _within(p, stays)]
    carried = carried_untracked(repo, Guards(), listed=listed)
    moving = set(carried.included)
    way = in_the_way(top, tree, NotTracked.of(current), skip=moving)
    paths = outermost([*carried.included, *way])
    entries = [
        aside.entry(top, p, aside.CARRIED if p in moving else aside.IN_THE_WAY) for p in paths
    ]
    copied = aside.check_movable(repo, entries)
    return _Plan(
        store, commit, current, entries, copied, _left(carried.left_out, current, paths, stays)
    )


def _left(
    left_out: list[LeftOut], current: Status, moved: list[bytes], stays: Optional[bytes]
) -> list[str]:
    """The untracked and ignored files and folders that stay where they are: left out of a
    snapshot (by name, size, or what they hold), ignored, or the model file itself."""
    gone = set(moved)
    names = [item.path for item in left_out]
    names += [os.fsdecode(p) for p in (stays, *current.ignored) if p is not None]
    return [n for n in names if os.fsencode(n.rstrip("/")) not in gone and not _under(n, gone)]


def _within(path: bytes, top: bytes) -> bool:
    return path == top or path.startswith(top + b"/")


def _under(name: str, folders: set[bytes]) -> bool:
    parts = os.fsencode(name).split(b"/")
    return any(b"/".join(parts[:i]) in folders for i in range(1, len(parts)))


def _check_repo(repo: Repo) -> None:
    """Refuse, changing nothing, what would make the checkout fail halfway."""
    check_no_operation(repo)
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


def _new_item(
    item_id: str, prefix: str, model: str, commit: str, saved: SavePoint, entries: list[aside.Entry]
) -> HistoryItem:
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
        created_at=utc_now(),
        untracked=[os.fsdecode(e.path) for e in entries if e.why == aside.CARRIED],
        aside=len(entries),
    )


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


def _changed(repo: Repo, old: str, new: str) -> Optional[list[tuple[str, str]]]:
    """The files that differ, as (status letter, path); None when git refuses to say (a
    snapshot's odd .gitmodules can make diff-tree fail), since by then the eat has succeeded."""
    argv = ["diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new]
    proc = gitrun.run(argv, cwd=repo.top, check=False)
    if proc.returncode != 0:
        return None
    fields = gitrun.split_z(proc.stdout)
    return [
        (letter.decode("ascii", "replace"), path.decode("utf-8", "replace"))
        for letter, path in zip(fields[::2], fields[1::2])
    ]
