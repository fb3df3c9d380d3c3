"""Where a checkpoint's bytes come from: one module per source, behind one small interface.

A ``Source`` knows its size and reads a range of bytes; containers and the reader never
assume a local path. ``local`` reads files on disk; ``remote`` reads any fsspec URL (``s3://``,
``gs://``, ``hf://``, ``https://``, ...) with ranged requests. ``open_source`` chooses.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, Optional, Protocol

#: A URL's scheme: two characters at least, so ``C:\\model.pth`` stays a path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
#: Bytes per read when copying a long range from a source without ``iter_range``.
CHUNK = 1 << 20

StorageOptions = Optional[Mapping[str, Any]]


class Source(Protocol):
    """Random access to a checkpoint's bytes."""

    #: How the user named it (a path or URL), for messages.
    name: str
    size: int

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at the end)."""
        ...


def is_url(name: str) -> bool:
    """Whether ``name`` is a URL (``scheme://...``) rather than a local path."""
    return bool(_URL.match(name)) and not name.startswith("file://")


def local_path(name: str) -> str:
    """``name`` as a local path (``file://`` URLs included)."""
    return name[len("file://") :] if name.startswith("file://") else name


@contextlib.contextmanager
def open_source(
    name: str, storage_options: StorageOptions = None, *, known: Any = None
) -> Iterator[Source]:
    """Open the checkpoint ``name`` (a path or an fsspec URL); closed when the block ends.

    ``storage_options`` go to the fsspec filesystem of a URL (credentials, endpoint, ...);
    ``known`` is a URL's ``remote.stat`` when the caller made it already.
    """
    if is_url(name):
        from .remote import open_remote

        with open_remote(name, storage_options, known=known) as remote:
            yield remote
        return
    from .local import open_local

    with open_local(local_path(name)) as source:
        yield source


def iter_range(source: Source, offset: int, size: int) -> Iterator[bytes]:
    """``size`` bytes at ``offset`` in chunks; a source may fetch them its own way (remote
    sources in few large requests). Stops early only at the end of the source."""
    own = getattr(source, "iter_range", None)
    if own is not None:
        yield from own(offset, size)
        return
    while size > 0:
        chunk = source.read_at(offset, min(CHUNK, size))
        if not chunk:
            return
        yield chunk
        offset += len(chunk)
        size -= len(chunk)
