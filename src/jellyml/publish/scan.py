"""``jellyml scan``: which checkpoints under some paths still carry a snapshot.

A gate before publishing: every checkpoint file found (folders walked recursively; URLs too) is
read the way ``show`` reads it (never unpickled, never loaded) and reported with whether it
carries a snapshot, its commit, dirty or not, and its size. A damaged snapshot still counts as
carrying one: its bytes may still hold code.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional

from ..containers.folder import CHECKPOINT_SUFFIXES
from ..errors import (
    CorruptSnapshotError,
    ModelFileError,
    ModelFileNotFoundError,
    NotACheckpointError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..read.reader import read_snapshot
from ..sources import is_url

#: Folders never walked into (a repository's own objects are not checkpoints).
_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules"})
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class ScanEntry:
    """One checkpoint file and what it carries."""

    path: str
    size: int
    snapshot: bool
    commit: Optional[str] = None
    dirty: Optional[bool] = None
    bundle_size: Optional[int] = None
    #: Why the snapshot could not be read (it still counts as carried).
    problem: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def scan(
    paths: Sequence[str], *, storage_options: Optional[Mapping[str, Any]] = None
) -> list[ScanEntry]:
    """Every checkpoint under ``paths`` (files, folders walked recursively, URLs)."""
    entries: list[ScanEntry] = []
    for path in paths:
        for file, size, named in _files(path, storage_options):
            entry = _check(file, size, storage_options, named=named)
            if entry is not None:
                entries.append(entry)
    return entries


def _files(
    path: str, storage_options: Optional[Mapping[str, Any]]
) -> Iterator[tuple[str, int, bool]]:
    """(file, size, named by the user) for ``path`` and, for a folder, every file under it."""
    if is_url(path):
        yield from _remote_files(path, storage_options)
        return
    if os.path.isfile(path):
        yield path, os.path.getsize(path), True
        return
    if not os.path.isdir(path):
        raise ModelFileNotFoundError(path)
    for top, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            file = os.path.join(top, name)
            if os.path.isfile(file) and not os.path.islink(file) and _may_be_checkpoint(file):
                yield file, os.path.getsize(file), False


def _may_be_checkpoint(file: str) -> bool:
    """A checkpoint-like name, or a file that starts like a zip or a safetensors file."""
    if file.lower().endswith(CHECKPOINT_SUFFIXES):
        return True
    from ..containers.safetensors import looks_like_safetensors

    try:
        with open(file, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return head.startswith(_ZIP) or looks_like_safetensors(head)


def _remote_files(
    url: str, storage_options: Optional[Mapping[str, Any]]
) -> Iterator[tuple[str, int, bool]]:
    from ..sources.remote import stat

    fs, path, info = stat(url, storage_options)
    if info.get("type") != "directory":
        yield url, int(info.get("size") or 0), True
        return
    # Over a network only checkpoint-like names are looked at: sniffing costs a request each.
    base = url.rstrip("/")
    found = fs.find(path, detail=True)
    for name in sorted(found):
        meta = found[name]
        relative = posixpath.relpath(name, path.rstrip("/"))
        if meta.get("type") == "file" and relative.lower().endswith(CHECKPOINT_SUFFIXES):
            yield f"{base}/{relative}", int(meta.get("size") or 0), False


def _check(
    file: str, size: int, storage_options: Optional[Mapping[str, Any]], *, named: bool
) -> Optional[ScanEntry]:
    try:
        snapshot = read_snapshot(file, storage_options=storage_options)
    except SnapshotNotFoundError:
        return ScanEntry(file, size, snapshot=False)
    except (CorruptSnapshotError, UnsupportedFormatError) as exc:
        return ScanEntry(file, size, snapshot=True, problem=str(exc))
    except NotACheckpointError:
        if named:
            raise
        return None  # found while walking, and not a checkpoint after all
    except ModelFileError as exc:
        if named:
            raise
        return ScanEntry(file, size, snapshot=False, problem=str(exc))
    git = (snapshot.metadata or {}).get("git")
    dirty = git.get("dirty") if isinstance(git, dict) else None
    return ScanEntry(
        file,
        size,
        snapshot=True,
        commit=snapshot.commit,
        dirty=dirty if isinstance(dirty, bool) else None,
        bundle_size=snapshot.bundle_size,
    )
