"""Finding and reading a snapshot in a checkpoint, without torch and without unpickling."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, Union

from .. import format as fmt
from ..containers import Container, TensorEntry, open_container
from ..containers.sidecar import SNAPSHOT_FILE_NAME, SidecarFile
from ..errors import (
    CorruptSnapshotError,
    JellyMLError,
    ModelFileError,
    OutputPathError,
    SnapshotNotFoundError,
    UnsupportedFormatError,
)
from ..sources import Source, open_source

PathLike = Union[str, "os.PathLike[str]"]
_CHUNK = 1 << 20
#: Bytes read from each candidate tensor before deciding whether to read its whole header.
_SNIFF = 32


@dataclass(frozen=True)
class Snapshot:
    """A snapshot found in a checkpoint: where its bundle lies, and its metadata.

    The bundle itself is not read until ``extract_bundle`` (or ``temporary_bundle``) asks.
    """

    path: str
    entry: str
    header: fmt.Header
    bundle_offset: int
    metadata: Optional[dict[str, Any]]

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
        with tempfile.TemporaryDirectory(prefix="jellyml-") as folder:
            yield self.extract_bundle(os.path.join(folder, "snapshot.bundle"))


def read_snapshot(path: PathLike) -> Snapshot:
    """Find the JellyML snapshot in a ``torch.save`` checkpoint and read its header and metadata.

    Reads the zip's central directory, the first 1 KiB of candidate tensors (last saved first) and
    the metadata; never unpickles and never loads the model. Raises a ``ModelFileError`` subclass
    for a missing file, a file that is not a checkpoint, a truncated one, one without a snapshot,
    a corrupt snapshot, or one written by a newer jellyml.
    """
    name = os.fspath(path)
    # A checkpoint folder (Hugging Face's checkpoint-N) carries its snapshot in a file of its
    # own; until a folder container lands, that file is read here (see containers.sidecar).
    if os.path.isfile(os.path.join(name, SNAPSHOT_FILE_NAME)):
        name = os.path.join(name, SNAPSHOT_FILE_NAME)
    with open_source(name) as source:
        if os.path.basename(name) == SNAPSHOT_FILE_NAME:
            return _find(SidecarFile(source))
        return _find(open_container(source))


@contextlib.contextmanager
def temporary_bundle(path: PathLike) -> Iterator[tuple[Snapshot, str]]:
    """Extract the snapshot's bundle to a temporary file, yield it, and always remove it."""
    snapshot = read_snapshot(path)
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
    _check_output_path(snapshot.path, output_path)
    folder = os.path.dirname(os.path.abspath(output_path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jellyml-", suffix=".bundle.part", dir=folder)
    except OSError as exc:
        raise OutputPathError(output_path, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as out, open_source(snapshot.path) as source:
            digest = _copy_range(snapshot, source, out)
        if digest != snapshot.header.sha256 and snapshot.header.sha256 is not None:
            raise CorruptSnapshotError(snapshot.path, "its bundle does not match its sha256")
        if not _looks_like_bundle(tmp):
            raise CorruptSnapshotError(snapshot.path, "its payload is not a git bundle")
        os.replace(tmp, output_path)
    except JellyMLError:
        _remove(tmp)
        raise
    except OSError as exc:  # writing: disk full, or the target cannot be replaced
        _remove(tmp)
        raise OutputPathError(output_path, exc.strerror or str(exc)) from None
    except BaseException:
        _remove(tmp)
        raise
    return output_path


def _check_output_path(model: str, output_path: str) -> None:
    if os.path.isdir(output_path):
        raise OutputPathError(output_path, "it is a directory")
    try:
        same = os.path.samefile(model, output_path)
    except OSError:  # the output does not exist yet
        same = False
    if same:
        # os.replace would put the bundle where the checkpoint was, destroying it.
        raise OutputPathError(output_path, "it is the model file itself")


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _copy_range(snapshot: Snapshot, source: Source, out: BinaryIO) -> str:
    """Copy the bundle in 1 MiB chunks and return its sha256: memory stays at one chunk."""
    digest = hashlib.sha256()
    pos = snapshot.bundle_offset
    left = snapshot.bundle_size
    while left:
        chunk = source.read_at(pos, min(_CHUNK, left))
        pos += len(chunk)
        if not chunk:
            raise CorruptSnapshotError(snapshot.path, "its bundle is cut off")
        digest.update(chunk)
        out.write(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def _looks_like_bundle(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(16).startswith((b"# v2 git bundle", b"# v3 git bundle"))
