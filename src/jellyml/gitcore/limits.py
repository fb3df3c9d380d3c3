"""A snapshot's tree listed within the ``JELLYML_MAX_*`` limits (``settings.SNAPSHOT_LIMITS``):
eat checks them before it writes a file, and ``ls``, ``diff`` and ``log`` before they print.

The tree is streamed and the listing stopped at the first limit passed: a "git bomb" of a few KB
can name billions of files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Callable, Optional, cast

from .. import settings
from ..errors import CorruptSnapshotError, SnapshotLimitError
from ..text import shorten
from . import run as gitrun

#: The limits, in the order ``tree_files`` counts them: files, bytes in all, bytes of one
#: file, folder levels.
_LIMITS = tuple(settings.SNAPSHOT_LIMITS)
#: How an over-limit error is made: (model, what, found, limit, variable).
LimitError = Callable[[str, str, int, int, str], Exception]


def limits() -> dict[str, int]:
    """Each limit's value now (0: none)."""
    return {name: settings.snapshot_limit(name) for name in settings.SNAPSHOT_LIMITS}


def over(
    model: str,
    found: Mapping[str, int],
    error: LimitError,
    values: Optional[Mapping[str, int]] = None,
) -> Optional[Exception]:
    """The error for the first of ``found`` (variable -> value) over its limit (of ``values``,
    else the settings now), or None."""
    values = values or limits()
    for name, value in found.items():
        if 0 < values[name] < value:
            return error(model, settings.SNAPSHOT_LIMITS[name][1], value, values[name], name)
    return None


def tree_files(
    model: str,
    treeish: str,
    env: Mapping[str, str],
    *,
    error: LimitError = SnapshotLimitError,
) -> Iterator[tuple[bytes, int, bytes]]:
    """Every file of ``treeish`` (``mode type oid``, size, path), recursively, in tree order;
    raises ``error`` at the first file past a limit (count, total size, largest file, depth)."""
    # 0 is no limit; the loop below runs once per file of the snapshot: kept lean.
    values = limits()
    caps = [values[name] or 1 << 62 for name in _LIMITS]
    max_files, max_size, max_file_size, max_depth = caps
    files = total = 0
    argv = ["ls-tree", "-r", "-l", "-z", "--full-tree", treeish]
    for record in gitrun.stream_z(argv, env=env):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        fields = meta.split()
        size = int(fields[-1]) if fields[-1].isdigit() else 0
        files += 1
        total += size
        depth = path.count(b"/")
        if files > max_files or total > max_size or size > max_file_size or depth > max_depth:
            found = dict(zip(_LIMITS, (files, total, size, depth)))
            raise cast(Exception, over(model, found, error, values))
        if path[:1] in _ODD_START or b"/." in path or b"//" in path:  # rare: look closer
            _check_path(model, path)
        yield b" ".join(fields[:3]), size, path


#: First bytes of a path worth a closer look (``.gitignore`` is one, ``/etc/x`` another).
_ODD_START = (b"/", b".", b"")
_UNSAFE_PARTS = frozenset({b"", b".", b"..", b".git"})


def _check_path(model: str, path: bytes) -> None:
    """Refuse a path no git tree made by git holds (a crafted one: ``/abs``, ``..``, ``a//b``,
    ``.git``) before a file is written or a message shows an empty name."""
    if any(part.lower() in _UNSAFE_PARTS for part in path.split(b"/")):
        shown = shorten(path.decode("utf-8", "replace"))
        raise CorruptSnapshotError(
            model, f"its tree names the path {shown!r}, which is not a plain relative path"
        )
