"""Where a snapshot sits inside a checkpoint: one module per container, one small interface.

A container lists its tensors, likeliest snapshot first, and tells where each one's bytes start
in its ``Source``; the reader (``jellyml.read.reader``) does the rest, whatever the container.
``torch_zip`` reads what ``torch.save`` writes, ``safetensors`` what ``save_file`` writes (and
the snapshot file of a folder); ``folder`` finds, in a checkpoint folder, the file that carries
the snapshot. ``open_container`` chooses by content, trying first what the name suggests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from ..sources import Source

if TYPE_CHECKING:
    from .torch_zip import TorchZip, ZipEntry

#: What reading a tensor's first bytes takes, besides its name: a local header (30 bytes), an
#: extra field (torch's padding: under 64) and the bytes sniffed (32).
_PEEK_REACH = 30 + 64 + 32


class TensorEntry(Protocol):
    """One tensor of a container: its name (for messages) and its size in bytes."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...


class Container(Protocol):
    """A checkpoint format: its tensors, and where each one's bytes are."""

    path: str

    def tensor_entries(self) -> Iterator[TensorEntry]:
        """Every tensor that may hold a snapshot, likeliest first."""
        ...

    def data_offset(self, entry: TensorEntry, peek: int = 0) -> tuple[int, bytes]:
        """Where ``entry``'s bytes start in the source, and up to ``peek`` of its first bytes."""
        ...

    def read_at(self, offset: int, size: int) -> bytes: ...


def open_container(source: Source) -> Container:
    """The container that ``source`` holds (raises ``NotACheckpointError`` for none we know).

    A zip is recognised by its tail, a safetensors file by its head; the one the file's name
    suggests is tried first, so that reading a remote file costs no request for the other.
    """
    from ..errors import NotACheckpointError
    from .safetensors import Safetensors, looks_like_safetensors
    from .torch_zip import TorchZip

    if source.name.lower().endswith((".safetensors", ".jelly")):
        if source.read_at(0, 4) == b"PK\x03\x04":  # a torch.save file named .safetensors
            return TorchZip(source)  # type: ignore[return-value]
        return Safetensors(source)  # type: ignore[return-value]  # its errors say what is wrong
    try:
        archive = TorchZip(source)
        if source.remote:
            return _Prefetching(archive, source.prefetch)  # type: ignore[return-value]
        return archive  # type: ignore[return-value]
    except NotACheckpointError:
        if looks_like_safetensors(source.read_at(0, 9)):
            return Safetensors(source)  # type: ignore[return-value]
        raise


class _Prefetching:
    """A zip behind a remote source: before the reader looks at the first bytes of the last
    few tensors, then of the first few, each group is fetched in one request when it is small.
    A snapshot saved first then costs one request for the model tensors that end the file,
    not one each; a snapshot saved last costs nothing more (the second group is fetched only
    if the reader gets that far)."""

    def __init__(self, archive: TorchZip, prefetch: Callable[[int, int], None]) -> None:
        self._archive = archive
        self._prefetch = prefetch
        self.path = archive.path

    def tensor_entries(self) -> Iterator[TensorEntry]:
        from .torch_zip import _ENDS

        first = list(itertools.islice(self._archive.tensor_entries(), 2 * _ENDS))
        for at, entry in enumerate(self._archive.tensor_entries()):
            if at in (0, _ENDS):
                self._fetch_group(first[at : at + _ENDS])
            yield entry

    def _fetch_group(self, group: list[ZipEntry]) -> None:
        if group:
            start = min(e.local_offset for e in group)
            stop = max(e.local_offset + _PEEK_REACH + len(e.name.encode("utf-8")) for e in group)
            self._prefetch(start, min(stop, self._archive.file_size))

    def data_offset(self, entry: ZipEntry, peek: int = 0) -> tuple[int, bytes]:
        return self._archive.data_offset(entry, peek)

    def read_at(self, offset: int, size: int) -> bytes:
        return self._archive.read_at(offset, size)
