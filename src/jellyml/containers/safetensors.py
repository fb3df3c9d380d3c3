"""Reading a safetensors file without torch and without the safetensors package.

The layout (safetensors' own spec): an 8-byte little-endian header length N, N bytes of JSON,
then the data buffer; each tensor's ``data_offsets`` are relative to that buffer. The header is
bounded the way safetensors bounds it (100 MB) before it is read, and every offset is checked
against the file size before anything is read from it. Our two snapshot tensors are stored as
``U8``; so is ``jellyml-snapshot.jelly``, the snapshot file of a checkpoint folder.
"""

from __future__ import annotations

import json
import struct

from .. import format as fmt
from ..errors import NotACheckpointError, SnapshotNotFoundError, TruncatedCheckpointError
from ..records import Record

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any, BinaryIO, Optional

    from ..sources import Source

#: safetensors' own limit (MAX_HEADER_SIZE in its Rust core): refused before it is read.
MAX_HEADER_SIZE = 100_000_000
_LENGTH = struct.Struct("<Q")
#: Our tensors' names, tried before any other U8 tensor.
_OURS = (fmt.SNAPSHOT_KEY, fmt.METADATA_KEY)


class SafetensorsEntry(Record):
    """One tensor: its name, dtype, shape and where its bytes are, relative to the buffer."""

    _fields = ("name", "dtype", "shape", "begin", "end")
    __slots__ = _fields

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], begin: int, end: int) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end

    @property
    def size(self) -> int:
        return self.end - self.begin


def looks_like_safetensors(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) starts like a safetensors file."""
    if len(head) < _LENGTH.size + 1:
        return False
    (length,) = _LENGTH.unpack_from(head)
    return 2 <= length <= MAX_HEADER_SIZE and head[_LENGTH.size : _LENGTH.size + 1] == b"{"


class Safetensors:
    """An open safetensors file: its header, validated, and the bytes of any tensor."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.path = source.name
        self.file_size = source.size
        self.header_size, header = _read_header(source, everything=False)
        self.data_start = _LENGTH.size + self.header_size
        self.metadata = _parse_metadata(self.path, header)
        self._header = header
        self._entries: Optional[list[SafetensorsEntry]] = None

    @property
    def entries(self) -> list[SafetensorsEntry]:
        """Every tensor, each checked (only ``strip`` needs them all: reading a snapshot
        checks just the U8 tensors it may read, so a header of 10,000 entries costs little)."""
        if self._entries is None:
            _size, header = _read_header(self._source, everything=True)
            self._entries = [
                _entry(self.path, name, info, self.buffer_size)
                for name, info in header.items()
                if name != "__metadata__"
            ]
        return self._entries

    @property
    def buffer_size(self) -> int:
        return self.file_size - _LENGTH.size - self.header_size

    def tensor_entries(self) -> Iterator[SafetensorsEntry]:
        """U8 tensors, likeliest snapshot first: ours by name, then the others from the end of
        the buffer (the writer puts U8 tensors last)."""
        u8 = [
            _entry(self.path, name, info, self.buffer_size)
            for name, info in self._header.items()
            if isinstance(info, dict) and info.get("dtype") == "U8"
        ]
        named = [entry for name in _OURS for entry in u8 if entry.name == name]
        rest = sorted((e for e in u8 if e.name not in _OURS), key=lambda e: -e.begin)
        yield from named
        yield from rest

    def data_offset(self, entry: SafetensorsEntry, peek: int = 0) -> tuple[int, bytes]:
        start = self.data_start + entry.begin
        return start, self.read_at(start, min(peek, entry.size))

    def read_at(self, offset: int, size: int) -> bytes:
        return self._source.read_at(offset, size)


def _damaged(path: str, why: str) -> TruncatedCheckpointError:
    return TruncatedCheckpointError(
        path,
        f"{path} is a damaged safetensors file: {why}.",
        hint="The file may still be copying, or was cut short; use a complete copy.",
    )


def _read_header(source: Source, *, everything: bool) -> tuple[int, dict[str, Any]]:
    """The header's length and its JSON: with ``everything``, every entry; else only what
    finding a snapshot needs (the U8 tensors and ``__metadata__``; each other entry is None as
    soon as it is parsed), so a header near the 100 MB cap costs about 3x its size, not 9x,
    and less time than parsing it whole (benchmarks: ``safetensors-header``)."""
    path = source.name
    raw = source.read_at(0, _LENGTH.size)
    if len(raw) < _LENGTH.size:
        raise _damaged(path, "it is shorter than its 8-byte header length")
    (length,) = _LENGTH.unpack(raw)
    if length > MAX_HEADER_SIZE:
        raise _damaged(path, f"its header claims {length:,} bytes (at most 100 MB allowed)")
    if _LENGTH.size + length > source.size:
        raise _damaged(path, "its header runs past the end of the file")
    text = source.read_at(_LENGTH.size, length)
    if len(text) < length:
        raise _damaged(path, "its header is cut off")
    try:
        decoded = text.decode("utf-8")
        del text  # the bytes go before parsing starts: memory stays near 2x the header
        header = json.loads(decoded, object_hook=None if everything else _u8_only)
    except (ValueError, RecursionError):
        raise _damaged(path, "its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a JSON object")
    return length, header


