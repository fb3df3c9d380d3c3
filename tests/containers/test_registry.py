"""The container registry: a format is one module (recognise, suffixes, read, strip) named in
``jellyml.containers.FORMATS``; the reader, ``strip`` and ``scan`` need no change for a new one.

A toy format proves it: "JLYT" files holding a length-prefixed list of tensors."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pytest

import jellyml
from jellyml import containers
from jellyml import format as fmt
from jellyml.errors import NotACheckpointError, SnapshotNotFoundError
from jellyml.publish.scan import scan
from jellyml.publish.strip import strip
from kit.checkpoints import snapshot_tensors

if TYPE_CHECKING:  # the protocols exist for type checkers only
    from jellyml.sources import Source

_MAGIC = b"JLYT"
_COUNT = struct.Struct("<I")
_ITEM = struct.Struct("<HQ")  # name length, data length


@dataclass(frozen=True)
class ToyEntry:
    name: str
    size: int
    start: int


class Toy:
    def __init__(self, source: Source) -> None:
        self.path = source.name
        self._source = source
        if source.read_at(0, 4) != _MAGIC:
            raise NotACheckpointError(source.name, f"{source.name} is not a toy file.")
        (count,) = _COUNT.unpack(source.read_at(4, 4))
        pos, self.entries = 8, []
        for _ in range(count):
            name_len, size = _ITEM.unpack(source.read_at(pos, _ITEM.size))
            name = source.read_at(pos + _ITEM.size, name_len).decode()
            pos += _ITEM.size + name_len
            self.entries.append(ToyEntry(name, size, pos))
            pos += size

    def tensor_entries(self) -> Iterator[ToyEntry]:
        return iter(reversed(self.entries))

    def data_offset(self, entry: ToyEntry, peek: int = 0) -> tuple[int, bytes]:
        return entry.start, self.read_at(entry.start, min(peek, entry.size))

    def read_at(self, offset: int, size: int) -> bytes:
        return self._source.read_at(offset, size)


def toy_bytes(tensors: dict[str, bytes]) -> bytes:
    parts = [_MAGIC, _COUNT.pack(len(tensors))]
    for name, data in tensors.items():
        parts += [_ITEM.pack(len(name), len(data)), name.encode(), data]
    return b"".join(parts)


class ToyFormat:
    name = "toy"
    suffixes: tuple[str, ...] = (".toy",)

    def claims(self, source: Source) -> bool:
        return source.read_at(0, 4) == _MAGIC

    def open(self, source: Source) -> Toy:
        return Toy(source)

    def strip(self, source: Source, out: BinaryIO) -> tuple[str, ...]:
        toy = Toy(source)
        ours = (fmt.SNAPSHOT_KEY, fmt.METADATA_KEY)
        kept = {e.name: source.read_at(e.start, e.size) for e in toy.entries if e.name not in ours}
        removed = tuple(e.name for e in toy.entries if e.name in ours)
        if not removed:
            raise SnapshotNotFoundError(source.name)
        out.write(toy_bytes(kept))
        return removed


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registration line, made at run time."""
    monkeypatch.setattr(containers, "FORMATS", (*containers.FORMATS, ToyFormat()))


def test_a_new_format_is_one_module_and_one_line(
    make_repo: Any, tmp_path: Path, toy_registered: None
) -> None:
    commit, ours = snapshot_tensors(make_repo({"a.py": "1\n"}).path)
    path = tmp_path / "run" / "weights.dat"  # a name no format suggests: found by content
    path.parent.mkdir()
    path.write_bytes(toy_bytes({"w": b"\0" * 64, **ours}))
    found = jellyml.read_snapshot(path)
    assert found.commit == commit and found.metadata is not None
    out = tmp_path / "public.dat"
    result = strip(str(path), str(out))
    assert result.kind == "toy" and set(result.removed) == set(ours)
    with pytest.raises(SnapshotNotFoundError):
        jellyml.read_snapshot(out)
    named = tmp_path / "run" / "model.toy"
    named.write_bytes(path.read_bytes())
    assert [Path(e.path).name for e in scan([str(tmp_path / "run")])] == [
        "model.toy",
        "weights.dat",
    ]


def test_the_formats_are_one_list() -> None:
    names = [f.name for f in containers.FORMATS]
    assert names == ["torch zip", "safetensors"]
    assert ".pth" in containers.checkpoint_suffixes()
    assert ".safetensors" in containers.checkpoint_suffixes()
