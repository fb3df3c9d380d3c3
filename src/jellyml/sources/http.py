"""Requests of the remote storage, each bounded in time and in bytes (issue 23).

A server may lie (a HEAD that claims a small file, then a GET that never ends) or crawl (headers
a byte a second, a body a byte every two seconds). So every body is read by ``read_at_most``: at
most the bytes asked for, whatever the reply claims, with

- ``JELLYML_CONNECT_TIMEOUT`` (8 s) to connect,
- ``JELLYML_FIRST_BYTE_TIMEOUT`` (30 s) from the request to the whole of the reply's headers,
- ``JELLYML_IDLE_TIMEOUT`` (30 s) without a byte of the body,
- ``JELLYML_MIN_RATE`` (1024 bytes a second): in every span of the idle timeout, at least that
  rate (or the rest of the body) must arrive, so a trickle also ends, within a minute in all.

Each is a ``RemoteTooSlowError`` that says the server was too slow and names the setting.
HTTP folders are listed here too (fsspec's listing reads the page whole), from at most
``MAX_LISTING`` bytes of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Optional
from urllib.parse import urlparse

from .. import settings
from ..errors import RemoteAccessError, RemoteTooSlowError

CONNECT = "JELLYML_CONNECT_TIMEOUT"
FIRST_BYTE = "JELLYML_FIRST_BYTE_TIMEOUT"
IDLE = "JELLYML_IDLE_TIMEOUT"
MIN_RATE = "JELLYML_MIN_RATE"
#: A folder's HTML listing is read up to this many bytes (about 100,000 names).
MAX_LISTING = 16 * 1024 * 1024
#: Links in a listing page (as fsspec's HTTP listing finds them).
_LINK = re.compile(r"""<(?:a|A)\s+(?:[^>]*?\s+)?(?:href|HREF)=["']([^"']+)""")


def client_options(protocol: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for fsspec, with the timeouts added for what fsspec itself sends (HEAD,
    S3's requests), unless the user set their own."""
    merged = dict(options)
    connect, idle = settings.remote_timeout(CONNECT), settings.remote_timeout(IDLE)
    if protocol in ("http", "https"):
        import aiohttp

        client = dict(merged.get("client_kwargs") or {})
        client.setdefault(
            "timeout", aiohttp.ClientTimeout(connect=connect, sock_connect=connect, sock_read=idle)
        )
        merged["client_kwargs"] = client
    elif protocol in ("s3", "s3a"):
        config = dict(merged.get("config_kwargs") or {})
        config.setdefault("connect_timeout", connect)
        config.setdefault("read_timeout", idle)
        # s3fs retries what timed out (and S3's "SlowDown") itself, over botocore's own
        # attempts: one attempt by botocore (its "max_attempts" counts retries, not tries),
        # s3fs's own bounded by ``S3_TRIES``.
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        merged["config_kwargs"] = config
    return merged


#: s3fs tries a request 5 times (a class attribute, not an option) when it times out
#: reading: a server that never answered held a command 5 x 3 x the idle timeout. Two tries.
S3_TRIES = 2


def bound_tries(fs: Any) -> None:
    """At most ``S3_TRIES`` tries of each request of the s3fs filesystem ``fs`` (set on the
    instance; fsspec shares it with the same options in this process)."""
    if isinstance(getattr(fs, "retries", None), int):
        fs.retries = min(fs.retries, S3_TRIES)


@contextlib.asynccontextmanager
async def request(fs: Any, url: str, headers: Mapping[str, str]) -> AsyncIterator[Any]:
    """A GET of ``url`` whose reply's headers have arrived (within the first-byte timeout);
    the connection is closed when the block ends, whatever of the body is left unread."""
    kwargs = dict(fs.kwargs)
    merged = {**dict(kwargs.pop("headers", None) or {}), **headers}
    first = settings.remote_timeout(FIRST_BYTE)
    session = await fs.set_session()
    try:
        reply = await asyncio.wait_for(
            session.get(fs.encode_url(url), headers=merged, **kwargs), first
        )
    except asyncio.TimeoutError as exc:  # aiohttp's connect timeout is one too
        slow = too_slow(url, exc)
        if slow.variable != CONNECT:
            slow = RemoteTooSlowError(url, f"no complete reply within {first:g} s", FIRST_BYTE)
        raise slow from None
    try:
        yield reply
    finally:
        reply.close()  # not release(): the rest of a lying body is never read


async def read_at_most(stream: Any, limit: int, url: str = "") -> bytes:
    """At most ``limit`` bytes of a streamed body (one more than wanted shows a lying reply),
    within the idle timeout and the rate floor. ``read(n)`` may return fewer than n before the
    end (aiohttp, aiobotocore), hence the loop."""
    idle, rate = settings.remote_timeout(IDLE), settings.remote_timeout(MIN_RATE)
    loop = asyncio.get_running_loop()
    parts: list[bytes] = []
    span_start, span_got, last = loop.time(), 0, loop.time()
    while limit > 0:
        now = loop.time()
        wait = max(0.001, min(last + idle, span_start + idle) - now)
        try:
            chunk = await asyncio.wait_for(stream.read(limit), wait)
        except asyncio.TimeoutError:
            chunk = None
        now = loop.time()
        if chunk is None and now - last >= idle:
            raise RemoteTooSlowError(url, f"nothing arrived for {idle:g} s", IDLE)
        if chunk == b"":
            break
        if chunk:
            parts.append(chunk)
            limit -= len(chunk)
            span_got += len(chunk)
            last = now
        if now - span_start >= idle and limit > 0:
            if span_got < min(rate * idle, limit + span_got):
                raise RemoteTooSlowError(
                    url,
                    f"{span_got:,} bytes in {idle:g} s, under {rate:g} bytes a second",
                    MIN_RATE,
                )
            span_start, span_got = now, 0
    return b"".join(parts)


async def get_at_most(fs: Any, url: str, limit: int) -> bytes:
    """The first ``limit`` bytes of ``url`` at most (a Range request; a server that ignores
    Range is read only as far), in one request."""
    async with request(fs, url, {"Range": f"bytes=0-{limit - 1}"}) as reply:
        _check_status(reply.status, url)
        return await read_at_most(reply.content, limit, url)


def _check_status(status: int, url: str) -> None:
    """A reply that is not the file: missing, refused, or a server error, each said so."""
    if status == 404:
        raise FileNotFoundError(url)
    if status >= 400:
        raise OSError(f"the server answered HTTP {status}")


async def listing(fs: Any, url: str) -> list[dict[str, Any]]:
    """The links of folder ``url``'s HTML listing (as fsspec's ``ls`` gives them), read from
    at most ``MAX_LISTING`` bytes of the page; a longer page is refused. A folder's URL ends
    in ``/`` (asked so at once: no redirect)."""
    url = url.rstrip("/") + "/"
    async with request(fs, url, {}) as reply:
        _check_status(reply.status, url)
        kind = reply.headers.get("Content-Type", "").partition(";")[0].strip()
        if kind not in ("text/html", ""):
            return []
        page = await read_at_most(reply.content, MAX_LISTING + 1, url)
    if len(page) > MAX_LISTING:
        raise RemoteAccessError(
            url, f"its listing is over {MAX_LISTING // (1 << 20)} MiB (read no further)"
        )
    return _links(url, page.decode("utf-8", "ignore"))


def _links(url: str, page: str) -> list[dict[str, Any]]:
    """The entries under ``url`` that ``page`` links to: files, and folders (ending in ``/``)."""
    base = url.rstrip("/") + "/"
    where = urlparse(url)
    found = set()
    for link in _LINK.findall(page):
        link = link.split("?", 1)[0].split("#", 1)[0]
        if link.startswith("/") and len(link) > 1:
            link = f"{where.scheme}://{where.netloc}{link}"
        elif not link.startswith(("http://", "https://")):
            if link in ("", ".", "./", "..", "../"):
                continue
            link = base + link.lstrip("/")
        if link.startswith(base) and len(link) > len(base):
            found.add(link)
    return [
        {"name": name, "size": None, "type": "directory" if name.endswith("/") else "file"}
        for name in sorted(found)
    ]


async def walk(fs: Any, url: str, max_depth: int, max_files: int) -> dict[str, dict[str, Any]]:
    """Every file under folder ``url`` (by its URL), from the listings of its folders; at most
    ``max_depth`` levels and ``max_files`` entries are looked at (then it stops)."""
    found: dict[str, dict[str, Any]] = {}
    todo = [(url.rstrip("/") + "/", 0)]
    while todo and len(found) < max_files:
        folder, depth = todo.pop()
        for entry in await listing(fs, folder):
            if entry["type"] == "directory":
                if depth + 1 < max_depth:
                    todo.append((entry["name"], depth + 1))
            else:
                found[entry["name"]] = entry
    return found


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a backend's timeout: aiohttp's, botocore's,
    fsspec's, asyncio's."""
    names = {type(e).__name__ for e in _chain(exc)}
    return isinstance(exc, asyncio.TimeoutError) or any("Timeout" in n for n in names)


def too_slow(url: str, exc: BaseException, detail: str = "") -> RemoteTooSlowError:
    """The error for the backend's timeout ``exc``, naming the setting that bounded it: no
    connection (aiohttp's ``ConnectionTimeoutError``, botocore's ``ConnectTimeoutError``) is
    the connect timeout's, anything else the idle timeout's."""
    if any(
        "ConnectTimeout" in type(e).__name__ or "ConnectionTimeout" in type(e).__name__
        for e in _chain(exc)
    ):
        seconds = settings.remote_timeout(CONNECT)
        return RemoteTooSlowError(url, f"no connection within {seconds:g} s", CONNECT)
    return RemoteTooSlowError(url, f"no answer in time{detail}", IDLE)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
