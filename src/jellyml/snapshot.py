"""Building a snapshot: a git bundle of the code exactly as it is, without touching the repo.

The spec's stash / checkout --detach / commit / checkout / pop dance changes the user's repo
while it runs, so two processes at once (every DDP job) or a kill midway can leave work in a
stash on a detached HEAD. Instead, everything here happens in a temporary folder:

* the user's index is *copied* to a temporary index file (its stat data makes ``git add`` fast);
* new objects go to a temporary object store that borrows the repo's objects as alternates;
* the snapshot commit is named by the HEAD of a temporary bare repository, which is bundled.

The working tree, index, HEAD, refs, stash, reflogs and config are only ever read, so any number
of processes may run this at once, and a kill at any moment leaves nothing behind in the repo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

from . import gitcmd
from .errors import (
    GitCommandError,
    NotAFolderError,
    NotAGitRepoError,
    PathNotFoundError,
    SnapshotTooLargeError,
)

MiB = 1024 * 1024
DEFAULT_MAX_UNTRACKED_FILE_SIZE = 10 * MiB
DEFAULT_MAX_TOTAL_SIZE = 1024 * MiB
#: Untracked files whose names match these (fnmatch, on the file name, case-insensitive) are
#: left out of the snapshot: a checkpoint gets shared, and a secret in it would travel too.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*credentials*.json",
    "*secret*.json",
    "service-account*.json",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".htpasswd",
)
SNAPSHOT_MESSAGE = "JellyML snapshot"
#: The metadata lists at most this many changed, included or left-out files (each).
MAX_LISTED = 10_000
_HEAD_FORMAT = "%H%x00%T%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd"
# Identity and date of a snapshot commit in a repo with no commits yet: fixed, so that two
# processes (or two runs) snapshotting the same files agree on the commit id.
_UNBORN_IDENTITY = ("JellyML", "snapshot@jellyml.invalid", "1673049600 +0000")


class SnapshotWarning(UserWarning):
    """Something was left out of a snapshot (a large or secret-looking untracked file)."""


@dataclass(frozen=True)
class LeftOut:
    path: str
    reason: str


@dataclass
class RepoSnapshot:
    """The outcome of snapshotting a repository: the bundle on disk and what went into it."""

    bundle_path: str
    commit: str
    base_commit: Optional[str]
    branch: Optional[str]
    dirty: bool
    repo_root: str
    changed_files: list[dict[str, str]] = field(default_factory=list)
    untracked_included: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    submodules: list[dict[str, str]] = field(default_factory=list)
    remotes: dict[str, str] = field(default_factory=dict)
    created_git_repo: bool = False

    def git_metadata(self) -> dict[str, object]:
        """The metadata's ``git`` part. File lists stop at ``MAX_LISTED`` entries (a first
        snapshot of a huge unborn repo lists every file) and ``*_total`` gives the full count,
        so the metadata stays far below the readers' size limit."""
        left_out = [{"path": item.path, "reason": item.reason} for item in self.left_out]
        return {
            "commit": self.commit,
            "base_commit": self.base_commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "repo_name": os.path.basename(self.repo_root),
            **_capped("changed_files", self.changed_files),
            **_capped("untracked_included", self.untracked_included),
            **_capped("left_out", left_out),
            "submodules": self.submodules,
            "submodule_contents_included": False,
            "remotes": self.remotes,
            "created_git_repo": self.created_git_repo,
        }


def _capped(name: str, items: Sequence[object]) -> dict[str, object]:
    return {name: list(items[:MAX_LISTED]), f"{name}_total": len(items)}


@dataclass(frozen=True)
class Guards:
    """Limits on what untracked files go into a snapshot, and on its total size."""

    max_untracked_file_size: int = DEFAULT_MAX_UNTRACKED_FILE_SIZE
    secret_patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS
    max_total_size: int = DEFAULT_MAX_TOTAL_SIZE

    def reason_to_leave_out(self, relpath: str, size: int) -> Optional[str]:
        name = os.path.basename(relpath.rstrip("/")).lower()
        if relpath.endswith("/"):
            return "a nested git repository (commit it as a submodule to record it)"
        for pattern in self.secret_patterns:
            if fnmatch.fnmatchcase(name, pattern.lower()):
                return f"looks like a secret (matches {pattern!r})"
        if size > self.max_untracked_file_size:
            return f"{size:,} bytes, over the {self.max_untracked_file_size:,}-byte limit"
        return None


@dataclass(frozen=True)
class _Repo(gitcmd.RepoPaths):
    head: Optional[str]
    branch: Optional[str]
    #: HEAD's tree, author name, email, date, committer name, email, date (empty when unborn).
    head_fields: tuple[str, ...] = ()
    created: bool = False


