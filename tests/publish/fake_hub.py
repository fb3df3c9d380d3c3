"""A Hugging Face Hub for tests, on 127.0.0.1: the four routes ``HfFileSystem`` uses, over a
folder of repositories (``root/<user>/<model>/<files>``), each request logged with the bytes
of its reply's body.

- ``GET /api/models/{repo}[/revision/{rev}]``: the repository's info;
- ``GET /api/models/{repo}/tree/{rev}[/{path}]``: a folder's entries (``?recursive=true``);
- ``POST /api/models/{repo}/paths-info/{rev}``: what some paths are;
- ``GET``/``HEAD /{repo}/resolve/{rev}/{path}``: a file, with ``Range`` (206).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    root: Path
    url: str = ""
    #: (method, path, status, body bytes sent)
    log: list[tuple[str, str, int, int]] = field(default_factory=list)

    def requests(self) -> list[tuple[str, str, int, int]]:
        return list(self.log)

    def sent(self) -> int:
        return sum(entry[3] for entry in self.log)

    def clear(self) -> None:
        self.log.clear()


def _entry(hub: Hub, repo: str, path: str) -> dict[str, Any]:
    local = hub.root / repo / path
    if local.is_dir():
        return {"type": "directory", "path": path, "oid": SHA}
    size = local.stat().st_size
    oid = hashlib.sha1(path.encode()).hexdigest()
    return {"type": "file", "path": path, "size": size, "oid": oid}


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            sent = 0 if self.command == "HEAD" else len(body)
            hub.log.append((self.command, self.path, status, sent))

        def _json(self, value: Any, status: int = 200) -> None:
            self._reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

        def _missing(self) -> None:
            self._json({"error": "Entry not found"}, 404)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = parse_qs(parts.query)
            found = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
            if found:
                return self._repo_info(found.group(1))
            found = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
            if found:
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                return self._tree(found.group(1), found.group(3) or "", recursive)
            found = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if found:
                return self._file(found.group(1), found.group(3))
            self._missing()

        def do_POST(self) -> None:
            path = unquote(urlsplit(self.path).path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            found = re.fullmatch(r"/api/models/([^/]+/[^/]+)/paths-info/([^/]+)", path)
            if not found:
                return self._missing()
            try:
                wanted = json.loads(body)["paths"]
            except ValueError:
                wanted = parse_qs(body).get("paths", [])
            repo = found.group(1)
            existing = [p for p in wanted if (hub.root / repo / p).exists()]
            self._json([_entry(hub, repo, p) for p in existing])

        def _repo_info(self, repo: str) -> None:
            if not (hub.root / repo).is_dir():
                return self._json({"error": "Repository not found"}, 404)
            files = sorted(p for p in (hub.root / repo).rglob("*") if p.is_file())
            siblings = [{"rfilename": str(p.relative_to(hub.root / repo))} for p in files]
            self._json({"id": repo, "sha": SHA, "private": False, "siblings": siblings})

        def _tree(self, repo: str, path: str, recursive: bool) -> None:
            folder = hub.root / repo / path
            if not folder.is_dir():
                return self._missing()
            children = sorted(folder.rglob("*") if recursive else folder.iterdir())
            self._json([_entry(hub, repo, str(p.relative_to(hub.root / repo))) for p in children])

        def _file(self, repo: str, path: str) -> None:
            local = hub.root / repo / path
            if not local.is_file():
                return self._missing()
            data = local.read_bytes()
            headers = {
                "Accept-Ranges": "bytes",
                "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                "X-Repo-Commit": SHA,
            }
            ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            if not ranged:
                return self._reply(200, data, headers)
            start, end = ranged.groups()
            if start == "":
                first, last = max(0, len(data) - int(end)), len(data) - 1
            else:
                first, last = int(start), min(int(end or len(data) - 1), len(data) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            self._reply(206, data[first : last + 1], headers)

    return Handler


@contextlib.contextmanager
def fake_hub(root: Path) -> Iterator[Hub]:
    hub = Hub(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
