"""``jellyml.save_snapshot``: the snapshot written as a file of its own into a checkpoint folder.

The file's layout is ``jellyml.containers.sidecar``'s (which only encodes it); writing it, to a
local folder or an fsspec URL (``jellyml.sources``: one request where the backend allows), and
making the snapshot first when none is given, is a snapshot's business, so it lives here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

from ..containers.sidecar import SNAPSHOT_FILE_NAME, file_pieces
from ..errors import OutputPathError
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
    file's path (or URL).

    Args:
        path: the checkpoint folder: a local path, or an fsspec URL (``s3://bucket/run/step-5``),
            written in one request where the backend allows (S3 under 100 MB: one PUT).
        snapshot: what ``jellyml.create_snapshot`` returned (uint8 tensors), or the same two
            keys as bytes. None: make it now, with ``create_snapshot``'s options
            (``create_snapshot_kwargs``); torch is not needed for that (nor imported, unless
            the process imported it already).
        storage_options: passed to fsspec for a URL (credentials, ``endpoint_url``, ...).
        **create_snapshot_kwargs: passed to ``create_snapshot`` when ``snapshot`` is None.

    Which process writes is the caller's choice. With ``snapshot=None`` the call is collective
    under ``torch.distributed`` (as ``create_snapshot`` is): call it on every rank, and every
    rank writes the same bytes. Otherwise make the snapshot on every rank at the same point,
    and call ``save_snapshot(folder, snapshot)`` on the rank that saves the checkpoint.
    """
    folder = os.fspath(path)
    if snapshot is None:
        from .create import snapshot_for_file

        snapshot = snapshot_for_file(**create_snapshot_kwargs)
    elif create_snapshot_kwargs:
        raise TypeError("create_snapshot options are only used when snapshot is None")
    storage = storage_for(folder, storage_options)
    local = storage.local_path(folder)
    if local is not None:
        try:
            os.makedirs(local, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(folder, exc.strerror or str(exc)) from None
    return write_jelly(storage.join(folder, SNAPSHOT_FILE_NAME), snapshot, storage_options)


def write_jelly(
    target: str, snapshot: Mapping[str, Any], storage_options: Optional[dict[str, Any]] = None
) -> str:
    """Write ``snapshot`` as the snapshot file ``target`` (a path, replaced atomically, or an
    fsspec URL, written in one request where the backend allows); returns ``target``."""
    storage_for(target, storage_options).write(target, file_pieces(snapshot))
    return target
