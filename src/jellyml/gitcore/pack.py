"""The files of a bundle's tip, read from its pack in Python: no git, no object store.

A worker given a snapshot file (``JELLYML_SNAPSHOT``) compares its own files with the
snapshot's tree, and must not run git to do it (it may have none, and every git run of every
rank is counted). A pack is a sequence of zlib streams, each behind a small header (git's
``Documentation/gitformat-pack.txt``): a whole object (commit, tree, blob, tag) or a delta
against an earlier entry (``OFS_DELTA``) or against an object id (``REF_DELTA``). Every entry is
inflated once, to find where the next one starts; only commits and trees are kept (and
resolved through their deltas), plus the size of each whole blob, so that a file of another
size is known to differ without reading it.

The bundle is untrusted: every length is checked against the data, and anything this reader
cannot follow (a missing delta base, an unknown entry type) raises ``PackError``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Optional

from ..errors import PackError as PackError  # re-exported
from .unpack import BundleFormatError, parse_bundle_header

_COMMIT, _TREE, _BLOB, _TAG, _OFS_DELTA, _REF_DELTA = 1, 2, 3, 4, 6, 7
_NAMES = {_COMMIT: b"commit", _TREE: b"tree", _BLOB: b"blob", _TAG: b"tag"}
#: Objects of these types are kept whole (a snapshot's trees: tens of KB to a few MB).
_KEPT = (_COMMIT, _TREE)
#: Paths of more folder levels than this are not followed (a crafted tree could nest forever).
MAX_DEPTH = 256


@dataclass(frozen=True)
class TreeFile:
    """A file of the tip's tree: its mode (``100644``, ``100755``, ``120000``, ``160000``), its
    object id, and its size when the pack holds it whole (None otherwise)."""

    mode: str
    oid: str
    size: Optional[int] = None


@dataclass
class _Pack:
    hash_name: str
    oid_size: int
    #: id -> (type, data) of every commit and tree.
    kept: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    #: entry offset -> (type, data or None when not kept).
    by_offset: dict[int, tuple[int, Optional[bytes]]] = field(default_factory=dict)
    blob_sizes: dict[bytes, int] = field(default_factory=dict)
    #: REF_DELTA entries whose base was not known when they were read: (base id, delta).
    pending: list[tuple[bytes, bytes]] = field(default_factory=list)


def bundle_tree(bundle: bytes) -> dict[bytes, TreeFile]:
    """Every file of the bundle's tip commit's tree: path (bytes, ``/``-separated) -> file."""
    try:
        header, start = parse_bundle_header(bundle[: 1 << 20])
    except BundleFormatError as exc:
        raise PackError(str(exc)) from None
    hash_name = "sha256" if header.object_format == "sha256" else "sha1"
    pack = _Pack(hash_name, 32 if hash_name == "sha256" else 20)
    _read_pack(memoryview(bundle)[start:], pack)
    tip = bytes.fromhex(header.tip)
    commit = _object(pack, tip, _COMMIT)
    first = commit.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise PackError("the tip commit names no tree")
    files: dict[bytes, TreeFile] = {}
    _walk(pack, bytes.fromhex(first[5:].decode("ascii", "replace")), b"", files, 0)
    return files


def _object(pack: _Pack, oid: bytes, kind: int) -> bytes:
    found = pack.kept.get(oid)
    if found is None or found[0] != kind:
        raise PackError(f"the pack does not hold the {_NAMES[kind].decode()} {oid.hex()}")
    return found[1]


def _walk(pack: _Pack, tree: bytes, prefix: bytes, out: dict[bytes, TreeFile], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PackError("the tree nests too deeply")
    data = _object(pack, tree, _TREE)
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        nul = data.find(b"\0", space + 1)
        if space < 0 or nul < 0 or nul + 1 + pack.oid_size > len(data):
            raise PackError("a tree entry is cut off")
        mode = data[pos:space].decode("ascii", "replace")
        name = data[space + 1 : nul]
        oid = data[nul + 1 : nul + 1 + pack.oid_size]
        pos = nul + 1 + pack.oid_size
        if not name or b"/" in name or name in (b".", b".."):
            raise PackError("a tree entry has a bad name")
        path = prefix + name
        if mode == "40000":
            _walk(pack, oid, path + b"/", out, depth + 1)
        else:
            out[path] = TreeFile(mode, oid.hex(), pack.blob_sizes.get(oid))


def _read_pack(view: memoryview, pack: _Pack) -> None:
    if len(view) < 12 or bytes(view[:4]) != b"PACK":
        raise PackError("the bundle holds no pack")
    count = int.from_bytes(view[8:12], "big")
    pos = 12
    for _ in range(count):
        pos = _read_entry(view, pos, pack)
    _resolve_pending(pack)


def _read_entry(view: memoryview, pos: int, pack: _Pack) -> int:
    start = pos
    kind, size, pos = _entry_header(view, pos)
    base: Optional[tuple[int, Optional[bytes]]] = None
    base_id = b""
    if kind == _OFS_DELTA:
        distance, pos = _offset(view, pos)
        base = pack.by_offset.get(start - distance)
        if base is None:
            raise PackError("a delta's base is not in the pack")
    elif kind == _REF_DELTA:
        base_id = bytes(view[pos : pos + pack.oid_size])
        pos += pack.oid_size
    elif kind not in _NAMES:
        raise PackError(f"unknown pack entry type {kind}")
    data, pos = _inflate(view, pos, size)
    if kind == _OFS_DELTA:
        assert base is not None
        base_kind, base_data = base
        _store(pack, start, base_kind, _patch(base_data, data) if base_data is not None else None)
    elif kind == _REF_DELTA:
        known = pack.kept.get(base_id)
        if known is None:
            pack.pending.append((base_id, data))  # a blob's base, or one found later
            pack.by_offset[start] = (_BLOB, None)
        else:
            _store(pack, start, known[0], _patch(known[1], data))
    else:
        _store(pack, start, kind, data)
    return pos


def _store(pack: _Pack, offset: int, kind: int, data: Optional[bytes]) -> None:
    if data is None or (kind not in _KEPT and kind != _BLOB):
        pack.by_offset[offset] = (kind, None)
        return
    oid = _hash(pack.hash_name, kind, data)
    if kind == _BLOB:
        pack.blob_sizes[oid] = len(data)
        pack.by_offset[offset] = (kind, None)  # a delta against a blob is a blob: no data needed
        return
    pack.kept[oid] = (kind, data)
    pack.by_offset[offset] = (kind, data)


def _resolve_pending(pack: _Pack) -> None:
    """REF_DELTA entries whose base came later in the pack: resolved until nothing moves."""
    while pack.pending:
        left = []
        for base_id, delta in pack.pending:
            known = pack.kept.get(base_id)
            if known is None:
                left.append((base_id, delta))
            else:
                data = _patch(known[1], delta)
                pack.kept[_hash(pack.hash_name, known[0], data)] = (known[0], data)
        if len(left) == len(pack.pending):
            return  # deltas against blobs (or objects outside the pack): not needed here
        pack.pending = left


def _hash(name: str, kind: int, data: bytes) -> bytes:
    digest = hashlib.new(name, _NAMES[kind] + b" %d\0" % len(data))
    digest.update(data)
    return digest.digest()


def blob_id(name: str, data: bytes) -> str:
    """git's object id of a blob holding ``data`` (``name``: ``sha1`` or ``sha256``)."""
    return _hash(name, _BLOB, data).hex()


