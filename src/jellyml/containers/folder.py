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
import posixpath
import re

from .. import format as fmt
from ..errors import AmbiguousFolderError, NotACheckpointError, SnapshotNotFoundError
from ..text import shorten
from . import checkpoint_suffixes
from .sidecar import SNAPSHOT_FILE_NAME

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from typing import Any

    from ..sources import Storage

#: The snapshot file beside the weights (written by ``jellyml.save_snapshot``).
SNAPSHOT_FILE = SNAPSHOT_FILE_NAME
HF_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
HF_SINGLE = ("model.safetensors", "pytorch_model.bin")
LIGHTNING_META = "meta.pt"
DEEPSPEED_LATEST = "latest"
DEEPSPEED_MODEL_STATES = "mp_rank_00_model_states.pt"
DEEPSPEED_ZERO3_MODEL_STATES = "zero_pp_rank_0_mp_rank_00_model_states.pt"
#: The files whose presence makes a folder a checkpoint of a layout jellyml knows (the
#: lookup above, a DeepSpeed tag folder, torch.distributed.checkpoint's ``.metadata``).
LAYOUT_FILES = frozenset(
    {
        SNAPSHOT_FILE,
        *HF_INDEXES,
        *HF_SINGLE,
        LIGHTNING_META,
        DEEPSPEED_LATEST,
        DEEPSPEED_MODEL_STATES,
        DEEPSPEED_ZERO3_MODEL_STATES,
        ".metadata",
    }
)
#: Index and tag files larger than this are refused, and no more of them is read.
MAX_SMALL_FILE = 50_000_000
#: A name read from an index or a tag longer than this is no file name (file systems: 255).
_MAX_NAME = 1024


class Folder:
    """A folder of some storage (local or remote): just what the lookup needs."""

    def __init__(self, name: str, storage: Storage) -> None:
        self.name = name.rstrip("/") if len(name) > 1 else name
        self.storage = storage

    def join(self, *parts: str) -> str:
        """The name (path or URL) of ``parts`` inside the folder."""
        return self.storage.join(self.name, *parts)

    def is_file(self, *parts: str) -> bool:
        return self.storage.stat(self.join(*parts)).is_file

    def files(self) -> list[str]:
        """The names of the files directly in the folder, sorted."""
        return [_base(e.name) for e in self.storage.list(self.name) if e.is_file]

    def read_small(self, name: str) -> bytes:
        """A small file of the folder (an index, a tag), refused over ``MAX_SMALL_FILE``
        (no more than that is ever received)."""
        data = self.storage.read(self.join(name), MAX_SMALL_FILE)
        if data is None:
            raise _bad(self.name, f"its {name} is over the limit of {MAX_SMALL_FILE:,} bytes")
        return data


def _base(name: str) -> str:
    return name.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def snapshot_file(name: str, storage: Storage) -> str:
    """The file of folder ``name`` (in ``storage``) that carries (or would carry) its snapshot."""
    folder = Folder(name, storage)
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
    raw = folder.read_small(index)  # its own errors are ValueErrors too: not "not JSON"
    try:
        data = json.loads(raw.decode("utf-8"))
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
    """A file or folder name read from ``where``: one plain path component, nothing else.
    The name is untrusted: a message shows it shortened, its length said."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace").strip()
    if not isinstance(value, str):
        raise _bad(folder.name, f"its {where} names no file (a {type(value).__name__})")
    if value == "":
        raise _bad(folder.name, f"its {where} is empty")
    if value in (".", "..") or "/" in value or "\\" in value or not value.isprintable():
        raise _bad(folder.name, f"its {where} names a file outside the folder ({shorten(value)})")
    if len(value) > _MAX_NAME:
        raise _bad(
            folder.name, f"its {where} names a file whose name is too long: {shorten(value)}"
        )
    return value


def _only_candidate(folder: Folder) -> str:
    suffixes = checkpoint_suffixes()
    names = [n for n in folder.files() if n.lower().endswith(suffixes)]
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
    inside = checkpoint_folders(folder)
    if inside:
        raise _holds_checkpoint_folders(folder, inside)
    raise NotACheckpointError(
        folder.name,
        f"{folder.name} is a directory holding no checkpoint jellyml knows.",
        hint="Pass the checkpoint file itself.",
    )


#: Folders a trainer saves its checkpoints as: ``checkpoint-500`` (the HF Trainer),
#: ``checkpoint_3`` (Accelerate), ``global_step100`` (DeepSpeed); the number orders them.
_CHECKPOINT_FOLDER = r"(?:checkpoint[-_]?|global_step)(\d+)\Z"
#: Checkpoint folders named in a message, at most.
_NAMED = 5


def checkpoint_folders(folder: Folder) -> list[str]:
    """The names of the checkpoint folders directly in ``folder`` (a Trainer's
    ``output_dir``), oldest first."""
    found = []
    for entry in folder.storage.list(folder.name):
        match = re.match(_CHECKPOINT_FOLDER, _base(entry.name), re.IGNORECASE)
        if entry.is_folder and match:
            found.append((int(match.group(1)), _base(entry.name)))
    return [name for _step, name in sorted(found)]


def _holds_checkpoint_folders(folder: Folder, inside: list[str]) -> NotACheckpointError:
    shown = ", ".join(inside[:_NAMED]) + (
        f" and {len(inside) - _NAMED} more" if len(inside) > _NAMED else ""
    )
    count = f"{len(inside)} checkpoint folder{'s' if len(inside) > 1 else ''}"
    return NotACheckpointError(
        folder.name,
        f"{folder.name} is not a checkpoint itself: it holds {count} ({shown}).",
        hint=f"Pass one of them: the latest is {folder.join(inside[-1])}.",
    )


def refuse_beside_snapshot_file(name: str, storage: Storage) -> None:
    """``name``, a file, holds no snapshot: if a snapshot file lies beside it (the snapshot of
    the whole folder), raise the error that points to it; else return."""
    stripped = name.rstrip("/")
    parent = stripped.rsplit("/", 1)[0] if "/" in stripped else "."
    beside = storage.join(parent or "/", SNAPSHOT_FILE)
    if storage.stat(beside).is_file:
        raise SnapshotNotFoundError(
            name,
            message=f"{name} holds no JellyML snapshot: its folder carries the snapshot, in "
            f"{beside}.",
            hint=f"Pass the folder ({parent}) or that file instead.",
        )


def _bad(name: str, why: str) -> NotACheckpointError:
    return NotACheckpointError(name, f"{name} is not a checkpoint folder jellyml can read: {why}.")
