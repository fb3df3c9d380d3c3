"""``jellyml scan``: which checkpoints under some paths still carry a snapshot.

A gate before publishing: every checkpoint file found (folders walked recursively; URLs too) is
read the way ``show`` reads it (never unpickled, never loaded). Files are grouped by checkpoint:
a folder of a layout jellyml knows (its snapshot file, an HF index or weights file, Lightning's
``meta.pt``, DeepSpeed's ``latest``, torch.distributed.checkpoint's ``.metadata``) is one row,
whatever else it holds (a Trainer's ``optimizer.pt``, ``rng_state.pth``, ``scheduler.pt``); a
file of it that carries a snapshot besides the one the row shows, or that cannot be read, gets
a row of its own. Each row says whether the checkpoint carries a snapshot, its commit (read from
the bundle for JellyML 1.0.0 files), dirty or not, when it was made, on which branch, and its
size. A damaged snapshot still counts as carrying one: its bytes may still hold code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Optional

from .. import format as fmt
from ..containers import checkpoint_suffixes, recognised
from ..containers import folder as folders
from ..errors import (
    CorruptSnapshotError,
    ModelFileError,
    ModelFileNotFoundError,
    NotACheckpointError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..read.describe import recorded_commit
from ..read.reader import read_snapshot
from ..sources import storage_for

if TYPE_CHECKING:
    from ..sources import Stat, Storage

#: Folders never walked into (a repository's own objects are not checkpoints).
_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules"})
FILE, FOLDER = "file", "folder"


@dataclass(frozen=True)
class ScanEntry:
    """One checkpoint (a file, or a checkpoint folder) and what it carries."""

    path: str
    size: int
    snapshot: bool
    commit: Optional[str] = None
    dirty: Optional[bool] = None
    bundle_size: Optional[int] = None
    #: Why the snapshot could not be read (it still counts as carried).
    problem: Optional[str] = None
    #: ``"file"``, or ``"folder"``: a checkpoint folder, its files in this one row.
    kind: str = FILE
    #: When and on which branch the snapshot was made (its metadata; None for 1.0.0 files).
    created_at: Optional[str] = None
    branch: Optional[str] = None
    #: For a folder, the file (from the folder) whose snapshot the row shows.
    file: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def scan(
    paths: Sequence[str], *, storage_options: Optional[Mapping[str, Any]] = None
) -> list[ScanEntry]:
    """Every checkpoint under ``paths`` (files, folders walked recursively, URLs)."""
    entries: list[ScanEntry] = []
    for path in paths:
        storage = storage_for(path, storage_options)
        found = storage.stat(path)
        if found.is_file:
            entry = _check(found, storage_options, named=True)
            entries += [entry] if entry else []
        elif found.is_folder:
            entries += _scan_tree(path.rstrip("/") or path, storage, storage_options)
        else:
            raise ModelFileNotFoundError(path)
    return entries


def _scan_tree(
    root: str, storage: Storage, storage_options: Optional[Mapping[str, Any]]
) -> list[ScanEntry]:
    """The rows for a folder: checkpoint folders grouped, other checkpoint files alone."""
    files = list(storage.walk(root, skip=_SKIPPED_DIRS))
    groups: dict[str, list[ScanEntry]] = {f: [] for f in _checkpoint_folders(root, files)}
    sizes = dict.fromkeys(groups, 0)
    alone: list[ScanEntry] = []
    for file in files:
        owner = _owner(file.name, groups)
        if owner is not None:
            sizes[owner] += file.size
        if not _may_be_checkpoint(storage, file.name):
            continue
        entry = _check(file, storage_options, named=False)
        if entry is not None:
            (groups[owner] if owner is not None else alone).append(entry)
    rows = alone
    for folder, found in groups.items():
        rows += _folder_rows(folder, sizes[folder], found)
    return sorted(rows, key=lambda entry: _natural(entry.path))


def _natural(path: str) -> list[Any]:
    """``checkpoint-500`` before ``checkpoint-1000``: numbers compare as numbers."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path)
    ]


def _checkpoint_folders(root: str, files: list[Stat]) -> list[str]:
    """The folders (``root`` included) whose own files make them checkpoint folders."""
    names: dict[str, set[str]] = {}
    for file in files:
        parent, _, name = file.name.rpartition("/")
        names.setdefault(parent, set()).add(name)
    return sorted(
        folder
        for folder, held in names.items()
        if not folders.LAYOUT_FILES.isdisjoint(held) and (folder + "/").startswith(root + "/")
    )