def snapshot_repo(
    path: Optional[str] = None,
    *,
    bundle_path: str,
    create_git_repo: bool = False,
    guards: Guards = Guards(),
) -> RepoSnapshot:
    """Bundle the repository containing ``path`` (working tree as it is) into ``bundle_path``.

    A clean tree gives a bundle of HEAD and its history. A dirty one gives a bundle of a snapshot
    commit whose parent is HEAD and whose tree is the working tree, untracked files included
    (``.gitignore`` respected, ``guards`` applied). The repository is never written to.
    """
    gitcmd.check_git()
    with tempfile.TemporaryDirectory(prefix="jellyml-snapshot-") as tmp:
        repo = _locate(path, tmp, create_git_repo)
        store = _temporary_store(tmp, repo)
        env = {
            "GIT_DIR": repo.git_dir,
            "GIT_WORK_TREE": repo.top,
            "GIT_INDEX_FILE": os.path.join(tmp, "index"),
            "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
        }
        copy_index(repo.index, env["GIT_INDEX_FILE"])
        included, left_out = _stage_working_tree(repo, env, guards)
        commit, changed = _commit(repo, env, _git(repo, env, "write-tree"))
        has_submodules = os.path.exists(os.path.join(repo.top, ".gitmodules"))
        _bundle(store, commit, bundle_path)
        size = os.path.getsize(bundle_path)
        if size > guards.max_total_size:
            os.unlink(bundle_path)
            raise SnapshotTooLargeError(size, guards.max_total_size, "git bundle")
        _warn_left_out(left_out)
        return RepoSnapshot(
            bundle_path=bundle_path,
            commit=commit,
            base_commit=repo.head,
            branch=repo.branch,
            dirty=commit != repo.head,
            repo_root=repo.top,
            changed_files=changed,
            untracked_included=[os.fsdecode(p) for p in included],
            left_out=left_out,
            submodules=_submodules(repo, env, commit) if has_submodules else [],
            remotes=_remotes(repo),
            created_git_repo=repo.created,
        )


def _git(repo: _Repo, env: dict[str, str], *args: str, stdin: Optional[bytes] = None) -> str:
    # Never split the temporary index into the repo's shared index files.
    argv = ["-c", "core.splitIndex=false", *args]
    proc = gitcmd.run(argv, cwd=repo.top, env=env, input=stdin)
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def _locate(path: Optional[str], tmp: str, create_git_repo: bool) -> _Repo:
    folder = os.path.abspath(os.path.expanduser(path if path is not None else os.getcwd()))
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise NotAFolderError(folder)
        raise PathNotFoundError(folder)
    paths = gitcmd.locate_repo(folder)
    if paths is None:
        if not create_git_repo:
            raise NotAGitRepoError(
                folder,
                hint="Run `git init` there, or pass create_git_repo=True to snapshot the folder "
                "without leaving a repository behind.",
            )
        return _scratch_repo(folder, tmp)
    head = gitcmd.run(
        ["show", "-s", f"--format={_HEAD_FORMAT}", "--date=raw", "HEAD"], cwd=folder, check=False
    )
    branch = gitcmd.run(["symbolic-ref", "-q", "--short", "HEAD"], cwd=folder, check=False)
    head_fields = head.stdout.decode("utf-8", "surrogateescape").rstrip("\n").split("\0")
    return _Repo(
        **dataclasses.asdict(paths),
        head=head_fields[0] if head.returncode == 0 else None,
        head_fields=tuple(head_fields[1:]) if head.returncode == 0 else (),
        branch=branch.stdout.decode("utf-8", "surrogateescape").strip() or None,
    )


def _scratch_repo(folder: str, tmp: str) -> _Repo:
    """A throwaway repository in ``tmp`` whose working tree is ``folder`` (create_git_repo=True).

    Nothing is written to ``folder``: the repository lives and dies in the temporary folder.
    """
    scratch = os.path.join(tmp, "scratch")
    gitcmd.run(["init", "-q", "--template=", scratch])
    git_dir = os.path.join(scratch, ".git")
    return _Repo(
        top=folder,
        git_dir=git_dir,
        objects=os.path.join(git_dir, "objects"),
        index=os.path.join(git_dir, "index"),
        shallow=os.path.join(git_dir, "shallow"),
        object_format="sha1",
        head=None,
        branch=None,
        created=True,
    )


def _temporary_store(tmp: str, repo: _Repo) -> str:
    """A bare repository whose object store borrows the user's objects as alternates."""
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
    if os.path.exists(repo.shallow):
        shutil.copyfile(repo.shallow, os.path.join(store, "shallow"))
    return store


def copy_index(index: str, dest: str) -> None:
    """Copy the repo's index (if any) to ``dest``, timestamps included.

    git trusts a file's cached stat data only if the file is older than the index itself
    ("racy git"); a copy with a fresh mtime would make a same-size edit made in the same second
    as the last index write look clean, and it would silently be left out.
    """
    if os.path.exists(index):
        shutil.copy2(index, dest)


