"""The zip archive that ``torch.save`` writes: recognised, read and stripped without torch and
without unpickling.

Only the end-of-central-directory records, the central directory and the local headers of the
entries we look at are read. torch stores every tensor's bytes uncompressed as
``<prefix>/data/<key>``, where the prefix is the file's stem for a path and ``archive`` for a
buffer (as Lightning saves); any prefix is accepted. ZIP64 archives (over 4 GiB or 65,535
entries) are read too. CRCs are not checked (torch can be told not to write them); the snapshot's
own sha256 guards its bytes instead.
"""

from __future__ import annotations

import itertools
import struct

from ..errors import (
    NotACheckpointError,
    SnapshotNotFoundError,
    StripError,
    TruncatedCheckpointError,
)
from ..records import Record

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    import zipfile
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO, Optional

    from ..sources import Source

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_CENTRAL = struct.Struct("<4s4B4H3L5H2L")  # central directory file header, 46 bytes
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header, 30 bytes
_MAX_COMMENT = 0xFFFF
#: A central directory larger than this is refused before it is read (10 million entries).
MAX_CENTRAL_DIRECTORY = 1 << 30

#: How a pre-1.6 (non-zip) torch.save file starts: torch's magic number, pickled (protocol 2).
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

#: Tensors tried from each end of the archive before all the others.
_ENDS = 4
#: The longest a central directory record can be: its fixed part and three 16-bit lengths.
_MAX_RECORD = _CENTRAL.size + 3 * 0xFFFF
#: What reading a tensor's first bytes takes, besides its name: a local header (30 bytes), an
#: extra field (torch's padding: under 64) and the bytes sniffed (32).
_PEEK_REACH = 30 + 64 + 32


class ZipEntry(Record):
    """One archive member, as the central directory describes it."""

    _fields = ("name", "local_offset", "size", "compressed_size", "method")
    __slots__ = _fields

    def __init__(
        self, name: str, local_offset: int, size: int, compressed_size: int, method: int
    ) -> None:
        self.name = name
        self.local_offset = local_offset
        self.size = size
        self.compressed_size = compressed_size
        self.method = method

    @property
    def is_tensor_data(self) -> bool:
        # ``data/<key>`` or ``<prefix>/data/<key>``, stored (uncompressed)
        folder, _, key = self.name.rpartition("/")
        return self.method == 0 and bool(key) and (folder == "data" or folder.endswith("/data"))


class TorchZip:
    """An open ``torch.save`` archive: its entries, and the bytes of any one of them."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.path = source.name
        self.file_size = source.size
        self._directory = _read_central_directory(source)
        path = self.path
        if not self._directory.has_entry_named_like(b"data.pkl"):
            raise NotACheckpointError(
                path,
                f"{path} is a zip archive but not a PyTorch checkpoint (it has no data.pkl).",
                hint="Pass the file that torch.save wrote.",
            )

    def tensor_entries(self) -> Iterator[ZipEntry]:
        """Tensor storages, likeliest snapshot first: the last few (``{..., **snapshot}``), the
        first few (``{**snapshot, ...}``), then the rest from the end.

        The central directory is parsed lazily from both ends, so a snapshot saved first or
        last is found without parsing the records of 10,000 other tensors. Before the first
        bytes of each of the two small groups are read, the group's span is prefetched: behind
        a URL a snapshot saved first then costs one request for the model tensors that end
        the file, not one each.
        """
        seen: set[int] = set()
        from_end = (item for item in self._directory.backward() if item[1].is_tensor_data)
        from_start = (item for item in self._directory.forward() if item[1].is_tensor_data)
        for group in (itertools.islice(from_end, _ENDS), itertools.islice(from_start, _ENDS)):
            batch = [(pos, entry) for pos, entry in group if pos not in seen]
            self._prefetch([entry for _pos, entry in batch])
            for pos, entry in batch:
                seen.add(pos)
                yield entry
        for pos, entry in from_end:
            if pos not in seen:
                seen.add(pos)
                yield entry

    def _prefetch(self, group: list[ZipEntry]) -> None:
        if group:
            start = min(e.local_offset for e in group)
            stop = max(e.local_offset + _PEEK_REACH + len(e.name.encode("utf-8")) for e in group)
            self._source.prefetch(start, min(stop, self.file_size))

    def data_offset(self, entry: ZipEntry, peek: int = 0) -> tuple[int, bytes]:
        """Where ``entry``'s bytes start in the file, and up to ``peek`` of its first bytes."""
        # One read for the local header and the peek, sized from the central directory's
        # name and (usually equal) extra lengths; a second read only if the local extra is longer.
        if entry.local_offset >= self.file_size:
            raise self._truncated(f"{entry.name} starts past the end of the file")
        guess = _LOCAL.size + len(entry.name.encode("utf-8")) + 64
        want = min(peek, entry.size)
        block = self.read_at(entry.local_offset, guess + want)
        if len(block) < _LOCAL.size:
            raise self._truncated(f"the local header of {entry.name} is cut off")
        sig, *_, name_len, extra_len = _LOCAL.unpack_from(block)
        if sig != b"PK\x03\x04":
            raise self._truncated(f"the local header of {entry.name} is missing")
        start = entry.local_offset + _LOCAL.size + name_len + extra_len
        if start + entry.size > self.file_size:
            raise self._truncated(f"{entry.name} runs past the end of the file")
        head = block[start - entry.local_offset :][:want]
        if len(head) < want:
            head = self.read_at(start, want)
        return start, head

    def read_at(self, offset: int, size: int) -> bytes:
        return self._source.read_at(offset, size)

    def _truncated(self, why: str) -> TruncatedCheckpointError:
        return _truncated(self.path, why)