def _owner(file: str, groups: Mapping[str, object]) -> Optional[str]:
    """The nearest checkpoint folder holding ``file`` (DeepSpeed keeps the weights one level
    below its ``latest``), or None."""
    parent = file.rpartition("/")[0]
    while parent:
        if parent in groups:
            return parent
        parent = parent.rpartition("/")[0]
    return None


def _folder_rows(folder: str, size: int, found: list[ScanEntry]) -> list[ScanEntry]:
    """One row for the folder; rows of their own for its files that carry another snapshot
    or cannot be read (so the gate still sees them)."""
    carrying = sorted((e for e in found if e.snapshot), key=lambda e: _rank(e.path))
    shown = carrying[0] if carrying else ScanEntry(folder, size, snapshot=False)
    row = replace(shown, path=folder, size=size, kind=FOLDER, file=_relative(shown.path, folder))
    others = [e for e in found if e is not shown and (e.snapshot or e.problem)]
    return [row, *others]


def _rank(path: str) -> tuple[bool, bool, str]:
    """The snapshot file first, then the file the folder's layout names, as the lookup goes."""
    name = path.rpartition("/")[2]
    return name != folders.SNAPSHOT_FILE, name not in folders.LAYOUT_FILES, path


def _relative(path: str, folder: str) -> Optional[str]:
    return path[len(folder) + 1 :] if path.startswith(folder + "/") else None


def _may_be_checkpoint(storage: Storage, file: str) -> bool:
    """A checkpoint-like name, or (where reading a few bytes costs no request) a file whose
    bytes a container format recognises."""
    if file.lower().endswith(checkpoint_suffixes()):
        return True
    if not storage.cheap_reads:
        return False
    try:
        with storage.open(file) as source:
            if recognised(source):
                return True
            big = source.size > _SNIFF_WHOLE
    except ModelFileError:
        return False
    return not big and _holds_magic(file, None)


def _check(
    file: Stat, storage_options: Optional[Mapping[str, Any]], *, named: bool
) -> Optional[ScanEntry]:
    try:
        snapshot = read_snapshot(file.name, storage_options=storage_options)
    except SnapshotNotFoundError:
        return ScanEntry(file.name, file.size, snapshot=False)
    except (CorruptSnapshotError, UnsupportedFormatError) as exc:
        return ScanEntry(file.name, file.size, snapshot=True, problem=str(exc))
    except ModelFileError as exc:
        if _holds_magic(file.name, storage_options):
            # truncated, its zip directory gone, trailing garbage, a tar: its bytes still
            # hold a snapshot header, so it may still hold code
            problem = f"damaged, may hold a snapshot: {exc}"
            return ScanEntry(file.name, file.size, snapshot=True, problem=problem)
        if named:
            raise
        if isinstance(exc, NotACheckpointError):
            return None  # found while walking, and not a checkpoint after all
        return ScanEntry(file.name, file.size, snapshot=False, problem=str(exc))
    meta = snapshot.metadata or {}
    section = meta.get("git")
    git: dict[str, Any] = section if isinstance(section, dict) else {}
    return ScanEntry(
        file.name,
        file.size,
        snapshot=True,
        commit=recorded_commit(snapshot),
        dirty=_typed(git.get("dirty"), bool),
        bundle_size=snapshot.bundle_size,
        created_at=_typed(meta.get("created_at"), str),
        branch=_typed(git.get("branch"), str),
    )


_MAGICS = (fmt.SNAPSHOT_MAGIC.encode(), fmt.METADATA_MAGIC.encode())
#: A file without a checkpoint's name or bytes is searched for a snapshot's magic only up to
#: this size (a damaged checkpoint, a tar of one); larger ones would make a scan read data sets.
_SNIFF_WHOLE = 1 << 30


def _holds_magic(name: str, storage_options: Optional[Mapping[str, Any]]) -> bool:
    """Whether a local file's bytes hold a snapshot header's magic anywhere (read in chunks,
    overlapping by a magic's length). A URL is not read whole: False."""
    storage = storage_for(name, storage_options)
    if not storage.cheap_reads:
        return False
    try:
        with storage.open(name) as source:
            tail = b""
            for chunk in source.iter_range(0, source.size):
                block = tail + chunk
                if any(magic in block for magic in _MAGICS):
                    return True
                tail = block[-32:]
    except ModelFileError:
        return False
    return False


def _typed(value: Any, kind: type) -> Any:
    """``value`` when it is of type ``kind`` (the metadata is untrusted), else None."""
    return value if type(value) is kind else None
