"""Where a snapshot sits inside a checkpoint: one module per container format, one registry.

A format module (``torch_zip`` for what ``torch.save`` writes, ``safetensors`` for what
``save_file`` writes and for a folder's snapshot file) says how to recognise its files
(``claims``), which names they usually have (``suffixes``), how to read one (``open``: a
``Container`` that lists its tensors, likeliest snapshot first, and where each one's bytes
start in its ``Source``) and how to rewrite one without the snapshot (``strip``). The reader
(``jellyml.read.reader``) and ``jellyml strip`` do the rest, whatever the format.

Another format is one module with a ``FORMAT`` object meeting ``ContainerFormat``, named in
``FORMATS`` below. ``folder`` is not a format: it finds, in a checkpoint folder, the one file
that carries the snapshot.
"""

from __future__ import annotations

from . import safetensors, torch_zip

# The protocols are for type checkers only: typing costs start-up time (see cli/options.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO, Protocol, TypeVar

    from ..sources import Source

    class TensorEntry(Protocol):
        """One tensor of a container: its name (for messages) and its size in bytes."""

        @property
        def name(self) -> str: ...

        @property
        def size(self) -> int: ...

    E = TypeVar("E", bound=TensorEntry)

    class Container(Protocol[E]):
        """An open checkpoint of some format: its tensors (of entry type ``E``), and where each
        one's bytes are."""

        path: str

        def tensor_entries(self) -> Iterator[E]:
            """Every tensor that may hold a snapshot, likeliest first."""
            ...

        def data_offset(self, entry: E, peek: int = 0) -> tuple[int, bytes]:
            """Where ``entry``'s bytes start, and up to ``peek`` of its first bytes."""
            ...

        def read_at(self, offset: int, size: int) -> bytes: ...

    class ContainerFormat(Protocol):
        """A checkpoint format: how to recognise, read and strip its files."""

        #: What ``jellyml strip`` calls it ("torch zip").
        name: str
        #: The file names it usually has, lower case: tried first, and what ``scan`` looks at.
        suffixes: tuple[str, ...]

        def claims(self, source: Source) -> bool:
            """Whether ``source``'s bytes look like this format (cheaply: a few bytes at an end)."""
            ...

        def open(self, source: Source) -> Container[Any]:
            """The container; a file that is not one raises ``NotACheckpointError`` saying why."""
            ...

        def strip(self, source: Source, out: BinaryIO) -> tuple[str, ...]:
            """Write the file without our two snapshot tensors to ``out``; the names removed.
            Raises ``SnapshotNotFoundError`` when the file holds neither of them by name."""
            ...


#: The formats, in the order they are tried when a file's name suggests none.
FORMATS: tuple[ContainerFormat, ...] = (torch_zip.FORMAT, safetensors.FORMAT)


def checkpoint_suffixes() -> tuple[str, ...]:
    """The names checkpoints usually have: every format's suffixes."""
    return tuple(suffix for f in FORMATS for suffix in f.suffixes)


def recognised(source: Source) -> bool:
    """Whether some format claims ``source``'s bytes."""
    return any(f.claims(source) for f in FORMATS)


def detect(source: Source) -> ContainerFormat:
    """The format of ``source``: the first that claims its bytes, trying first the formats its
    name suggests (so that reading a remote file costs no request for another format's end).
    When none claims it, the format the name suggests (else the first), whose ``open`` then
    says what is wrong with the file."""
    name = source.name.lower()
    suggested = [f for f in FORMATS if name.endswith(f.suffixes)]
    for found in (*suggested, *(f for f in FORMATS if f not in suggested)):
        if found.claims(source):
            return found
    return (suggested or list(FORMATS))[0]


def open_container(source: Source) -> Container[Any]:
    """The container that ``source`` holds (raises ``NotACheckpointError`` for none we know)."""
    return detect(source).open(source)
