"""``jellyml.save_snapshot``: the snapshot written as a file of its own into a checkpoint folder.

The file's layout is ``jellyml.containers.sidecar``'s (which only encodes it); writing it, and
making the snapshot first when none is given, is a snapshot's business, so it lives here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

from ..containers.sidecar import KEYS, SNAPSHOT_FILE_NAME, encode_header
from ..errors import OutputPathError
from ..outputs import replacing
from ..sources import storage_for

PathLike = Union[str, "os.PathLike[str]"]


def save_snapshot(
    path: PathLike,
    snapshot: Optional[Mapping[str, Any]] = None,
    *,
    storage_options: Optional[dict[str, Any]] = None,
    **create_snapshot_kwargs: Any,
) -> str:
    """Write the snapshot into the checkpoint folder ``path`` as ``jellyml-snapshot.jelly``.

    The folder is created if missing; the file is written to a temporary file in the same
    folder, fsynced and renamed into place, so a reader never sees half a file. Returns the
    file's path.

    Args:
        path: the checkpoint folder (a local path).
        snapshot: what ``jellyml.create_snapshot`` returned (uint8 tensors), or the same two
            keys as bytes. None: call ``jellyml.create_snapshot(**create_snapshot_kwargs)`` now.
        storage_options: reserved for remote folders, which are not supported yet.
        **create_snapshot_kwargs: passed to ``create_snapshot`` when ``snapshot`` is None.

    Which process writes is the caller's choice. With ``snapshot=None`` the call is collective
    under ``torch.distributed`` (as ``create_snapshot`` is): call it on every rank, and every
    rank writes the same bytes. Otherwise make the snapshot on every rank at the same point,
    and call ``save_snapshot(folder, snapshot)`` on the rank that saves the checkpoint.
    """
    name = os.fspath(path)
    folder = storage_for(name, storage_options).local_path(name)
    if folder is None:
        raise OutputPathError(
            name, "writing a snapshot file to a remote folder (URL) is not supported yet"
        )
    if snapshot is None:
        from .create import create_snapshot

        snapshot = create_snapshot(**create_snapshot_kwargs)
    elif create_snapshot_kwargs:
        raise TypeError("create_snapshot options are only used when snapshot is None")
    parts = [_as_bytes(snapshot, key) for key in KEYS]
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(folder, exc.strerror or str(exc)) from None
    target = os.path.join(folder, SNAPSHOT_FILE_NAME)
    _write_atomically(target, encode_header(len(p) for p in parts), parts)
    return target


def _as_bytes(snapshot: Mapping[str, Any], key: str) -> Any:
    """A buffer holding the tensor's bytes: no copy for a contiguous CPU uint8 tensor."""
    if key not in snapshot:
        raise ValueError(f"the snapshot has no {key!r}; pass what create_snapshot returned")
    value = snapshot[key]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return value
    dtype = getattr(value, "dtype", None)
    if str(dtype) != "torch.uint8" or getattr(value, "dim", lambda: 0)() != 1:
        raise ValueError(f"the snapshot's {key!r} is not a 1-D uint8 tensor or bytes")
    return value.detach().cpu().contiguous().numpy()


def _write_atomically(target: str, header: bytes, parts: list[Any]) -> None:
    with replacing(target, ".jelly.part", durable=True) as (out, _tmp):
        out.write(header)
        for part in parts:
            out.write(memoryview(part).cast("B"))
