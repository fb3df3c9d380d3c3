"""Where a checkpoint's bytes come from: one module per kind of storage, behind one protocol.

A ``Storage`` owns locations: it says what a name is (``stat``), lists a folder (``list``,
``walk``), reads a small file whole (``read``), writes one whole (``write``) and opens a file
(``open``) as a ``Source``: its
size, ranges of its bytes (``read_at``, ``iter_range``) and a hint to fetch a span at once
(``prefetch``). Nothing outside this package asks whether a name is a URL: it asks
``storage_for(name)`` and uses what it gets.

``local`` is the local file system; ``remote`` is any fsspec URL (``s3://``, ``gs://``,
``hf://``, ``https://``, ...) with ranged requests. Another kind of storage is one module with a
``storage(storage_options)`` function returning a ``Storage``, named in ``_KINDS`` below with
the pattern of the names it takes (the first that matches wins; ``local`` takes the rest).
"""

from __future__ import annotations

import contextlib

from ..records import Record

# The protocols are for type checkers only: typing costs start-up time (see cli/options.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any, Optional, Protocol

    StorageOptions = Optional[Mapping[str, Any]]


def _url(name: str) -> bool:
    """``scheme://...`` with a scheme of two characters at least (``C:\\model.pth`` stays a
    path), other than ``file://``."""
    scheme, sep, _rest = name.partition("://")
    return (
        bool(sep)
        and len(scheme) > 1
        and scheme[0].isalpha()
        and not scheme.strip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
        and scheme != "file"
    )


#: The storages other than the local file system: which names each takes, and its module
#: (asked in order; the local file system takes every other name). The test is here, not in
#: the module, so that a local path imports nothing else.
_KINDS = ((_url, "remote"),)

FILE = "file"
FOLDER = "folder"
MISSING = "missing"


class Stat(Record):
    """What a storage says of a name: ``kind`` is ``FILE``, ``FOLDER`` or ``MISSING``."""

    _fields = ("name", "kind", "size")
    __slots__ = _fields

    def __init__(self, name: str, kind: str, size: int = 0) -> None:
        #: The name as the storage takes it back (a path, or a URL).
        self.name = name
        self.kind = kind
        #: A file's size in bytes (0 for a folder, or when the storage does not say).
        self.size = size

    @property
    def is_file(self) -> bool:
        return self.kind == FILE

    @property
    def is_folder(self) -> bool:
        return self.kind == FOLDER


if TYPE_CHECKING:

    class Source(Protocol):
        """An open file: random access to its bytes."""

        #: How the user named it (a path or URL), for messages.
        name: str
        size: int
        #: Whether each read is a request over a network: a long one then reports its progress.
        remote: bool

        def read_at(self, offset: int, size: int) -> bytes:
            """Up to ``size`` bytes at ``offset`` (fewer only at the end)."""
            ...

        def iter_range(self, offset: int, size: int) -> Iterator[bytes]:
            """``size`` bytes at ``offset``, in pieces of the source's choosing (a remote source
            fetches a long range in few large requests); stops early only at the end of the file."""
            ...

        def prefetch(self, start: int, stop: int) -> None:
            """A hint that small reads inside ``[start, stop)`` follow: a source for which each
            read costs a round trip fetches the span at once; others do nothing."""
            ...

    class Storage(Protocol):
        """A place files live: the local file system, or one fsspec file system."""

        #: Whether reading a few bytes costs no round trip (worth sniffing a file's content).
        cheap_reads: bool

        def stat(self, name: str) -> Stat:
            """What ``name`` is: a file (with its size), a folder, or missing. Raises a
            ``ModelFileError`` only when the storage cannot be asked (no access, no network)."""
            ...

        def list(self, folder: str) -> list[Stat]:
            """The files and folders directly in ``folder``, sorted by name."""
            ...

        def walk(self, folder: str, *, skip: frozenset[str] = frozenset()) -> Iterator[Stat]:
            """Every regular file under ``folder``, recursively, sorted; folders named in ``skip``
            are not entered."""
            ...

        def open(self, name: str) -> contextlib.AbstractContextManager[Source]:
            """The file ``name`` opened for reading (closed when the block ends); a missing file,
            a folder, or anything but a regular file is refused with a ``ModelFileError``."""
            ...

        def write(self, name: str, pieces: Sequence[Any]) -> None:
            """Write the file ``name`` from ``pieces`` (buffers, in order): a reader sees the
            old file or the new one, never half (locally: a temporary file renamed into
            place; remotely: one request where the backend allows). Errors are one line."""
            ...

        def read(self, name: str, limit: int) -> Optional[bytes]:
            """The whole of the small file ``name``, or None when it is larger than ``limit``
            bytes: no more than ``limit + 1`` bytes are ever received, whatever the file's
            size claims (a lying server's body is read no further)."""
            ...

        def join(self, folder: str, *parts: str) -> str:
            """The name of ``parts`` inside ``folder``."""
            ...

        def local_path(self, name: str) -> Optional[str]:
            """The path of ``name`` on this machine's disk, or None when it has none."""
            ...

        def absolute(self, name: str) -> str:
            """``name`` as it reads anywhere: an absolute path, or the URL itself."""
            ...


#: The options a URL gets when its caller names none: the CLI's ``--storage-option`` (set
#: for one command by ``default_storage_options``), else ``JELLYML_STORAGE_OPTIONS``.
_defaults: list[StorageOptions] = []


@contextlib.contextmanager
def default_storage_options(options: StorageOptions) -> Iterator[None]:
    """Inside the block, every URL opened without options of its own gets ``options``."""
    _defaults.append(options)
    try:
        yield
    finally:
        _defaults.pop()


def storage_for(name: str, storage_options: StorageOptions = None) -> Storage:
    """The storage that holds ``name`` (a path or a URL); ``storage_options`` go to it (fsspec's
    credentials, endpoint, ...); without them, the defaults (``default_storage_options``, else
    ``JELLYML_STORAGE_OPTIONS``)."""
    import importlib

    for takes, kind in _KINDS:
        if takes(name):
            from .options import storage_options as from_environment

            if storage_options is None:
                storage_options = _defaults[-1] if _defaults else from_environment()
            storage: Storage = importlib.import_module(f"{__name__}.{kind}").storage(
                storage_options
            )
            return storage
    from . import local

    return local.storage(storage_options)


@contextlib.contextmanager
def open_source(name: str, storage_options: StorageOptions = None) -> Iterator[Source]:
    """Open the file ``name`` (a path or an fsspec URL); closed when the block ends."""
    with storage_for(name, storage_options).open(name) as source:
        yield source
