"""A checkpoint behind an fsspec URL (``s3://``, ``gs://``, ``hf://``, ``https://``, ...).

Only what the reader asks for is transferred, with ranged requests and no read-ahead cache of
fsspec's (s3fs reads 50 MiB blocks by default). Small reads are rounded up to a block of our
own, so that a zip's tail (end record, central directory, the last small tensors) arrives in one
request and a tensor's local header and 1 KiB snapshot header in another. Every reply's length
is checked: a server that ignores Range would answer with the whole file, and over HTTP the
reply's status is checked before its body is read, so that never turns into a silent download.
"""

from __future__ import annotations

import bisect
import contextlib
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from ..errors import (
    ModelFileNotFoundError,
    NotACheckpointError,
    RangeNotSupportedError,
    RemoteAccessError,
    RemoteReadError,
    RemoteSupportMissingError,
    RemoteTooSlowError,
)
from . import FILE, FOLDER, MISSING, Stat
from . import http as bounded

#: A read near the start or the end of the file fetches this much (one request for a zip's
#: tail or a safetensors header).
EDGE_BLOCK = 64 * 1024
#: Any other small read fetches at least this much: a local header and a snapshot header,
#: and most metadata tensors whole.
MIN_FETCH = 16 * 1024
#: Long ranges (a bundle) are fetched in requests of at most this many bytes: memory stays
#: bounded, and progress can be reported between them.
MAX_FETCH = 32 * 1024 * 1024
#: Fetched blocks kept for later reads, at most (small blocks only).
_CACHE_LIMIT = 1 << 20

#: A URL's filesystem, its path there, and fsspec's ``info`` about it.
Known = tuple[Any, str, dict[str, Any]]
#: How many files' ``stat`` (each with the file's tail) are kept for the ``open`` that follows.
_KNOWN_KEPT = 4

#: Which package each protocol needs, for the error that names it.
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub"}


