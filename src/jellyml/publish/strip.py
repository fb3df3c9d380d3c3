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
    JellyMLError,
    NotACheckpointError,
    OutputExistsError,
    OutputPathError,
    SnapshotNotFoundError,
    StripError,
    UnsupportedFormatError,
)
from ..outputs import creating_folder, replacing, tree_size
from ..sources import open_source, storage_for

if TYPE_CHECKING:
    from ..sources import Source

_OURS = frozenset({fmt.SNAPSHOT_KEY, fmt.METADATA_KEY})


@dataclass(frozen=True)
class StripResult:
    path: str
    output: str
    kind: str
    #: The tensors (or the files, for a folder's snapshot file) removed; empty when the
    #: checkpoint carried no snapshot (nothing to strip).
    removed: tuple[str, ...]
    size_before: int
    size_after: int
    #: Why a checkpoint of ``strip --recursive`` could not be stripped (None: it was).
    problem: Optional[str] = None

    @property
    def nothing(self) -> bool:
        return not self.removed and self.problem is None


def strip(
    path: str,
    output: Optional[str] = None,
    *,
    in_place: bool = False,
    force: bool = False,
    strict: bool = False,
) -> StripResult:
    """Write ``path`` without its snapshot to ``output`` (or over itself with ``in_place``).

    A checkpoint without a snapshot is nothing to strip: ``output`` gets an unchanged copy
    (the release goes on), or with ``strict`` ``SnapshotNotFoundError`` is raised. An existing
    ``output`` is replaced only with ``force``; the input is never written unless ``in_place``,
    and never through a symbolic link (the link is replaced, the file it points to is not)."""
    if storage_for(path).local_path(path) is None:
        raise StripError(path, "it is a URL", hint="Download it, strip the local copy, upload.")
    if in_place == (output is not None):
        raise StripError(path, "say where to write", hint="Pass either -o OUT or --in-place.")
    target = path if in_place else str(output)
    if not in_place:
        _check_output(path, target, force=force)
    try:
        if os.path.isdir(path):
            return _strip_folder(path, target, in_place=in_place, force=force)
        with open_source(path) as source:
            kind, removed = _write_atomically(target, lambda out: _strip_into(source, out), path)
        return StripResult(path, target, kind, removed, source.size, os.path.getsize(target))
    except SnapshotNotFoundError:
        if strict:
            raise
        return _nothing_to_strip(path, target, in_place=in_place)


def _nothing_to_strip(path: str, target: str, *, in_place: bool) -> StripResult:
    """No snapshot: the output is an unchanged copy (written all or nothing)."""
    size = tree_size(path) if os.path.isdir(path) else os.path.getsize(path)
    if not in_place:
        if os.path.isdir(path):
            with creating_folder(target) as copy:
                shutil.copytree(path, copy, symlinks=False, ignore_dangling_symlinks=True)
        else:
            with (
                replacing(target, ".strip.part", durable=True) as (out, _tmp),
                open(path, "rb") as f,
            ):
                shutil.copyfileobj(f, out, 1 << 20)
    return StripResult(path, target, "folder" if os.path.isdir(path) else "file", (), size, size)


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


def _check_output(path: str, output: str, *, force: bool) -> None:
    with contextlib.suppress(OSError):
        if os.path.samefile(path, output):
            raise StripError(
                path, "the output is the input itself", hint="Pass --in-place to replace it."
            )
    if os.path.isdir(output) and not os.path.isdir(path):
        raise OutputPathError(output, "it is a directory")
    if os.path.lexists(output) and not force:
        raise OutputExistsError(output)


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
    """The output read back: no snapshot, no tensor starting with one of our headers (a
    metadata tensor left behind), and (``torch.save`` files) every other key as before."""
    from ..read.reader import read_snapshot

    try:
        read_snapshot(written)
    except SnapshotNotFoundError:
        pass
    else:
        raise StripError(
            path, "it holds a snapshot under another name, which jellyml cannot remove"
        )
    if _header_left(written):
        raise StripError(path, "a tensor of the snapshot would be left in the output")
    _same_other_keys(path, written)


