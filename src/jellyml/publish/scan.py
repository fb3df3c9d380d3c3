"""``jellyml scan``: which checkpoints under some paths still carry a snapshot.

A gate before publishing: every checkpoint file found (folders walked recursively; URLs too) is
read the way ``show`` reads it (never unpickled, never loaded) and reported with whether it
carries a snapshot, its commit, dirty or not, and its size. A damaged snapshot still counts as
carrying one: its bytes may still hold code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..containers import checkpoint_suffixes, recognised
from ..errors import (
    CorruptSnapshotError,
    ModelFileError,
    ModelFileNotFoundError,
    NotACheckpointError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..read.reader import read_snapshot
from ..sources import Stat, storage_for

if TYPE_CHECKING:
    from ..sources import Storage

#: Folders never walked into (a repository's own objects are not checkpoints).
_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules"})


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
        storage = storage_for(path, storage_options)
        for found, named in _files(path, storage):
            entry = _check(found.name, found.size, storage_options, named=named)
            if entry is not None:
                entries.append(entry)
    return entries


def _files(path: str, storage: Storage) -> Iterator[tuple[Stat, bool]]:
    """(file, named by the user) for ``path`` and, for a folder, every file under it."""
    found = storage.stat(path)
    if found.is_file:
        yield found, True
        return
    if not found.is_folder:
        raise ModelFileNotFoundError(path)
    for entry in storage.walk(path, skip=_SKIPPED_DIRS):
        if _may_be_checkpoint(storage, entry.name):
            yield entry, False


def _may_be_checkpoint(storage: Storage, file: str) -> bool:
    """A checkpoint-like name, or (where reading a few bytes costs no request) a file whose
    bytes a container format recognises."""
    if file.lower().endswith(checkpoint_suffixes()):
        return True
    if not storage.cheap_reads:
        return False
    try:
        with storage.open(file) as source:
            return recognised(source)
    except ModelFileError:
        return False


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
