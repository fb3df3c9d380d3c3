"""``jellyml strip --history``: keep the code, drop its past.

A full-history snapshot is replaced by a shallow one, as ``create_snapshot(history="shallow")``
makes it: the same tree in a parentless twin of the snapshot commit (no past versions, no
earlier authors or messages), the metadata's ``git.history`` set to ``"shallow"`` and its
``bundle_commit`` to the twin; the header keeps the real commit id, and
``snapshot_commit_object`` lets ``eat`` rebuild that id where the parent is at hand.

The container is rewritten as ``strip`` rewrites it (temporary file beside the target, read
back, renamed; the input untouched unless ``--in-place``): a safetensors file or a folder's
snapshot file by jellyml itself; a ``torch.save`` file by torch (``weights_only=True``: a
checkpoint holding other objects is refused), since the tensors change size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional

from .. import format as fmt
from ..errors import StripError
from ..outputs import replacing
from ..sources import open_source, storage_for


@dataclass(frozen=True)
class ShortenResult:
    path: str
    output: str
    #: The snapshot commit (the real id, as before).
    commit: str
    #: Commits the bundle carried before (1 after).
    commits_before: int
    size_before: int
    size_after: int


def shorten(
    path: str, output: Optional[str] = None, *, in_place: bool = False, force: bool = False
) -> ShortenResult:
    """Write ``path`` with its snapshot made shallow to ``output`` (or over itself)."""
    from ..read.reader import read_snapshot
    from .strip import _check_output

    if storage_for(path).local_path(path) is None:
        raise StripError(path, "it is a URL", hint="Download it, strip the local copy, upload.")
    if in_place == (output is not None):
        raise StripError(path, "say where to write", hint="Pass either -o OUT or --in-place.")
    if os.path.isdir(path):
        raise StripError(
            path, "--history rewrites one file", hint="Pass the folder's snapshot file."
        )
    target = path if in_place else str(output)
    if not in_place:
        _check_output(path, target, force=force)
    snapshot = read_snapshot(path)
    parts, commit, before = _shallow_parts(path, snapshot)
    with open_source(path) as source, replacing(target, ".strip.part", durable=True) as (out, tmp):
        _write(source, out, parts)
        out.flush()
        _check(tmp, path)
    return ShortenResult(path, target, commit, before, source.size, os.path.getsize(target))


def _shallow_parts(path: str, snapshot: Any) -> tuple[dict[str, bytes], str, int]:
    """The new snapshot's two tensors, the commit, and how many commits the old bundle had."""
    from ..gitcore import shallow
    from ..gitcore.bundle import create_bundle
    from ..read.tree import scratch
    from ..snapshot.parts import bundle_tensor_bytes, encode_metadata

    metadata = dict(snapshot.metadata or {})
    git = dict(metadata.get("git") or {})
    with scratch() as work:
        loaded = work.load(path, snapshot)
        if loaded.prerequisites:
            raise StripError(path, "its bundle builds on commits it does not carry")
        before = int(work.git("rev-list", "--count", loaded.tip).stdout or b"1")
        raw = work.git("cat-file", "commit", loaded.tip).stdout
        env = {"GIT_DIR": work.store}
        twin = shallow.hash_commit(work.store, shallow.without_parents(raw), write=True, env=env)
        bundle = os.path.join(work.tmp, "shallow.bundle")
        create_bundle(work.store, twin, bundle)
        commit = snapshot.commit or loaded.tip
        git.update(history="shallow", bundle_commit=twin)
        git.setdefault("snapshot_commit_object", raw.decode("utf-8", "surrogateescape"))
        metadata["git"] = git
        meta, meta_sha = encode_metadata(metadata)
        tensor = bundle_tensor_bytes(bundle, commit, meta_sha)
    return {fmt.SNAPSHOT_KEY: bytes(tensor), fmt.METADATA_KEY: bytes(meta)}, commit, before


def _write(source: Any, out: BinaryIO, parts: dict[str, bytes]) -> None:
    from ..containers import detect
    from ..containers.safetensors import FORMAT as SAFETENSORS

    found = detect(source)
    if found is SAFETENSORS:
        SAFETENSORS.replace_snapshot(source, out, parts)
        return
    _torch_resave(source.name, out, parts)


def _torch_resave(path: str, out: BinaryIO, parts: dict[str, bytes]) -> None:
    """torch.save of the checkpoint with our two keys replaced (loaded with weights_only)."""
    try:
        import torch
    except ImportError:
        raise StripError(
            path, "rewriting a torch.save file needs torch", hint="pip install torch"
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch's UnpicklingError and friends: one line
        raise StripError(path, f"torch cannot load it with weights_only=True ({exc})") from None
    if not isinstance(state, dict) or fmt.SNAPSHOT_KEY not in state:
        raise StripError(path, f"its snapshot is not under the top-level key {fmt.SNAPSHOT_KEY}")
    for key, data in parts.items():
        state[key] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    torch.save(state, out)


def _check(written: str, path: str) -> None:
    """The output's snapshot reads as shallow, or nothing is put in place."""
    from ..read.reader import read_snapshot

    found = read_snapshot(written)
    git = (found.metadata or {}).get("git")
    if not isinstance(git, dict) or git.get("history") != "shallow":
        raise StripError(path, "the rewritten file does not read back as shallow")
