"""Where a snapshot sits inside a checkpoint: one module per container, one small interface.

A container lists its tensors, likeliest snapshot first, and tells where each one's bytes start
in its ``Source``; the reader (``jellyml.read.reader``) does the rest, whatever the container.
``torch_zip`` reads what ``torch.save`` writes. A new container (safetensors, a checkpoint
folder) goes in a module of its own here, implements ``Container``, and is chosen in
``open_container``.
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
    """The container that ``source`` holds (raises ``NotACheckpointError`` for none we know)."""
    from .torch_zip import TorchZip

    return TorchZip(source)  # type: ignore[return-value]