def _entry_header(view: memoryview, pos: int) -> tuple[int, int, int]:
    byte = _byte(view, pos)
    kind, size, shift = (byte >> 4) & 7, byte & 15, 4
    pos += 1
    while byte & 0x80:
        byte = _byte(view, pos)
        size |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if shift > 70:
            raise PackError("an entry's size does not end")
    return kind, size, pos


def _offset(view: memoryview, pos: int) -> tuple[int, int]:
    byte = _byte(view, pos)
    value = byte & 0x7F
    pos += 1
    while byte & 0x80:
        byte = _byte(view, pos)
        value = ((value + 1) << 7) | (byte & 0x7F)
        pos += 1
        if value > 1 << 64:
            raise PackError("a delta's offset does not end")
    return value, pos


def _byte(view: memoryview, pos: int) -> int:
    if pos >= len(view):
        raise PackError("the pack is cut off")
    return int(view[pos])


def _inflate(view: memoryview, pos: int, size: int) -> tuple[bytes, int]:
    """The ``size`` bytes of the zlib stream at ``pos``, and where the stream ends."""
    stream = zlib.decompressobj()
    out = bytearray()
    step = size + (size >> 10) + 64  # deflate's worst case is a little over the input
    while not stream.eof:
        if pos >= len(view):
            raise PackError("the pack is cut off")
        chunk = view[pos : pos + step]
        try:
            out += stream.decompress(chunk, size + 1 - len(out))
        except zlib.error:
            raise PackError("an entry is not valid zlib data") from None
        used = len(chunk) - len(stream.unused_data) - len(stream.unconsumed_tail)
        pos += used
        if len(out) > size:
            raise PackError("an entry is larger than its header says")
        if not stream.eof and not used:
            raise PackError("an entry's data does not end")
    if len(out) != size:
        raise PackError("an entry is smaller than its header says")
    return bytes(out), pos


def _patch(base: bytes, delta: bytes) -> bytes:
    """git's delta format: the base's size, the result's size, then copy and insert steps."""
    try:
        return _apply(base, delta)
    except IndexError:
        raise PackError("a delta is cut off") from None


def _apply(base: bytes, delta: bytes) -> bytes:
    pos = 0
    base_size, pos = _varint(delta, pos)
    size, pos = _varint(delta, pos)
    if base_size != len(base):
        raise PackError("a delta does not fit its base")
    out = bytearray()
    while pos < len(delta):
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = length = 0
            for i in range(4):
                if op & (1 << i):
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if op & (1 << (4 + i)):
                    length |= delta[pos] << (8 * i)
                    pos += 1
            length = length or 0x10000
            if offset + length > len(base):
                raise PackError("a delta copies past its base")
            out += base[offset : offset + length]
        elif op:
            out += delta[pos : pos + op]
            pos += op
        else:
            raise PackError("a delta holds a reserved step")
    if len(out) != size:
        raise PackError("a delta gives the wrong size")
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise PackError("a delta is cut off")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if not byte & 0x80:
            return value, pos
