"""``eat --worktree DIR`` and ``undo --worktree DIR``: a snapshot beside the user's own work.

The snapshot is checked out in a new linked worktree (``git worktree add``); the worktree the
command runs from is never written to: its HEAD, index, files, stash and branches stay as they
are, whatever state they are in. What the repository gains is recorded first in the history of
its main worktree (``refs/jellyml/<id>/worktree`` keeps the commit while DIR lives, a record
names DIR), then the worktree is made, locked with a reason naming the model, and filled with
every file of the snapshot (sparse checkout off there only). ``undo --worktree`` removes all of
it, refusing when DIR holds work unless ``force`` (then kept on a ``jellyml-undo-*`` branch).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

from ..errors import (
    JellyMLError,
    NotAFolderError,
    NotAJellyWorktreeError,
    UnrelatedSnapshotError,
    WorktreeChangesError,
    WorktreePlaceError,
)
from ..gitcore import run as gitrun
from ..gitcore import worktree as gitworktree
from ..gitcore.bundle import require_object_format
from ..gitcore.repo import Repo, find_repo
from ..gitcore.status import status
from ..tempdirs import temporary_dir
from ..text import clean, shorten
from . import crash, savepoint
from . import shallow as shallow_eat
from .branches import UNDO_PREFIX, check_new_branch, free_branch_name
from .common import (
    create_refs,
    delete_refs,
    existing,
    folder_of,
    history_of,
    history_transaction,
    new_id,
    no_repo_at,
    read_history,
    shared,
    utc_now,
)
from .eat import EatResult, open_snapshot
from .history import ADDED, ADDING, REMOVING, WorktreeRecord
from .history_schema import MAX_PATH
from .incoming import check_limits, fetch_to_store, is_related, move_into
from .lock import repo_lock

if TYPE_CHECKING:
    from .undo import UndoResult


def eat_into_worktree(
    model: str,
    worktree: str,
    code_dir: Optional[str] = None,
    *,
    force: bool = False,
    branch: Optional[str] = None,
    recurse_submodules: bool = False,
) -> EatResult:
    """Check out the code saved in ``model`` in a new linked worktree at ``worktree`` of the
    repository holding ``code_dir``; when that is not in a repository, clone into
    ``worktree`` (an empty or new folder) instead. ``branch``: a new branch there."""
    gitrun.check_git()
    folder = folder_of(worktree)
    _check_empty(folder)
    repo = find_repo(existing(folder_of(code_dir)))
    if repo is None:
        from .eat import clone_into  # no repository here: eat's clone

        return clone_into(model, folder, branch=branch)
    main = shared(repo)
    _check_place(repo, folder)
    if branch is not None:
        check_new_branch(repo, branch)
    with repo_lock(main, history_of(main)), temporary_dir("eat") as tmp:
        snapshot, _path, bundle = open_snapshot(model, tmp)
        require_object_format(bundle.header.object_format, repo, model=model)
        fetched = fetch_to_store(repo, model, bundle, tmp, snapshot.metadata)
        tree = check_limits(model, fetched.store, fetched.commit)
        if not force and not is_related(repo, fetched, snapshot.metadata):
            raise UnrelatedSnapshotError(model, repo.top)
        move_into(fetched.store, repo)
        commit = shallow_eat.resolve_snapshot_commit(repo, snapshot, fetched.commit)
        record = _record(model, folder, commit, branch)
        note = _add(repo, main, record, recurse_submodules)
        result = EatResult(
            model,
            folder,
            commit,
            cloned=False,
            files_changed=len(tree),
            worktree_of=repo.top,
            new_branch=branch,
            submodule_note=note,
        )
        return shallow_eat.annotate(result, snapshot)


def _check_empty(folder: str) -> None:
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotAFolderError(folder)
    if os.path.isdir(folder) and os.listdir(folder):
        raise WorktreePlaceError(folder, "it exists and is not empty")


def _check_place(repo: Repo, folder: str) -> None:
    """Refuse (nothing changed) a folder in a git dir, one git knows as a worktree already,
    or one inside a worktree of the repository that its ignore rules do not ignore."""
    if not folder.isprintable() or len(folder) > MAX_PATH:
        raise WorktreePlaceError(shorten(folder), "its path has characters jellyml does not record")
    real = os.path.realpath(folder)
    for git_dir in (repo.git_dir, repo.common):
        if _within(real, os.path.realpath(git_dir)):
            raise WorktreePlaceError(folder, "it is inside the repository's git folder")
    if gitworktree.admin_of(repo.common, folder) is not None:
        raise WorktreePlaceError(
            folder,
            "git has a worktree registered there already",
            hint="See `git worktree list`; `git worktree prune` forgets missing ones",
        )
    for top in _tops(repo):
        if not _within(real, top):
            continue
        rel = os.path.relpath(real, top)
        if rel == "." or not _ignored(top, rel):
            raise WorktreePlaceError(
                folder,
                f"it is inside your working tree {top} and not ignored there, so git would see "
                "the snapshot's files as untracked files of yours",
                hint="Choose a folder outside it, or one your .gitignore ignores",
            )


def _tops(repo: Repo) -> list[str]:
    """The worktree the command runs in, and the main one (their real paths)."""
    tops = [os.path.realpath(repo.top)]
    if repo.is_linked_worktree and os.path.basename(repo.common) == ".git":
        tops.append(os.path.realpath(os.path.dirname(repo.common)))
    return tops


def _ignored(top: str, rel: str) -> bool:
    """Whether ``rel`` (a folder, existing or not) is ignored in the worktree at ``top``."""
    argv = ["check-ignore", "-q", "--", rel.rstrip("/") + "/"]
    return gitrun.run(argv, cwd=top, check=False).returncode == 0


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _record(model: str, folder: str, commit: str, branch: Optional[str]) -> WorktreeRecord:
    record_id = new_id()
    return WorktreeRecord(
        id=record_id,
        state=ADDING,
        model=os.path.abspath(model),
        path=folder,
        commit=commit,
        ref_prefix=f"refs/jellyml/{record_id}",
        created_at=utc_now(),
        made_folder=not os.path.exists(folder),
        branch=branch,
    )


def lock_reason(record: WorktreeRecord) -> str:
    """Why the worktree is locked (``git worktree list`` shows it): the model, and the undo."""
    return (
        f"jellyml: snapshot of {clean(record.model)}; remove with "
        f"`jellyml undo --worktree {record.path}`"
    )


def _add(repo: Repo, main: Repo, record: WorktreeRecord, recurse: bool) -> Optional[str]:
    """Record, then make the worktree; undone whole if any step fails. Returns what to tell
    about submodules (None: nothing)."""
    create_refs(repo, record.ref_prefix, worktree=record.commit)
    try:
        with history_transaction(main, create_id=True) as h:
            h.worktrees.append(record)
    except BaseException:
        delete_refs(repo, record.ref_prefix, ("worktree",))
        raise
    try:
        crash.point("worktree:recorded")
        sparse, worktree_config = gitworktree.sparse_settings(repo.top)
        if sparse and not worktree_config:
            # Needed for a setting of that worktree only; noted first, so that undo (or the
            # roll-back of a run killed here) turns it off again.
            record.worktree_config = True
            _update(main, record)
            repo.git("config", "extensions.worktreeConfig", "true")
        gitworktree.add(
            repo.top, record.path, record.commit, reason=lock_reason(record), branch=record.branch
        )
        crash.point("worktree:added")
        gitworktree.populate(record.path, sparse_off=sparse)
        note = _submodules(record.path) if recurse else None
        crash.point("worktree:populated")
        record.state = ADDED
        _update(main, record)
    except BaseException:
        _remove_all(repo, main, record)
        raise
    return note


def _submodules(folder: str) -> Optional[str]:
    """``git submodule update --init --recursive`` in the new worktree; what failed, if it did
    (a submodule's commits are fetched from its remote: the network may be needed)."""
    if not os.path.exists(os.path.join(folder, ".gitmodules")):
        return None
    argv = ["submodule", "update", "--init", "--recursive"]
    proc = gitrun.run(argv, cwd=folder, check=False)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    last = shorten(lines[-1] if lines else "git failed", 300)
    return (
        f"`git submodule update --init` failed in {folder} ({last}); fetching a submodule's "
        "commits may need the network: run it there again when it is reachable."
    )


def _update(main: Repo, record: WorktreeRecord) -> None:
    with history_transaction(main) as h:
        h.worktrees = [record if w.id == record.id else w for w in h.worktrees]


def _remove_all(repo: Repo, main: Repo, record: WorktreeRecord) -> None:
    """Remove the worktree, its lock, its ref, the setting jellyml turned on, and the record."""
    admin = gitworktree.admin_of(repo.common, record.path)
    ours = os.path.lexists(os.path.join(record.path, ".git"))
    gitworktree.remove(repo.top, admin, record.path, delete_folder=ours)
    if not record.made_folder:
        os.makedirs(record.path, exist_ok=True)  # it was an empty folder: it stays one
    elif os.path.isdir(record.path) and not os.listdir(record.path):
        os.rmdir(record.path)  # made (by git) before a kill, still empty
    delete_refs(repo, record.ref_prefix, ("worktree",))
    with history_transaction(main) as h:
        h.worktrees = [w for w in h.worktrees if w.id != record.id]
        others = any(w.worktree_config for w in h.worktrees)
    if record.worktree_config and not others and not _worktree_configs(repo.common):
        argv = ["config", "--unset", "extensions.worktreeConfig"]
        gitrun.run(argv, cwd=repo.top, check=False)  # not set (a kill before): nothing to do


def _worktree_configs(common: str) -> bool:
    """Whether any worktree of the repository has settings of its own (``config.worktree``)."""
    if os.path.exists(os.path.join(common, "config.worktree")):
        return True
    return any(
        os.path.exists(os.path.join(a.folder, "config.worktree"))
        for a in gitworktree.admins(common)
    )


# --- undo --worktree ---------------------------------------------------------------------


@dataclass(frozen=True)
class UndoWorktreeResult:
    #: The worktree's folder, and the repository it was made from.
    path: str
    top: str
    model: str
    commit: str
    #: The branch keeping what was done there (``force``), and what that was.
    after_branch: Optional[str] = None
    kept: str = ""
    #: The branch ``eat -b`` made for the worktree, left in place.
    branch: Optional[str] = None


def find_record(repo: Repo, path: str) -> Optional[WorktreeRecord]:
    """The record of the worktree ``eat --worktree`` made at ``path`` in ``repo``, if any."""
    wanted = os.path.realpath(path)
    for record in read_history(shared(repo)).worktrees:
        if os.path.realpath(record.path) == wanted:
            return record
    return None


def _repo_of(code_dir: Optional[str], worktree: Optional[str]) -> Optional[Repo]:
    """The repository of the worktree named (when it still is one), else of ``code_dir``."""
    if worktree is not None:
        folder = folder_of(worktree)
        if os.path.isdir(folder):
            found = find_repo(folder)
            if found is not None and found.is_linked_worktree:
                return found
    return find_repo(existing(folder_of(code_dir)))


def undo_worktree(
    worktree: Optional[str] = None, code_dir: Optional[str] = None, *, force: bool = False
) -> UndoWorktreeResult:
    """Remove the worktree ``eat --worktree`` made at ``worktree`` (default: the one the
    current folder is in), its ref and its lock. Refused (``WorktreeChangesError``) when it
    holds changes, untracked files or commits of its own, unless ``force``: they are then
    kept on a ``jellyml-undo-*`` branch."""
    gitrun.check_git()
    folder = folder_of(worktree if worktree is not None else code_dir)
    repo = _repo_of(code_dir, worktree)
    if repo is None:
        raise no_repo_at(folder)
    return _undo_worktree(repo, repo.top if worktree is None else folder, force=force)


def _undo_worktree(repo: Repo, folder: str, *, force: bool) -> UndoWorktreeResult:
    home = _home(repo)
    main = shared(home)
    with repo_lock(main, history_of(main)):
        record = find_record(home, folder)
        if record is None:
            raise NotAJellyWorktreeError(folder, home.top)
        after, kept = _keep_work(record, force=force)
        record.state = REMOVING
        record.after_branch = after
        _update(main, record)
        crash.point("worktree:removing")
        if os.path.realpath(os.getcwd() if _cwd_ok() else "/") == os.path.realpath(record.path):
            os.chdir(os.path.dirname(record.path))  # a process cannot stay in a removed folder
        _remove_all(home, main, record)
    return UndoWorktreeResult(
        record.path, home.top, record.model, record.commit, after, kept, record.branch
    )


def undo_any(
    code_dir: Optional[str] = None, worktree: Optional[str] = None, *, force: bool = False
) -> Union[UndoResult, UndoWorktreeResult]:
    """``jellyml undo``: the worktree named by ``worktree``; or, run inside a worktree that
    ``eat --worktree`` made and where nothing was eaten since, that worktree; else the last
    eat of the repository holding ``code_dir``."""
    if worktree is not None:
        return undo_worktree(worktree, code_dir, force=force)
    gitrun.check_git()
    repo = find_repo(existing(folder_of(code_dir)))
    inside = repo is not None and repo.is_linked_worktree and not read_history(repo).items
    if repo is not None and inside and find_record(repo, repo.top) is not None:
        return _undo_worktree(repo, repo.top, force=force)
    from .undo import undo_last  # an undo in place (worktrees imports nothing of undo else)

    result = undo_last(code_dir)
    if result.nothing_to_undo and repo is not None:
        made = read_history(shared(repo)).worktrees
        return dataclasses.replace(result, worktrees=tuple(r.path for r in made))
    return result


def _home(repo: Repo) -> Repo:
    """The main worktree of ``repo``: where git runs while a linked worktree is removed (the
    same repository seen from there: its refs, config and worktrees are shared). ``repo``
    itself when it is the main one, or when there is none (a bare repository's worktree)."""
    top = _main_top(repo)
    if not repo.is_linked_worktree or not os.path.isdir(top):
        return repo
    common = repo.common
    index = os.path.join(common, "index")
    return dataclasses.replace(repo, top=top, git_dir=common, index=index, head=None, branch=None)


def _cwd_ok() -> bool:
    try:
        os.getcwd()
    except OSError:
        return False
    return True


def _main_top(repo: Repo) -> str:
    common = repo.common
    return os.path.dirname(common) if os.path.basename(common) == ".git" else repo.top


def _keep_work(record: WorktreeRecord, *, force: bool) -> tuple[Optional[str], str]:
    """What the worktree holds that removing it would lose: refused unless ``force``, then
    kept on a new ``jellyml-undo-*`` branch (its name, and what it holds)."""
    if record.after_branch is not None or not os.path.isdir(record.path):
        return record.after_branch, ""  # an undo killed after keeping it, or nothing left
    if record.state == ADDING:
        return None, ""  # an eat killed while it made the worktree: nothing of the user's yet
    there = _linked(record.path)
    if there is None:
        # git no longer knows the folder as a worktree (its .git file or git's record of it
        # is gone): its files cannot be saved on a branch, and are never deleted.
        if set(os.listdir(record.path)) - {".git"}:
            lost = "files in a folder git no longer knows as a worktree"
            raise WorktreeChangesError(record.path, lost, forceable=False)
        return None, ""
    found = status(there)
    what = []
    if found.tracked_changes:
        what.append("uncommitted changes")
    if found.untracked:
        what.append(f"{len(found.untracked)} untracked file{'s' * (len(found.untracked) != 1)}")
    commits = _own_commits(there, record)
    if commits:
        what.append(f"{commits} commit{'s' * (commits != 1)} on no branch")
    if not what:
        return None, ""
    described = " and ".join(what)
    if not force:
        raise WorktreeChangesError(record.path, described)
    message = "jellyml undo --worktree: work done there"
    saved = savepoint.save(there, message, found, extra=found.untracked)
    tip = saved.worktree if saved.dirty else saved.head
    name = free_branch_name(there, f"{UNDO_PREFIX}{record.id}")
    there.git("update-ref", "-m", "jellyml undo --worktree", f"refs/heads/{name}", str(tip), "")
    return name, described


def _linked(folder: str) -> Optional[Repo]:
    """The linked worktree at ``folder`` as git sees it, if git still sees one there."""
    try:
        found = find_repo(folder)
    except JellyMLError:  # a .git file pointing at a record git has lost
        return None
    same = found is not None and os.path.realpath(found.top) == os.path.realpath(folder)
    return found if same and found is not None and found.is_linked_worktree else None


def _own_commits(there: Repo, record: WorktreeRecord) -> int:
    """Commits at the worktree's HEAD that no branch holds (a detached HEAD moved on; commits
    on the worktree's branch stay on it)."""
    if there.head is None or there.branch is not None or there.head == record.commit:
        return 0
    count = there.git("rev-list", "--count", there.head, "--not", "--branches", record.commit)
    return int(count or "0")
