"""Finding and reading a snapshot in a checkpoint, without torch and without unpickling."""

from __future__ import annotations

import contextlib
import json
import os

from .. import format as fmt
from .. import progress
from ..containers import open_container
from ..errors import (
    CorruptSnapshotError,
    ModelFileError,
    OutputPathError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..records import Record
from ..sources import storage_for

# Not typing's TYPE_CHECKING: typing (and dataclasses) would add a tenth to a piped `jellyml
# show`'s start-up; annotations are strings here, and type checkers take any TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any, Optional, Union

    from ..containers import Container, E
    from ..sources import Source, Storage

    PathLike = Union[str, "os.PathLike[str]"]
    StorageOptions = Optional[Mapping[str, Any]]
#: A bundle read from a source whose reads are requests (a URL) and longer than this reports
#: its progress (``jellyml.progress``; the CLI draws it on a terminal).
PROGRESS_OVER = 4 * 1024 * 1024
#: Bytes read from each candidate tensor before deciding whether to read its whole header.
_SNIFF = 32


class Snapshot(Record):
    """A snapshot found in a checkpoint: where its bundle lies, and its metadata.

    The bundle itself is not read until ``extract_bundle`` (or ``temporary_bundle``) asks.
    ``path`` is what the user named (a file, a folder or a URL); ``source`` the file in it that
    holds the snapshot (the same, but for a folder).
    """

    _fields = (
        "path",
        "entry",
        "header",
        "bundle_offset",
        "metadata",
        "source",
        "storage_options",
        "storage",
    )
    __slots__ = _fields
    _hidden = ("storage_options", "storage")

    def __init__(
        self,
        path: str,
        entry: str,
        header: fmt.Header,
        bundle_offset: int,
        metadata: Optional[dict[str, Any]],
        source: str = "",
        storage_options: StorageOptions = None,
        storage: Optional[Storage] = None,
    ) -> None:
        self.path = path
        self.entry = entry
        self.header = header
        self.bundle_offset = bundle_offset
        self.metadata = metadata
        self.source = source
        self.storage_options = storage_options
        #: Where ``file`` lives; kept, so that reading the bundle reuses what finding it
        #: fetched (a remote file's tail and headers) and costs no second request for its size.
        self.storage = storage

    @property
    def file(self) -> str:
        """The file (path or URL) whose bytes hold the snapshot."""
        return self.source or self.path

    @property
    def bundle_size(self) -> int:
        return self.header.size

    @property
    def format_version(self) -> int:
        return self.header.format_version

    @property
    def commit(self) -> Optional[str]:
        """The snapshot commit id (None for files from JellyML 1.0.0, which did not record it)."""
        return self.header.commit

    def extract_bundle(self, output_path: PathLike, *, replace: bool = True) -> str:
        """Stream the bundle to ``output_path`` and verify its sha256; the file (mode 0600) is
        put in place whole once checked, replacing an existing one (``replace=False``: an
        existing file is left alone, and ``OutputExistsError`` raised)."""
        return _extract(self, os.fspath(output_path), replace=replace)

    @contextlib.contextmanager
    def extracted_bundle(self) -> Iterator[str]:
        """The bundle extracted to a temporary file, removed when the block ends."""
        from ..tempdirs import temporary_dir

        with temporary_dir("extract") as folder:
            yield self.extract_bundle(os.path.join(folder, "snapshot.bundle"))


def read_snapshot(path: PathLike, *, storage_options: StorageOptions = None) -> Snapshot:
    """Find the JellyML snapshot in a checkpoint and read its header and metadata.

    ``path`` is a ``torch.save`` file, a safetensors file, a checkpoint folder (see
    ``jellyml.containers.folder`` for the lookup) or any fsspec URL of one; ``storage_options``
    go to fsspec for a URL. Reads the container's index (a zip's central directory, a safetensors
    header), the first 1 KiB of candidate tensors (last saved first) and the metadata; never
    unpickles and never loads the model. Raises a ``ModelFileError`` subclass for a missing file,
    a file that is not a checkpoint, a truncated one, one without a snapshot, a corrupt snapshot,
    or one written by a newer jellyml.
    """
    name = os.fspath(path)
    storage = storage_for(name, storage_options)
    file = locate(name, storage)
    with storage.open(file) as source:
        try:
            found = _find(open_container(source))
        except SnapshotNotFoundError:
            if file == name:  # a file given itself: its folder may carry the snapshot
                from ..containers import folder  # a folder's lookup, only where one is

                folder.refuse_beside_snapshot_file(name, storage)
            raise
    found.path, found.source = name, file
    found.storage_options, found.storage = storage_options, storage
    return found


def locate(name: str, storage: Storage) -> str:
    """The file that carries ``name``'s snapshot: ``name`` itself, or the one file of a
    checkpoint folder that does (``jellyml.containers.folder``)."""
    if storage.stat(name).is_folder:
        from ..containers import folder

        return folder.snapshot_file(name, storage)
    return name


@contextlib.contextmanager
def temporary_bundle(
    path: PathLike, *, storage_options: StorageOptions = None
) -> Iterator[tuple[Snapshot, str]]:
    """Extract the snapshot's bundle to a temporary file, yield it, and always remove it."""
    snapshot = read_snapshot(path, storage_options=storage_options)
    with snapshot.extracted_bundle() as bundle:
        yield snapshot, bundle


def _find(archive: Container[E]) -> Snapshot:
    found: Optional[tuple[E, fmt.Header, int]] = None
    metadata: dict[str, tuple[E, fmt.Header, int]] = {}
    # A tensor that merely looks like a header (user data that starts with "{" and mentions
    # our magic) must not hide a valid snapshot elsewhere, so a bad candidate's error is kept
    # and raised only if nothing valid is found.
    failure: Optional[ModelFileError] = None
    for entry in archive.tensor_entries():
        if entry.size < fmt.HEADER_SIZE:
            continue
        try:
            parsed = _parse_candidate(archive, entry)
        except (CorruptSnapshotError, UnsupportedFormatError) as exc:
            failure = failure or exc
            continue
        if parsed is None:
            continue
        header, start = parsed
        if header.magic == fmt.METADATA_MAGIC:
            metadata.setdefault(header.sha256 or "", (entry, header, start))
        elif found is None:
            found = (entry, header, start)
        if found is not None and (
            found[1].metadata_sha256 is None or found[1].metadata_sha256 in metadata
        ):
            break
    if found is None:
        raise failure or SnapshotNotFoundError(archive.path)
    entry, header, start = found
    meta = metadata.get(header.metadata_sha256 or "")
    if meta is None and header.metadata_sha256 is not None and failure is not None:
        raise failure  # most likely the metadata tensor itself is the damaged one
    return Snapshot(
        path=archive.path,
        entry=entry.name,
        header=header,
        bundle_offset=start + header.offset,
        metadata=_read_metadata(archive, meta[1], meta[2]) if meta else None,
    )


def _parse_candidate(archive: Container[E], entry: E) -> Optional[tuple[fmt.Header, int]]:
    # Sniff a few bytes first: a header starts with "{", model data almost never does, and a
    # checkpoint of thousands of tensors should cost ~200 bytes each, not over 1 KiB.
    start, block = archive.data_offset(entry, peek=_SNIFF)
    sniffed = block.lstrip()
    if sniffed and not sniffed.startswith(b"{"):
        return None
    if len(block) < fmt.HEADER_SIZE:
        block += archive.read_at(start + len(block), fmt.HEADER_SIZE - len(block))
    if not fmt.looks_like_header(block):
        return None
    try:
        return fmt.decode_header(block, entry.size), start
    except fmt.NewerFormatError as exc:
        raise UnsupportedFormatError(archive.path, exc.found) from None
    except fmt.HeaderError as exc:
        raise CorruptSnapshotError(archive.path, exc.problem, field=exc.field) from None


def _read_metadata(archive: Container[E], header: fmt.Header, start: int) -> Any:
    raw = archive.read_at(start + header.offset, header.size)
    digest = fmt.sha256(len(raw))
    digest.update(raw)
    if header.sha256 is not None and digest.hexdigest() != header.sha256:
        raise CorruptSnapshotError(archive.path, "its metadata does not match its sha256")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, too deep, too many digits
        raise CorruptSnapshotError(archive.path, "its metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise CorruptSnapshotError(archive.path, "its metadata is not a JSON object")
    return value


def _extract(snapshot: Snapshot, output_path: str, *, replace: bool) -> str:
    from ..outputs import replacing  # only when a bundle is written

    check_output_path(snapshot.file, output_path)
    with replacing(output_path, ".bundle.part", no_clobber=not replace) as (out, tmp):
        with reopen(snapshot) as source:
            for chunk in bundle_chunks(snapshot, source):
                out.write(chunk)
        out.flush()
        if not _looks_like_bundle(tmp):
            raise CorruptSnapshotError(snapshot.path, "its payload is not a git bundle")
    return output_path


@contextlib.contextmanager
def reopen(snapshot: Snapshot) -> Iterator[Source]:
    """The source of the file that holds ``snapshot`` (a folder's snapshot file; for a URL
    the file opened while finding it, with what it fetched), to read its bundle."""
    storage = snapshot.storage or storage_for(snapshot.file, snapshot.storage_options)
    with storage.open(snapshot.file) as source:
        yield source


def bundle_chunks(snapshot: Snapshot, source: Source) -> Iterator[bytes]:
    """The bundle's bytes, in the source's own pieces (one or two requests for a URL, 1 MiB
    reads for a local file: memory stays at one piece): the one path every command reads a
    bundle through. A long read from a URL reports its progress (``jellyml.progress``). At the
    end, a bundle cut short or whose sha256 differs from the header's raises
    ``CorruptSnapshotError``: a consumer that wrote the pieces somewhere must discard them."""
    total = snapshot.bundle_size
    digest = fmt.sha256(total)
    shown = source.remote and total > PROGRESS_OVER
    done = 0
    with progress.task("Downloading the snapshot", total, shown=shown) as advance:
        for chunk in source.iter_range(snapshot.bundle_offset, total):
            digest.update(chunk)
            done += len(chunk)
            advance(done)
            yield chunk
    if done != total:
        raise CorruptSnapshotError(snapshot.path, "its bundle is cut off")
    if snapshot.header.sha256 is not None and digest.hexdigest() != snapshot.header.sha256:
        raise CorruptSnapshotError(snapshot.path, "its bundle does not match its sha256")


def check_output_path(model: str, output_path: str) -> None:
    """Refuse an output path that is a folder, or the model file itself."""
    if os.path.isdir(output_path):
        raise OutputPathError(output_path, "it is a directory")
    try:
        same = os.path.samefile(model, output_path)
    except OSError:  # the output does not exist yet
        same = False
    if same:
        # os.replace would put the bundle where the checkpoint was, destroying it.
        raise OutputPathError(output_path, "it is the model file itself")


def _looks_like_bundle(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(16).startswith((b"# v2 git bundle", b"# v3 git bundle"))
