"""The snapshot as a file of its own inside a checkpoint folder: ``jellyml-snapshot.jelly``.

Checkpoints that are folders (a Hugging Face ``checkpoint-N``, a ``save_pretrained`` output)
carry the snapshot as one more file beside the weights, instead of inside a weights file, so
that nothing is added to the model's tensors. The file uses the safetensors layout, so
``safetensors.safe_open`` reads it, yet it is written here, and read by
``jellyml.containers.safetensors``, with ``struct`` and ``json`` only (no torch, no
safetensors package):

- 8 bytes: the header's length N, unsigned little-endian;
- N bytes: a JSON object, padded with spaces to a multiple of 8, mapping
  ``"jellyml_code_snapshot"`` and ``"jellyml_snapshot_metadata"`` to
  ``{"dtype": "U8", "shape": [n], "data_offsets": [begin, end]}`` (relative to the data buffer,
  no holes), and ``"__metadata__"`` to ``{"format": "jellyml"}``;
- the data buffer: each tensor's bytes, exactly the bytes of the snapshot tensor of the same
  name (1024-byte JellyML header + bundle, 1024-byte header + metadata JSON).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any, Optional, Union

from .. import format as fmt
from ..errors import OutputPathError
from ..outputs import replacing
from ..sources import is_url

#: The file's name inside a checkpoint folder.
SNAPSHOT_FILE_NAME = "jellyml-snapshot.jelly"
_LENGTH = struct.Struct("<Q")
_KEYS = (fmt.SNAPSHOT_KEY, fmt.METADATA_KEY)

PathLike = Union[str, "os.PathLike[str]"]


def save_snapshot(
    path: PathLike,
    snapshot: Optional[Mapping[str, Any]] = None,
    *,
    storage_options: Optional[dict[str, Any]] = None,
    **create_snapshot_kwargs: Any,
) -> str:
    """Write the snapshot into the checkpoint folder ``path`` as ``jellyml-snapshot.jelly``.

    The folder is created if missing; the file is written to a temporary file in the same
    folder, fsynced and renamed into place, so a reader never sees half a file. Returns the
    file's path (or URL).

    Args:
        path: the checkpoint folder: a local path, or an fsspec URL (``s3://bucket/run/step-5``),
            written in one request where the backend allows (S3 under 100 MB: one PUT).
        snapshot: what ``jellyml.create_snapshot`` returned (uint8 tensors), or the same two
            keys as bytes. None: make it now, with ``create_snapshot``'s options
            (``create_snapshot_kwargs``); torch is not needed for that (nor imported, unless
            the process imported it already).
        storage_options: passed to fsspec for a URL (credentials, ``endpoint_url``, ...).
        **create_snapshot_kwargs: passed to ``create_snapshot`` when ``snapshot`` is None.

    Which process writes is the caller's choice. With ``snapshot=None`` the call is collective
    under ``torch.distributed`` (as ``create_snapshot`` is): call it on every rank, and every
    rank writes the same bytes. Otherwise make the snapshot on every rank at the same point,
    and call ``save_snapshot(folder, snapshot)`` on the rank that saves the checkpoint.
    """
    folder = os.fspath(path)
    if snapshot is None:
        from ..snapshot.create import snapshot_for_file

        snapshot = snapshot_for_file(**create_snapshot_kwargs)
    elif create_snapshot_kwargs:
        raise TypeError("create_snapshot options are only used when snapshot is None")
    if is_url(folder):
        return write_jelly(folder.rstrip("/") + "/" + SNAPSHOT_FILE_NAME, snapshot, storage_options)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(folder, exc.strerror or str(exc)) from None
    return write_jelly(os.path.join(folder, SNAPSHOT_FILE_NAME), snapshot)


def write_jelly(
    target: str, snapshot: Mapping[str, Any], storage_options: Optional[dict[str, Any]] = None
) -> str:
    """Write ``snapshot`` as the snapshot file ``target`` (a path, replaced atomically, or an
    fsspec URL, written in one request where the backend allows); returns ``target``."""
    pieces = file_pieces(snapshot)
    if is_url(target):
        from ..sources.remote import write_file

        write_file(target, pieces, storage_options)
    else:
        _write_atomically(target, pieces)
    return target


def file_pieces(snapshot: Mapping[str, Any]) -> list[Any]:
    """The snapshot file's bytes, in order, as buffers (the tensors' own, not copied): its
    header, then the two tensors."""
    parts = [_as_bytes(snapshot, key) for key in _KEYS]
    return [encode_header(len(memoryview(p).cast("B")) for p in parts), *parts]


def encode_header(sizes: Any) -> bytes:
    """The 8-byte length and the padded JSON header for tensors of ``sizes`` bytes (in order
    ``SNAPSHOT_KEY``, ``METADATA_KEY``)."""
    header: dict[str, Any] = {"__metadata__": {"format": "jellyml"}}
    begin = 0
    for key, size in zip(_KEYS, sizes):
        header[key] = {"dtype": "U8", "shape": [size], "data_offsets": [begin, begin + size]}
        begin += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return _LENGTH.pack(len(raw)) + raw


def read_sidecar_tensors(path: PathLike) -> dict[str, tuple[int, int]]:
    """Each tensor's name -> its absolute ``(offset, size)`` in the snapshot file at ``path``.

    The file is read as the safetensors file it is (``jellyml.containers.safetensors``, which
    validates the header before trusting it); a damaged one raises a ``ModelFileError``.
    """
    from ..sources import open_source
    from .safetensors import Safetensors

    with open_source(os.fspath(path)) as source:
        found = Safetensors(source)
        return {e.name: (found.data_start + e.begin, e.size) for e in found.entries}


def _as_bytes(snapshot: Mapping[str, Any], key: str) -> Any:
    """A buffer holding the tensor's bytes: no copy for a contiguous CPU uint8 tensor."""
    if key not in snapshot:
        raise ValueError(f"the snapshot has no {key!r}; pass what create_snapshot returned")
    value = snapshot[key]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return value
    dtype = getattr(value, "dtype", None)
    if str(dtype) != "torch.uint8" or getattr(value, "dim", lambda: 0)() != 1:
        raise ValueError(f"the snapshot's {key!r} is not a 1-D uint8 tensor or bytes")
    return value.detach().cpu().contiguous().numpy()


def _write_atomically(target: str, pieces: list[Any]) -> None:
    with replacing(target, ".jelly.part", durable=True) as (out, _tmp):
        for piece in pieces:
            out.write(memoryview(piece).cast("B"))
