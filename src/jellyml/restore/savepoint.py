"""Saving the user's state as commits, and putting it back, with git plumbing.

A *save point* is two commits made without touching the working tree, the index or any ref:
``index`` (the index's tree, parent HEAD) and ``worktree`` (the working tree's tree with every
untracked, not ignored file, parent ``index``). They are built in a temporary copy of the index,
as a snapshot is (``jellyml.gitcore.index``), but unlike a snapshot nothing is left out: secrets
and large files are the user's work too. Ignored files are never read, saved or removed.

Restoring checks the ``worktree`` commit out, then loads the ``index`` tree into the index
without touching files, so staged and unstaged changes come back apart, untracked files included.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Optional

from ..errors import UnmergedIndexError, WouldOverwriteIgnoredError
from ..gitcore import run as gitrun
from ..gitcore.index import (
    NO_SPLIT,
    add_paths,
    commit_tree,
    temporary_index,
)
from ..gitcore.index import (
    list_untracked as _list_all_untracked,
)
from ..gitcore.repo import Repo, empty_tree, tree_entries
from ..tempdirs import temporary_dir


@dataclass(frozen=True)
class SavePoint:
    head: Optional[str]
    branch: Optional[str]
    index: str
    worktree: str
    #: Untracked (not ignored) files saved in ``worktree``, relative to the top, as git lists them.
    untracked: list[bytes]
    #: Anything beyond HEAD: staged, unstaged or untracked.
    dirty: bool


def save(
    repo: Repo,
    message: str,
    *,
    skip: frozenset[bytes] = frozenset(),
    untracked: Optional[list[bytes]] = None,
    merged: bool = False,
) -> SavePoint:
    """Commit the index and the working tree (untracked files included, but not those in
    ``skip``) without changing them. ``untracked``: the list, when the caller has it already;
    ``merged``: the caller checked that the index has no conflicts (``tracked_paths``)."""
    if not merged and repo.git_bytes("ls-files", "-u", "-z"):
        raise UnmergedIndexError(repo.top)
    with temporary_dir("save") as tmp:
        env = temporary_index(repo, tmp)
        index_tree = repo.git(*NO_SPLIT, "write-tree", env=env)
        if untracked is None:
            untracked = list_untracked(repo, env)
        untracked = [p for p in untracked if p not in skip]
        repo.git(*NO_SPLIT, "add", "-u", env=env)
        add_paths(repo, env, untracked, force=True)
        worktree_tree = repo.git(*NO_SPLIT, "write-tree", env=env)
    parent = [repo.head] if repo.head else []
    index = commit_tree(repo, index_tree, parent, f"{message}: index")
    worktree = commit_tree(repo, worktree_tree, [index], f"{message}: working tree")
    base = tree_of(repo, repo.head) or empty_tree(repo)
    dirty = bool(untracked) or worktree_tree != base or index_tree != base
    return SavePoint(repo.head, repo.branch, index, worktree, untracked, dirty)


def ignored_by(repo: Repo, commit: str, paths: list[bytes]) -> frozenset[bytes]:
    """Those of ``paths`` that the ``.gitignore`` files of ``commit`` (with .git/info/exclude
    and core.excludesFile) ignore: files to leave alone once ``commit`` is checked out again."""
    if not paths:
        return frozenset()
    with temporary_dir("ignore") as tmp:
        root = os.fsencode(tmp)
        for path in paths:  # folders exist, so that folder-only patterns (build/) match
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        for path, (mode, oid) in tree_entries(repo, commit).items():
            if os.path.basename(path) == b".gitignore" and mode.startswith("100"):
                target = os.path.join(root, path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                blob = gitrun.run(["cat-file", "blob", oid], cwd=repo.top).stdout
                with open(target, "wb") as f:
                    f.write(blob)
        proc = gitrun.run(
            ["--work-tree", tmp, "check-ignore", "--no-index", "-z", "--stdin"],
            cwd=repo.top,
            input=b"\0".join(paths),
            check=False,
        )
    return frozenset(gitrun.split_z(proc.stdout))


def list_untracked(repo: Repo, env: Optional[dict[str, str]] = None) -> list[bytes]:
    """Untracked, not ignored files. Nested repositories (``dir/``) are left out: they are
    never saved and never removed, like ignored files."""
    return [p for p in _list_all_untracked(repo, env) if not p.endswith(b"/")]


def tree_of(repo: Repo, commit: Optional[str]) -> Optional[str]:
    if commit is None:
        return None
    return repo.git("rev-parse", f"{commit}^{{tree}}")


def check_ignored_collisions(
    repo: Repo, target: str, replaced: list[bytes], env: Optional[dict[str, str]] = None
) -> None:
    """Refuse (changing nothing) when checking ``target`` out would overwrite, or write
    through, something git neither tracks nor lists as untracked: an ignored file, a symlink
    (``data -> /mnt/dataset``), a nested repository, or a folder holding any of those. A folder
    holding only tracked or put-aside files may become a file, and a file a folder."""
    known = tracked_paths(repo) | set(replaced)
    top = os.fsencode(repo.top)
    hits: dict[bytes, str] = {}
    seen: set[bytes] = set()
    for path in tree_entries(repo, target, env):
        parts = path.split(b"/")
        for i in range(1, len(parts)):
            prefix = b"/".join(parts[:i])
            if prefix in seen or prefix in known:
                continue
            seen.add(prefix)
            what = _in_the_way(os.path.join(top, prefix), as_folder=True)
            if what:
                hits[prefix] = what
            if what or not os.path.lexists(os.path.join(top, prefix)):
                break
        if path not in known:
            full = os.path.join(top, path)
            what = _in_the_way(full, as_folder=False)
            if what == "folder":
                what = _unknown_inside(top, path, known)
            if what:
                hits[path] = what
    if hits:
        shown = [f"{os.fsdecode(p)} ({hits[p]})" for p in sorted(hits)]
        raise WouldOverwriteIgnoredError(repo.top, shown)


def tracked_paths(repo: Repo) -> set[bytes]:
    """The paths in the index; ``UnmergedIndexError`` when it has unresolved conflicts (whose
    index cannot be saved as a tree). One ``ls-files`` answers both."""
    tracked: set[bytes] = set()
    for record in gitrun.split_z(repo.git_bytes("ls-files", "-s", "-z")):
        meta, _, path = record.partition(b"\t")
        if not meta.endswith(b" 0"):
            raise UnmergedIndexError(repo.top)
        tracked.add(path)
    return tracked


def _in_the_way(full: bytes, *, as_folder: bool) -> str:
    """What is at ``full`` that git does not know: '' (nothing, or a plain folder when the
    snapshot needs one there), 'folder' (to be looked into), or a description."""
    try:
        st = os.lstat(full)
    except OSError:  # missing, or under a file (NotADirectoryError)
        return ""
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return "an ignored file"
    if os.path.lexists(os.path.join(full, b".git")):
        return "a nested repository"
    return "" if as_folder else "folder"


def _unknown_inside(top: bytes, folder: bytes, known: set[bytes]) -> str:
    """'' when every file under ``folder`` is tracked or put aside (the checkout may replace
    the folder by a file), else what is in the way."""
    for root, dirs, files in os.walk(os.path.join(top, folder)):
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, top).replace(os.sep.encode(), b"/")
            if name == b".git":
                return "a folder holding a nested repository"
            if os.path.isdir(full) and not os.path.islink(full):
                continue
            if rel not in known:
                return "a folder holding ignored files"
    return ""


def remove_untracked(repo: Repo, paths: list[bytes]) -> None:
    """Delete saved untracked files, and the folders that emptying leaves behind."""
    top = os.fsencode(repo.top)
    for rel in paths:
        full = os.path.join(top, rel)
        try:
            os.unlink(full)
        except FileNotFoundError:
            continue
        parent = os.path.dirname(full)
        while parent != top and parent.startswith(top):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)


def restore_tree(repo: Repo, commit: str) -> None:
    """Index and working tree become ``commit``'s tree; HEAD does not move. Put-aside work
    goes back this way, not by checking its commit out: HEAD's reflog would then keep it
    (secrets in untracked files included) reachable after the undo."""
    repo.git("read-tree", "--reset", "-u", commit)


def checkout_detached(repo: Repo, commit: str) -> None:
    """Index and working tree become ``commit``'s tree, HEAD detached at it. Untracked files in
    the way were saved and removed before; ignored ones were checked by the caller."""
    repo.git("-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", commit)


def load_index(repo: Repo, commit: str) -> None:
    """Set the index to ``commit``'s tree without touching the working tree. ``-m`` keeps the
    stat data of entries that match (all but the staged changes), so the refresh that follows
    does not read every file again."""
    repo.git("read-tree", "-m", commit)


def refresh_index(repo: Repo) -> None:
    gitrun.run(["update-index", "-q", "--refresh"], cwd=repo.top, check=False)


def model_stays(
    repo: Repo, model: str, target: str, env: Optional[dict[str, str]] = None
) -> frozenset[bytes]:
    """The model file itself, when it lies untracked in the repository: it stays where it is
    (a checkpoint can be gigabytes: no point copying it into git), unless ``target`` has a file
    at its path, in which case it is put aside like any other file."""
    rel = os.path.relpath(os.path.realpath(model), os.path.realpath(repo.top))
    if rel.startswith(os.pardir) or os.path.isabs(rel):
        return frozenset()
    path = os.fsencode(rel.replace(os.sep, "/"))
    return frozenset() if path in tree_entries(repo, target, env) else frozenset({path})
