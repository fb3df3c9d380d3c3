"""What eat and undo share: finding the repository, its history file, and JellyML's refs."""

from __future__ import annotations

import os
from typing import Optional

from ..errors import NotAGitRepoError
from ..gitcore import run as gitrun
from ..gitcore.repo import Repo, find_repo
from . import history


def folder_of(code_dir: Optional[str]) -> str:
    return os.path.abspath(os.path.expanduser(code_dir if code_dir else os.getcwd()))


def existing(folder: str) -> str:
    """``folder``, or its nearest existing parent: a subfolder the eaten snapshot does not have
    is gone until the undo brings it back."""
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def require_repo(code_dir: Optional[str]) -> Repo:
    gitrun.check_git()
    folder = existing(folder_of(code_dir))
    repo = find_repo(folder)
    if repo is None:
        raise NotAGitRepoError(folder, hint="Pass -c with a folder inside the repository.")
    return repo


def history_of(repo: Repo) -> str:
    """The path of the history file of ``repo``."""
    return history.history_path(repo.git_dir)


def delete_refs(repo: Repo, prefix: str) -> None:
    listed = gitrun.run(["for-each-ref", "--format=%(refname)", prefix], cwd=repo.top).stdout
    commands = b"".join(b"delete " + ref + b"\n" for ref in listed.split())
    if commands:  # one update-ref for all of them
        gitrun.run(["update-ref", "--stdin"], cwd=repo.top, input=commands, check=False)


def set_state(hist: str, repo: Repo, item_id: str, state: str, **changes: object) -> None:
    with history.transaction(hist, repo.top) as h:
        for item in h.items:
            if item.id == item_id:
                item.state = state
                for key, value in changes.items():
                    setattr(item, key, value)


def ref_exists(repo: Repo, ref: str) -> bool:
    return (
        gitrun.run(["rev-parse", "-q", "--verify", ref], cwd=repo.top, check=False).returncode == 0
    )
