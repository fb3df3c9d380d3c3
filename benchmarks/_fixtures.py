"""Generated inputs: git repositories of a given size (clean, dirty, long history) and
synthetic checkpoints. Content is pseudo-random but seeded, so every run builds the same."""

from __future__ import annotations

import os
import random
import shutil
import time
from typing import Any

import _proc
from _common import Context


def _text(rng: random.Random, nbytes: int) -> bytes:
    # Hex of random bytes: zlib halves it, about as it does real source code.
    return b"".join(rng.randbytes(32).hex().encode() + b"\n" for _ in range(nbytes // 65 + 1))


def file_path(i: int) -> str:
    return os.path.join(f"pkg{i // 200:03d}", f"module_{i:05d}.py")


def make_repo(ctx: Context, path: str, files: int, file_size: int = 1024) -> str:
    """A repository with ``files`` committed files of about ``file_size`` bytes, one commit."""
    rng = random.Random(files)
    os.makedirs(path)
    for i in range(files):
        full = os.path.join(path, file_path(i))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(_text(rng, file_size))
    with open(os.path.join(path, ".gitignore"), "w") as f:
        f.write("*.pyc\n__pycache__/\n")
    ctx.git("init", "-q", "-b", "main", cwd=path)
    ctx.git("add", "-A", cwd=path)
    ctx.git("commit", "-q", "-m", f"{files} files", cwd=path)
    # Packed, as a cloned or long-used repository is (git gc --auto would pack only some sizes:
    # the 20,000-file one, making sizes incomparable).
    ctx.git("gc", "-q", cwd=path)
    settle(ctx, path)
    return path


def settle(ctx: Context, path: str) -> None:
    """Make the files an hour older than the index, as in any repository not written to in the
    last second. Files generated in the same second as the commit would all be "racily clean"
    (git must re-read every one to trust it), which no real repository stays for long."""
    hour_ago = time.time() - 3600
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            os.utime(os.path.join(root, name), (hour_ago, hour_ago))
    ctx.git("update-index", "-q", "--really-refresh", cwd=path)


def make_dirty(ctx: Context, path: str, files: int) -> tuple[int, int]:
    """Modify 1% of the tracked files and add as many untracked ones (at least 5 of each)."""
    rng = random.Random(files + 1)
    changed = max(5, files // 100)
    for i in rng.sample(range(files), min(changed, files)):
        with open(os.path.join(path, file_path(i)), "ab") as f:
            f.write(b"# changed\n")
    os.makedirs(os.path.join(path, "scratch"), exist_ok=True)
    for i in range(changed):
        with open(os.path.join(path, "scratch", f"new_{i:05d}.py"), "wb") as f:
            f.write(_text(rng, 1024))
    return changed, changed


def make_history_repo(ctx: Context, path: str, commits: int, files: int = 500) -> str:
    """A repository with ``commits`` commits (three files changed in each) via fast-import."""
    rng = random.Random(commits)
    os.makedirs(path)
    ctx.git("init", "-q", "-b", "main", cwd=path)
    stream = bytearray()
    for n in range(commits):
        when = 1700000000 + n * 60
        msg = f"commit {n}\n".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"committer Bench <bench@example.invalid> {when} +0000\n".encode()
        stream += b"data %d\n%s" % (len(msg), msg)
        changes = range(files) if n == 0 else rng.sample(range(files), 3)
        for i in changes:
            body = _text(rng, 1024)
            stream += f"M 100644 inline {file_path(i)}\n".encode()
            stream += b"data %d\n%s\n" % (len(body), body)
    ctx.git("fast-import", "--quiet", cwd=path, stdin=bytes(stream))
    ctx.git("reset", "-q", "--hard", "main", cwd=path)
    ctx.git("gc", "-q", cwd=path)
    settle(ctx, path)
    return path


def make_big_untracked_repo(ctx: Context, path: str, total: int, each: int) -> str:
    """One small commit, plus ``total`` bytes of incompressible untracked files."""
    make_repo(ctx, path, 10)
    rng = random.Random(total)
    os.makedirs(os.path.join(path, "data"))
    for i in range(max(1, total // each)):
        with open(os.path.join(path, "data", f"blob_{i:03d}.bin"), "wb") as f:
            f.write(rng.randbytes(each))
    return path


def copy_repo(src: str, dst: str) -> str:
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def make_checkpoint(
    ctx: Context, out: str, total: int, count: int, where: str, repo: str
) -> dict[str, Any]:
    run = _proc.run_child(
        ctx.python,
        "make-checkpoint",
        out,
        str(total),
        str(count),
        where,
        repo,
        env=ctx.env(),
    )
    report = dict(run.report)
    report["file_size"] = os.path.getsize(out)
    # torch writes a ZIP64 end record on every file; past 4 GiB the entries' offsets no longer
    # fit in 32 bits and live in ZIP64 extra fields, which is the case worth reading.
    report["zip64"] = report["file_size"] > 0xFFFFFFFF
    return report
