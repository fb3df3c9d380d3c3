"""Saving the user's tracked work as commits, and putting it back, with git plumbing.

A *save point* is two commits made without touching the working tree, the index or any ref:
``index`` (the index's tree, parent HEAD) and ``worktree`` (the tracked files as they are on
disk, parent ``index``). Where nothing is staged ``index`` is HEAD itself, and where nothing is
changed on disk ``worktree`` is ``index``: a clean tree costs no commit at all. They are built in
a temporary copy of the index, as a snapshot is (``jellyml.gitcore.index``). Untracked files
never go in (their bytes never enter git's object store): eat moves them aside by rename
(``aside``). Undo adds to its save point the untracked files standing where the user's work
goes back (``extra``), to keep them on a branch.

Restoring checks the ``worktree`` tree out, then loads the ``index`` tree into the index
without touching files, so staged and unstaged changes come back apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from ..errors import UnmergedIndexError
from ..gitcore.index import NO_SPLIT, add_paths, commit_tree, temporary_index
from ..gitcore.repo import Repo
from ..gitcore.status import Status
from ..tempdirs import temporary_dir


@dataclass(frozen=True)
class SavePoint:
    head: Optional[str]
    branch: Optional[str]
    index: str
    worktree: str
    #: Anything beyond HEAD in tracked files (staged or not), or extra files saved.
    dirty: bool


def save(repo: Repo, message: str, found: Status, *, extra: Sequence[bytes] = ()) -> SavePoint:
    """Commit the index and the tracked files as they are (``found``: the working tree's
    status just read), plus the untracked paths ``extra`` (ignored or not), changing nothing."""
    if found.unmerged:
        raise UnmergedIndexError(repo.top)
    head = repo.head
    index_commit = bool(found.staged) or head is None
    worktree_commit = bool(found.unstaged or extra)
    if not (index_commit or worktree_commit) and head is not None:
        return SavePoint(head, repo.branch, head, head, dirty=False)
    with temporary_dir("save") as tmp:
        env = temporary_index(repo, tmp)
        index_tree = repo.git(*NO_SPLIT, "write-tree", env=env) if index_commit else ""
        if worktree_commit:
            if found.unstaged:
                repo.git(*NO_SPLIT, "add", "-u", env=env)
            add_paths(repo, env, extra, force=True)
            worktree_tree = repo.git(*NO_SPLIT, "write-tree", env=env)
    parents = [head] if head else []
    index = (
        head
        if head is not None and not index_commit
        else commit_tree(repo, index_tree, parents, f"{message}: index")
    )
    worktree = index
    if worktree_commit:
        worktree = commit_tree(repo, worktree_tree, [index], f"{message}: working tree")
    return SavePoint(head, repo.branch, index, worktree, dirty=found.tracked_changes or bool(extra))


def restore_tree(repo: Repo, commit: str) -> None:
    """Index and working tree become ``commit``'s tree; HEAD does not move. Put-aside work
    goes back this way, not by checking its commit out: HEAD's reflog would then keep it
    (secrets in untracked files included) reachable after the undo."""
    repo.git("read-tree", "--reset", "-u", commit)


def checkout_detached(repo: Repo, commit: str) -> None:
    """Index and working tree become ``commit``'s tree, HEAD detached at it. What git does not
    track in its way was put aside before (``inway``, ``aside``)."""
    repo.git("-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", commit)


def load_index(repo: Repo, commit: str) -> None:
    """Set the index to ``commit``'s tree without touching the working tree. ``-m`` keeps the
    stat data of entries that match (all but the staged changes: git compares those by content
    until the next ``git status`` refreshes them)."""
    repo.git("read-tree", "-m", commit)


def model_stays(repo: Repo, model: str, target: Mapping[bytes, object]) -> Optional[bytes]:
    """The model file itself, when it lies untracked in the repository: it stays where it is
    (a checkpoint can be gigabytes, and one may want to read it while its code is checked
    out), unless the tree ``target`` has a file at its path, where it is put aside like any
    other file in the way. Its path from the top, or None."""
    rel = os.path.relpath(os.path.realpath(model), os.path.realpath(repo.top))
    if rel.startswith(os.pardir) or os.path.isabs(rel):
        return None
    path = os.fsencode(rel.replace(os.sep, "/"))
    return None if path in target else path
