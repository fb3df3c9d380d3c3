"""``jellyml diff``: a snapshot against the working tree, another checkpoint, a revision, or its
own base commit, shown by ``git diff`` itself (so the user's git settings apply).

The snapshot's side is in the scratch store (``tree.Scratch``); a revision is read through
alternates; the working tree is what a temporary copy of the index (untracked files added as
intent-to-add) shows ``git diff REV``. git runs in the user's repository with the scratch store
as its object directory (its config and attributes apply; nothing is written there), or in the
scratch store outside any repository.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Optional

from ..errors import (
    BaseCommitUnknownError,
    MissingCommitError,
    NotAGitRepoError,
    PathNotInSnapshotError,
    RevisionNotFoundError,
)
from ..gitcore import run as gitrun
from ..gitcore.repo import Repo
from ..gitcore.unpack import resolve, worktree_index
from ..snapshot.guards import Guards
from ..sources import MISSING, storage_for
from ..text import shorten
from .tree import Loaded, Scratch, scratch, snapshot_path, under

#: ``diff``'s output formats, as git spells them.
FORMATS = ("--stat", "--name-only", "--name-status")


@dataclass(frozen=True)
class DiffPlan:
    """The two sides to compare (``new`` None: the working tree), and where git must run to
    see both."""

    old: str
    new: Optional[str]
    cwd: Optional[str]
    env: dict[str, str]

    def argv(self, options: Sequence[str], paths: Sequence[str]) -> list[str]:
        """``git diff`` of the two sides; ``paths`` are literal, from the repository's top."""
        rels = [os.fsdecode(snapshot_path(p)) or "." for p in paths]
        sides = [self.old] if self.new is None else [self.old, self.new]
        # --ignore-submodules=none: git does not read .gitmodules, whose `update = !command`
        # it would die on (a snapshot is untrusted)
        return ["diff", "--ignore-submodules=none", *options, *sides, "--", *rels]

    def run(self, options: Sequence[str], paths: Sequence[str], *, pager: bool = True) -> int:
        """Run that ``git diff`` with the terminal attached, so that the user's colours and
        pager apply (``pager=False``: none); git's exit code."""
        argv = self.argv(options, paths) if pager else ["--no-pager", *self.argv(options, paths)]
        return gitrun.attached(argv, cwd=self.cwd, env=self.env)


@contextlib.contextmanager
def planned_diff(
    model: str,
    other: Optional[str] = None,
    *,
    base: bool = False,
    paths: Sequence[str] = (),
    code_dir: Optional[str] = None,
) -> Iterator[DiffPlan]:
    """The plan of ``diff``, valid inside the block (its scratch store is removed after).

    ``other`` None: against the working tree; an existing file: a second checkpoint; else a
    revision of the repository. ``base``: the snapshot's base commit against the snapshot.
    """
    # A folder too: folder checkpoints hold a snapshot file. A URL too.
    two = other is not None and not base and storage_for(other).stat(other).kind != MISSING
    with scratch(code_dir) as work:
        loaded, *second = work.load_all([model, other] if two and other else [model])
        for each in (loaded, *second):  # git diff would walk a git bomb whole: stop first
            work.files(each.model, each.tip)
        new: Optional[str] = loaded.tip
        worktree: dict[str, str] = {}
        if base:
            old = _base_commit(work, loaded)
        elif second:
            old, new = loaded.tip, second[0].tip
        elif other is None:
            here = _need_repo(work)
            old, new = loaded.tip, None
            worktree = worktree_index(here, work.store, work.tmp, _snapshot_rules(here))
        else:
            old, new = loaded.tip, _revision(work, other)
        # In the user's repository when there is one, so that its config (colours, diff
        # drivers, renames) and attributes apply; objects come from (and go to) the store.
        repo = work.borrow()
        env = {"GIT_LITERAL_PATHSPECS": "1"}
        if repo is not None:
            env["GIT_OBJECT_DIRECTORY"] = os.path.join(work.store, "objects")
            plan = DiffPlan(old, new, repo.top, {**env, **worktree})
        else:
            plan = DiffPlan(old, new, None, {**env, "GIT_DIR": work.store})
        _check_paths(work, model, paths, plan)
        yield plan


