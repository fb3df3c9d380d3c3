"""Checkpoint folders: which file in them carries the snapshot.

A folder is not a container of its own: it is a lookup that ends at one file, read like any
other. In order (docs/FORMAT.md, "Checkpoint folders"):

1. ``jellyml-snapshot.jelly``, the snapshot file ``jellyml.save_snapshot`` writes beside the
   weights (any framework: torch.distributed.checkpoint, FSDP, the HF Trainer, ...);
2. a Hugging Face index (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``):
   the shard its ``weight_map`` names for the snapshot key;
3. a Hugging Face single file: ``model.safetensors``, then ``pytorch_model.bin``;
4. Lightning's sharded (FSDP) checkpoint: ``meta.pt``;
5. DeepSpeed: the tag in ``latest``, then ``<tag>/jellyml-snapshot.jelly`` or
   ``<tag>/mp_rank_00_model_states.pt`` (``client_state``); a tag folder itself the same way;
6. otherwise the one checkpoint-looking file in the folder; several are ambiguous.

A torch.distributed.checkpoint folder (``.metadata`` + ``.distcp``) is read through the
snapshot file only: its ``.metadata`` is a pickle, and is never read.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from typing import Any, Optional

from .. import format as fmt
from ..errors import AmbiguousFolderError, NotACheckpointError, SnapshotNotFoundError
from ..sources import is_url, local_path
from .sidecar import SNAPSHOT_FILE_NAME

#: The snapshot file beside the weights (written by ``jellyml.save_snapshot``).
SNAPSHOT_FILE = SNAPSHOT_FILE_NAME
HF_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
HF_SINGLE = ("model.safetensors", "pytorch_model.bin")
LIGHTNING_META = "meta.pt"
DEEPSPEED_LATEST = "latest"
DEEPSPEED_MODEL_STATES = "mp_rank_00_model_states.pt"
DEEPSPEED_ZERO3_MODEL_STATES = "zero_pp_rank_0_mp_rank_00_model_states.pt"
#: File names that may be checkpoints, for a folder of no layout we know.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".jelly")
#: Index and tag files larger than this are refused before they are read.
MAX_SMALL_FILE = 50_000_000


class Folder:
    """A local or remote folder: just what the lookup needs."""

    def __init__(self, name: str, storage_options: Optional[Mapping[str, Any]] = None) -> None:
        self.name = name.rstrip("/") if len(name) > 1 else name
        self._fs: Any = None
        self._path = local_path(self.name)
        if is_url(name):
            from ..sources.remote import filesystem

            self._fs, self._path = filesystem(self.name, storage_options)

    def join(self, *parts: str) -> str:
        """The name (path or URL) of ``parts`` inside the folder."""
        if self._fs is None:
            return os.path.join(self.name, *parts)
        return posixpath.join(self.name, *parts)

    def is_file(self, *parts: str) -> bool:
        if self._fs is None:
            return os.path.isfile(os.path.join(self._path, *parts))
        try:
            return bool(self._fs.isfile(posixpath.join(self._path, *parts)))
        except Exception:  # a backend's own error: treat as absent, the read will say why
            return False

    def files(self) -> list[str]:
        """The names of the files directly in the folder, sorted."""
        if self._fs is None:
            names = os.listdir(self._path)
            return sorted(n for n in names if os.path.isfile(os.path.join(self._path, n)))
        listed = self._fs.ls(self._path, detail=True)
        return sorted(posixpath.basename(e["name"]) for e in listed if e.get("type") == "file")

    def read_small(self, name: str) -> bytes:
        """A small file of the folder (an index, a tag), refused over ``MAX_SMALL_FILE``."""
        if self._fs is None:
            path = os.path.join(self._path, name)
            if os.path.getsize(path) > MAX_SMALL_FILE:
                raise _bad(self.name, f"its {name} is too large")
            with open(path, "rb") as f:
                return f.read()
        path = posixpath.join(self._path, name)
        if int(self._fs.info(path).get("size") or 0) > MAX_SMALL_FILE:
            raise _bad(self.name, f"its {name} is too large")
        return bytes(self._fs.cat_file(path))


def is_folder(name: str) -> bool:
    """Whether ``name`` names a folder: a local one, or a URL ending in ``/`` (an HTTP server
    cannot say a URL is a folder; other URLs are told by ``remote.stat``)."""
    if is_url(name):
        return name.endswith("/")
    return os.path.isdir(local_path(name))


def snapshot_file(name: str, storage_options: Optional[Mapping[str, Any]] = None) -> str:
    """The file of folder ``name`` that carries (or would carry) its snapshot."""
    folder = Folder(name, storage_options)
    if folder.is_file(SNAPSHOT_FILE):
        return folder.join(SNAPSHOT_FILE)
    for index in HF_INDEXES:
        if folder.is_file(index):
            return folder.join(_shard_of(folder, index))
    for single in (*HF_SINGLE, LIGHTNING_META):
        if folder.is_file(single):
            return folder.join(single)
    if folder.is_file(DEEPSPEED_LATEST):
        tag = _plain_name(folder, DEEPSPEED_LATEST, folder.read_small(DEEPSPEED_LATEST))
        return folder.join(_deepspeed_file(folder, tag))
    return folder.join(
        _deepspeed_file(folder) if _is_deepspeed_tag(folder) else _only_candidate(folder)
    )


def _deepspeed_file(folder: Folder, *tag: str) -> str:
    """The file of a DeepSpeed tag folder (``<save_dir>/<tag>``) that carries the snapshot: the
    snapshot file ``save_snapshot`` wrote into it, else the model states file that holds
    ``client_state`` (``mp_rank_00_model_states.pt``; under ZeRO-3, data-parallel rank 0's
    ``zero_pp_rank_0_mp_rank_00_model_states.pt``)."""
    for name in (SNAPSHOT_FILE, DEEPSPEED_MODEL_STATES, DEEPSPEED_ZERO3_MODEL_STATES):
        if folder.is_file(*tag, name):
            return posixpath.join(*tag, name)
    return posixpath.join(*tag, DEEPSPEED_MODEL_STATES)


def _is_deepspeed_tag(folder: Folder) -> bool:
    return folder.is_file(DEEPSPEED_MODEL_STATES) or folder.is_file(DEEPSPEED_ZERO3_MODEL_STATES)


def _shard_of(folder: Folder, index: str) -> str:
    try:
        data = json.loads(folder.read_small(index).decode("utf-8"))
    except (ValueError, RecursionError):
        raise _bad(folder.name, f"its {index} is not valid JSON") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise _bad(folder.name, f"its {index} has no weight_map")
    shard = weight_map.get(fmt.SNAPSHOT_KEY)
    if shard is None:
        raise SnapshotNotFoundError(folder.name)
    return _plain_name(folder, index, shard)


def _plain_name(folder: Folder, where: str, value: Any) -> str:
    """A file or folder name read from ``where``: one plain path component, nothing else."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace").strip()
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or "/" in value
        or "\\" in value
        or not value.isprintable()
    ):
        raise _bad(folder.name, f"its {where} names a file outside the folder")
    return value


def _only_candidate(folder: Folder) -> str:
    names = [n for n in folder.files() if n.lower().endswith(CHECKPOINT_SUFFIXES)]
    if len(names) == 1:
        return names[0]
    if len(names) > 1:
        raise AmbiguousFolderError(folder.name, names)
    if folder.is_file(".metadata"):  # torch.distributed.checkpoint, without a snapshot file
        raise SnapshotNotFoundError(
            folder.name,
            message=f"{folder.name} is a torch.distributed.checkpoint folder without a "
            f"{SNAPSHOT_FILE} file, so it holds no JellyML snapshot.",
            hint="Add one with jellyml.save_snapshot(folder) after dcp.save.",
        )
    raise NotACheckpointError(
        folder.name,
        f"{folder.name} is a directory holding no checkpoint jellyml knows.",
        hint="Pass the checkpoint file itself.",
    )


def _bad(name: str, why: str) -> NotACheckpointError:
    return NotACheckpointError(name, f"{name} is not a checkpoint folder jellyml can read: {why}.")