def _truncated(path: str, why: str) -> TruncatedCheckpointError:
    return TruncatedCheckpointError(
        path,
        f"{path} is truncated or damaged: {why}.",
        hint="The file may still be copying, or was cut short; use a complete copy.",
    )


def _not_a_checkpoint(path: str, what: str) -> NotACheckpointError:
    return NotACheckpointError(
        path,
        f"{path} is not a PyTorch checkpoint ({what}).",
        hint="Pass a file written by torch.save (PyTorch 1.6 or newer).",
    )


def _read_central_directory(source: Source) -> _Directory:
    path, file_size = source.name, source.size
    count, cd_size, cd_offset = _find_central_directory(source)
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise _truncated(path, f"its central directory claims {cd_size:,} bytes")
    if cd_offset + cd_size > file_size:
        raise _truncated(path, "its central directory lies past the end of the file")
    return _Directory(source.read_at(cd_offset, cd_size), path, count)


class _Directory:
    """The central directory's bytes, parsed record by record, on demand, from either end."""

    def __init__(self, data: bytes, path: str, count: int) -> None:
        self._data = data
        self._path = path
        self._count = count

    def has_entry_named_like(self, name: bytes) -> bool:
        return name in self._data

    def forward(self) -> Iterator[tuple[int, ZipEntry]]:
        """Records from the start, strictly checked: a damaged one is an error."""
        pos, seen = 0, 0
        while pos < len(self._data):
            parsed = _parse_record(self._data, pos)
            if parsed is None:
                raise _truncated(self._path, "its central directory has a bad or cut-off record")
            yield pos, parsed[1]
            pos, seen = parsed[0], seen + 1
        if seen != self._count:
            raise _truncated(self._path, f"its directory lists {seen} of {self._count} entries")

    def backward(self) -> Iterator[tuple[int, ZipEntry]]:
        """Records from the end. A record is found by its signature and counts only if it ends
        exactly where the next one starts (a signature inside a name does not); where none
        does, the records before that point are parsed forward, strictly, instead."""
        end = len(self._data)
        while end > 0:
            found = self._record_ending_at(end)
            if found is None:
                earlier = [item for item in self.forward() if item[0] < end]
                yield from reversed(earlier)
                return
            yield found
            end = found[0]

    def _record_ending_at(self, end: int) -> Optional[tuple[int, ZipEntry]]:
        low = max(0, end - _MAX_RECORD)
        pos = self._data.rfind(b"PK\x01\x02", low, end)
        while pos >= 0:
            parsed = _parse_record(self._data, pos)
            if parsed is not None and parsed[0] == end:
                return pos, parsed[1]
            pos = self._data.rfind(b"PK\x01\x02", low, pos)
        return None


def _parse_record(data: bytes, pos: int) -> Optional[tuple[int, ZipEntry]]:
    """The central directory record at ``pos`` and where the next begins; None if damaged."""
    if len(data) - pos < _CENTRAL.size:
        return None
    fields = _CENTRAL.unpack_from(data, pos)
    if fields[0] != b"PK\x01\x02":
        return None
    method, csize, usize = fields[6], fields[10], fields[11]
    name_len, extra_len, comment_len, offset = fields[12], fields[13], fields[14], fields[18]
    name_end = pos + _CENTRAL.size + name_len
    end = name_end + extra_len + comment_len
    if end > len(data):
        return None
    usize, csize, offset = _apply_zip64(data[name_end : name_end + extra_len], usize, csize, offset)
    name = data[pos + _CENTRAL.size : name_end].decode("utf-8", "replace")
    return end, ZipEntry(name, offset, usize, csize, method)


