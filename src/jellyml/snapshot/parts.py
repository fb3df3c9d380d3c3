"""A snapshot as bytes: the two tensors' contents before (or without) torch.

``create_snapshot`` returns uint8 tensors, but a snapshot file (``jellyml snapshot``,
``jellyml.save_snapshot``) needs only their bytes, and is written where torch may not be
installed (a login node, a CI job that only submits). Everything up to the tensors is made
here, without torch; ``as_tensors`` wraps the bytes without copying them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any

from .. import format as fmt
from ..errors import OutputPathError, SnapshotTooLargeError


@dataclass(frozen=True)
class SnapshotParts:
    """The bytes of the snapshot tensor (header + bundle) and of the metadata tensor (header +
    JSON): exactly what ``create_snapshot``'s two tensors hold."""

    snapshot: bytearray
    metadata: bytearray

    def as_mapping(self) -> dict[str, bytearray]:
        """The two keys of a snapshot, as bytes (what ``save_snapshot`` takes)."""
        return {fmt.SNAPSHOT_KEY: self.snapshot, fmt.METADATA_KEY: self.metadata}


def as_tensors(torch: Any, parts: SnapshotParts) -> dict[str, Any]:
    """``create_snapshot``'s result: two uint8 tensors sharing the parts' buffers."""
    return {
        fmt.SNAPSHOT_KEY: torch.frombuffer(parts.snapshot, dtype=torch.uint8),
        fmt.METADATA_KEY: torch.frombuffer(parts.metadata, dtype=torch.uint8),
    }


def bundle_tensor_bytes(bundle: str, commit: str, metadata_sha256: str) -> bytearray:
    """Header + bundle in one buffer, the bundle read in place: about one copy in memory."""
    size = os.path.getsize(bundle)
    buf = bytearray(fmt.HEADER_SIZE + size)
    view = memoryview(buf)
    digest = hashlib.sha256()
    with open(bundle, "rb") as f:
        pos = fmt.HEADER_SIZE
        while pos < len(buf):
            n = f.readinto(view[pos : pos + (1 << 20)])
            if not n:
                raise OSError(f"{bundle} shrank while it was read")
            digest.update(view[pos : pos + n])
            pos += n
    view[: fmt.HEADER_SIZE] = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC,
        size,
        digest.hexdigest(),
        commit=commit,
        metadata_sha256=metadata_sha256,
    )
    view.release()
    return buf


def encode_metadata(metadata: dict[str, Any]) -> tuple[bytearray, str]:
    """The metadata tensor's bytes (header + JSON) and the JSON's sha256."""
    body = json.dumps(metadata, sort_keys=True).encode("utf-8")
    if len(body) > fmt.MAX_METADATA_SIZE:  # readers refuse more; lists are capped well below
        raise SnapshotTooLargeError(len(body), fmt.MAX_METADATA_SIZE, "metadata")
    digest = hashlib.sha256(body).hexdigest()
    buf = bytearray(fmt.encode_header(fmt.METADATA_MAGIC, len(body), digest))
    buf += body
    return buf, digest


def copy_out(bundle: str, out_path: str) -> None:
    try:
        shutil.copyfile(bundle, out_path)
    except OSError as exc:
        raise OutputPathError(out_path, exc.strerror or str(exc)) from None
