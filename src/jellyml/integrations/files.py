"""One snapshot file per run: every checkpoint folder gets ``jellyml-snapshot.jelly``, and on a
local filesystem each is a hard link of the same file.

A run saves the same snapshot into every checkpoint folder (10 saves, 10 copies). Each folder
must stay self-contained (copying or uploading one folder alone keeps working), so the file is
in each, but it is the same inode: the disk holds one copy however many folders a run has.
Rotation (``save_total_limit``, ``total_limit``, Ray's ``num_to_keep``) deletes folders, which
drops one link each; the last folder left holds the file. Where a link cannot be made (another
filesystem, a filesystem without hard links, a URL), the file is written in full.

A link is only ever made to a file this object wrote itself and that is still the file it
wrote (same device, inode and size): a file replaced or edited since is not linked to. Every
writer that replaces a snapshot file (``save_snapshot``, ``jellyml strip --in-place``) writes a
new file and renames it into place, so the other links keep their bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional

from ..containers.sidecar import SNAPSHOT_FILE_NAME
from ..outputs import linked
from ..snapshot.save import save_snapshot
from ..sources import storage_for

#: Written files remembered as link sources, at most (the newest are tried first).
_REMEMBERED = 16


class RunFiles:
    """Writes one run's snapshot into its checkpoint folders, as links of one file."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot = snapshot
        #: (path, (device, inode, size)) of the files this object wrote or linked, newest last.
        self._written: list[tuple[str, tuple[int, int, int]]] = []

    def write_into(self, folder: str, storage_options: Optional[dict[str, Any]] = None) -> str:
        """Give ``folder`` the snapshot file (a link of an earlier one when possible); its path.
        The file appears whole or not at all (a link, or a full file, renamed into place)."""
        local = storage_for(folder, storage_options).local_path(folder)
        if local is None:  # a URL: no links there
            return save_snapshot(folder, self.snapshot, storage_options=storage_options)
        target = os.path.join(local, SNAPSHOT_FILE_NAME)
        for source, identity in reversed(self._written):
            if _identity(source) != identity:
                continue  # rotated away, or replaced since
            if _identity(target) == identity or linked(source, target):
                self._remember(target, identity)
                return target
        path = save_snapshot(folder, self.snapshot)
        written = _identity(path)
        if written is not None:
            self._remember(path, written)
        return path

    def _remember(self, path: str, identity: tuple[int, int, int]) -> None:
        """``path`` holds the file: a link source for later folders (the newest are kept, so
        that one survives any rotation that keeps a folder)."""
        kept = [entry for entry in self._written if entry[0] != path]
        self._written = [*kept[-_REMEMBERED + 1 :], (path, identity)]


def _identity(path: str) -> Optional[tuple[int, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size)