def _header_left(written: str) -> bool:
    from ..containers import open_container

    with open_source(written) as source:
        archive = open_container(source)
        for entry in archive.tensor_entries():
            if entry.size >= fmt.HEADER_SIZE:
                _start, head = archive.data_offset(entry, peek=fmt.HEADER_SIZE)
                if fmt.looks_like_header(head):
                    return True
    return False


def _same_other_keys(path: str, written: str) -> None:
    """For a ``torch.save`` file: what the output's pickle builds is what the input's built,
    less our two keys (compared symbolically: nothing is unpickled). Refused when that cannot
    be shown (a pickle the comparison does not model)."""
    from .pickles import Unreadable, mapping_of, pickles_in, symbolic

    before = dict(pickles_in(path))
    after = dict(pickles_in(written))
    if not before and not after:
        return  # safetensors: its tensors are copied byte for byte by construction
    try:
        if set(before) != set(after):
            raise Unreadable("the pickles differ")
        for name, data in before.items():
            was, now = mapping_of(symbolic(data)), mapping_of(symbolic(after[name]))
            if was is None or now is None:
                raise Unreadable("its top-level object is not a dict")
            if list({k: v for k, v in was.items() if k not in _OURS}.items()) != list(now.items()):
                raise StripError(path, "the stripped file would not load as the input did")
    except StripError:
        raise
    except (Unreadable, RecursionError, ValueError) as exc:
        raise StripError(
            path, f"jellyml cannot prove the stripped file loads as the input did ({exc})"
        ) from None


# --- folders ------------------------------------------------------------------------------------


def _strip_folder(path: str, target: str, *, in_place: bool, force: bool) -> StripResult:
    size_before = tree_size(path)
    if in_place:
        removed = _strip_folder_in_place(path)
        return StripResult(path, path, "folder", removed, size_before, tree_size(path))
    if os.path.lexists(target) and not (force and os.path.isdir(target)):
        raise OutputPathError(target, "it exists already (a folder is written as a new folder)")
    with creating_folder(target, replace=force) as copy:
        # Links are copied as what they point to: stripping the copy must never write
        # through a link into the input (a tag folder on shared storage, the HF cache).
        shutil.copytree(path, copy, symlinks=False, ignore_dangling_symlinks=True)
        removed = _strip_folder_in_place(copy, shown=path)
    return StripResult(path, target, "folder", removed, size_before, tree_size(target))


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


# --- strip DIR --recursive ----------------------------------------------------------------------


def strip_tree(
    root: str,
    output: Optional[str] = None,
    *,
    in_place: bool = False,
    force: bool = False,
) -> list[StripResult]:
    """Strip every checkpoint below ``root`` (``strip DIR --recursive``), each atomically:
    in place, or into ``output``, a copy of ``root`` whose checkpoints are stripped (the input
    is only read; links are copied as what they point to). One result per checkpoint that
    carried a snapshot or could not be stripped; a failure does not stop the others."""
    from .scan import scan

    if not os.path.isdir(root):
        raise StripError(root, "it is not a folder", hint="--recursive takes a folder.")
    if in_place == (output is not None):
        raise StripError(root, "say where to write", hint="Pass either -o OUT or --in-place.")
    rows = [row for row in scan([root]) if row.snapshot]
    if in_place:
        return [_one(row.path, row.path) for row in rows]
    target = str(output)
    _check_output(root, target, force=force)
    results: list[StripResult] = []
    with creating_folder(target, replace=force) as copy:
        shutil.copytree(root, copy, symlinks=False, ignore_dangling_symlinks=True)
        for row in rows:
            inside = os.path.join(copy, os.path.relpath(row.path, root))
            found = _one(inside, inside)
            shown = os.path.join(target, os.path.relpath(row.path, root))
            results.append(StripResult(row.path, shown, *_fields(found)))
    return results


def _one(path: str, shown: str) -> StripResult:
    try:
        return strip(path, in_place=True)
    except JellyMLError as exc:
        return StripResult(path, shown, "-", (), 0, 0, problem=str(exc))


def _fields(result: StripResult) -> tuple[str, tuple[str, ...], int, int, Optional[str]]:
    return result.kind, result.removed, result.size_before, result.size_after, result.problem
