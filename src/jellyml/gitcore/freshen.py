"""The repository's object files keep their times while a snapshot is made (issue 23).

Writing an object that exists already makes git "freshen" it: it sets the time of the loose
object, or of the whole pack holding it, to now (so that a ``gc`` running at that moment does
not prune it). A snapshot writes its objects into a store of its own that borrows the
repository's, and git freshens what it finds there: 4 or 5 files of ``.git/objects`` a
snapshot, contents unchanged. The README promises the repository is left byte for byte, and
backup tools see times; so their times are noted before and put back after.

The snapshot itself never needs those objects to stay fresh: its bundle holds what it uses.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: path -> (atime_ns, mtime_ns)
Times = dict[str, tuple[int, int]]


@contextlib.contextmanager
def times_kept(objects: str) -> Iterator[None]:
    """The loose objects and packs of ``objects`` (a ``.git/objects`` folder) have, after the
    block, the times they had before it (files the block changed the time of only)."""
    before = _times(objects)
    try:
        yield
    finally:
        for path, (atime, mtime) in before.items():
            with contextlib.suppress(OSError):  # removed meanwhile (a gc): nothing to put back
                if os.stat(path).st_mtime_ns != mtime:
                    os.utime(path, ns=(atime, mtime))


def _times(objects: str) -> Times:
    found: Times = {}
    for folder in _folders(objects):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith((".pack", ".idx")) or len(entry.name) >= 38:
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        found[entry.path] = (st.st_atime_ns, st.st_mtime_ns)
    return found


def _folders(objects: str) -> Iterator[str]:
    """``pack`` and the 256 loose object folders (``00`` ... ``ff``) that exist."""
    with contextlib.suppress(OSError), os.scandir(objects) as entries:
        for entry in entries:
            if entry.name == "pack" or (len(entry.name) == 2 and entry.is_dir()):
                yield entry.path
