"""How much history a snapshot's bundle carries: ``history="full"``, ``"shallow"`` or ``"auto"``.

A full bundle is the snapshot commit and everything it reaches: on a repository with a long
history that is tens of MB in every checkpoint, for a tree of a few MB. A shallow bundle holds a
parentless twin of the snapshot commit (same tree, author, committer, message); the metadata
keeps the real commit's raw text, from which eat rebuilds the very same commit wherever its base
commit exists. ``"auto"`` keeps the full history while it stays under ``AUTO_FULL_HISTORY_LIMIT``.
A shallow clone always gets a shallow snapshot: its history is incomplete, and a full bundle of
it would name a parent it does not hold.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ..errors import InvalidSnapshotOptionError, SnapshotTooLargeError
from ..gitcore import run as gitrun
from ..gitcore import shallow
from ..gitcore.bundle import create_bundle
from ..gitcore.repo import Repo
from ..warn import warn

AUTO, FULL, SHALLOW = "auto", "full", "shallow"
HISTORY_MODES = (AUTO, FULL, SHALLOW)
MiB = 1024 * 1024
#: ``history="auto"`` keeps the full history while its bundle stays at or under this size
#: (see benchmarks/RESULTS.md: a small project's whole history is a few MiB; the public ML
#: repositories measured in issue 9 made 77-83 MB bundles for 9-16 MB of code).
AUTO_FULL_HISTORY_LIMIT = 16 * MiB


@dataclass(frozen=True)
class Bundled:
    """The bundle written: how much history it holds, its one commit, and why."""

    history: str
    bundle_commit: str
    reason: str
    size: int


def check_history(history: object) -> str:
    if history not in HISTORY_MODES:
        raise InvalidSnapshotOptionError("history", history, HISTORY_MODES)
    return str(history)


def write_bundle(
    repo: Repo,
    store: str,
    commit: str,
    raw: bytes,
    *,
    bundle_path: str,
    requested: str,
    max_total_size: int,
    trivial: bool,
) -> Bundled:
    """Bundle ``commit`` (whose object text is ``raw``) as ``requested`` allows: full history
    first when chosen, shallow when asked, when the history is too large for ``"auto"`` or the
    size limit, or when the repository is a shallow clone. ``trivial``: the commit has no
    parent anyway (no commits yet), so the full bundle is the shallow one."""
    if trivial:
        mode, reason = FULL, "the snapshot commit has no parent"
    else:
        mode, reason = _plan(repo, requested)
    if mode == FULL:
        create_bundle(store, commit, bundle_path)
        size = os.path.getsize(bundle_path)
        limit = max_total_size if requested == FULL else min(max_total_size, _auto_limit())
        if size <= limit or (trivial and size <= max_total_size):
            return Bundled(FULL, commit, reason, size)
        _unlink(bundle_path)
        if requested == FULL or trivial:
            raise SnapshotTooLargeError(size, max_total_size, "git bundle (full history)")
        over = (
            f"max_total_size ({max_total_size:,} bytes)"
            if size > max_total_size
            else _limit_text(limit)
        )
        reason = f"the full history made a {size / MiB:.1f} MiB bundle, over {over}"
    twin = shallow.hash_commit(store, shallow.without_parents(raw), write=True, env=_env(store))
    create_bundle(store, twin, bundle_path)
    shallow_size = os.path.getsize(bundle_path)
    if shallow_size > max_total_size:
        _unlink(bundle_path)
        raise SnapshotTooLargeError(
            shallow_size, max_total_size, "git bundle (shallow: no history)"
        )
    if mode == FULL:  # fell back from the full history: said once the shallow one is made
        _warn_shallow(reason)
    return Bundled(SHALLOW, twin, reason, shallow_size)


def _plan(repo: Repo, requested: str) -> tuple[str, str]:
    if repo.is_shallow:
        if requested == FULL:
            warn(
                f"{repo.top} is a shallow clone: its history is incomplete, so JellyML made a "
                "shallow snapshot instead of history='full' (eaten into a full clone, it "
                "restores the very same commit)."
            )
        return SHALLOW, "the repository is a shallow clone"
    if requested != AUTO:
        return requested, f"history={requested!r}"
    estimate, measured = _history_size(repo)
    if estimate > _auto_limit():
        limit = _limit_text(_auto_limit())
        reason = f"its history takes {estimate / MiB:.1f} MiB ({measured}), over {limit}"
        _warn_shallow(reason)
        return SHALLOW, reason
    return FULL, f"history='auto': its history takes at most {estimate / MiB:.1f} MiB"


def _auto_limit() -> int:
    return AUTO_FULL_HISTORY_LIMIT


def _limit_text(limit: int) -> str:
    return f"the {limit / MiB:.0f} MiB that history='auto' keeps in every checkpoint"


def _history_size(repo: Repo) -> tuple[int, str]:
    """What a full bundle would carry, on disk, and how that was measured. First the
    repository's objects (``git count-objects``, no walk: a cheap upper bound); only when that
    is over the limit, the objects HEAD reaches (``git rev-list --disk-usage``): unreachable
    objects (a branch deleted, work put aside and dropped) never make a snapshot shallow."""
    bound = _objects_size(repo)
    if bound <= _auto_limit() or gitrun.git_version() < (2, 31):
        return bound, "git count-objects"
    argv = ["rev-list", "--objects", "--disk-usage", "HEAD"]
    out = gitrun.run(argv, cwd=repo.top, check=False).stdout.strip()
    return (int(out), "the objects HEAD reaches") if out.isdigit() else (bound, "git count-objects")


def _objects_size(repo: Repo) -> int:
    """What the repository's objects take on disk (loose and packed), unreachable ones too."""
    out = gitrun.run(["count-objects", "-v"], cwd=repo.top, check=False).stdout
    total = 0
    for line in out.decode("ascii", "replace").splitlines():
        key, _, value = line.partition(": ")
        if key in ("size", "size-pack") and value.strip().isdigit():
            total += int(value) * 1024
    return total


def _warn_shallow(reason: str) -> None:
    warn(
        f"JellyML made a shallow snapshot (the code, without its history): {reason}. Eaten into "
        "a clone that has its base commit, it restores the very same commit. Pass "
        "history='full' to keep the history in every checkpoint, or history='shallow' to "
        "choose this without a warning."
    )


def _env(store: str) -> dict[str, str]:
    return {"GIT_DIR": store}


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
