"""Checkpoints without torch, in every format JellyML reads, and the snapshot inside them.

* ``snapshot_tensor`` / ``metadata_tensor``: the one place a snapshot's tensors are crafted;
  ``snapshot_parts`` makes both from a repository, as ``create_snapshot`` does;
* ``write_checkpoint``, ``make_model``, ``model_from_bundle``, ``shallow_model``: files laid out
  exactly as ``torch.save`` lays out a checkpoint (a stored zip with ``<stem>/data.pkl`` and
  ``<stem>/data/<n>`` entries); ``patch_snapshot_header`` damages one in place;
* ``safetensors_bytes``, ``write_safetensors_model``, ``write_snapshot_file``,
  ``dcp_like_folder``: safetensors files, the snapshot file of a folder
  (``jellyml-snapshot.jelly``, docs/FORMAT.md) and folder layouts;
* ``legacy_reader``: JellyML 1.0.0's reader, to prove it still reads what we write;
  ``FIXTURES``: checkpoints JellyML 1.0.0 wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

from jellyml import format as fmt
from jellyml.snapshot import snapshot_repo
from jellyml.snapshot.create import encode_metadata, snapshot_metadata
from kit.repos import GitRepo

PathLike = Union[str, Path]

#: Checkpoints written by JellyML 1.0.0 (see its README): part of the repository, so a fresh
#: clone tests itself with nothing from outside.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: The snapshot file of a checkpoint folder.
SNAPSHOT_FILE = "jellyml-snapshot.jelly"

# --- the snapshot's two tensors ----------------------------------------------------------------


def snapshot_tensor(
    bundle: bytes, commit: Optional[str], metadata_sha256: Optional[str] = None
) -> bytes:
    """The bytes of a snapshot tensor as create_snapshot makes them: header, then bundle."""
    digest = hashlib.sha256(bundle).hexdigest()
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC, len(bundle), digest, commit=commit, metadata_sha256=metadata_sha256
    )
    return header + bundle


def metadata_tensor(body: bytes) -> tuple[bytes, str]:
    """A metadata tensor holding ``body`` as given (whatever it is, however large) and the
    sha256 the snapshot header names it by."""
    digest = hashlib.sha256(body).hexdigest()
    return fmt.encode_header(fmt.METADATA_MAGIC, len(body), digest) + body, digest


def snapshot_parts(repo_path: PathLike, **options: Any) -> tuple[Any, bytes, bytes]:
    """Snapshot ``repo_path`` as it is now (``options`` go to ``snapshot_repo``): the
    RepoSnapshot, the snapshot tensor and the metadata tensor, as create_snapshot makes them."""
    with tempfile.TemporaryDirectory(prefix="jellyml-testkit-") as tmp:
        bundle = os.path.join(tmp, "b.bundle")
        snap = snapshot_repo(str(repo_path), bundle_path=bundle, **options)
        meta, meta_sha = encode_metadata(snapshot_metadata(snap))
        tensor = snapshot_tensor(Path(bundle).read_bytes(), snap.commit, meta_sha)
    return snap, tensor, bytes(meta)


def snapshot_tensors(repo_path: PathLike) -> tuple[str, dict[str, bytes]]:
    """Snapshot ``repo_path`` now: its commit and our two tensors by their names."""
    snap, tensor, meta = snapshot_parts(repo_path)
    return snap.commit, {fmt.SNAPSHOT_KEY: tensor, fmt.METADATA_KEY: meta}


# --- torch.save's layout ------------------------------------------------------------------------


def write_checkpoint(
    path: PathLike,
    tensors: Union[Mapping[str, bytes], Sequence[bytes]],
    prefix: Optional[str] = None,
    *,
    force_zip64: bool = False,
) -> Path:
    """A zip laid out as ``torch.save`` lays one out: stored entries ``<prefix>/data/<key>``
    (keys 0, 1, ... for a sequence), ``<prefix>/data.pkl`` (never unpickled by the reader) and
    ``<prefix>/version``. ``prefix`` defaults to the file's stem, as torch.save's does.

    Built with Python's zipfile, so tests can make ZIP64 archives or odd layouts without torch
    and without writing gigabytes.
    """
    path = Path(path)
    prefix = path.stem if prefix is None else prefix
    items = tensors.items() if isinstance(tensors, Mapping) else enumerate(tensors)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", b"\x80\x02}q\x00.")
        for key, data in items:
            info = zipfile.ZipInfo(f"{prefix}/data/{key}")
            with archive.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
        archive.writestr(f"{prefix}/version", b"3\n")
    return path


def make_model(repo_path: PathLike, out: PathLike) -> str:
    """Snapshot ``repo_path`` as it is now into checkpoint ``out``; return the snapshot commit.

    The tensors are ``create_snapshot()``'s two, made from the same pieces, after a weight.
    """
    snap, tensor, meta = snapshot_parts(repo_path)
    write_checkpoint(out, [b"\0" * 16, tensor, meta])
    return str(snap.commit)


def model_from_bundle(out: Path, bundle: bytes, commit: str, meta: dict[str, Any]) -> Path:
    """A torch-free checkpoint holding ``bundle`` under ``commit`` with metadata ``meta``."""
    encoded, meta_sha = encode_metadata(meta)
    tensor = snapshot_tensor(bundle, commit, meta_sha)
    write_checkpoint(out, {"0": b"\0" * 16, "1": tensor, "2": bytes(encoded)})
    return out


def shallow_model(source: GitRepo, out: Path, remotes: dict[str, str]) -> dict[str, str]:
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


def patch_snapshot_header(path: PathLike, **changes: Any) -> None:
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


def legacy_reader(path: PathLike) -> bytes:
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


# --- safetensors, the snapshot file, folder layouts ----------------------------------------------


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