def _stage_working_tree(
    repo: _Repo, env: dict[str, str], guards: Guards
) -> tuple[list[bytes], list[LeftOut]]:
    """Make the temporary index match the working tree, minus what the guards leave out."""
    listed = gitcmd.run(
        ["ls-files", "-z", "--others", "--exclude-standard"], cwd=repo.top, env=env
    ).stdout
    included: list[bytes] = []
    left_out: list[LeftOut] = []
    total = 0
    for rel in gitcmd.split_z(listed):
        size = _lstat_size(os.path.join(os.fsencode(repo.top), rel))
        reason = guards.reason_to_leave_out(os.fsdecode(rel), size)
        if reason is None:
            included.append(rel)
            total += size
        else:
            left_out.append(LeftOut(os.fsdecode(rel), reason))
    if total > guards.max_total_size:
        raise SnapshotTooLargeError(total, guards.max_total_size, "untracked files total")
    if not left_out:
        _git(repo, env, "add", "-A")
    else:
        _git(repo, env, "add", "-u")
    if included and left_out:
        literal = {**env, "GIT_LITERAL_PATHSPECS": "1"}
        _git(
            repo,
            literal,
            "add",
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
            stdin=b"\0".join(included),
        )
    return included, left_out


def _lstat_size(path: bytes) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:  # removed since git listed it; git add will skip it too
        return 0


def _commit(repo: _Repo, env: dict[str, str], tree: str) -> tuple[str, list[dict[str, str]]]:
    """The snapshot commit and the files it changes: HEAD itself when the tree matches HEAD's,
    else a child of HEAD (or a root commit in a repo with no commits)."""
    if repo.head is not None:
        fields = repo.head_fields
        if fields[0] == tree:
            return repo.head, []
        author, committer = fields[1:4], fields[4:7]
        parents = ["-p", repo.head]
    else:
        author = committer = _UNBORN_IDENTITY
        parents = []
    ident = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_AUTHOR_DATE": author[2],
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
        "GIT_COMMITTER_DATE": committer[2],
    }
    message = ["-m", SNAPSHOT_MESSAGE]
    commit = _git(repo, {**env, **ident}, "commit-tree", "--no-gpg-sign", *parents, *message, tree)
    # --root: a parentless commit (unborn repo) is compared with the empty tree.
    changed = _git(
        repo,
        env,
        "diff-tree",
        "-r",
        "-z",
        "--no-commit-id",
        "--no-renames",
        "--name-status",
        "--root",
        commit,
    )
    return commit, _name_status(changed)


def _name_status(raw: str) -> list[dict[str, str]]:
    parts = [p for p in raw.split("\0") if p]
    return [{"status": parts[i], "path": parts[i + 1]} for i in range(0, len(parts) - 1, 2)]


def _submodules(repo: _Repo, env: dict[str, str], commit: str) -> list[dict[str, str]]:
    """Submodules recorded in the snapshot commit (their commit ids, not their contents)."""
    listing = _git(repo, env, "ls-tree", "-r", "-z", commit)
    found = []
    for record in listing.split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[0] == "160000":
            found.append({"path": path, "commit": parts[2]})
    return found


def _remotes(repo: _Repo) -> dict[str, str]:
    from .metadata import strip_credentials

    proc = gitcmd.run(
        ["config", "-z", "--get-regexp", r"^remote\..*\.url$"],
        cwd=repo.top,
        env={"GIT_DIR": repo.git_dir},
        check=False,
    )
    remotes: dict[str, str] = {}
    for record in gitcmd.split_z(proc.stdout):
        key, _, url = record.decode("utf-8", "replace").partition("\n")
        remotes[key[len("remote.") : -len(".url")]] = strip_credentials(url)
    return remotes


def _bundle(store: str, commit: str, bundle_path: str) -> None:
    # HEAD of the temporary store names the snapshot commit: the bundle's one ref is HEAD, as
    # JellyML 1.0.0's was, and no ref is ever created in the user's repository.
    with open(os.path.join(store, "HEAD"), "w") as f:
        f.write(commit + "\n")
    try:
        gitcmd.run(
            # No delta search for the snapshot's new objects (deltas already in packs are reused):
            # on a dirty 20,000-file repo it halves the bundle step, for a bundle ~3% larger.
            ["-c", "pack.window=0", "bundle", "create", os.path.abspath(bundle_path), "HEAD"],
            env={"GIT_DIR": store},
        )
    except GitCommandError:
        with contextlib.suppress(OSError):
            os.unlink(bundle_path)
        raise


def _warn_left_out(left_out: list[LeftOut]) -> None:
    if not left_out:
        return
    listed = "; ".join(f"{item.path}: {item.reason}" for item in left_out[:20])
    more = f" (and {len(left_out) - 20} more)" if len(left_out) > 20 else ""
    warnings.warn(
        f"JellyML left {len(left_out)} untracked file(s) out of the snapshot: {listed}{more}.",
        SnapshotWarning,
        stacklevel=4,
    )


@contextlib.contextmanager
def temporary_bundle_path() -> Iterator[str]:
    """A path for a bundle inside a fresh temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jellyml-bundle-") as folder:
        yield os.path.join(folder, "snapshot.bundle")
