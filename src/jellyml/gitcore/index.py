"""Staging and committing without touching the user's index, refs or (optionally) objects.

Both a snapshot and eat's save point build commits of the working tree as it is. They do it in
a *temporary copy* of the user's index (its cached stat data makes ``git add`` fast), so the real
index is never written. A snapshot also writes its new objects to a temporary object store
(``store``), so nothing at all is written to ``.git``. ``list_untracked`` is the one listing of
untracked files.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Untracked:
    """Untracked, not ignored paths as git lists them (a nested repository ends with ``/``),
    and the folders git could not read, which it leaves out with only a warning on stderr."""

    paths: list[bytes]
    #: (folder, reason) for each folder git could not list.
    unreadable: list[tuple[bytes, str]]


# What `ls-files --others` says (LC_ALL=C) about a folder it cannot list; it goes on without it.
_UNREADABLE_DIR = re.compile(rb"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)


def list_untracked(
    repo: Repo, env: Optional[Mapping[str, str]] = None, *, exclude_from: Sequence[str] = ()
) -> Untracked:
    """The one listing of untracked files: those the user's ignore rules (``.gitignore``
    files, ``.git/info/exclude``, ``core.excludesFile``) and the files ``exclude_from`` do not
    ignore."""
    extra = [f"--exclude-from={path}" for path in exclude_from]
    proc = run.run(
        ["ls-files", "-z", "--others", "--exclude-standard", *extra], cwd=repo.top, env=env
    )
    unreadable = [
        (m.group(1), m.group(2).decode("utf-8", "replace"))
        for m in _UNREADABLE_DIR.finditer(proc.stderr)
    ]
    return Untracked(run.split_z(proc.stdout), unreadable)


def add_paths(
    repo: Repo,
    env: Mapping[str, str],
    paths: Sequence[bytes],
    *,
    force: bool = False,
    intent_to_add: bool = False,
) -> None:
    """``git add`` exactly these paths (no globbing) to the index ``env`` names: ``force``
    adds ignored ones too, ``intent_to_add`` adds them as intent-to-add entries (``-N``)."""
    if not paths:
        return
    flags = [*(["-f"] if force else []), *(["-N"] if intent_to_add else [])]
    run.run(
        [*NO_SPLIT, "add", *flags, "--pathspec-from-file=-", "--pathspec-file-nul"],
        cwd=repo.top,
        env={**env, "GIT_LITERAL_PATHSPECS": "1"},
        input=b"\0".join(paths),
    )
