"""What a snapshot records, as one flat dict: the engine of `jellyml show`."""

from __future__ import annotations

import os
from typing import Any, Optional

from ..gitcore.bundle import bundle_heads
from ..sources import is_url
from .reader import Snapshot, read_snapshot


def describe(model: str) -> dict[str, Any]:
    """The snapshot's metadata as one flat, JSON-ready dict (None where it was not recorded).

    Files from JellyML 1.0.0 carry no metadata; their commit is read from the bundle itself.
    """
    snapshot = read_snapshot(model)
    meta = snapshot.metadata or {}
    git: dict[str, Any] = meta.get("git") or {}
    commit = snapshot.commit or git.get("commit") or _bundle_commit(snapshot)
    packages = meta.get("packages")
    return {
        "model": model if is_url(model) else os.path.abspath(model),
        "format_version": snapshot.format_version,
        "bundle_size": snapshot.bundle_size,
        "commit": commit,
        "base_commit": git.get("base_commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "repo_name": git.get("repo_name"),
        "changed_files": git.get("changed_files"),
        "untracked_included": git.get("untracked_included"),
        "left_out": git.get("left_out"),
        "submodules": git.get("submodules"),
        "remotes": git.get("remotes"),
        "created_at": meta.get("created_at"),
        "hostname": meta.get("hostname"),
        "platform": meta.get("platform"),
        "python": meta.get("python"),
        "torch": meta.get("torch"),
        "jellyml": meta.get("jellyml"),
        "argv": meta.get("argv"),
        "cwd": meta.get("cwd"),
        "packages": len(packages) if isinstance(packages, dict) else None,
        "has_metadata": snapshot.metadata is not None,
    }


def _bundle_commit(snapshot: Snapshot) -> Optional[str]:
    with snapshot.extracted_bundle() as bundle:
        heads = bundle_heads(bundle)
    return heads[0][0] if heads else None
