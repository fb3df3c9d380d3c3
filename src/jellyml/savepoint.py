"""Saving the user's state as commits, and putting it back, with git plumbing.

A *save point* is two commits made without touching the working tree, the index or any ref:
``index`` (the index's tree, parent HEAD) and ``worktree`` (the working tree's tree with every
untracked, not ignored file, parent ``index``). They are built in a temporary copy of the index,
as ``snapshot.py`` does, but unlike a snapshot nothing is left out: secrets and large files are
the user's work too. Ignored files are never read, saved or removed.

Restoring checks the ``worktree`` commit out, then loads the ``index`` tree into the index
without touching files, so staged and unstaged changes come back apart, untracked files included.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Optional

from . import gitcmd
from .errors import JellyMLError, PathNotFoundError
from .snapshot import copy_index

# Commits we make are ours, not the user's: a fixed identity also works where none is set.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "JellyML",
    "GIT_AUTHOR_EMAIL": "jellyml@localhost",
    "GIT_COMMITTER_NAME": "JellyML",
    "GIT_COMMITTER_EMAIL": "jellyml@localhost",
}
# Never write the temporary index as a split index into the repository's shared files.
_NO_SPLIT = ("-c", "core.splitIndex=false")

#: A tree entry: (mode, object id).
Entry = tuple[str, str]


class UnmergedIndexError(JellyMLError, RuntimeError):
    def __init__(self, top: str) -> None:
        self.path = top
        super().__init__(
            f"{top} has unresolved merge conflicts.",
            hint="Resolve them (or `git merge --abort`) and try again; nothing was changed.",
        )


class WouldOverwriteIgnoredError(JellyMLError, RuntimeError):
    """The tree to check out has files where ignored files (never touched by jellyml) are."""

    def __init__(self, top: str, paths: list[str]) -> None:
        self.path = top
        self.paths = paths
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(
            f"Checking out would overwrite ignored file(s) in {top}: {shown}.",
            hint="jellyml never touches ignored files: move them away and try again; "
            "nothing was changed.",
        )


@dataclass(frozen=True)
class Repo:
    top: str
    git_dir: str
    index: str
    head: Optional[str]
    #: Full ref name (``refs/heads/main``) when HEAD is on a branch, born or not.
    branch: Optional[str]

    def git(self, *args: str, env: Optional[dict[str, str]] = None) -> str:
        return gitcmd.out(list(args), cwd=self.top, env=env)


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


def find_repo(folder: str) -> Optional[Repo]:
    """The repository (or linked worktree) holding ``folder``; None when it is not in one."""
    if not os.path.isdir(folder):
        raise PathNotFoundError(folder)
    paths = gitcmd.locate_repo(folder)
    if paths is None:
        return None
    top = paths.top
    head = gitcmd.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=top, check=False)
    branch = gitcmd.run(["symbolic-ref", "-q", "HEAD"], cwd=top, check=False)
    return Repo(
        top=top,
        git_dir=paths.git_dir,
        index=paths.index,
        head=head.stdout.decode().strip() or None,
        branch=branch.stdout.decode("utf-8", "surrogateescape").strip() or None,
    )


def save(repo: Repo, message: str, *, skip: frozenset[bytes] = frozenset()) -> SavePoint:
    """Commit the index and the working tree (untracked files included, but not those in
    ``skip``) without changing them."""
    if gitcmd.run(["ls-files", "-u", "-z"], cwd=repo.top).stdout:
        raise UnmergedIndexError(repo.top)
    with tempfile.TemporaryDirectory(prefix="jellyml-save-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index"), **_IDENTITY}
        copy_index(repo.index, env["GIT_INDEX_FILE"])
        index_tree = repo.git(*_NO_SPLIT, "write-tree", env=env)
        untracked = [p for p in list_untracked(repo, env) if p not in skip]
        repo.git(*_NO_SPLIT, "add", "-u", env=env)
        if untracked:
            gitcmd.run(
                [*_NO_SPLIT, "add", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"],
                cwd=repo.top,
                env={**env, "GIT_LITERAL_PATHSPECS": "1"},
                input=b"\0".join(untracked),
            )
        worktree_tree = repo.git(*_NO_SPLIT, "write-tree", env=env)
    parent = ["-p", repo.head] if repo.head else []
    index = _commit(repo, index_tree, parent, f"{message}: index")
    worktree = _commit(repo, worktree_tree, ["-p", index], f"{message}: working tree")
    base = tree_of(repo, repo.head) or empty_tree(repo)
    dirty = bool(untracked) or worktree_tree != base or index_tree != base
    return SavePoint(repo.head, repo.branch, index, worktree, untracked, dirty)


def ignored_by(repo: Repo, commit: str, paths: list[bytes]) -> frozenset[bytes]:
    """Those of ``paths`` that the ``.gitignore`` files of ``commit`` (with .git/info/exclude
    and core.excludesFile) ignore: files to leave alone once ``commit`` is checked out again."""
    if not paths:
        return frozenset()
    with tempfile.TemporaryDirectory(prefix="jellyml-ignore-") as tmp:
        root = os.fsencode(tmp)
        for path in paths:  # folders exist, so that folder-only patterns (build/) match
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        for path, (mode, oid) in entries(repo, commit).items():
            if os.path.basename(path) == b".gitignore" and mode.startswith("100"):
                target = os.path.join(root, path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                blob = gitcmd.run(["cat-file", "blob", oid], cwd=repo.top).stdout
                with open(target, "wb") as f:
                    f.write(blob)
        proc = gitcmd.run(
            ["--work-tree", tmp, "check-ignore", "--no-index", "-z", "--stdin"],
            cwd=repo.top,
            input=b"\0".join(paths),
            check=False,
        )
    return frozenset(gitcmd.split_z(proc.stdout))


def list_untracked(repo: Repo, env: Optional[dict[str, str]] = None) -> list[bytes]:
    """Untracked, not ignored files. Nested repositories (``dir/``) are left out: they are
    never saved and never removed, like ignored files."""
    listed = gitcmd.run(
        ["ls-files", "-z", "--others", "--exclude-standard"], cwd=repo.top, env=env
    ).stdout
    return [p for p in gitcmd.split_z(listed) if not p.endswith(b"/")]


def _commit(repo: Repo, tree: str, parents: list[str], message: str) -> str:
    return repo.git("commit-tree", "--no-gpg-sign", *parents, "-m", message, tree, env=_IDENTITY)


def empty_tree(repo: Repo) -> str:
    proc = gitcmd.run(["hash-object", "-t", "tree", "--stdin"], cwd=repo.top, input=b"")
    return proc.stdout.decode().strip()


def tree_of(repo: Repo, commit: Optional[str]) -> Optional[str]:
    if commit is None:
        return None
    return repo.git("rev-parse", f"{commit}^{{tree}}")


def entries(repo: Repo, treeish: Optional[str]) -> dict[bytes, Entry]:
    """Every file of a tree (recursively): path -> (mode, object id)."""
    if treeish is None:
        return {}
    raw = gitcmd.run(["ls-tree", "-r", "-z", "--full-tree", treeish], cwd=repo.top).stdout
    found: dict[bytes, Entry] = {}
    for record in gitcmd.split_z(raw):
        meta, _, path = record.partition(b"\t")
        mode, _kind, oid = meta.decode().split()
        found[path] = (mode, oid)
    return found


def check_ignored_collisions(repo: Repo, target: str, replaced: list[bytes]) -> None:
    """Refuse (changing nothing) when checking ``target`` out would overwrite a file that git
    neither tracks nor lists as untracked, that is, an ignored file or a nested repository."""
    tracked = set(gitcmd.split_z(gitcmd.run(["ls-files", "-z"], cwd=repo.top).stdout))
    known = tracked | set(replaced)
    top = os.fsencode(repo.top)
    hits: list[str] = []
    for path in entries(repo, target):
        if path in known:
            continue
        if os.path.lexists(os.path.join(top, path)):
            hits.append(os.fsdecode(path))
            continue
        parts = path.split(b"/")
        for i in range(1, len(parts)):
            prefix = b"/".join(parts[:i])
            full = os.path.join(top, prefix)
            if prefix not in known and os.path.lexists(full) and not os.path.isdir(full):
                hits.append(os.fsdecode(prefix))
                break
    if hits:
        raise WouldOverwriteIgnoredError(repo.top, sorted(set(hits)))


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


def checkout_detached(repo: Repo, commit: str) -> None:
    """Index and working tree become ``commit``'s tree, HEAD detached at it. Untracked files in
    the way were saved and removed before; ignored ones were checked by the caller."""
    repo.git("-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", commit)


def load_index(repo: Repo, commit: str) -> None:
    """Set the index to ``commit``'s tree without touching the working tree."""
    repo.git("read-tree", commit)


def refresh_index(repo: Repo) -> None:
    gitcmd.run(["update-index", "-q", "--refresh"], cwd=repo.top, check=False)