class RemoteFile:
    """A remote file of known size, read by ranges through fsspec."""

    remote = True

    def __init__(self, name: str, fs: Any, path: str, size: int) -> None:
        self.name = name
        self.size = size
        self._fs = fs
        self._path = path
        self._http = "http" in _protocols(fs)
        self._hf = "hf" in _protocols(fs)
        self._starts: list[int] = []
        self._blocks: dict[int, bytes] = {}

    def read_at(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        return b"".join(self._pieces(offset, end, small=True))

    def prefetch(self, start: int, stop: int) -> None:
        """Fetch ``[start, stop)`` in one request if it is short and not cached yet: reads
        of several small pieces in it (tensor headers) then cost nothing more."""
        if stop - start > EDGE_BLOCK or start >= stop:
            return
        start = max(start, self._cached_end_before(start))
        stop = min(stop, self._next_start(start))
        if start < stop and self._cached(start) is None:
            self.remember(start, self._fetch(start, stop))

    def iter_range(self, offset: int, size: int) -> Iterator[bytes]:
        """The range in as few requests as possible (cached edges served from memory)."""
        end = min(offset + size, self.size)
        if offset < end:
            yield from self._pieces(offset, end, small=False)

    def _pieces(self, offset: int, end: int, *, small: bool) -> Iterator[bytes]:
        pos = offset
        while pos < end:
            cached = self._cached(pos)
            if cached is not None:
                start, block = cached
                piece = block[pos - start : end - start]
                yield piece
                pos += len(piece)
                continue
            gap_end = min(end, self._next_start(pos))
            if small and self._before_tail(gap_end):
                # A zip's central directory, longer than the tail block: the small tensors
                # saved last (the snapshot's metadata) lie just before it; fetch them with it.
                start = max(0, pos - EDGE_BLOCK, self._cached_end_before(pos))
                self.remember(start, self._fetch(start, gap_end))
                continue
            if small and gap_end - pos <= MIN_FETCH:
                start, stop = self._rounded(pos, gap_end)
                self.remember(start, self._fetch(start, stop))
                continue
            stop = min(gap_end, pos + MAX_FETCH)
            yield self._fetch(pos, stop)
            pos = stop

    def _rounded(self, pos: int, stop: int) -> tuple[int, int]:
        """A small read widened: the file's edges in one block, elsewhere ``MIN_FETCH``;
        never over what is cached already."""
        if stop > self.size - EDGE_BLOCK:
            start, stop = max(0, self.size - EDGE_BLOCK), self.size
        elif pos < EDGE_BLOCK:
            start, stop = 0, min(self.size, EDGE_BLOCK)
        else:
            start, stop = pos, min(self.size, max(stop, pos + MIN_FETCH))
        # The block before pos ends at or before it (pos is not cached).
        start = max(start, self._cached_end_before(pos))
        return start, min(stop, self._next_start(pos))

    def _before_tail(self, stop: int) -> bool:
        """Whether ``stop`` is where the cached tail of the file starts."""
        block = self._blocks.get(stop)
        return block is not None and stop + len(block) == self.size

    def _cached_end_before(self, pos: int) -> int:
        at = bisect.bisect_right(self._starts, pos) - 1
        return self._starts[at] + len(self._blocks[self._starts[at]]) if at >= 0 else 0

    def _cached(self, pos: int) -> Optional[tuple[int, bytes]]:
        at = bisect.bisect_right(self._starts, pos) - 1
        if at >= 0:
            start = self._starts[at]
            block = self._blocks[start]
            if pos < start + len(block):
                return start, block
        return None

    def _next_start(self, pos: int) -> int:
        at = bisect.bisect_right(self._starts, pos)
        return self._starts[at] if at < len(self._starts) else self.size

    def remember(self, start: int, block: bytes) -> None:
        if sum(map(len, self._blocks.values())) + len(block) > _CACHE_LIMIT:
            self._starts.clear()
            self._blocks.clear()
        bisect.insort(self._starts, start)
        self._blocks[start] = block

    def _fetch(self, start: int, stop: int) -> bytes:
        """One ranged request for ``[start, stop)``; its reply must be exactly that long."""
        try:
            if self._http:
                data = _http_range(self._fs, self._path, start, stop)
            elif self._hf:
                data = _exact_range(self._fs, self._path, start, stop)
            else:
                data = self._fs.cat_file(self._path, start=start, end=stop)
        except (RangeNotSupportedError, RemoteTooSlowError):
            raise
        except FileNotFoundError:
            raise ModelFileNotFoundError(self.name) from None
        except Exception as exc:  # each fsspec backend raises its own types
            raise _failure(RemoteReadError, self.name, exc) from None
        if len(data) != stop - start:
            if len(data) > stop - start:
                raise RangeNotSupportedError(self.name)
            raise RemoteReadError(self.name, f"asked for {stop - start:,} bytes, got {len(data):,}")
        return bytes(data)


def _exact_range(fs: Any, path: str, start: int, stop: int) -> bytes:
    """``[start, stop)`` in one ranged GET through a file opened without fsspec's read-ahead
    (``hf://``: ``cat_file`` and the default ``open`` fetch 5 MiB blocks for a small read)."""
    with fs.open(path, "rb", block_size=max(1, stop - start), cache_type="none") as f:
        f.seek(start)
        data: bytes = f.read(stop - start)
    return data


def _http_range(fs: Any, url: str, start: int, stop: int) -> bytes:
    """A Range GET whose status is checked before the body is read: a 200 (the server
    ignored Range and is sending the whole file) is refused without reading it."""
    from fsspec.asyn import sync

    async def get() -> bytes:
        async with bounded.request(fs, url, {"Range": f"bytes={start}-{stop - 1}"}) as reply:
            if reply.status == 404:
                raise FileNotFoundError(url)
            if reply.status >= 400:
                raise OSError(f"the server answered HTTP {reply.status}")
            if reply.status != 206:
                raise RangeNotSupportedError(url)
            where = reply.headers.get("Content-Range", "").partition(" ")[2].partition("-")[0]
            if where != str(start):  # a 206 for another range than the one asked for
                raise OSError(f"the server sent the range {where or '?'}-, not {start}-")
            return await bounded.read_at_most(reply.content, stop - start + 1, url)

    data: bytes = sync(fs.loop, get)
    return data


def storage(storage_options: Optional[Mapping[str, Any]] = None) -> RemoteStorage:
    return RemoteStorage(storage_options)


class RemoteStorage:
    """Every fsspec URL, with one set of ``storage_options`` (credentials, endpoint, ...)."""

    cheap_reads = False  # each read is a request: names tell what may be a checkpoint

    def __init__(self, storage_options: Optional[Mapping[str, Any]] = None) -> None:
        self._options = dict(storage_options or {})
        #: url -> what ``stat`` learnt (with the file's tail), for the ``open`` that follows.
        self._known: dict[str, Known] = {}
        #: Files opened already, so a second ``open`` reuses what they fetched.
        self._opened: dict[str, RemoteFile] = {}

    def stat(self, name: str) -> Stat:
        if name.endswith("/"):  # an HTTP server cannot say a URL is a folder: the name does
            return Stat(name, FOLDER)
        try:
            known = self._stat(name)
        except ModelFileNotFoundError:
            return Stat(name, MISSING)
        info = known[2]
        if info.get("type") == "directory":
            return Stat(name, FOLDER)
        size = info.get("size")
        return Stat(name, FILE, size if isinstance(size, int) and size >= 0 else 0)

    def _stat(self, url: str) -> Known:
        if url not in self._known:
            if len(self._known) >= _KNOWN_KEPT:
                self._known.pop(next(iter(self._known)))
            self._known[url] = probe(url, self._options)
        return self._known[url]

    def list(self, folder: str) -> list[Stat]:
        fs, path = filesystem(folder, self._options)
        base = folder.rstrip("/")
        if "http" in _protocols(fs):  # fsspec's would read the page whole
            listed = _listing(folder, lambda: _sync(fs, bounded.listing(fs, path)))
        else:
            listed = _listing(folder, lambda: fs.ls(path, detail=True))
        found = [_entry(base, posixpath.basename(e["name"].rstrip("/")), e) for e in listed]
        return sorted(found, key=lambda entry: entry.name)

    def walk(self, folder: str, *, skip: frozenset[str] = frozenset()) -> Iterator[Stat]:
        fs, path = filesystem(folder, self._options)
        base, top = folder.rstrip("/"), path.rstrip("/")
        if "http" in _protocols(fs):
            depth, count = _walk_limits()
            found = _listing(folder, lambda: _sync(fs, bounded.walk(fs, path, depth, count)))
        else:
            found = _listing(folder, lambda: fs.find(path, detail=True))
        for name in sorted(found):
            relative = posixpath.relpath(name, top)
            if found[name].get("type") == "file" and not skip.intersection(relative.split("/")):
                yield _entry(base, relative, found[name])

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[RemoteFile]:
        """A missing file, missing credentials or a missing fsspec backend are one-line
        errors. The file stays usable after the block (it holds no descriptor), and a second
        ``open`` of the same URL reuses what the first fetched."""
        if name not in self._opened:
            self._opened = {name: _open_remote(name, self._stat(name))}
            self._known.pop(name, None)  # the file keeps its tail now
        yield self._opened[name]

    def write(self, name: str, pieces: Sequence[Any]) -> None:
        """In one request where the backend can (``pipe_file``: S3 sends files under 100 MB in
        one PUT, which is atomic there: a reader sees the old object or the new one)."""
        from ..errors import OutputPathError

        data = b"".join(memoryview(p).cast("B") for p in pieces)
        fs, path = filesystem(name, self._options)
        try:
            fs.pipe_file(path, data)
        except Exception as exc:  # each backend raises its own types (credentials, network)
            raise OutputPathError(name, _describe(exc)) from None
        self._known.pop(name, None)
        self._opened.pop(name, None)

    def read(self, name: str, limit: int) -> Optional[bytes]:
        """Never more than ``limit + 1`` bytes are received, whatever the server claims or
        sends: a ranged request read no further (a small file's tail, fetched by ``stat``,
        is the whole file already)."""
        fs, path, info = self._stat(name)
        size, tail = int(info.get("size") or 0), info.get("tail")
        if size > limit:
            return None
        if isinstance(tail, bytes) and len(tail) == size:
            return tail
        if "http" in _protocols(fs):
            data = _listing(name, lambda: _sync(fs, bounded.get_at_most(fs, path, limit + 1)))
        else:
            data = _listing(name, lambda: fs.cat_file(path, start=0, end=limit + 1))
        return None if len(data) > limit else bytes(data)

    def join(self, folder: str, *parts: str) -> str:
        return posixpath.join(folder.rstrip("/"), *parts)

    def local_path(self, name: str) -> Optional[str]:
        return None

    def absolute(self, name: str) -> str:
        return name


def _entry(base: str, relative: str, info: Mapping[str, Any]) -> Stat:
    kind = FOLDER if info.get("type") == "directory" else FILE
    return Stat(f"{base}/{relative}", kind, int(info.get("size") or 0))


def _listing(url: str, call: Any) -> Any:
    """What a backend call returns; its own errors become one-line ones about ``url``."""
    try:
        return call()
    except (RemoteTooSlowError, RemoteAccessError):
        raise
    except FileNotFoundError:
        raise ModelFileNotFoundError(url) from None
    except Exception as exc:  # each backend raises its own types (credentials, network, ...)
        raise _failure(RemoteAccessError, url, exc) from None


def _sync(fs: Any, coroutine: Any) -> Any:
    """Run ``coroutine`` on ``fs``'s event loop (fsspec's own thread) and return its result."""
    from fsspec.asyn import sync

    async def run() -> Any:
        return await coroutine

    return sync(fs.loop, run)


def _walk_limits() -> tuple[int, int]:
    """How deep and how many files an HTTP folder's walk goes: the snapshot limits eat uses."""
    from ..settings import snapshot_limit

    depth = snapshot_limit("JELLYML_MAX_DEPTH") or 1 << 30
    return depth, snapshot_limit("JELLYML_MAX_FILES") or 1 << 62


def _failure(kind: Any, url: str, exc: BaseException) -> Exception:
    """The one-line error (of class ``kind``) for a backend's ``exc``: a timeout says the
    server was too slow."""
    if bounded.is_timeout(exc):
        return bounded.too_slow(url, exc, f" ({_describe(exc)})")
    error: Exception = kind(url, _describe(exc))
    return error


def _open_remote(url: str, known: Known) -> RemoteFile:
    """``url`` opened for ranged reads, from what ``stat`` said of it."""
    _fs, _path, info = known
    if info.get("type") == "directory":
        raise NotACheckpointError(url, f"{url} is a folder.", hint="Pass a checkpoint file.")
    size = info.get("size")
    if not isinstance(size, int) or size < 0:
        raise RemoteReadError(url, "the server does not say how large the file is")
    remote = RemoteFile(url, _fs, _path, size)
    tail = info.get("tail")
    if isinstance(tail, bytes):
        if len(tail) != min(size, EDGE_BLOCK):
            raise RemoteReadError(
                url, f"asked for the last {EDGE_BLOCK:,} bytes, got {len(tail):,}"
            )
        remote.remember(size - len(tail), tail)
    return remote


def probe(url: str, storage_options: Optional[Mapping[str, Any]]) -> Known:
    """The filesystem of ``url``, the path in it, and what it says of the path: a file's size
    (with its tail, when the backend tells the size in the reply to a suffix range), or that
    it is a folder. One request for a file."""
    fs, path = filesystem(url, storage_options)
    probed = _tail_probe(fs, path, url)
    if probed is not None:
        size, tail = probed
        return fs, path, {"type": "file", "size": size, "tail": tail}
    return fs, path, _info(fs, path, url)


def _tail_probe(fs: Any, path: str, url: str) -> Optional[tuple[int, bytes]]:
    """The file's size and its last ``EDGE_BLOCK`` bytes in one suffix-range request, where
    the backend's reply says the total size (HTTP's and S3's ``Content-Range``); None where it
    cannot (then ``info`` asks)."""
    from fsspec.asyn import sync

    protocols = _protocols(fs)
    try:
        if "http" in protocols:
            return sync(fs.loop, _http_tail, fs, path)  # type: ignore[no-any-return]
        if "s3" in protocols:
            return sync(fs.loop, _s3_tail, fs, path)  # type: ignore[no-any-return]
        if "hf" in protocols:
            return _hf_tail(fs, path)
    except RangeNotSupportedError:
        raise RangeNotSupportedError(url) from None
    except RemoteTooSlowError as exc:
        raise RemoteTooSlowError(url, exc.problem, exc.variable) from None
    except Exception as exc:
        if "http" not in protocols:
            if bounded.is_timeout(exc):
                raise _failure(RemoteAccessError, url, exc) from None
            return None  # S3: a folder, no such key, no credentials: ``info`` says which
        if isinstance(exc, FileNotFoundError):
            raise ModelFileNotFoundError(url) from None
        # no such host, connection refused, TLS, HTTP 500: say so, not "missing"
        raise _failure(RemoteAccessError, url, exc) from None
    return None


def _hf_tail(fs: Any, path: str) -> Optional[tuple[int, bytes]]:
    """The size (from the listing of the file's folder, which ``info`` caches: the repository's
    info and one tree request) and the last ``EDGE_BLOCK`` bytes (one ranged GET)."""
    info = fs.info(path)
    size = info.get("size")
    if info.get("type") != "file" or not isinstance(size, int):
        return None
    return size, _exact_range(fs, path, max(0, size - EDGE_BLOCK), size)


async def _http_tail(fs: Any, url: str) -> Optional[tuple[int, bytes]]:
    async with bounded.request(fs, url, {"Range": f"bytes=-{EDGE_BLOCK}"}) as reply:
        if reply.status == 200:
            raise RangeNotSupportedError(url)  # the body is the whole file: not read
        if reply.status == 404:
            raise FileNotFoundError(url)
        if reply.status in (401, 403):
            raise PermissionError(f"the server answered HTTP {reply.status}")
        if reply.status >= 500 or reply.status in (400, 405, 410):
            raise OSError(f"the server answered HTTP {reply.status}")
        if reply.status != 206:
            return None
        size = _total_size(reply.headers.get("Content-Range", ""))
        if size is None:
            return None
        return size, await bounded.read_at_most(reply.content, EDGE_BLOCK + 1, url)


async def _s3_tail(fs: Any, path: str) -> Optional[tuple[int, bytes]]:
    bucket, key, version = fs.split_path(path)
    if not key or version:
        return None
    reply = await fs._call_s3("get_object", Bucket=bucket, Key=key, Range=f"bytes=-{EDGE_BLOCK}")
    try:
        size = _total_size(reply.get("ContentRange") or "")
        # bounded: a server that ignored the range must not stream the whole file in
        if size is None:
            return None
        return size, await bounded.read_at_most(reply["Body"], EDGE_BLOCK + 1, path)
    finally:
        reply["Body"].close()


def _total_size(content_range: str) -> Optional[int]:
    """The total of ``bytes START-END/TOTAL``."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def filesystem(url: str, storage_options: Optional[Mapping[str, Any]]) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` (no read-ahead cache) and the path inside it."""
    try:
        import fsspec.core
    except ImportError:
        raise RemoteSupportMissingError(url, "fsspec", extra=True) from None
    protocol = url.split("://", 1)[0].lower()
    try:
        options = bounded.client_options(protocol, storage_options or {})
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError:
        raise RemoteSupportMissingError(url, _PACKAGES.get(protocol, protocol)) from None
    except ValueError as exc:  # an unknown protocol
        raise RemoteAccessError(url, _describe(exc)) from None
    if protocol in ("s3", "s3a"):
        bounded.bound_tries(fs)
    return fs, path


def _info(fs: Any, path: str, url: str) -> dict[str, Any]:
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise ModelFileNotFoundError(url) from None
    except Exception as exc:  # each backend raises its own types (credentials, network, ...)
        raise _failure(RemoteAccessError, url, exc) from None
    return dict(info)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _describe(exc: BaseException) -> str:
    """One line from a backend's exception (which may span many)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {first}"[:300] if first else name
