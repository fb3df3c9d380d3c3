"""Helpers for the ls / cat / diff / log tests: the CLI with bytes out, a hand-made shallow
snapshot (the contract of issue 9), and a check that nothing in a repository changed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from jellyml import format as fmt
from jellyml.snapshot.create import encode_metadata
from jellyml_testkit import write_checkpoint


def cli(
    *args: str, cwd: Path, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m jellyml ARGS`` as a user runs it, output piped, stdout as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "jellyml", *args],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def ok(*args: str, cwd: Path, env: Optional[dict[str, str]] = None) -> str:
    """Run the CLI, require exit 0 and an empty stderr, return stdout as text."""
    proc = cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr == b"", proc.stderr
    return proc.stdout.decode("utf-8", "surrogateescape")


def fails(*args: str, cwd: Path, code: int = 1) -> str:
    """Run the CLI, require a failure that is one ``error:`` line; return that line."""
    proc = cli(*args, cwd=cwd)
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, proc.stdout, err)
    assert proc.stdout == b""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "fatal:" not in err
    return err


@contextlib.contextmanager
def unchanged(*repos: Any) -> Iterator[None]:
    """Every file of each repository (working tree and every byte under .git) is the same
    after the block as before it, and jellyml left no temporary folder behind."""
    before = [repo.state() for repo in repos]
    temp = _jellyml_temp()
    yield
    assert [repo.state() for repo in repos] == before
    assert _jellyml_temp() == temp


def _jellyml_temp() -> list[str]:
    folder = os.environ["TMPDIR"]  # per test (conftest): other processes use /tmp too
    return sorted(n for n in os.listdir(folder) if n.startswith(("jellyml-", ".jellyml-")))


def model_from_bundle(out: Path, bundle: bytes, commit: str, meta: dict[str, Any]) -> Path:
    """A torch-free checkpoint holding ``bundle`` under ``commit`` with metadata ``meta``."""
    encoded, meta_sha = encode_metadata(meta)
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC,
        len(bundle),
        hashlib.sha256(bundle).hexdigest(),
        commit=commit,
        metadata_sha256=meta_sha,
    )
    write_checkpoint(out, {"0": b"\0" * 16, "1": header + bundle, "2": bytes(encoded)})
    return out


def shallow_model(source: Any, out: Path, remotes: dict[str, str]) -> dict[str, str]:
    """A shallow snapshot of ``source``'s HEAD as issue 9 writes one: the bundle holds a
    parentless commit with HEAD's tree; the header names HEAD (the real snapshot commit),
    the metadata its parent (the base commit) and the remotes. Returns the three ids."""
    real = source.git("rev-parse", "HEAD")
    base = source.git("rev-parse", "HEAD^")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp, "store.git")
        subprocess.run(["git", "init", "-q", "--bare", str(store)], check=True)
        objects = source.path / ".git" / "objects"
        (store / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        env = {**os.environ, "GIT_DIR": str(store)}
        tree = source.git("rev-parse", "HEAD^{tree}")
        flat = (
            subprocess.run(
                ["git", "commit-tree", tree, "-m", "JellyML snapshot"],
                env=env,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        (store / "HEAD").write_text(flat + "\n")
        bundle = Path(tmp, "b.bundle")
        subprocess.run(["git", "bundle", "create", "-q", str(bundle), "HEAD"], env=env, check=True)
        git = {
            "commit": real,
            "base_commit": base,
            "bundle_commit": flat,
            "history": "shallow",
            "dirty": True,
            "remotes": remotes,
        }
        model_from_bundle(out, bundle.read_bytes(), real, {"git": git, "packages": {}})
    return {"real": real, "base": base, "flat": flat}


def bundle_of(repo: Any) -> tuple[bytes, str]:
    """A bundle of ``repo``'s HEAD (as a clean full snapshot holds) and HEAD's id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "b.bundle")
        subprocess.run(
            ["git", "bundle", "create", "-q", str(path), "HEAD"], cwd=repo.path, check=True
        )
        return path.read_bytes(), repo.git("rev-parse", "HEAD")
