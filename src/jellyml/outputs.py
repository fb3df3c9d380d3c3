"""Writing a file the user asked for, all or nothing: a temporary file beside the target,
renamed over it only when it is complete and checked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from .errors import JellyMLError, OutputPathError


@contextlib.contextmanager
def replacing(target: str, suffix: str, *, durable: bool = False) -> Iterator[tuple[BinaryIO, str]]:
    """Yield a new temporary file beside ``target`` (open for writing) and its path. When the
    block ends without error the file is flushed (and fsynced, with the folder after the rename,
    when ``durable``) and renamed over ``target``; on any error it is removed. An ``OSError``
    that is not already a ``JellyMLError`` becomes ``OutputPathError(target)``. Checks of the
    written bytes go inside the block, after the writing: a failed check leaves nothing."""
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jellyml-", suffix=suffix, dir=folder)
    except OSError as exc:
        raise OutputPathError(target, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, tmp
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, JellyMLError):
            raise OutputPathError(target, exc.strerror or str(exc)) from None
        raise
    if durable:
        _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; best effort (not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
