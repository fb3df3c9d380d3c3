"""Finding and reading a snapshot in a checkpoint, without torch and without unpickling."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Optional, Union

from .. import format as fmt
from ..containers import Container, TensorEntry, open_container
from ..errors import (
    CorruptSnapshotError,
    ModelFileError,
    OutputPathError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..outputs import replacing
from ..sources import CHUNK, Source, is_url, iter_range, open_source
from ..tempdirs import temporary_dir

PathLike = Union[str, "os.PathLike[str]"]
StorageOptions = Optional[Mapping[str, Any]]
#: Local sources copy a bundle this much at a time (tests read it).
_CHUNK = CHUNK
#: Bytes read from each candidate tensor before deciding whether to read its whole header.
_SNIFF = 32


@dataclass(frozen=True)
class Snapshot:
    """A snapshot found in a checkpoint: where its bundle lies, and its metadata.

    The bundle itself is not read until ``extract_bundle`` (or ``temporary_bundle``) asks.
    ``path`` is what the user named (a file, a folder or a URL); ``source`` the file in it that
    holds the snapshot (the same, but for a folder).
    """

    path: str
    entry: str
    header: fmt.Header
    bundle_offset: int
    metadata: Optional[dict[str, Any]]
    source: str = ""
    storage_options: StorageOptions = field(default=None, repr=False, compare=False)
    #: A remote source kept open (it holds no file descriptor) so that extracting reuses what
    #: it fetched already and costs no second ``info`` request.
    reusable_source: Optional[Source] = field(default=None, repr=False, compare=False)

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

    def extract_bundle(self, output_path: PathLike) -> str:
        """Stream the bundle to ``output_path`` (replaced atomically) and verify its sha256."""
        return _extract(self, os.fspath(output_path))

    @contextlib.contextmanager
    def extracted_bundle(self) -> Iterator[str]:
        """The bundle extracted to a temporary file, removed when the block ends."""
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
    file, known = locate(name, storage_options)
    with open_source(file, storage_options, known=known) as source:
        found = _find(open_container(source))
        reusable = source if hasattr(source, "iter_range") else None
    return dataclasses.replace(
        found, path=name, source=file, storage_options=storage_options, reusable_source=reusable
    )


def locate(name: str, storage_options: StorageOptions = None) -> tuple[str, Any]:
    """The file that carries ``name``'s snapshot (``name`` itself, or the one file of a
    checkpoint folder that does: ``jellyml.containers.folder``), and for a URL file what
    ``remote.stat`` said of it (so that opening it costs no second request)."""
    from ..containers import folder

    if is_url(name) and not name.endswith("/"):
        from ..sources import remote

        known = remote.stat(name, storage_options)
        if known[2].get("type") != "directory":
            return name, known
    elif not folder.is_folder(name):
        return name, None
    return folder.snapshot_file(name, storage_options), None


@contextlib.contextmanager
def temporary_bundle(
    path: PathLike, *, storage_options: StorageOptions = None
) -> Iterator[tuple[Snapshot, str]]:
    """Extract the snapshot's bundle to a temporary file, yield it, and always remove it."""
    snapshot = read_snapshot(path, storage_options=storage_options)
    with snapshot.extracted_bundle() as bundle:
        yield snapshot, bundle


def _find(archive: Container) -> Snapshot:
    found: Optional[tuple[TensorEntry, fmt.Header, int]] = None
    metadata: dict[str, tuple[TensorEntry, fmt.Header, int]] = {}
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


def _parse_candidate(archive: Container, entry: TensorEntry) -> Optional[tuple[fmt.Header, int]]:
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


def _read_metadata(archive: Container, header: fmt.Header, start: int) -> Any:
    raw = archive.read_at(start + header.offset, header.size)
    if header.sha256 is not None and hashlib.sha256(raw).hexdigest() != header.sha256:
        raise CorruptSnapshotError(archive.path, "its metadata does not match its sha256")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, too deep, too many digits
        raise CorruptSnapshotError(archive.path, "its metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise CorruptSnapshotError(archive.path, "its metadata is not a JSON object")
    return value


def _extract(snapshot: Snapshot, output_path: str) -> str:
    check_output_path(snapshot.file, output_path)
    with replacing(output_path, ".bundle.part") as (out, tmp):
        with reopen(snapshot) as source:
            digest = _copy_range(snapshot, source, out)
        out.flush()
        if digest != snapshot.header.sha256 and snapshot.header.sha256 is not None:
            raise CorruptSnapshotError(snapshot.path, "its bundle does not match its sha256")
        if not _looks_like_bundle(tmp):
            raise CorruptSnapshotError(snapshot.path, "its payload is not a git bundle")
    return output_path


@contextlib.contextmanager
def reopen(snapshot: Snapshot) -> Iterator[Source]:
    """The source of the file that holds ``snapshot`` (a folder's snapshot file, a URL's
    open connection when there is one), to read its bundle."""
    if snapshot.reusable_source is not None:
        yield snapshot.reusable_source
    else:
        with open_source(snapshot.file, snapshot.storage_options) as source:
            yield source


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


def _copy_range(snapshot: Snapshot, source: Source, out: BinaryIO) -> str:
    """Copy the bundle in 1 MiB chunks and return its sha256: memory stays at one chunk."""
    digest = hashlib.sha256()
    left = snapshot.bundle_size
    for chunk in iter_range(source, snapshot.bundle_offset, left):
        digest.update(chunk)
        out.write(chunk)
        left -= len(chunk)
    if left:
        raise CorruptSnapshotError(snapshot.path, "its bundle is cut off")
    return digest.hexdigest()


def _looks_like_bundle(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(16).startswith((b"# v2 git bundle", b"# v3 git bundle"))
