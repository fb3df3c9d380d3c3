"""Files as a test looks at them: identities, digests, sparse stand-ins, disk use."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path
from typing import Any, Optional, Union

PathLike = Union[str, Path]


def sha256_file(path: PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sparse_file(path: PathLike, size: int, mode: Optional[int] = None) -> Path:
    """A file of ``size`` bytes that takes no disk space (``truncate``): a checkpoint or a run's
    data where the content does not matter, so that tests with gigabytes stay fast."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    if mode is not None:
        path.chmod(mode)
    return path


def identity(path: PathLike) -> tuple[int, int, int, int]:
    """What shows a file was left untouched: inode, mode, mtime (ns) and size (never follows a
    symbolic link)."""
    st = os.lstat(path)
    return st.st_ino, st.st_mode, st.st_mtime_ns, st.st_size


def files_by_identity(top: Path, big: int) -> dict[str, tuple[str, Any]]:
    """Every file outside .git: small ones by mode and content, big ones by identity."""
    files: dict[str, tuple[str, Any]] = {}
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not (root == str(top) and d == ".git")]
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, top)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                files[rel] = ("link", os.readlink(full))
            elif st.st_size >= big:
                files[rel] = ("big", identity(full))
            else:
                files[rel] = (oct(st.st_mode), Path(full).read_bytes())
    return files


def disk_usage(*paths: PathLike) -> int:
    """Bytes on disk of ``paths`` together, as ``du`` counts them (a hard-linked file once)."""
    out = subprocess.run(
        ["du", "-c", "-B1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1].split()[0])
