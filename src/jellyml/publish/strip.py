"""``jellyml strip``: the same checkpoint without its snapshot, before it goes public.

- torch zip: every entry copied as it is, except ``data.pkl`` (our two keys cut out without
  unpickling: ``strip_pickle``) and the storages only those keys used; entries stay aligned to
  64 bytes as torch writes them, so the result loads with ``torch.load(weights_only=True)``.
- safetensors: the header rewritten without our two tensors (``__metadata__`` kept), every other
  tensor's bytes copied unchanged, in the same order.
- folders: the snapshot file removed; a snapshot inside one of the folder's files (an HF shard,
  ``meta.pt``, DeepSpeed's model states) stripped from that file, and an HF index's
  ``weight_map`` updated.

Output is written to a temporary file beside it and renamed into place (``--in-place`` too), so
a failure leaves no partial file; the input is replaced only when asked. The result is read back
before it is renamed: a checkpoint still carrying a snapshot is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Optional

from .. import format as fmt
from ..containers import detect
from ..containers import folder as folders
from ..errors import (
    CorruptSnapshotError,
    NotACheckpointError,
    OutputPathError,
    SnapshotNotFoundError,
    StripError,
    UnsupportedFormatError,
)
from ..outputs import creating_folder, replacing
from ..sources import open_source, storage_for

if TYPE_CHECKING:
    from ..sources import Source

_OURS = frozenset({fmt.SNAPSHOT_KEY, fmt.METADATA_KEY})


@dataclass(frozen=True)
class StripResult:
    path: str
    output: str
    kind: str
    #: The tensors (or the files, for a folder's snapshot file) removed.
    removed: tuple[str, ...]
    size_before: int
    size_after: int


def strip(path: str, output: Optional[str] = None, *, in_place: bool = False) -> StripResult:
    """Write ``path`` without its snapshot to ``output`` (or over itself with ``in_place``)."""
    if storage_for(path).local_path(path) is None:
        raise StripError(path, "it is a URL", hint="Download it, strip the local copy, upload.")
    if in_place == (output is not None):
        raise StripError(path, "say where to write", hint="Pass either -o OUT or --in-place.")
    target = path if in_place else str(output)
    if os.path.isdir(path):
        return _strip_folder(path, target, in_place=in_place)
    if not in_place:
        _check_output(path, target)
    with open_source(path) as source:
        kind, removed = _write_atomically(target, lambda out: _strip_into(source, out), path)
    return StripResult(path, target, kind, removed, source.size, os.path.getsize(target))


def _strip_into(source: Source, out: BinaryIO) -> tuple[str, tuple[str, ...]]:
    """The format's own strip; a file whose snapshot is not under our two keys is refused."""
    found = detect(source)
    try:
        return found.name, found.strip(source, out)
    except SnapshotNotFoundError:
        _nothing_under_our_keys(source.name)
        raise


def _nothing_under_our_keys(path: str) -> None:
    """Neither of our keys at the top: say whether the file carries no snapshot at all (the
    caller's error stands), or one stored elsewhere (nested in another dict, another tensor
    name), which strip does not take apart."""
    from ..read.reader import read_snapshot

    try:
        read_snapshot(path)
    except SnapshotNotFoundError:
        return
    raise StripError(
        path,
        f"its snapshot is not stored under the top-level keys {fmt.SNAPSHOT_KEY} and "
        f"{fmt.METADATA_KEY}, the only place strip removes it from",
        hint="Load it, delete the snapshot's two tensors, and save it again.",
    )


def _check_output(path: str, output: str) -> None:
    if os.path.isdir(output):
        raise OutputPathError(output, "it is a directory")
    with contextlib.suppress(OSError):
        if os.path.samefile(path, output):
            raise StripError(
                path, "the output is the input itself", hint="Pass --in-place to replace it."
            )


def _write_atomically(
    target: str, write: Callable[[BinaryIO], tuple[str, tuple[str, ...]]], path: str
) -> tuple[str, tuple[str, ...]]:
    """Run ``write(out)`` into a temporary file beside ``target``, check the result carries no
    snapshot, then rename it over ``target``; on any failure remove it."""
    with replacing(target, ".strip.part", durable=True) as (out, tmp):
        result = write(out)
        out.flush()
        _refuse_if_snapshot_left(tmp, path)
        with contextlib.suppress(OSError):
            shutil.copymode(path, tmp)
    return result


def _refuse_if_snapshot_left(written: str, path: str) -> None:
    from ..read.reader import read_snapshot

    try:
        read_snapshot(written)
    except SnapshotNotFoundError:
        return
    raise StripError(path, "it holds a snapshot under another name, which jellyml cannot remove")


# --- folders ------------------------------------------------------------------------------------


def _strip_folder(path: str, target: str, *, in_place: bool) -> StripResult:
    size_before = _tree_size(path)
    if in_place:
        removed = _strip_folder_in_place(path)
        return StripResult(path, path, "folder", removed, size_before, _tree_size(path))
    if os.path.lexists(target):
        raise OutputPathError(target, "it exists already (a folder is written as a new folder)")
    with creating_folder(target) as copy:
        shutil.copytree(path, copy, symlinks=True)
        removed = _strip_folder_in_place(copy, shown=path)
    return StripResult(path, target, "folder", removed, size_before, _tree_size(target))


def _strip_folder_in_place(path: str, shown: Optional[str] = None) -> tuple[str, ...]:
    """Remove every snapshot the folder's lookup finds, one after the other."""
    shown = shown or path
    removed: list[str] = []
    for _ in range(8):  # a snapshot file, then one inside a weights file: never more than a few
        try:
            file = folders.snapshot_file(path, storage_for(path))
            carries = _has_snapshot(file)
        except (NotACheckpointError, SnapshotNotFoundError):  # nothing (left) to carry one
            if removed:
                break
            raise
        if not carries:
            break
        if os.path.basename(file) == folders.SNAPSHOT_FILE:
            os.unlink(file)
        else:
            strip(file, in_place=True)
            _drop_from_index(path)
        removed.append(os.path.relpath(file, path))
    if not removed:
        raise SnapshotNotFoundError(shown)
    return tuple(removed)


def _has_snapshot(file: str) -> bool:
    """Whether ``file`` carries a snapshot; a damaged or newer one counts (remove it too)."""
    from ..read.reader import read_snapshot

    try:
        read_snapshot(file)
    except SnapshotNotFoundError:
        return False
    except (CorruptSnapshotError, UnsupportedFormatError):
        return True
    return True


def _drop_from_index(path: str) -> None:
    """Remove our keys from an HF index's ``weight_map`` (written atomically)."""
    for index in folders.HF_INDEXES:
        name = os.path.join(path, index)
        if not os.path.isfile(name):
            continue
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not _OURS & set(weight_map):
            continue
        for key in _OURS:
            weight_map.pop(key, None)
        with replacing(name, ".json.part", durable=True) as (out, tmp):
            out.write(json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n")
            with contextlib.suppress(OSError):
                shutil.copymode(name, tmp)


def _tree_size(path: str) -> int:
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(top, name)).st_size
    return total
