"""What eat and undo share: finding the repository, its history file, and JellyML's refs."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from typing import Optional

from ..errors import (
    CurrentFolderGoneError,
    NotAGitRepoError,
    OperationInProgressError,
    OutputExistsError,
    PathNotFoundError,
)
from ..gitcore import run as gitrun
from ..gitcore.repo import Repo, find_repo
from ..outputs import replacing
from . import history
from .history import History

#: The file in the git dir holding the repository's identity (see ``repo_id``).
ID_FILE = "jellyml-id"


def folder_of(code_dir: Optional[str]) -> str:
    return os.path.abspath(os.path.expanduser(code_dir if code_dir else current_dir()))


def current_dir() -> str:
    """The current folder; when it was deleted (eaten by a snapshot that does not have it), the
    path the shell still shows (``$PWD``), whose nearest existing parent is in the repository."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        pwd = os.environ.get("PWD")
        if pwd and os.path.isabs(pwd):
            return pwd
        raise CurrentFolderGoneError() from None


def existing(folder: str) -> str:
    """``folder``, or its nearest existing parent: a subfolder the eaten snapshot does not have
    is gone until the undo brings it back."""
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def require_repo(code_dir: Optional[str]) -> Repo:
    gitrun.check_git()
    asked = folder_of(code_dir)
    repo = find_repo(existing(asked))
    if repo is None:
        raise no_repo_at(asked)
    return repo


def no_repo_at(folder: str) -> Exception:
    """The error for ``folder`` in no repository: one that does not exist is said so, not as
    its nearest existing parent (which git looked in) being no repository."""
    if not os.path.lexists(folder):
        return PathNotFoundError(folder)
    return NotAGitRepoError(folder, hint="Pass -c with a folder inside the repository.")


def shared(repo: Repo) -> Repo:
    """``repo`` seen from its common git dir: the main repository's history, identity and lock,
    where the worktrees made by ``eat --worktree`` are recorded, whichever worktree of the
    repository the command runs in (the same ``repo`` in the main worktree)."""
    return dataclasses.replace(repo, git_dir=repo.common)


def new_id() -> str:
    """A history item's id: when it began, and a random part (``20240501-120000-a1b2c3``)."""
    return time.strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()


def utc_now() -> str:
    """Now, in ISO 8601 (UTC) to the microsecond: undo tells the files written since the eat
    from those left in place by their change time. (``time``: ``datetime`` costs an import.)"""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1_000_000):06d}+00:00"


def history_of(repo: Repo) -> str:
    """The path of the history file of ``repo``."""
    return history.history_path(repo.git_dir)


def repo_id(repo: Repo, *, create: bool = False) -> Optional[str]:
    """The repository's identity: a random id kept in its git dir, made by its first eat.

    The history file is found by the repository's path; the id tells a repository from another
    one made later at the same path (``rm -rf repo; git init repo``), whose git dir does not have
    it. Root commits would not do: a fresh clone of the same project has the same ones.
    """
    path = os.path.join(repo.git_dir, ID_FILE)
    try:
        with open(path, encoding="ascii") as f:
            found = f.read(100).strip()
        if found.isalnum():
            return found
    except (OSError, ValueError):
        pass
    if not create:
        return None
    new = os.urandom(16).hex()
    # No valid id here: a damaged file is replaced; a missing one is made, never over one
    # that another process made meanwhile (that one is then the id).
    try:
        with replacing(path, ".tmp", no_clobber=not os.path.lexists(path)) as (out, _tmp):
            out.write(new.encode("ascii") + b"\n")
    except OutputExistsError:
        return repo_id(repo)
    return new


def read_history(repo: Repo) -> History:
    return history.read(history_of(repo), repo.top, repo_id(repo) or "")


@contextlib.contextmanager
def history_transaction(repo: Repo, *, create_id: bool = False) -> Iterator[History]:
    """The repository's history, saved when the block ends; only an eat (``create_id``) gives
    the repository an identity."""
    identity = repo_id(repo, create=create_id) or ""
    with history.transaction(history_of(repo), repo.top, identity) as h:
        yield h


#: Files in the git dir that mean an operation is half done; eat's checkout and undo's restore
#: would upset it.
IN_PROGRESS = (
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase or am"),
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


def check_no_operation(repo: Repo) -> None:
    """Refuse (``OperationInProgressError``, nothing changed) while a merge, rebase,
    cherry-pick, revert or bisect is half done: before an eat, and before an undo (one may
    have started after the eat)."""
    for name, operation in IN_PROGRESS:
        if os.path.exists(os.path.join(repo.git_dir, name)):
            raise OperationInProgressError(repo.top, operation)


def create_refs(repo: Repo, prefix: str, **targets: str) -> None:
    """Create an item's refs ``<prefix>/<name>`` (``snapshot``, ``saved``) in one
    ``update-ref``, all or none."""
    commands = "".join(f"create {prefix}/{name} {oid}\n" for name, oid in targets.items())
    repo.git_bytes("update-ref", "--stdin", input=commands.encode())


def delete_refs(repo: Repo, prefix: str, names: tuple[str, ...] = ("snapshot", "saved")) -> None:
    """Delete an item's refs ``<prefix>/<name>`` (eat makes ``snapshot`` and ``saved``, eat
    --worktree ``worktree``), in one ``update-ref``: deleting a missing ref is not an error."""
    commands = b"".join(f"delete {prefix}/{name}\n".encode() for name in names)
    gitrun.run(["update-ref", "--stdin"], cwd=repo.top, input=commands, check=False)


def set_state(hist: str, repo: Repo, item_id: str, state: str, **changes: object) -> None:
    with history_transaction(repo) as h:
        for item in h.items:
            if item.id == item_id:
                item.state = state
                for key, value in changes.items():
                    setattr(item, key, value)


def ref_exists(repo: Repo, ref: str) -> bool:
    return (
        gitrun.run(["rev-parse", "-q", "--verify", ref], cwd=repo.top, check=False).returncode == 0
    )
