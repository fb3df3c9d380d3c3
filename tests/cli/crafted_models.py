"""Checkpoints with metadata written by hand: a crafted or hostile file, without torch."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jellyml import format as fmt
from jellyml.snapshot import snapshot_repo
from jellyml_testkit import write_checkpoint


def model_with_metadata(repo_path: Path, out: Path, metadata: Any) -> str:
    """A checkpoint of ``repo_path`` whose metadata JSON is ``metadata``, whatever it is (its
    sha256 is right, so only the reader's own checks stand between it and the screen)."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "b.bundle")
        snap = snapshot_repo(str(repo_path), bundle_path=bundle)
        body = json.dumps(metadata).encode("utf-8")
        meta_sha = hashlib.sha256(body).hexdigest()
        meta = fmt.encode_header(fmt.METADATA_MAGIC, len(body), meta_sha) + body
        payload = Path(bundle).read_bytes()
        header = fmt.encode_header(
            fmt.SNAPSHOT_MAGIC,
            len(payload),
            hashlib.sha256(payload).hexdigest(),
            commit=snap.commit,
            metadata_sha256=meta_sha,
        )
        write_checkpoint(out, {"0": b"\0" * 16, "1": header + payload, "2": bytes(meta)})
    return snap.commit
