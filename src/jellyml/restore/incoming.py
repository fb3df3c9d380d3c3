"""A snapshot's objects on their way into the repository: checked before anything touches it.

The bundle's pack is first indexed into a temporary object store that borrows the repository's
objects (``gitcore.store``), so a damaged bundle, a git bomb, a snapshot of another project or
one already checked out is refused with the repository's ``.git`` untouched (nothing written, no
``tmp_pack_*`` left): what a failed ``index-pack`` leaves is in the temporary folder, which is
removed. Only then is the new pack moved into the repository.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import CorruptSnapshotError, GitCommandError
from ..gitcore import run as gitrun
from ..gitcore.limits import tree_files
from ..gitcore.repo import Repo, object_types
from ..gitcore.shallow import parents
from ..gitcore.store import scratch_store, write_alternates
from ..gitcore.unpack import (
    MAX_HEADER,
    BundleHeader,
    index_pack,
    missing,
    parse_bundle_header,
    resolve,
)
from .shallow import MAX_COMMIT_OBJECT

_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")
_MAX_PARENTS = 16


@dataclass(frozen=True)
class Fetched:
    """The snapshot's objects in a temporary store that borrows the repository's."""

    store: str
    commit: str
    #: Which of the bundle's tip, the recorded base commit and a shallow snapshot's parents
    #: the repository has (as commits).
    known: frozenset[str]


def fetch_to_store(
    repo: Repo, model: str, bundle: Bundle, tmp: str, metadata: Optional[dict[str, Any]]
) -> Fetched:
    """Bring the bundle's objects into a store in ``tmp`` that borrows the repository's, and
    keep there only those the repository lacks (the pack moved in later stays small).

    A tip the repository has already (a clean snapshot is HEAD itself; an eat done before
    moved the commit in) needs nothing from the bundle. Otherwise its pack is indexed (one
    ``index-pack``, where ``git fetch`` would run three processes). Raises
    ``CorruptSnapshotError`` (naming git's reason) when git cannot read the pack, or when the
    bundle builds on commits the repository does not have."""
    tip, name = bundle.tip
    known = commits_in(repo, [tip, *recorded_commits(metadata)])
    store = scratch_store(tmp, repo.object_format)
    lenders = [os.path.abspath(repo.objects)]
    new = tip not in known
    if new:
        _index(repo, model, bundle, store)
    write_alternates(store, lenders)  # after index-pack: it compares objects it already has
    if repo.is_shallow:
        shutil.copyfile(repo.shallow, os.path.join(store, "shallow"))
    commit = tip
    if name != "HEAD" and not name.startswith("refs/heads/"):  # a commit, in what git makes
        peeled = resolve(store, tip)
        if peeled is None:
            raise CorruptSnapshotError(model, f"its bundle's {name} is not a commit")
        commit = peeled
    if new:
        _keep_only_new(store, commit, [c for c in (repo.head, *known) if c is not None])
    return Fetched(store, commit, frozenset(known))


def _index(repo: Repo, model: str, bundle: Bundle, store: str) -> None:
    header = bundle.header
    if header.prerequisites:  # a thin pack: its bases come from the repository
        write_alternates(store, [os.path.abspath(repo.objects)])
        absent = missing(store, header.prerequisites)
        if absent:
            raise CorruptSnapshotError(
                model, f"its bundle needs commit {absent[0][:12]}, which {repo.top} does not have"
            )
    try:
        with open(bundle.path, "rb") as f:
            f.seek(bundle.start)
            index_pack(store, iter(lambda: f.read(1 << 20), b""), thin=bool(header.prerequisites))
    except GitCommandError as exc:
        last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "git failed"
        raise CorruptSnapshotError(model, f"its git bundle is damaged ({last[:200]})") from None


def _keep_only_new(store: str, commit: str, have: list[str]) -> None:
    """Replace the store's pack (the whole bundle: for a full snapshot, the project's history,
    which the repository mostly has) by one of the objects ``commit`` reaches and the commits
    ``have`` do not: what ``move_into`` adds to the repository's ``.git`` is then the
    snapshot's own few objects. Nothing is done when there is nothing to exclude."""
    if not have:
        return
    folder = os.path.join(store, "objects", "pack")
    whole = set(os.listdir(folder))
    revs = "".join(f"{line}\n" for line in (commit, *(f"^{c}" for c in have)))
    made = gitrun.run(
        ["pack-objects", "--revs", "-q", os.path.join(folder, "pack")],
        env={"GIT_DIR": store},
        input=revs.encode(),
    )
    kept = f"pack-{made.stdout.decode('ascii', 'replace').strip()}."
    for name in whole:  # the same objects give the same name: that pack stays
        if name.startswith("pack-") and not name.startswith(kept):
            os.unlink(os.path.join(folder, name))


