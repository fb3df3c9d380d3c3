"""Every remote read bounded (issue 23): a server on loopback that lies about sizes, sends
without end, trickles, or fails, and the real CLI against it, its memory capped with
``resource`` limits. Each ends in one line, soon, and says what happened."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

from kit.cli import jellyml_capped, one_error_line

Handler = Callable[[BaseHTTPRequestHandler], None]


def needs_http() -> None:
    """Reading URLs needs the remote extra (fsspec, aiohttp): the venvs of
    scripts/test-pythons.sh have neither, and skip these tests."""
    pytest.importorskip("fsspec", reason="fsspec is not installed")
    pytest.importorskip("aiohttp", reason="aiohttp is not installed")


@contextlib.contextmanager
def lying_server(routes: dict[str, Handler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering each path with its handler (404 for the rest)."""
    needs_http()

    class Lying(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            route = routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with contextlib.suppress(OSError):
                route(self)

        do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Lying)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def endless(claimed: int, *, status: int = 206, kind: str = "application/octet-stream") -> Handler:
    """Claims a file of ``claimed`` bytes (in HEAD's length and in Content-Range), then sends
    zeros until the client hangs up (no length: the body ends when the connection does)."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        if status == 206:
            h.send_header("Content-Range", f"bytes 0-{claimed - 1}/{claimed}")
        if h.command == "HEAD":
            h.send_header("Content-Length", str(claimed))
            h.end_headers()
            return
        h.send_header("Connection", "close")
        h.end_headers()
        block = b"0" * (1 << 20)
        while True:
            h.wfile.write(block)

    return handle


def listing(*names: str) -> Handler:
    page = "".join(f'<a href="{n}">{n}</a>\n' for n in names).encode()

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(page)))
        h.end_headers()
        h.wfile.write(page)

    return handle


def trickle(every: float, *, headers_too: bool = False) -> Handler:
    """One byte every ``every`` seconds: of the body, or of the headers too."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        head = (
            b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99999/100000\r\n"
            b"Connection: close\r\n\r\n"
        )
        if headers_too:
            for byte in head:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
                time.sleep(every)
        else:
            h.wfile.write(head)
        while True:
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(every)

    return handle


def status(code: int) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(code)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handle


def test_a_lying_hf_index_is_read_no_further_than_the_cap() -> None:
    routes = {
        "/ckpt/": listing("model.safetensors.index.json"),
        "/ckpt/model.safetensors.index.json": endless(100),
    }
    with lying_server(routes) as base:
        proc = jellyml_capped("show", f"{base}/ckpt/")
    one_error_line(proc, "model.safetensors.index.json", "over", "limit")
    assert "not valid JSON" not in proc.stderr


def test_a_lying_deepspeed_latest_is_read_no_further_than_the_cap() -> None:
    routes = {"/ds/": listing("latest"), "/ds/latest": endless(10)}
    with lying_server(routes) as base:
        proc = jellyml_capped("show", f"{base}/ds/")
    one_error_line(proc, "latest", "limit")


def test_an_endless_listing_is_read_no_further_than_its_cap() -> None:
    with lying_server({"/many/": endless(100, status=200, kind="text/html")}) as base:
        proc = jellyml_capped("show", f"{base}/many/")
    one_error_line(proc, "listing", "MiB")


def test_a_body_that_trickles_ends_and_says_the_server_was_too_slow() -> None:
    env = {"JELLYML_IDLE_TIMEOUT": "3"}
    with lying_server({"/slow.pth": trickle(0.5)}) as base:
        proc = jellyml_capped("show", f"{base}/slow.pth", env=env)
    one_error_line(proc, "too slow", "JELLYML_MIN_RATE")


def test_a_body_that_stops_ends_at_the_idle_timeout() -> None:
    env = {"JELLYML_IDLE_TIMEOUT": "2"}
    with lying_server({"/stuck.pth": trickle(60)}) as base:
        proc = jellyml_capped("show", f"{base}/stuck.pth", env=env)
    one_error_line(proc, "too slow", "JELLYML_IDLE_TIMEOUT")


def test_headers_that_trickle_end_at_the_first_byte_timeout() -> None:
    env = {"JELLYML_FIRST_BYTE_TIMEOUT": "3"}
    with lying_server({"/slow.pth": trickle(1, headers_too=True)}) as base:
        proc = jellyml_capped("show", f"{base}/slow.pth", env=env)
    one_error_line(proc, "too slow", "JELLYML_FIRST_BYTE_TIMEOUT")


