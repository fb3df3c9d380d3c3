"""Rewriting a ``torch.save`` zip without our two keys: the archive half of ``strip``.

Every entry is copied in its order with its bytes unchanged, except ``data.pkl`` (rewritten by
``strip_pickle``) and the storages only our keys used (left out). Each entry's data starts on a
64-byte boundary, padded with an extra field as torch's own writer pads it (``.storage_alignment``
says 64), so ``torch.load(..., mmap=True)`` works on the result too.
"""

from __future__ import annotations

import struct
import zipfile
from typing import IO, BinaryIO, cast

from .. import format as fmt
from ..errors import SnapshotNotFoundError, StripError
from ..sources import Source
from .strip_pickle import PickleStripError, strip_pickle
from .torch_zip import TorchZip

#: data.pkl holds no tensor data; one larger than this is refused before it is read.
MAX_PICKLE = 1 << 30
_ALIGNMENT = 64
_PAD_TAG = 0x4246  # "FB", the extra field torch pads with
_LOCAL_HEADER = 30


def write_stripped_zip(archive: TorchZip, source: Source, out: BinaryIO) -> tuple[str, ...]:
    """Write ``archive`` without our keys to ``out``; return the keys removed."""
    entries = [entry for _pos, entry in archive._directory.forward()]
    pickles = [e for e in entries if e.name == "data.pkl" or e.name.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise StripError(archive.path, "it does not hold exactly one data.pkl")
    pickle_entry = pickles[0]
    prefix = pickle_entry.name[: -len("data.pkl")]
    for entry in entries:
        if entry.method != 0:
            raise StripError(archive.path, f"its entry {entry.name} is compressed")
    if pickle_entry.size > MAX_PICKLE:
        raise StripError(archive.path, "its data.pkl is too large")
    start, _ = archive.data_offset(pickle_entry)
    try:
        stripped = strip_pickle(source.read_at(start, pickle_entry.size))
    except PickleStripError as exc:
        raise StripError(archive.path, exc.reason) from None
    if not stripped.removed_keys:
        _nothing_at_the_top(archive.path)
    dropped = {f"{prefix}data/{key}" for key in stripped.dropped_storages}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for entry in entries:
            if entry.name in dropped:
                continue
            if entry is pickle_entry:
                _write_entry(zf, entry.name, len(stripped.data), [stripped.data])
            else:
                at, _ = archive.data_offset(entry)
                _write_entry(zf, entry.name, entry.size, source.iter_range(at, entry.size))
    return stripped.removed_keys


def _write_entry(zf: zipfile.ZipFile, name: str, size: int, chunks: object) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule: it adds a 20-byte extra
    fp = cast("IO[bytes]", zf.fp)  # open for writing: zipfile sets it
    offset = fp.tell()
    fixed = _LOCAL_HEADER + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = -(offset + fixed) % _ALIGNMENT
    info.extra = struct.pack("<HH", _PAD_TAG, pad) + b"Z" * pad
    written = 0
    with zf.open(info, "w", force_zip64=zip64) as dest:
        for chunk in chunks:  # type: ignore[attr-defined]
            dest.write(chunk)
            written += len(chunk)
    if written != size:
        raise StripError(zf.filename or name, f"its entry {name} is cut off")


def _nothing_at_the_top(path: str) -> None:
    """No top-level key of ours: say whether the file carries no snapshot at all, or one
    stored elsewhere (nested in another dict), which strip does not take apart."""
    from ..read.reader import read_snapshot

    try:
        read_snapshot(path)
    except SnapshotNotFoundError:
        raise SnapshotNotFoundError(path) from None
    raise StripError(
        path,
        f"its snapshot is not stored under the top-level keys {fmt.SNAPSHOT_KEY} and "
        f"{fmt.METADATA_KEY}, the only place strip removes it from",
        hint="Load it, delete the snapshot's two tensors, and save it again.",
    )
