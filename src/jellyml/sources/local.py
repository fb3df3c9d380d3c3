"""A checkpoint file on local disk."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from ..errors import ModelFileError, ModelFileNotFoundError, NotACheckpointError


class LocalFile:
    """A local file opened unbuffered: a 1 KiB header read reads 1 KiB, not a buffer's worth."""

    def __init__(self, name: str, fd: int, size: int) -> None:
        self.name = name
        self.size = size
        self._fd = fd

    def read_at(self, offset: int, size: int) -> bytes:
        parts: list[bytes] = []
        left = size
        while left > 0:  # pread may return short
            chunk = os.pread(self._fd, left, offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return b"".join(parts)


@contextlib.contextmanager
def open_local(path: str) -> Iterator[LocalFile]:
    """Open ``path``; a missing path, a folder or anything but a regular file is refused.

    O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ModelFileNotFoundError(path) from None
    except IsADirectoryError:
        raise _a_directory(path) from None
    except OSError as exc:
        raise ModelFileError(path, f"Cannot read {path}: {exc.strerror}.") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _a_directory(path)
        if not stat.S_ISREG(info.st_mode):
            raise NotACheckpointError(
                path,
                f"{path} is not a regular file (a pipe, socket or device).",
                hint="Pass the checkpoint file itself.",
            )
        yield LocalFile(path, fd, info.st_size)
    finally:
        os.close(fd)


def _a_directory(path: str) -> NotACheckpointError:
    return NotACheckpointError(
        path, f"{path} is a directory, not a model file.", hint="Pass the checkpoint file."
    )
