"""How the snapshot is laid out as a file of its own in a checkpoint folder (the sidecar).

Checkpoints that are folders (a Hugging Face ``checkpoint-N``, a ``save_pretrained`` output)
carry the snapshot as one more file beside the weights, instead of inside a weights file, so
that nothing is added to the model's tensors. The file uses the safetensors layout, so
``safetensors.safe_open`` reads it, yet its header is encoded here (``jellyml.save_snapshot``,
in ``jellyml.snapshot.save``, writes the file) and read by ``jellyml.containers.safetensors``,
with ``struct`` and ``json`` only (no torch, no safetensors package):

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

from .. import format as fmt

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, Union

    PathLike = Union[str, "os.PathLike[str]"]

#: The file's name inside a checkpoint folder.
SNAPSHOT_FILE_NAME = "jellyml-snapshot.jelly"
_LENGTH = struct.Struct("<Q")
#: Its tensors, in the order of the file.
KEYS = (fmt.SNAPSHOT_KEY, fmt.METADATA_KEY)


def file_pieces(snapshot: Mapping[str, Any]) -> list[Any]:
    """The snapshot file's bytes, in order, as buffers (the tensors' own, not copied): its
    header, then the two tensors."""
    parts = [_as_bytes(snapshot, key) for key in KEYS]
    return [encode_header(len(memoryview(p).cast("B")) for p in parts), *parts]


def encode_header(sizes: Iterable[int]) -> bytes:
    """The 8-byte length and the padded JSON header for tensors of ``sizes`` bytes (in order
    ``SNAPSHOT_KEY``, ``METADATA_KEY``)."""
    header: dict[str, Any] = {"__metadata__": {"format": "jellyml"}}
    begin = 0
    for key, size in zip(KEYS, sizes):
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
