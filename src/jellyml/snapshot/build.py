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
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..errors import (
    NotAFolderError,
    NotAGitRepoError,
    PathNotFoundError,
)
from ..gitcore import run as gitrun
from ..gitcore import shallow
from ..gitcore.freshen import times_kept
from ..gitcore.index import NO_SPLIT, commit_tree, temporary_index
from ..gitcore.repo import Repo, locate
from ..gitcore.store import repo_store
from ..tempdirs import temporary_dir
from ..warn import warn
from . import bundling, report, which
from .guards import Guards, LeftOut
from .stage import stage_working_tree

SNAPSHOT_MESSAGE = "JellyML snapshot"
#: The metadata lists at most this many changed, included or left-out files (each).
MAX_LISTED = 10_000
_HEAD_FORMAT = "%H%x00%T%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd"
#: git's diff machinery reads .gitmodules for each submodule's ignore setting, and dies on an
#: entry it refuses there (``update = !command``, CVE-2019-19604): an explicit setting keeps
#: it from reading the file at all. Never a command run, and the snapshot is not blocked.
_NO_GITMODULES = ("--ignore-submodules=none",)
# Identity and date of a snapshot commit in a repo with no commits yet: fixed, so that two
# processes (or two runs) snapshotting the same files agree on the commit id.
_UNBORN_IDENTITY = ("JellyML", "snapshot@jellyml.invalid", "1673049600 +0000")


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
    #: "full" or "shallow" (what the bundle holds), what was asked, and why.
    history: str = bundling.FULL
    history_requested: str = bundling.AUTO
    history_reason: str = ""
    #: The commit the bundle holds: ``commit`` itself, or (shallow) its parentless twin.
    bundle_commit: str = ""
    #: ``git cat-file commit <commit>``: eat rebuilds the real commit from it.
    snapshot_commit_object: str = ""
    repo_chosen_by: str = which.BY_ARGUMENT
    entry_script: Optional[str] = None
    exclude: list[str] = field(default_factory=list)
    index_flags_ignored: list[str] = field(default_factory=list)

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
            "history": self.history,
            "history_requested": self.history_requested,
            "history_reason": self.history_reason,
            "bundle_commit": self.bundle_commit or self.commit,
            "snapshot_commit_object": self.snapshot_commit_object,
            "repo_path": self.repo_root,
            "repo_chosen_by": self.repo_chosen_by,
            "entry_script": self.entry_script,
            "exclude": self.exclude,
            **_capped("index_flags_ignored", self.index_flags_ignored),
        }


def _capped(name: str, items: Sequence[object]) -> dict[str, object]:
    return {name: list(items[:MAX_LISTED]), f"{name}_total": len(items)}


@dataclass(frozen=True)
class _Target:
    """The repository being snapshotted, and what a snapshot commit needs to know of HEAD."""

    repo: Repo
    #: HEAD's tree, author name, email, date, committer name, email, date (empty when unborn).
    head_fields: tuple[str, ...] = ()
    #: The repository is a throwaway one for a folder that is not in any (create_git_repo).
    created: bool = False


def snapshot_repo(
    path: Optional[str] = None,
    *,
    bundle_path: str,
    create_git_repo: bool = False,
    guards: Optional[Guards] = None,
    history: str = bundling.AUTO,
    exclude: Sequence[str] = (),
) -> RepoSnapshot:
    """Bundle the repository containing ``path`` (working tree as it is) into ``bundle_path``.

    ``path=None``: the repository of the entry script, else the current directory (``which``).
    A clean tree gives HEAD, a dirty one a snapshot commit whose parent is HEAD and whose tree
    is the working tree, untracked files included (``.gitignore`` respected, ``guards`` and
    ``exclude`` applied). ``history`` says how much history the bundle carries
    (``bundling``). The repository is never written to.
    """
    started = time.perf_counter()
    gitrun.check_git()
    job = _Job(
        bundle_path=bundle_path,
        guards=guards or Guards(),
        history=bundling.check_history(history),
        exclude=[exclude] if isinstance(exclude, str) else list(exclude),
    )
    choice = which.choose(path, create_git_repo=create_git_repo)
    with temporary_dir("snapshot") as tmp:
        target = _locate(choice, tmp, create_git_repo)
        which.warn_if_cwd_elsewhere(choice, target.repo.top)
        with times_kept(target.repo.objects):  # git "freshens" objects it finds there
            result, files = _build(target, choice, job, tmp)
    report.log_snapshot(
        size=os.path.getsize(bundle_path),
        files=files,
        seconds=time.perf_counter() - started,
        history=result.history,
        top=result.repo_root,
    )
    return result


@dataclass(frozen=True)
class _Job:
    """What the caller asked for."""

    bundle_path: str
    guards: Guards
    history: str
    exclude: list[str]