def _need_repo(work: Scratch) -> Repo:
    repo = work.borrow()
    if repo is None:
        folder = os.path.abspath(work.code_dir or os.getcwd())
        raise NotAGitRepoError(
            folder,
            hint="Run it inside the repository to compare with (or pass -c DIR), or give a "
            "second model file or revision to compare with.",
        )
    return repo


def _snapshot_rules(repo: Repo) -> Callable[[bytes], bool]:
    """Which untracked files the working tree's side includes: those a snapshot would (not
    secret-looking files, not nested repositories, none over the size limit), so that both
    sides are made by the same rules and a big untracked checkpoint is never hashed."""
    guards = Guards()
    top = os.fsencode(repo.top)

    def keep(path: bytes) -> bool:
        try:
            size = os.lstat(os.path.join(top, path)).st_size
        except OSError:  # gone since git listed it
            return False
        return guards.reason_to_leave_out(os.fsdecode(path), size) is None

    return keep


def _revision(work: Scratch, revision: str) -> str:
    repo = work.borrow()
    if repo is None:
        raise RevisionNotFoundError(shorten(revision), None)
    found = resolve(work.store, revision, cwd=repo.top)
    if found is None:
        raise RevisionNotFoundError(shorten(revision), repo.top)
    return found


def _base_commit(work: Scratch, loaded: Loaded) -> str:
    """The commit the snapshot was made on: from the metadata; for a full snapshot the bundle
    carries it, for a shallow one the repository must have it."""
    base = loaded.recorded_commit("base_commit")
    if base is None:
        if "base_commit" in loaded.git_meta and loaded.git_meta["base_commit"] is None:
            # Made before the repository's first commit: every file was uncommitted.
            return work.git("mktree", input=b"").stdout.decode().strip()
        raise BaseCommitUnknownError(loaded.model)
    if base == loaded.recorded_commit("commit") or base == loaded.tip:
        return loaded.tip
    if not work.has(base):
        repo = work.borrow()
        if not work.has(base):
            raise MissingCommitError(base, repo.top if repo else None, loaded.remotes)
    return base


def _check_paths(work: Scratch, model: str, paths: Sequence[str], plan: DiffPlan) -> None:
    """Each path must name a file or folder on at least one side (else git would print
    nothing, and a typo would look like "no difference")."""
    if not paths:
        return
    files = {path for path, _meta in work.files(model, plan.old)}
    if plan.new is not None:
        files.update(path for path, _meta in work.files(model, plan.new))
    else:  # the working tree: what the temporary index lists, intent-to-add entries included
        listed = gitrun.run(["ls-files", "-z"], cwd=plan.cwd, env=plan.env).stdout
        files.update(gitrun.split_z(listed))
    for given in paths:
        prefix = snapshot_path(given)
        if prefix and prefix not in files and not any(under(f, prefix) for f in files):
            raise PathNotInSnapshotError(model, shorten(given))


def diff_snapshot(
    model: str,
    other: Optional[str] = None,
    *,
    base: bool = False,
    paths: Sequence[str] = (),
    output: Optional[str] = None,
    code_dir: Optional[str] = None,
) -> str:
    """``git diff`` between ``model``'s snapshot (old side) and ``other`` (new side): the
    working tree when None, a second model file, or a revision of the repository; with
    ``base``, the snapshot's base commit (old) against the snapshot (new). ``output`` is one
    of ``"--stat"``, ``"--name-only"``, ``"--name-status"`` (default: the patch). Plain text,
    no colour; empty when nothing differs."""
    options = ["--no-color", "--no-ext-diff"]
    if output is not None:
        if output not in FORMATS:
            raise ValueError(f"output must be one of {', '.join(FORMATS)}, not {output!r}")
        options.append(output)
    with planned_diff(model, other, base=base, paths=paths, code_dir=code_dir) as plan:
        proc = gitrun.run(plan.argv(options, paths), cwd=plan.cwd, env=plan.env)
    return proc.stdout.decode("utf-8", "surrogateescape")