def _end_record(source: Source) -> tuple[bytes, int]:
    """The file's tail and where the end-of-central-directory record starts in it (-1: none).

    torch writes no archive comment, so the end record is in the last few bytes; only a
    commented archive needs the full 64 KiB a comment can take."""
    for reach in (1024, _EOCD64_LOCATOR.size + _EOCD.size + _MAX_COMMENT):
        tail_size = min(source.size, reach)
        tail = source.read_at(source.size - tail_size, tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at >= 0 and len(tail) - at >= _EOCD.size:
            return tail, at
        if tail_size == source.size:
            break
    return b"", -1


def _find_central_directory(source: Source) -> tuple[int, int, int]:
    path, file_size = source.name, source.size
    tail, at = _end_record(source)
    if at < 0:
        start = source.read_at(0, len(_LEGACY_MAGIC))
        if start[:4] == b"PK\x03\x04":
            raise _truncated(path, "the end of its zip archive is missing")
        if start == _LEGACY_MAGIC:
            raise NotACheckpointError(
                path,
                f"{path} was saved in PyTorch's legacy pre-1.6 format, which jellyml cannot "
                "read without unpickling it.",
                hint="Load it with torch.load and save it again with torch.save's default format.",
            )
        raise _not_a_checkpoint(path, "it is not a zip archive")
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    locator_at = at - _EOCD64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, eocd64_offset, _ = _EOCD64_LOCATOR.unpack_from(tail, locator_at)
        if eocd64_offset + _EOCD64.size > file_size:
            raise _truncated(path, "its ZIP64 directory record lies past the end of the file")
        record = source.read_at(eocd64_offset, _EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise _truncated(path, "its ZIP64 directory record is damaged")
        fields = _EOCD64.unpack(record)
        count, cd_size, cd_offset = fields[7], fields[8], fields[9]
    return count, cd_size, cd_offset


def _apply_zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Replace 0xFFFFFFFF placeholders with the values from a ZIP64 extra field."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        if tag == 0x0001:
            body = extra[pos + 4 : pos + 4 + length]
            values = [usize, csize, offset]
            at = 0
            for i, value in enumerate(values):
                if value == 0xFFFFFFFF and at + 8 <= len(body):
                    values[i] = struct.unpack_from("<Q", body, at)[0]
                    at += 8
            return values[0], values[1], values[2]
        pos += 4 + length
    return usize, csize, offset


# --- strip: the archive without our two keys ----------------------------------------------


#: data.pkl holds no tensor data; one larger than this is refused before it is read.
MAX_PICKLE = 1 << 30
_ALIGNMENT = 64
_PAD_TAG = 0x4246  # "FB", the extra field torch pads with
_LOCAL_HEADER = 30


def _strip(archive: TorchZip, source: Source, out: BinaryIO) -> tuple[str, ...]:
    """Write ``archive`` without our keys to ``out``; return the keys removed.

    Every entry is copied in its order with its bytes unchanged, except ``data.pkl`` (our two
    keys cut out without unpickling: ``strip_pickle``) and the storages only our keys used
    (left out). Each entry's data starts on a 64-byte boundary, padded with an extra field as
    torch's own writer pads it (``.storage_alignment`` says 64), so ``torch.load(...,
    mmap=True)`` works on the result too."""
    import zipfile  # only strip writes a zip (~3 ms of start-up otherwise)

    from .strip_pickle import PickleStripError, strip_pickle

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
    if not stripped.removed_keys:  # none at the top (``jellyml strip`` says whether elsewhere)
        raise SnapshotNotFoundError(archive.path)
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


def _write_entry(zf: zipfile.ZipFile, name: str, size: int, chunks: Iterable[bytes]) -> None:
    import zipfile

    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule: it adds a 20-byte extra
    fp = zf.fp  # open for writing: zipfile sets it
    assert fp is not None
    offset = fp.tell()
    fixed = _LOCAL_HEADER + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = -(offset + fixed) % _ALIGNMENT
    info.extra = struct.pack("<HH", _PAD_TAG, pad) + b"Z" * pad
    written = 0
    with zf.open(info, "w", force_zip64=zip64) as dest:
        for chunk in chunks:
            dest.write(chunk)
            written += len(chunk)
    if written != size:
        raise StripError(zf.filename or name, f"its entry {name} is cut off")


class _TorchZipFormat:
    """What ``torch.save`` writes (PyTorch 1.6 and newer): a zip archive."""

    name = "torch zip"
    suffixes: tuple[str, ...] = (".pt", ".pth", ".ckpt", ".bin")

    def claims(self, source: Source) -> bool:
        return _end_record(source)[1] >= 0

    def open(self, source: Source) -> TorchZip:
        return TorchZip(source)

    def strip(self, source: Source, out: BinaryIO) -> tuple[str, ...]:
        return _strip(TorchZip(source), source, out)


FORMAT = _TorchZipFormat()