def test_a_server_that_never_answers_ends_at_the_first_byte_timeout() -> None:
    needs_http()
    with socket.socket() as listener:  # accepts the connection (the kernel does), says nothing
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        proc = jellyml_capped(
            "show", f"http://127.0.0.1:{port}/model.pth", env={"JELLYML_FIRST_BYTE_TIMEOUT": "2"}
        )
    one_error_line(proc, "too slow")


def test_a_server_error_is_not_reported_as_missing() -> None:
    with lying_server({"/broken.pth": status(500), "/gone/": listing("x.pth")}) as base:
        proc = jellyml_capped("show", f"{base}/broken.pth")
    err = one_error_line(proc, "HTTP 500")
    assert "does not exist" not in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JELLYML_IDLE_TIMEOUT", "abc"), ("JELLYML_CONNECT_TIMEOUT", "-1")],
)
def test_a_bad_timeout_setting_falls_back_to_the_default(variable: str, value: str) -> None:
    import os

    from jellyml import settings

    old = os.environ.get(variable)
    os.environ[variable] = value
    try:
        assert settings.remote_timeout(variable) == settings.REMOTE_TIMEOUTS[variable][0]
    finally:
        if old is None:
            del os.environ[variable]
        else:
            os.environ[variable] = old


@pytest.mark.slow  # about 30 s: the default idle span, waited out for real
def test_a_trickle_ends_with_the_default_settings() -> None:
    """One byte every two seconds, no setting changed: the rate floor ends it (about 30 s
    after the headers; the bound here is only "it ended", the process's own timeout)."""
    with lying_server({"/slow.pth": trickle(2)}) as base:
        proc = jellyml_capped("show", f"{base}/slow.pth")
    one_error_line(proc, "too slow", "JELLYML_MIN_RATE")


def test_an_s3_endpoint_that_never_answers_is_tried_twice_and_said_too_slow() -> None:
    """s3fs tries each request 5 times over botocore's own attempts: a silent endpoint held a
    command for 5 x 2 x the idle timeout per request (20 connections here). Now two tries."""
    needs_http()
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    accepted: list[socket.socket] = []
    with socket.socket() as listener:  # accepts every connection, never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.2)
        done = threading.Event()

        def accept() -> None:
            while not done.is_set():
                with contextlib.suppress(OSError):
                    accepted.append(listener.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = {"JELLYML_IDLE_TIMEOUT": "1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
        try:
            proc = jellyml_capped(
                "show",
                "s3://bucket/model.pth",
                "--storage-option",
                f"client_kwargs.endpoint_url={endpoint}",
                env=env,
            )
        finally:
            done.set()
            thread.join()
            for conn in accepted:
                conn.close()
    one_error_line(proc, "too slow", "JELLYML_IDLE_TIMEOUT")
    # at most two tries of each of the (at most two) requests s3fs makes to look up a file
    assert 1 <= len(accepted) <= 4, len(accepted)


@contextlib.contextmanager
def unreachable_port() -> Iterator[int]:
    """A port whose connections never complete: a listener with a backlog of none, its queue
    filled, so the kernel drops every new SYN (as a firewall that drops packets does)."""
    needs_http()
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        probe = stack.enter_context(socket.socket())
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", port))
        except OSError:
            pass
        else:
            pytest.skip("this kernel completed a connection over a full backlog")
        yield port


@pytest.mark.parametrize("scheme", ["http", "s3"])
def test_a_connection_that_never_completes_names_the_connect_timeout(scheme: str) -> None:
    """Said as no connection (JELLYML_CONNECT_TIMEOUT), not as a reply that was slow to come
    (aiohttp's connect timeout is a TimeoutError too) nor as the idle timeout (S3)."""
    env = {"JELLYML_CONNECT_TIMEOUT": "2", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    with unreachable_port() as port:
        if scheme == "s3":
            pytest.importorskip("s3fs", reason="s3fs is not installed")
            args = ["s3://bucket/model.pth", "--storage-option"]
            args.append(f"client_kwargs.endpoint_url=http://127.0.0.1:{port}")
        else:
            args = [f"http://127.0.0.1:{port}/model.pth"]
        proc = jellyml_capped("show", *args, env=env)
    one_error_line(proc, "no connection within 2 s", "JELLYML_CONNECT_TIMEOUT")
