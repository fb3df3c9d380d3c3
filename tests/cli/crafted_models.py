"""Checkpoints with metadata written by hand: a crafted or hostile file, without torch."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jellyml.snapshot import snapshot_repo
from kit.checkpoints import metadata_tensor, snapshot_tensor, write_checkpoint


def model_with_metadata(repo_path: Path, out: Path, metadata: Any) -> str:
    """A checkpoint of ``repo_path`` whose metadata JSON is ``metadata``, whatever it is (its
    sha256 is right, so only the reader's own checks stand between it and the screen)."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "b.bundle")
        snap = snapshot_repo(str(repo_path), bundle_path=bundle)
        meta, meta_sha = metadata_tensor(json.dumps(metadata).encode("utf-8"))
        tensor = snapshot_tensor(Path(bundle).read_bytes(), snap.commit, meta_sha)
        write_checkpoint(out, {"0": b"\0" * 16, "1": tensor, "2": meta})
    return snap.commit
