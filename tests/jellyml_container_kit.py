"""Writing checkpoints in the formats issue 12 reads, without torch: safetensors files, the
snapshot file of a folder (``jellyml-snapshot.jelly``), and folder layouts (HF, Lightning FSDP,
DeepSpeed, torch.distributed.checkpoint).

The snapshot file's writer (``jellyml.save_snapshot``) lives on another branch; this is a test
helper written from the spec (docs/FORMAT.md): a safetensors file of two U8 tensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Optional

from jellyml import format as fmt
from jellyml.snapshot import snapshot_repo
from jellyml.snapshot.create import encode_metadata, snapshot_metadata

SNAPSHOT_FILE = "jellyml-snapshot.jelly"


def snapshot_tensors(repo_path: Path) -> tuple[str, dict[str, bytes]]:
    """Snapshot ``repo_path`` now: its commit and our two tensors' bytes (header + payload)."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "b.bundle")
        snap = snapshot_repo(str(repo_path), bundle_path=bundle)
        meta, meta_sha = encode_metadata(snapshot_metadata(snap))
        payload = Path(bundle).read_bytes()
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC,
        len(payload),
        hashlib.sha256(payload).hexdigest(),
        commit=snap.commit,
        metadata_sha256=meta_sha,
    )
    return snap.commit, {fmt.SNAPSHOT_KEY: header + payload, fmt.METADATA_KEY: bytes(meta)}


def safetensors_bytes(
    tensors: dict[str, tuple[str, list[int], bytes]], metadata: Optional[dict[str, str]] = None
) -> bytes:
    """A safetensors file: ``{name: (dtype, shape, data)}``, in the order given."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    pos = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(d for _t, _s, d in tensors.values())


def u8(data: bytes) -> tuple[str, list[int], bytes]:
    return ("U8", [len(data)], data)


def write_safetensors_model(repo_path: Path, out: Path, *, weights: int = 3) -> str:
    """A safetensors model with some F32 weights and our two U8 tensors last; its commit."""
    commit, ours = snapshot_tensors(repo_path)
    tensors = {
        f"layer{i}.weight": ("F32", [4], struct.pack("<4f", i, i, i, i)) for i in range(weights)
    }
    tensors.update({name: u8(data) for name, data in ours.items()})
    out.write_bytes(safetensors_bytes(tensors, {"format": "pt"}))
    return commit


def write_snapshot_file(repo_path: Path, folder: Path) -> str:
    """``jellyml-snapshot.jelly`` in ``folder`` (as ``jellyml.save_snapshot`` writes it)."""
    commit, ours = snapshot_tensors(repo_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SNAPSHOT_FILE).write_bytes(
        safetensors_bytes({name: u8(data) for name, data in ours.items()})
    )
    return commit


def dcp_like_folder(folder: Path) -> None:
    """What torch.distributed.checkpoint leaves: a pickled ``.metadata`` and ``.distcp`` files.

    The ``.metadata`` here is a pickle that would run code if unpickled: reading the folder
    must never touch it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".metadata").write_bytes(b"cos\nsystem\n(S'touch /tmp/jellyml-pwned'\ntR.")
    (folder / "__0_0.distcp").write_bytes(os.urandom(256))