def _u8_only(entry: dict[str, Any]) -> Optional[dict[str, Any]]:
    """A tensor entry of another dtype than U8 dropped (None); anything else kept."""
    dtype = entry.get("dtype")
    return None if dtype is not None and dtype != "U8" else entry


def _parse_metadata(path: str, header: dict[str, Any]) -> dict[str, str]:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _damaged(path, "its __metadata__ is not a map of strings")
    return metadata


def _entry(path: str, name: str, info: Any, buffer_size: int) -> SafetensorsEntry:
    if not isinstance(info, dict):
        raise _damaged(path, f"tensor {name!r} is not described by an object")
    dtype, shape, offsets = (
        info.get("dtype"),
        _ints(info.get("shape")),
        _ints(info.get("data_offsets")),
    )
    if not isinstance(dtype, str) or shape is None or offsets is None:
        raise _damaged(path, f"tensor {name!r} has a bad dtype, shape or data_offsets")
    if len(offsets) != 2 or not 0 <= offsets[0] <= offsets[1]:
        raise _damaged(path, f"tensor {name!r} has bad data_offsets")
    if offsets[1] > buffer_size:
        raise _damaged(path, f"tensor {name!r} lies past the end of the file")
    if dtype == "U8" and _product(shape) != offsets[1] - offsets[0]:
        raise _damaged(path, f"tensor {name!r}'s shape does not match its size")
    return SafetensorsEntry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _ints(value: Any) -> Optional[list[int]]:
    """``value`` when it is a list of non-negative integers (not booleans), else None."""
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        return value
    return None


def _product(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def not_safetensors(path: str) -> NotACheckpointError:
    return NotACheckpointError(
        path,
        f"{path} is not a safetensors file.",
        hint="Pass a file written by safetensors' save_file.",
    )


def _strip(
    archive: Safetensors,
    source: Source,
    out: BinaryIO,
    added: Optional[Mapping[str, bytes]] = None,
) -> tuple[str, ...]:
    """The header rewritten without our two tensors (``__metadata__`` kept), every other
    tensor's bytes copied unchanged, in the same order; ``added`` U8 tensors (a new snapshot)
    are put last. Our tensors are found by name, else (renamed: FORMAT.md allows it) by their
    bytes, as the reader finds them: U8 tensors that start with a snapshot header."""
    removed = tuple(e.name for e in archive.entries if e.name in _OURS) or _by_header(archive)
    if not removed:
        raise SnapshotNotFoundError(archive.path)
    kept = sorted((e for e in archive.entries if e.name not in removed), key=lambda e: e.begin)
    header: dict[str, object] = {}
    if archive.metadata:
        header["__metadata__"] = archive.metadata
    pos = 0
    for entry in kept:
        header[entry.name] = {
            "dtype": entry.dtype,
            "shape": list(entry.shape),
            "data_offsets": [pos, pos + entry.size],
        }
        pos += entry.size
    for name, data in (added or {}).items():
        header[name] = {"dtype": "U8", "shape": [len(data)], "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes
    out.write(_LENGTH.pack(len(text)) + text)
    for entry in kept:
        start = archive.data_start + entry.begin
        for chunk in source.iter_range(start, entry.size):
            out.write(chunk)
    for data in (added or {}).values():
        out.write(data)
    return removed


def _by_header(archive: Safetensors) -> tuple[str, ...]:
    """The U8 tensors whose bytes start with a JellyML header (snapshot or metadata)."""
    found = []
    for entry in archive.tensor_entries():
        if entry.size < fmt.HEADER_SIZE:
            continue
        _start, head = archive.data_offset(entry, peek=fmt.HEADER_SIZE)
        if fmt.looks_like_header(head):
            found.append(entry.name)
    return tuple(found)


class _SafetensorsFormat:
    """What safetensors' ``save_file`` writes; also a checkpoint folder's snapshot file."""

    name = "safetensors"
    suffixes: tuple[str, ...] = (".safetensors", ".jelly")

    def claims(self, source: Source) -> bool:
        return looks_like_safetensors(source.read_at(0, _LENGTH.size + 1))

    def open(self, source: Source) -> Safetensors:
        return Safetensors(source)  # its errors say what is wrong with a damaged file

    def strip(self, source: Source, out: BinaryIO) -> tuple[str, ...]:
        return _strip(Safetensors(source), source, out)

    def replace_snapshot(self, source: Source, out: BinaryIO, parts: Mapping[str, bytes]) -> None:
        """Write the file with its snapshot replaced by ``parts`` (``strip --history``)."""
        _strip(Safetensors(source), source, out, added=parts)


FORMAT = _SafetensorsFormat()
