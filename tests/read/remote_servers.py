"""Real servers on 127.0.0.1 for the remote-storage tests, each counting what it sends.

- S3: moto's ``ThreadedMotoServer`` (as s3fs tests itself), its WSGI app wrapped to count the
  requests and the response bytes it serves.
- HTTP: nginx (Debian ``nginx-light``) with a generated config; its access log records each
  request's status and ``$bytes_sent``.
- HTTP that ignores Range: the standard library's ``http.server``.

Without a server (no nginx, no moto) the tests skip with the reason; with
``JELLYML_REQUIRE_SERVERS=1`` (set by ``.ci/run``) that is a failure instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from jellyml.settings import is_true


def need(available: bool, reason: str) -> None:
    """Skip (on a developer machine) or fail (in CI) when a server is missing."""
    if available:
        return
    if is_true(os.environ.get("JELLYML_REQUIRE_SERVERS")):
        pytest.fail(f"{reason} (JELLYML_REQUIRE_SERVERS is set)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Log:
    """Requests a server answered: (method, path, status, bytes sent)."""

    entries: list[tuple[str, str, int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, status: int, sent: int) -> None:
        with self.lock:
            self.entries.append((method, path, status, sent))

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()

    def requests(self, path_part: str = "") -> list[tuple[str, str, int, int]]:
        """The requests that read (a test's own uploads, whose log entry may land late, are
        left out)."""
        with self.lock:
            return [e for e in self.entries if path_part in e[1] and e[0] != "PUT"]

    def sent(self, path_part: str = "") -> int:
        return sum(e[3] for e in self.requests(path_part))

    def settled(
        self, method: str, at_least: int, within: float = 10.0
    ) -> list[tuple[str, str, int, int]]:
        """The entries of ``method``, once at least ``at_least`` of them have landed (or
        ``within`` seconds have passed): a server thread logs a request after it has answered
        it, so the client may return first."""
        deadline = time.monotonic() + within
        while True:
            with self.lock:
                found = [e for e in self.entries if e[0] == method]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


# --- S3 (moto) --------------------------------------------------------------------------------


class _Counting:
    """WSGI middleware: counts each request and the body bytes of its response."""

    def __init__(self, app: Any, log: Log) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status: list[int] = [0]

        def start(code: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = int(code.split()[0])
            return (
                start_response(code, headers, exc_info)
                if exc_info
                else start_response(code, headers)
            )

        body = self.app(environ, start)
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            path = environ.get("PATH_INFO", "")
            if not path.startswith("/moto-api"):
                self.log.add(environ["REQUEST_METHOD"], path, status[0], sent)


@dataclass
class S3Server:
    endpoint: str
    log: Log

    def env(self) -> dict[str, str]:
        """What a user sets to point every AWS client at this server."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def make_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **self._keys()).create_bucket(Bucket=name)

    def put(self, local: Path, key: str) -> None:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, **self._keys())
        client.upload_file(str(local), *key.split("/", 1))

    def _keys(self) -> dict[str, str]:
        return {
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        }

    def options(self) -> dict[str, Any]:
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    try:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server
    except ImportError:
        need(False, "moto[server] is not installed (pip install 'jellyml[test-remote]')")
        raise
    log = Log()

    class Quiet(WSGIRequestHandler):  # type: ignore[misc]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    class CountingMotoServer(ThreadedMotoServer):  # type: ignore[misc]
        def _server_entry(self) -> None:
            app = _Counting(DomainDispatcherApplication(create_backend_app), log)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=Quiet
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    port = free_port()
    server = CountingMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}", log)
    finally:
        server.stop()


# --- HTTP (nginx) -----------------------------------------------------------------------------

_NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format counted '$request_method $uri $status $bytes_sent $body_bytes_sent';
    access_log {tmp}/access.log counted;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        {extra}
    }}
}}
"""


@dataclass
class HttpServer:
    url: str
    root: Path
    access_log: Path | None = None

    def requests(self, path_part: str = "") -> list[tuple[str, str, int, int, int]]:
        """What nginx's access log says it answered: method, path, status, ``$bytes_sent``
        (headers included) and ``$body_bytes_sent``."""
        assert self.access_log is not None
        out = []
        text = self.access_log.read_text() if self.access_log.exists() else ""
        for line in text.splitlines():
            method, uri, status, sent, body = line.split()
            if path_part in uri:
                out.append((method, uri, int(status), int(sent), int(body)))
        return out

    def sent(self, path_part: str = "") -> int:
        """Bytes sent, headers included."""
        return sum(r[3] for r in self.requests(path_part))

    def body_sent(self, path_part: str = "") -> int:
        return sum(r[4] for r in self.requests(path_part))

    def clear(self) -> None:
        assert self.access_log is not None
        if self.access_log.exists():
            self.access_log.write_text("")  # nginx appends (O_APPEND): truncating is safe


@contextlib.contextmanager
def nginx_server(tmp: Path, extra: str = "") -> Iterator[HttpServer]:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    need(nginx is not None, "nginx is not installed (apt-get install nginx-light)")
    assert nginx is not None
    root = tmp / "www"
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(_NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root, extra=extra))
    proc = subprocess.Popen(
        [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, proc)
        yield HttpServer(f"http://127.0.0.1:{port}", root, tmp / "access.log")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"nginx exited: {err}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return
        time.sleep(0.05)
    pytest.fail("nginx did not start listening")


# --- HTTP without Range (http.server) ---------------------------------------------------------


class _NoRange(http.server.SimpleHTTPRequestHandler):
    """Answers every GET with the whole file (200), as a server without Range support does."""

    sent: Callable[[int], None]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def copyfile(self, source: Any, outputfile: Any) -> None:
        sent = 0
        try:
            while chunk := source.read(64 * 1024):
                outputfile.write(chunk)
                sent += len(chunk)
        except OSError:  # the client hung up: it did not want the body
            pass
        finally:
            self.sent(sent)


@contextlib.contextmanager
def no_range_server(root: Path) -> Iterator[tuple[HttpServer, Log]]:
    log = Log()
    handler = functools.partial(_NoRange, directory=str(root))
    _NoRange.sent = staticmethod(lambda n: log.add("GET", "", 200, n))  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(f"http://127.0.0.1:{server.server_address[1]}", root), log
    finally:
        server.shutdown()
        server.server_close()
