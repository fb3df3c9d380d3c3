"""Helpers shared by the reader, format and CLI tests: real checkpoints, the real CLI, git clone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

SRC = Path(__file__).resolve().parent.parent / "src"


def dirty_repo(make_repo: Any) -> Any:
    """A repo with one commit, an unstaged change and an untracked file."""
    repo = make_repo({"model.py": "def model():\n    return 1\n", "config.yaml": "epochs: 3\n"})
    repo.write("config.yaml", "epochs: 10\n")
    repo.write("notes.txt", "untracked\n")
    return repo


def run_cli(
    *args: str, cwd: Union[str, Path, None] = None, env_extra: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """``python -m jellyml ARGS`` in a fresh interpreter, as a user would run it."""
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "80"  # long lines must still come out as one line
    return subprocess.run(
        [sys.executable, "-m", "jellyml", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def clone(bundle: Union[str, Path], dest: Path) -> Path:
    """``git clone`` a bundle (checking out its HEAD) the way a user would."""
    subprocess.run(["git", "clone", "-q", str(bundle), str(dest)], check=True, capture_output=True)
    return dest


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def sha256_file(path: Union[str, Path]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def legacy_reader(path: Union[str, Path]) -> bytes:
    """JellyML 1.0.0's reader, re-implemented from its description (not its code).

    It walks the zip's entries in order, looks at those whose folder ends with "/data", reads
    the first 1024 bytes, strips NUL bytes, parses JSON, skips the entry on any exception or a
    magic mismatch, requires version "january-7-2023", and returns everything after byte 1024.
    """
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not os.path.dirname(name).endswith("/data"):
                continue
            with archive.open(name) as f:
                head = f.read(1024)
                try:
                    header = json.loads(head.replace(b"\0", b""))
                    if header["magic_number"] != "jelly_ml_snapshot":
                        continue
                except Exception:
                    continue
                assert header["version"] == "january-7-2023"
                return f.read()
    raise LookupError(f"JellyML 1.0.0 would find no snapshot in {path}")


def snapshot_tensor(bundle: bytes, commit: str, metadata_sha256: Union[str, None] = None) -> bytes:
    """The bytes of a snapshot tensor as create_snapshot makes them: header, then bundle."""
    from jellyml import format as fmt

    digest = hashlib.sha256(bundle).hexdigest()
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC, len(bundle), digest, commit=commit, metadata_sha256=metadata_sha256
    )
    return header + bundle


def write_torch_like_zip(
    path: Union[str, Path],
    tensors: list[bytes],
    prefix: str = "model",
    *,
    force_zip64: bool = False,
) -> Path:
    """A zip laid out as torch.save lays it out (stored entries ``<prefix>/data/<n>``).

    Built with Python's zipfile, so tests can make ZIP64 archives or odd layouts without torch
    and without writing gigabytes. Its data.pkl is never unpickled by the reader.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", b"\x80\x02}q\x00.")
        for key, data in enumerate(tensors):
            info = zipfile.ZipInfo(f"{prefix}/data/{key}")
            with archive.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
        archive.writestr(f"{prefix}/version", b"3\n")
    return Path(path)


def bundle_of(repo_path: Path, out: Path) -> tuple[bytes, str]:
    """``git bundle create out HEAD`` in a repo; the bundle's bytes and HEAD's commit id."""
    subprocess.run(
        ["git", "bundle", "create", "-q", str(out), "HEAD"],
        cwd=repo_path,
        check=True,
        capture_output=True,
    )
    return out.read_bytes(), git(repo_path, "rev-parse", "HEAD")


def patch_snapshot_header(path: Union[str, Path], **changes: Any) -> None:
    """Rewrite the snapshot header inside a saved checkpoint, in place, with fields changed.

    ``None`` removes a field. The header keeps its 1024 bytes, so the zip stays intact.
    """
    data = bytearray(Path(path).read_bytes())
    at = data.find(b'{"magic_number": "jelly_ml_snapshot"')
    assert at >= 0, "no snapshot header in the file"
    fields = json.loads(bytes(data[at : at + 1024]).split(b"\0", 1)[0])
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    raw = json.dumps(fields).encode()
    assert len(raw) <= 1024
    data[at : at + 1024] = raw + b"\0" * (1024 - len(raw))
    Path(path).write_bytes(bytes(data))
