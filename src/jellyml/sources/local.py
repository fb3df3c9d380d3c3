"""The local file system: paths, and ``file://`` URLs."""

from __future__ import annotations

import contextlib
import os
import stat

from ..errors import ModelFileError, ModelFileNotFoundError, NotACheckpointError
from . import FILE, FOLDER, MISSING, Stat

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, Optional

#: Bytes per piece when a long range is copied (memory stays at one piece).
CHUNK = 1 << 20
_FILE_URL = "file://"


def storage(storage_options: Any = None) -> LocalStorage:
    return _LOCAL


class LocalFile:
    """A local file opened unbuffered: a 1 KiB header read reads 1 KiB, not a buffer's worth."""

    remote = False

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

    def iter_range(self, offset: int, size: int) -> Iterator[bytes]:
        while size > 0:
            chunk = self.read_at(offset, min(CHUNK, size))
            if not chunk:
                return
            yield chunk
            offset += len(chunk)
            size -= len(chunk)

    def prefetch(self, start: int, stop: int) -> None:
        """Nothing to do: a local read costs no round trip."""


class LocalStorage:
    """Paths on this machine (``file://`` URLs too)."""

    cheap_reads = True

    def stat(self, name: str) -> Stat:
        try:
            info = os.stat(_path(name))
        except OSError:
            return Stat(name, MISSING)
        if stat.S_ISDIR(info.st_mode):
            return Stat(name, FOLDER)
        return Stat(name, FILE, info.st_size)

    def list(self, folder: str) -> list[Stat]:
        return [self.stat(os.path.join(folder, n)) for n in sorted(os.listdir(_path(folder)))]

    def walk(self, folder: str, *, skip: frozenset[str] = frozenset()) -> Iterator[Stat]:
        """Links are followed, as ``show`` follows them (the HF cache's ``snapshots/<rev>/*
        -> ../../blobs/*``, tag folders on shared storage), each real folder entered once (a
        link loop ends there); FIFOs, sockets and devices are left out."""
        seen: set[tuple[int, int]] = set()
        for top, dirs, files in os.walk(_path(folder), followlinks=True):
            with contextlib.suppress(OSError):
                here = os.stat(top)
                if (here.st_dev, here.st_ino) in seen:
                    dirs[:] = []
                    continue
                seen.add((here.st_dev, here.st_ino))
            dirs[:] = sorted(d for d in dirs if d not in skip)
            for name in sorted(files):
                path = os.path.join(top, name)
                with contextlib.suppress(OSError):
                    info = os.stat(path)
                    if stat.S_ISREG(info.st_mode):  # not a FIFO, a socket, a device
                        yield Stat(path, FILE, info.st_size)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[LocalFile]:
        """O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer."""
        path = _path(name)
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

    def write(self, name: str, pieces: Sequence[Any]) -> None:
        from ..outputs import replacing

        with replacing(_path(name), ".part", durable=True) as (out, _tmp):
            for piece in pieces:
                out.write(memoryview(piece).cast("B"))

    def read(self, name: str, limit: int) -> Optional[bytes]:
        with open(_path(name), "rb") as f:
            data = f.read(limit + 1)
        return None if len(data) > limit else data

    def join(self, folder: str, *parts: str) -> str:
        return os.path.join(folder, *parts)

    def local_path(self, name: str) -> Optional[str]:
        return _path(name)

    def absolute(self, name: str) -> str:
        return os.path.abspath(_path(name))


_LOCAL = LocalStorage()


def _path(name: str) -> str:
    """``name`` as a local path (``file://`` URLs included)."""
    return name[len(_FILE_URL) :] if name.startswith(_FILE_URL) else name


def _a_directory(path: str) -> NotACheckpointError:
    return NotACheckpointError(
        path, f"{path} is a directory, not a model file.", hint="Pass the checkpoint file."
    )
