"""Helpers for the CLI, eat/undo and history tests: checkpoints without torch, and state probes.

``make_model`` writes a file laid out exactly as ``torch.save`` lays out a checkpoint holding
``create_snapshot()``'s two tensors (a stored zip with ``data.pkl`` and ``data/<n>`` entries),
built from the same pieces ``create_snapshot`` uses, so these tests need no torch.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Optional

from jellyml import format as fmt
from jellyml.snapshot import snapshot_repo
from jellyml.snapshot.create import encode_metadata, snapshot_metadata


def make_model(repo_path: Path, out: Path) -> str:
    """Snapshot ``repo_path`` as it is now into checkpoint ``out``; return the snapshot commit."""
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
        write_checkpoint(out, {"0": b"\0" * 16, "1": header + payload, "2": bytes(meta)})
    return snap.commit


def write_checkpoint(out: Path, tensors: dict[str, bytes]) -> None:
    stem = out.stem
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{stem}/data.pkl", b"\x80\x02}q\x00.")
        for key, data in tensors.items():
            z.writestr(f"{stem}/data/{key}", data)
        z.writestr(f"{stem}/version", b"3\n")


def jellyml(
    *args: str, cwd: Path, env: Optional[dict[str, str]] = None, check: Optional[int] = 0
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m jellyml``) as a user would; assert its exit code."""
    proc = subprocess.run(
        [sys.executable, "-m", "jellyml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def user_state(repo: Any) -> dict[str, Any]:
    """What a user would call 'my state': every file, HEAD, and the staged/unstaged split."""
    return {
        "files": repo.worktree(),
        "head": repo.git("rev-parse", "-q", "--verify", "HEAD", check=False),
        "branch": repo.git("symbolic-ref", "-q", "HEAD", check=False),
        "index": repo.git("ls-files", "-s"),
        "staged": repo.git("diff", "--cached", "--binary"),
        "unstaged": repo.git("diff", "--binary"),
        "status": repo.git("status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "stash": repo.git("stash", "list"),
        "branches": repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
    }
