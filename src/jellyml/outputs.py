"""Writing a file the user asked for, all or nothing: a temporary file beside the target,
renamed over it only when it is complete and checked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from .errors import JellyMLError, OutputExistsError, OutputPathError


@contextlib.contextmanager
def replacing(
    target: str, suffix: str, *, durable: bool = False, clobber: bool = True
) -> Iterator[tuple[BinaryIO, str]]:
    """Yield a new temporary file beside ``target`` (open for writing, mode 0600) and its path.
    When the block ends without error the file is flushed (and fsynced, with the folder after
    the rename, when ``durable``) and renamed over ``target``; on any error it is removed. With
    ``clobber=False`` an existing ``target`` is never replaced, even one made meanwhile by
    another process (``OutputExistsError``): the file is linked into place, which fails when
    something is there. An ``OSError`` that is not already a ``JellyMLError`` becomes
    ``OutputPathError(target)``. Checks of the written bytes go inside the block, after the
    writing: a failed check leaves nothing."""
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
        _put_in_place(tmp, target, clobber)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, JellyMLError):
            raise OutputPathError(target, exc.strerror or str(exc)) from None
        raise
    if durable:
        _fsync_folder(folder)


def _put_in_place(tmp: str, target: str, clobber: bool) -> None:
    """Rename the finished file over ``target``; without ``clobber``, link it there instead,
    which fails when a file appeared meanwhile (on a file system without hard links: check,
    then rename)."""
    if clobber:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(target) from None
    except OSError:
        if os.path.lexists(target):
            raise OutputExistsError(target) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


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