def _build(target: _Target, choice: which.Choice, job: _Job, tmp: str) -> tuple[RepoSnapshot, int]:
    """Stage, commit and bundle in ``tmp``; the snapshot and its number of index entries."""
    repo = target.repo
    store = repo_store(repo, tmp)
    env = {
        "GIT_DIR": repo.git_dir,
        "GIT_WORK_TREE": repo.top,
        "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
        **temporary_index(repo, tmp),
    }
    staged = stage_working_tree(repo, env, job.guards, job.exclude, tmp)
    tree = _git(repo, env, "write-tree")
    commit, changed = _commit(target, env, tree)
    raw = shallow.raw_commit(repo.top, commit, env)
    bundled = bundling.write_bundle(
        repo,
        store,
        commit,
        raw,
        bundle_path=job.bundle_path,
        requested=job.history,
        max_total_size=job.guards.max_total_size,
        trivial=not shallow.parents(raw),
    )
    report.warn_if_large(bundled.size, repo.top, env, tree, bundled.history)
    report.warn_if_untracked_large(staged.included, staged.sizes)
    _warn_left_out(staged.left_out)
    has_submodules = os.path.exists(os.path.join(repo.top, ".gitmodules"))
    result = RepoSnapshot(
        bundle_path=job.bundle_path,
        commit=commit,
        base_commit=repo.head,
        branch=repo.short_branch,
        dirty=commit != repo.head,
        repo_root=repo.top,
        changed_files=changed,
        untracked_included=[os.fsdecode(p) for p in staged.included],
        left_out=staged.left_out,
        submodules=_submodules(repo, env, commit) if has_submodules else [],
        remotes=_remotes(repo),
        created_git_repo=target.created,
        history=bundled.history,
        history_requested=job.history,
        history_reason=bundled.reason,
        bundle_commit=bundled.bundle_commit,
        snapshot_commit_object=raw.decode("utf-8", "surrogateescape"),
        repo_chosen_by=choice.chosen_by,
        entry_script=choice.entry_script,
        exclude=job.exclude,
        index_flags_ignored=staged.flags_ignored,
    )
    return result, report.index_entries(env["GIT_INDEX_FILE"])


def _git(repo: Repo, env: dict[str, str], *args: str, stdin: Optional[bytes] = None) -> str:
    proc = gitrun.run([*NO_SPLIT, *args], cwd=repo.top, env=env, input=stdin)
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def _locate(choice: which.Choice, tmp: str, create_git_repo: bool) -> _Target:
    folder = choice.folder
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise NotAFolderError(folder)
        raise PathNotFoundError(folder)
    paths = locate(folder)
    if paths is None:
        if not create_git_repo:
            raise NotAGitRepoError(folder, hint=choice.not_a_repo_hint())
        return _scratch_repo(folder, tmp)
    head = gitrun.run(
        ["show", "-s", *_NO_GITMODULES, f"--format={_HEAD_FORMAT}", "--date=raw", "HEAD"],
        cwd=folder,
        check=False,
    )
    branch = gitrun.run(["symbolic-ref", "-q", "HEAD"], cwd=folder, check=False)
    head_fields = head.stdout.decode("utf-8", "surrogateescape").rstrip("\n").split("\0")
    repo = dataclasses.replace(
        paths,
        head=head_fields[0] if head.returncode == 0 else None,
        branch=branch.stdout.decode("utf-8", "surrogateescape").strip() or None,
    )
    return _Target(repo, tuple(head_fields[1:]) if head.returncode == 0 else ())


def _scratch_repo(folder: str, tmp: str) -> _Target:
    """A throwaway repository in ``tmp`` whose working tree is ``folder`` (create_git_repo=True).

    Nothing is written to ``folder``: the repository lives and dies in the temporary folder.
    """
    scratch = os.path.join(tmp, "scratch")
    gitrun.run(["init", "-q", "--template=", scratch])
    git_dir = os.path.join(scratch, ".git")
    repo = Repo(
        top=folder,
        git_dir=git_dir,
        objects=os.path.join(git_dir, "objects"),
        index=os.path.join(git_dir, "index"),
        shallow=os.path.join(git_dir, "shallow"),
        object_format="sha1",
    )
    return _Target(repo, created=True)


def _commit(target: _Target, env: dict[str, str], tree: str) -> tuple[str, list[dict[str, str]]]:
    """The snapshot commit and the files it changes: HEAD itself when the tree matches HEAD's,
    else a child of HEAD (or a root commit in a repo with no commits)."""
    repo = target.repo
    if repo.head is not None:
        fields = target.head_fields
        if fields[0] == tree:
            return repo.head, []
        author, committer = fields[1:4], fields[4:7]
        parents = [repo.head]
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
    commit = commit_tree(repo, tree, parents, SNAPSHOT_MESSAGE, identity=ident, env=env)
    # --root: a parentless commit (unborn repo) is compared with the empty tree.
    changed = _git(
        repo,
        env,
        "diff-tree",
        *_NO_GITMODULES,
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


def _submodules(repo: Repo, env: dict[str, str], commit: str) -> list[dict[str, str]]:
    """Submodules recorded in the snapshot commit (their commit ids, not their contents)."""
    listing = _git(repo, env, "ls-tree", "-r", "-z", commit)
    found = []
    for record in listing.split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[0] == "160000":
            found.append({"path": path, "commit": parts[2]})
    return found


def _remotes(repo: Repo) -> dict[str, str]:
    from .metadata import strip_credentials

    proc = gitrun.run(
        ["config", "-z", "--get-regexp", r"^remote\..*\.url$"],
        cwd=repo.top,
        env={"GIT_DIR": repo.git_dir},
        check=False,
    )
    remotes: dict[str, str] = {}
    for record in gitrun.split_z(proc.stdout):
        key, _, url = record.decode("utf-8", "replace").partition("\n")
        remotes[key[len("remote.") : -len(".url")]] = strip_credentials(url)
    return remotes


def _warn_left_out(left_out: list[LeftOut]) -> None:
    if not left_out:
        return
    listed = "; ".join(f"{item.path}: {item.reason}" for item in left_out[:20])
    more = f" (and {len(left_out) - 20} more)" if len(left_out) > 20 else ""
    warn(
        f"JellyML left {len(left_out)} file{'' if len(left_out) == 1 else 's'} out of the "
        f"snapshot: {listed}{more}."
    )


@contextlib.contextmanager
def temporary_bundle_path() -> Iterator[str]:
    """A path for a bundle inside a fresh temporary folder, removed afterwards."""
    with temporary_dir("bundle") as folder:
        yield os.path.join(folder, "snapshot.bundle")
