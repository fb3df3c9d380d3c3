"""Eating a shallow snapshot (``history="shallow"``): the real commit, wherever it can be had.

A shallow snapshot's bundle holds a parentless twin of the snapshot commit; the header names the
real commit and the metadata keeps its raw text (``snapshot_commit_object``). Where the real
commit's parents exist (a clone that has the base commit), writing that text back gives the very
same commit, so ``git log`` there is the real history. Elsewhere (an empty folder, a repository
without the base commit) the twin is checked out: the tree is exact, and the user is told which
base commit to fetch, and from where, to get the real one.

Everything here comes from the checkpoint and is untrusted: the metadata is validated, and the
rebuilt commit is used only if its id is the header's commit.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..gitcore import shallow as gitshallow
from ..gitcore.repo import Repo
from ..text import shorten

if TYPE_CHECKING:
    from ..read.reader import Snapshot
    from .eat import EatResult

_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
#: A commit object larger than this in the metadata is not trusted (git's own are far smaller).
MAX_COMMIT_OBJECT = 1024 * 1024
_MAX_REMOTES = 20


@dataclass(frozen=True)
class ShallowInfo:
    """What a shallow snapshot's metadata says, validated."""

    commit: str
    bundle_commit: str
    raw: bytes
    base_commit: Optional[str]
    remotes: tuple[tuple[str, str], ...]


def shallow_info(snapshot: Snapshot) -> Optional[ShallowInfo]:
    """The snapshot's shallow facts, or None (a full snapshot, a JellyML 1.0.0 file, or
    metadata that does not hold together: then the bundle must hold the header's commit)."""
    git: Any = (snapshot.metadata or {}).get("git")
    if not isinstance(git, dict) or git.get("history") != "shallow":
        return None
    bundle_commit, raw, base = (
        git.get("bundle_commit"),
        git.get("snapshot_commit_object"),
        git.get("base_commit"),
    )
    if snapshot.commit is None or not isinstance(bundle_commit, str) or not _is_oid(bundle_commit):
        return None
    if not isinstance(raw, str) or len(raw) > MAX_COMMIT_OBJECT:
        return None
    return ShallowInfo(
        commit=snapshot.commit,
        bundle_commit=bundle_commit,
        raw=raw.encode("utf-8", "surrogateescape"),
        base_commit=base if _is_oid(base) else None,
        remotes=_remotes(git.get("remotes")),
    )


def expected_bundle_commit(snapshot: Snapshot) -> Optional[str]:
    """The commit the bundle must hold: the shallow twin, else the header's commit."""
    info = shallow_info(snapshot)
    return info.bundle_commit if info is not None else snapshot.commit


def resolve_snapshot_commit(repo: Repo, snapshot: Snapshot, fetched: str) -> str:
    """After the bundle's commit was fetched (its objects moved into the repository): the real
    snapshot commit when it can be rebuilt here, else ``fetched`` itself."""
    info = shallow_info(snapshot)
    if info is None or fetched != info.bundle_commit:
        return fetched
    rebuilt = gitshallow.rebuild(repo.top, info.raw, info.commit)
    return fetched if rebuilt is None else rebuilt


def note(snapshot: Snapshot, commit: str, top: Optional[str] = None) -> Optional[str]:
    """What the user must know when a shallow snapshot's real commit could not be rebuilt
    (in the repository at ``top``, when there is one)."""
    info = shallow_info(snapshot)
    if info is None or commit == info.commit:
        return None
    base = info.base_commit[:12] if info.base_commit else "unknown"
    if top is not None and info.base_commit and gitshallow.has_commit(top, info.base_commit):
        return (
            f"This snapshot carries no history, and the commit object it records does not give "
            f"back its commit {info.commit[:12]} here (its metadata does not match its header), "
            f"so commit {commit[:12]} has the snapshot's exact files but no parent, although "
            f"its base commit {base} is in this repository."
        )
    if info.remotes:
        where = "; ".join(f"{name} {url}" for name, url in info.remotes[:3])
        fetch = f"fetch it from the snapshot's remote ({where})"
    else:
        fetch = "fetch it from the repository the snapshot was made in (none was recorded)"
    return (
        f"This snapshot carries no history: commit {commit[:12]} has the snapshot's exact files "
        f"but no parent. Its base commit is {base}; {fetch}, then eat it again in that clone to "
        f"get the very same commit {info.commit[:12]} on top of its history."
    )


def annotate(result: EatResult, snapshot: Snapshot) -> EatResult:
    top = None if result.cloned else result.top
    return dataclasses.replace(result, history_note=note(snapshot, result.commit, top))


def _is_oid(value: object) -> bool:
    return isinstance(value, str) and _OID.fullmatch(value) is not None


def _remotes(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    found = [
        (shorten(k), shorten(v, 500))  # untrusted: shown, never run
        for k, v in value.items()
        if isinstance(k, str) and isinstance(v, str)
    ]
    return tuple(sorted(found, key=lambda kv: kv[0] != "origin")[:_MAX_REMOTES])
