"""Staging and committing without touching the user's index, refs or (optionally) objects.

Both a snapshot and eat's put-aside build commits of the working tree as it is. They do it in a
*temporary copy* of the user's index (its cached stat data makes ``git add`` fast), so the real
index is never written. A snapshot also writes its new objects to a *temporary object store* that
borrows the repository's objects as alternates, so nothing at all is written to ``.git``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Optional

from . import run
from .repo import Repo

#: Commits jellyml makes for itself (put-aside work) carry this identity, so they work where
#: the user set none.
JELLYML_IDENTITY = {
    "GIT_AUTHOR_NAME": "JellyML",
    "GIT_AUTHOR_EMAIL": "jellyml@localhost",
    "GIT_COMMITTER_NAME": "JellyML",
    "GIT_COMMITTER_EMAIL": "jellyml@localhost",
}
#: Never split a temporary index into the repository's shared index files.
NO_SPLIT = ("-c", "core.splitIndex=false")


def copy_index(index: str, dest: str) -> None:
    """Copy the repo's index (if any) to ``dest``, timestamps included.

    git trusts a file's cached stat data only if the file is older than the index itself
    ("racy git"); a copy with a fresh mtime would make a same-size edit made in the same second
    as the last index write look clean, and it would silently be left out.
    """
    if os.path.exists(index):
        shutil.copy2(index, dest)


def temporary_index(repo: Repo, tmp: str) -> dict[str, str]:
    """A copy of ``repo``'s index in ``tmp``; returns the environment that makes git use it."""
    env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
    copy_index(repo.index, env["GIT_INDEX_FILE"])
    return env


def temporary_store(repo: Repo, tmp: str, *, shallow: bool = True) -> str:
    """A bare repository in ``tmp`` whose object store borrows ``repo``'s objects as alternates.

    With ``shallow``, it inherits the repository's shallow boundary (so that walking history
    there stops where the repository's does).
    """
    store = os.path.join(tmp, "store.git")
    os.makedirs(os.path.join(store, "objects", "info"))
    os.makedirs(os.path.join(store, "refs"))
    with open(os.path.join(store, "objects", "info", "alternates"), "w") as f:
        f.write(os.path.abspath(repo.objects) + "\n")
    config = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n"
    if repo.object_format != "sha1":
        config = (
            "[core]\n\trepositoryformatversion = 1\n\tbare = true\n"
            f"[extensions]\n\tobjectformat = {repo.object_format}\n"
        )
    with open(os.path.join(store, "config"), "w") as f:
        f.write(config)
    with open(os.path.join(store, "HEAD"), "w") as f:
        f.write("ref: refs/heads/jellyml\n")
    if shallow and repo.is_shallow:
        shutil.copyfile(repo.shallow, os.path.join(store, "shallow"))
    return store


def commit_tree(
    repo: Repo,
    tree: str,
    parents: list[str],
    message: str,
    *,
    identity: Mapping[str, str] = JELLYML_IDENTITY,
    env: Optional[Mapping[str, str]] = None,
) -> str:
    """A commit of ``tree`` with ``parents``; no ref is created or moved."""
    argv = ["commit-tree", "--no-gpg-sign", *(a for p in parents for a in ("-p", p))]
    return repo.git(*argv, "-m", message, tree, env={**(env or {}), **identity})


def list_untracked(repo: Repo, env: Optional[Mapping[str, str]] = None) -> list[bytes]:
    """Untracked, not ignored paths as git lists them (a nested repository ends with ``/``)."""
    listed = run.run(
        ["ls-files", "-z", "--others", "--exclude-standard"], cwd=repo.top, env=env
    ).stdout
    return run.split_z(listed)


def add_paths(repo: Repo, env: Mapping[str, str], paths: list[bytes], *, force: bool) -> None:
    """``git add`` exactly these paths (no globbing) to the index ``env`` names."""
    if not paths:
        return
    force_flag = ["-f"] if force else []
    run.run(
        [*NO_SPLIT, "add", *force_flag, "--pathspec-from-file=-", "--pathspec-file-nul"],
        cwd=repo.top,
        env={**env, "GIT_LITERAL_PATHSPECS": "1"},
        input=b"\0".join(paths),
    )
