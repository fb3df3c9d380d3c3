"""Where a snapshot sits inside a checkpoint: one module per container, one small interface.

A container lists its tensors, likeliest snapshot first, and tells where each one's bytes start
in its ``Source``; the reader (``jellyml.read.reader``) does the rest, whatever the container.
``torch_zip`` reads what ``torch.save`` writes, ``safetensors`` what ``save_file`` writes (and
the snapshot file of a folder); ``folder`` finds, in a checkpoint folder, the file that carries
the snapshot. ``open_container`` chooses by content, trying first what the name suggests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..sources import Source


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
        return TorchZip(source)  # type: ignore[return-value]
    except NotACheckpointError:
        if looks_like_safetensors(source.read_at(0, 9)):
            return Safetensors(source)  # type: ignore[return-value]
        raise