def commits_in(repo: Repo, oids: list[str]) -> set[str]:
    """Which of ``oids`` are commits in the repository (one ``cat-file`` for all)."""
    found = object_types(oids, cwd=repo.top)
    return {oid for oid, (name, kind) in zip(oids, found) if kind == "commit" and name == oid}


def recorded_commits(metadata: Optional[dict[str, Any]]) -> list[str]:
    """The commits a snapshot's metadata says it was made on: its base commit, and the
    parents of a shallow snapshot's real commit (untrusted: ids of the right shape only)."""
    base = _base_commit(metadata)
    return [*([base] if base else []), *_shallow_parents(metadata)]


@dataclass(frozen=True)
class Bundle:
    """The snapshot's bundle, extracted to ``path``: its header, where its pack starts, and
    its tip (``HEAD`` when it has one, as every JellyML bundle does: (object id, ref name))."""

    path: str
    header: BundleHeader
    start: int
    tip: tuple[str, str]


def read_bundle(model: str, path: str, commit: Optional[str]) -> Bundle:
    """The bundle's header, read here (no git process for a few bytes); it must hold the
    commit the snapshot's header names (files from JellyML 1.0.0 name none), before anything
    is touched."""
    try:
        with open(path, "rb") as f:
            header, start = parse_bundle_header(f.read(MAX_HEADER))
    except (OSError, ValueError):
        raise CorruptSnapshotError(model, "its git bundle cannot be read") from None
    heads = sorted(header.refs, key=lambda head: head[1] != "HEAD")
    if commit is not None and commit not in (oid for oid, _name in heads):
        raise CorruptSnapshotError(model, f"its bundle does not hold commit {commit[:12]}")
    return Bundle(path, header, start, heads[0])


def check_limits(model: str, store: str, commit: str) -> dict[bytes, str]:
    """Refuse a snapshot over the limits of ``settings.SNAPSHOT_LIMITS`` before a file of it is
    written (the tree streamed, stopped at the first limit passed: ``gitcore.limits``); return
    its files (path -> mode)."""
    listed = tree_files(model, commit, {"GIT_DIR": store})
    return {path: meta.split(b" ", 1)[0].decode("ascii", "replace") for meta, _size, path in listed}


def is_related(repo: Repo, fetched: Fetched, metadata: Optional[dict[str, Any]]) -> bool:
    """Whether the snapshot shares history with the repository's HEAD (an unborn HEAD has
    nothing to lose), or names as its base, or as a parent of its real commit (a shallow
    snapshot carries no history to compare), a commit the repository has."""
    if repo.head is None:
        return True
    if any(commit in fetched.known for commit in recorded_commits(metadata)):
        return True
    store = fetched.store
    proc = gitrun.run(
        ["merge-base", fetched.commit, repo.head], cwd=store, env={"GIT_DIR": store}, check=False
    )
    return proc.returncode == 0


def _shallow_parents(metadata: Optional[dict[str, Any]]) -> list[str]:
    """The parents of a shallow snapshot's real commit, as its recorded commit object names
    them (untrusted: only ids of the right shape, and only a few)."""
    git = metadata.get("git") if isinstance(metadata, dict) else None
    raw = git.get("snapshot_commit_object") if isinstance(git, dict) else None
    if not isinstance(raw, str) or len(raw) > MAX_COMMIT_OBJECT:
        return []
    found = parents(raw.encode("utf-8", "surrogateescape"))
    return [p for p in found if _OID.match(p)][:_MAX_PARENTS]


def _base_commit(metadata: Optional[dict[str, Any]]) -> Optional[str]:
    git = metadata.get("git") if isinstance(metadata, dict) else None
    base = git.get("base_commit") if isinstance(git, dict) else None
    return base if isinstance(base, str) and _OID.match(base) else None


def move_into(store: str, repo: Repo) -> None:
    """Move the store's new pack files into the repository's object store: each ``.idx`` last,
    as git looks a pack up by its index. A pack already there (same name, same content) stays."""
    source = os.path.join(store, "objects", "pack")
    if not os.path.isdir(source):  # the repository had every object already: nothing fetched
        return
    target = os.path.join(repo.objects, "pack")
    os.makedirs(target, exist_ok=True)
    names = sorted(os.listdir(source), key=lambda n: n.endswith(".idx"))
    for name in names:
        if not name.startswith("pack-"):
            continue
        dest = os.path.join(target, name)
        if not os.path.exists(dest):
            _move(os.path.join(source, name), dest)


def _move(src: str, dest: str) -> None:
    try:
        os.rename(src, dest)
        return
    except OSError:  # another file system: copy under a temporary name, then rename
        pass
    part = f"{dest}.jellyml-{os.getpid()}.part"
    try:
        shutil.copyfile(src, part)
        os.chmod(part, 0o444)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
