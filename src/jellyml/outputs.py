"""Writing a file the user asked for, all or nothing: the one writer every output goes through.

A temporary file beside the target (on its file system, named and swept by ``tempdirs``),
renamed over it only when it is complete and checked; removed on any failure, so a target is
never half written and never left behind half made.
"""

from __future__ import annotations

import contextlib
import os

from .errors import JellyMLError, OutputExistsError, OutputPathError
from .tempdirs import new_file_beside, temporary_dir

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import AnyStr, BinaryIO


@contextlib.contextmanager
def replacing(
    target: str, suffix: str, *, durable: bool = False, no_clobber: bool = False
) -> Iterator[tuple[BinaryIO, str]]:
    """Yield a new temporary file beside ``target`` (mode 0600, open for writing) and its
    path. When the block ends without error the file is flushed (and fsynced, with the folder
    after the rename, when ``durable``) and put in place of ``target``: renamed over it, or,
    with ``no_clobber``, linked there only if nothing is there yet (not even a file that
    appeared meanwhile: ``OutputExistsError``). On any error it is removed. An ``OSError`` that
    is not already a ``JellyMLError`` becomes ``OutputPathError(target)``. Checks of the
    written bytes go inside the block, after the writing: a failed check leaves nothing."""
    try:
        fd, tmp = new_file_beside(target, "part", suffix)
    except OSError as exc:
        raise OutputPathError(target, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, tmp
            out.flush()
            if durable:
                os.fsync(out.fileno())
        _put(tmp, target, no_clobber=no_clobber)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, JellyMLError):
            raise OutputPathError(target, exc.strerror or str(exc)) from None
        raise
    if durable:
        _fsync_folder(os.path.dirname(os.path.abspath(target)))


@contextlib.contextmanager
def creating_folder(target: str, *, replace: bool = False) -> Iterator[str]:
    """Yield a path (not yet made) at which to build a new folder; when the block ends without
    error it is renamed to ``target``, which must not exist (with ``replace``, an existing
    ``target`` folder is first moved aside, then removed): a folder appears whole or not at
    all. It is built beside ``target`` (``tempdirs``, on its file system) and removed on any
    error; an ``OSError`` becomes ``OutputPathError(target)``."""
    try:
        with temporary_dir("part", beside=target) as staging:
            folder = os.path.join(staging, "new")
            yield folder
            if replace and os.path.isdir(target) and not os.path.islink(target):
                os.rename(target, os.path.join(staging, "old"))  # removed with the staging
            os.rename(folder, target)
    except OSError as exc:
        if isinstance(exc, JellyMLError):
            raise
        raise OutputPathError(target, exc.strerror or str(exc)) from None


def linked(source: str, target: str) -> bool:
    """Put a hard link of ``source`` at ``target`` (its folder made if missing), replacing it
    whole: a temporary link beside it, renamed over it. False where the file system cannot link
    (the caller then writes the file in full); nothing is left behind either way."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        fd, tmp = new_file_beside(target, "link", ".part")
        os.close(fd)
        os.unlink(tmp)  # the name is ours (O_EXCL); the link takes it
        os.link(source, tmp)
    except OSError:  # EXDEV, EPERM, EMLINK, ENOTSUP, ...: no link here
        return False
    try:
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def _put(tmp: str, target: str, *, no_clobber: bool) -> None:
    if not no_clobber:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if anything is there: no check-then-rename race
    except FileExistsError:
        raise OutputExistsError(target) from None
    except OSError:  # a file system without hard links: check, then rename
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


def tree_size(path: AnyStr) -> int:
    """The bytes of the files under the folder ``path`` (links not followed, nothing that
    vanished or cannot be read counted): a stripped copy's size, a put-aside folder's."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
