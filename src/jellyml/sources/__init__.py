"""Where a checkpoint's bytes come from: one module per source, behind one small interface.

A ``Source`` knows its size and reads a range of bytes; containers and the reader never
assume a local path. ``local`` reads files on disk. A new source (a remote URL, say) goes in a
module of its own here and is chosen in ``open_source``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class Source(Protocol):
    """Random access to a checkpoint's bytes."""

    #: How the user named it (a path or URL), for messages.
    name: str
    size: int

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at the end)."""
        ...


@contextlib.contextmanager
def open_source(name: str) -> Iterator[Source]:
    """Open the checkpoint ``name`` for reading; closed when the block ends."""
    from .local import open_local

    with open_local(name) as source:
        yield source
