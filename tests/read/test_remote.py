"""Checkpoints behind URLs, against real servers on 127.0.0.1: S3 (moto + s3fs) and HTTP
(nginx), through the real CLI; the requests and bytes each command costs, counted by the servers
themselves; and what goes wrong: a server that ignores Range, a missing URL, a transfer cut
short, missing credentials, fsspec not installed."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from remote_servers import HttpServer, S3Server, nginx_server, no_range_server, s3_server

import jellyml
from jellyml import errors
from kit.checkpoints import (
    dcp_like_folder,
    make_model,
    snapshot_tensors,
    write_checkpoint,
    write_safetensors_model,
    write_snapshot_file,
)
from kit.cli import SRC, cli_command
from kit.cli import jellyml as run_cli
from kit.repos import clone, git, make_dirty_repo

pytest.importorskip("fsspec", reason="fsspec is not installed (pip install 'jellyml[remote]')")

KIB = 1024


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    with s3_server() as server:
        server.make_bucket("models")
        yield server


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    private = "location /private/ { deny all; }"  # a file the user may not read: 403
    with nginx_server(tmp_path_factory.mktemp("nginx"), extra=private) as server:
        yield server


def _publish(s3: S3Server, web: HttpServer, local: Path, name: str) -> tuple[str, str]:
    """Put ``local`` (a file or a folder) on both servers; its two URLs."""
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    for file in files:
        rel = name if local.is_file() else f"{name}/{file.relative_to(local)}"
        s3.put(file, f"models/{rel}")
        target = web.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)
    return f"s3://models/{name}", f"{web.url}/{name}"


def _kinds(make_repo: Any, tmp_path: Path) -> tuple[str, dict[str, Path]]:
    repo = make_dirty_repo(make_repo)
    commit = make_model(repo.path, tmp_path / "model.pth")
    write_safetensors_model(repo.path, tmp_path / "model.safetensors")
    folder = tmp_path / "step-7"
    dcp_like_folder(folder)

    write_snapshot_file(repo.path, folder)
    return commit, {
        "model.pth": tmp_path / "model.pth",
        "model.safetensors": tmp_path / "model.safetensors",
        "step-7": folder,
    }


def test_show_eat_extract_and_scan_every_container_on_s3_and_http(
    make_repo: Any, tmp_path: Path, s3: S3Server, web: HttpServer, request: Any
) -> None:
    commit, kinds = _kinds(make_repo, tmp_path)
    prefix = request.node.name[:20]
    for name, local in kinds.items():
        s3_url, http_url = _publish(s3, web, local, f"{prefix}/{name}")
        if local.is_dir():
            http_url += "/"  # an HTTP server cannot say a URL is a folder
        for url in (s3_url, http_url):
            shown = run_cli("show", "--json", url, env=s3.env(), check=None)
            assert shown.returncode == 0, (url, shown.stderr)
            assert json.loads(shown.stdout)["commit"] == commit
            assert json.loads(shown.stdout)["model"] == url
            fresh = tmp_path / f"fresh-{abs(hash(url))}"
            eaten = run_cli("eat", url, "-c", str(fresh), env=s3.env(), check=None)
            assert eaten.returncode == 0, (url, eaten.stderr)
            assert (fresh / "notes.txt").read_text() == "untracked\n"
            out = tmp_path / f"{abs(hash(url))}.bundle"
            done = run_cli("fix", "extract-bundle", url, "-o", str(out), env=s3.env(), check=None)
            assert done.returncode == 0, (url, done.stderr)
            assert git(clone(out, tmp_path / f"c{abs(hash(url))}"), "rev-parse", "HEAD") == commit
    http_file = f"{web.url}/{prefix}/model.pth"
    (listed,) = json.loads(_ok_stdout(run_cli("scan", "--json", http_file, check=None)))
    assert listed["snapshot"] and listed["commit"] == commit
    heads = _ok_stdout(
        run_cli("git", http_file, "bundle", "list-heads", "{}", cwd=tmp_path, check=None)
    )
    assert commit in heads
    scanned = run_cli(
        "scan", "--json", "--check", f"s3://models/{prefix}/", env=s3.env(), check=None
    )
    assert scanned.returncode == 1, scanned.stderr
    found = {Path(e["path"]).name: e for e in json.loads(scanned.stdout)}
    # the prefix holds model.safetensors: an HF checkpoint folder, one row (model.pth carries a
    # snapshot of its own: a row too); step-7 a checkpoint folder of its own
    assert set(found) == {prefix, "model.pth", "step-7"}
    assert found[prefix]["file"] == "model.safetensors"
    assert all(e["snapshot"] and e["commit"] == commit and e["dirty"] for e in found.values())


def _ok_stdout(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def test_the_api_takes_storage_options(make_repo: Any, tmp_path: Path, s3: S3Server) -> None:
    commit, kinds = _kinds(make_repo, tmp_path)
    s3.put(kinds["model.pth"], "models/api/model.pth")
    found = jellyml.read_snapshot("s3://models/api/model.pth", storage_options=s3.options())
    assert found.commit == commit
    bundle = found.extract_bundle(tmp_path / "api.bundle")
    assert git(clone(bundle, tmp_path / "c"), "rev-parse", "HEAD") == commit


# --- what a command costs, counted by the servers -------------------------------------------


def _big_checkpoint(make_repo: Any, path: Path) -> tuple[Any, int, int]:
    """A 27 MB torch-style zip of 3,000 tensors (its central directory is over 64 KiB) with
    the snapshot (a 3 MiB bundle) saved last; returns (its repository, central directory
    size, snapshot size)."""
    repo = make_repo({"a.py": "x = 1\n", "blob.bin": os.urandom(3 * 1024 * KIB)})
    _commit, ours = snapshot_tensors(repo.path)
    tensors = [bytes(24 * 1024 * KIB)] + [os.urandom(64) for _ in range(3000)]
    write_checkpoint(path, [*tensors, *ours.values()])
    with zipfile.ZipFile(path) as archive:
        directory = path.stat().st_size - archive.start_dir
    assert directory > 64 * KIB
    return repo, directory, sum(len(v) for v in ours.values())


@pytest.mark.slow  # a 27 MB checkpoint of 3,000 tensors, uploaded to both servers
def test_a_big_checkpoint_costs_four_requests_and_little_more_than_the_snapshot(
    make_repo: Any, tmp_path: Path, s3: S3Server, web: HttpServer
) -> None:
    """Every command that reads the bundle reads it through the one streaming path: a 3 MiB
    bundle is one request, not one per MiB."""
    path = tmp_path / "big.pth"
    repo, directory, snapshot = _big_checkpoint(make_repo, path)
    s3_url, http_url = _publish(s3, web, path, "limits/big.pth")
    budget = directory + snapshot + 64 * KIB
    for url, requests, body_bytes in (
        (s3_url, lambda: s3.log.requests("big.pth"), lambda: s3.log.sent("big.pth")),
        (http_url, lambda: web.requests("big.pth"), lambda: web.body_sent("big.pth")),
    ):
        for argv in (
            ["show", url],
            ["fix", "extract-bundle", url, "-o", str(tmp_path / "b"), "--force"],
            ["ls", url],
            ["cat", url, "a.py"],
            ["log", url],
            ["diff", url, "--stat"],
        ):
            s3.log.clear()
            web.clear()
            proc = run_cli(*argv, env=s3.env(), cwd=repo.path, check=None)
            assert proc.returncode == 0, (argv, proc.stderr)
            assert len(requests()) <= 4, (argv, requests())
            assert body_bytes() <= budget, (argv, body_bytes(), budget, requests())
    assert path.stat().st_size > 24_000_000


def test_a_small_checkpoint_costs_one_request(
    make_repo: Any, tmp_path: Path, s3: S3Server, web: HttpServer
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    make_model(repo.path, tmp_path / "small.pth")
    s3_url, http_url = _publish(s3, web, tmp_path / "small.pth", "limits/small.pth")
    s3.log.clear()
    web.clear()
    for url in (s3_url, http_url):
        assert run_cli("show", url, env=s3.env(), check=None).returncode == 0
    assert len(s3.log.requests("small.pth")) == 1 and len(web.requests("small.pth")) == 1


# --- what goes wrong ---------------------------------------------------------------------------


def _one_line_error(proc: subprocess.CompletedProcess[str], phrase: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert phrase in proc.stderr and "Traceback" not in proc.stderr


def test_a_server_ignoring_range_is_refused_before_the_download(
    make_repo: Any, tmp_path: Path
) -> None:
    root = tmp_path / "www"
    root.mkdir()
    repo = make_repo({"a.py": "x = 1\n"})
    _commit, ours = snapshot_tensors(repo.path)
    write_checkpoint(root / "m.pth", [bytes(64 * 1024 * KIB), *ours.values()])
    size = (root / "m.pth").stat().st_size
    out = tmp_path / "out"
    out.mkdir()
    with no_range_server(root) as (server, log):
        for argv in (["show"], ["fix", "extract-bundle", "-o", str(out / "b.bundle")]):
            log.clear()
            proc = run_cli(argv[0], *argv[1:2], f"{server.url}/m.pth", *argv[2:], check=None)
            _one_line_error(proc, "ignores Range requests")
            assert log.sent() < size // 2, (log.sent(), size)  # it hung up, it did not download
    assert os.listdir(out) == []


def test_urls_that_do_not_exist(s3: S3Server, web: HttpServer, tmp_path: Path) -> None:
    for url in (
        "s3://models/nope/model.pth",
        "s3://no-such-bucket/model.pth",
        f"{web.url}/nope/model.pth",
    ):
        _one_line_error(run_cli("show", url, env=s3.env(), check=None), "does not exist")
    _one_line_error(run_cli("show", "http://127.0.0.1:9/model.pth", check=None), "Cannot open")
    (web.root / "private").mkdir(exist_ok=True)
    (web.root / "private" / "m.pth").write_bytes(b"PK\x03\x04 secret")
    _one_line_error(run_cli("show", f"{web.url}/private/m.pth", check=None), "answered HTTP 403")


def test_missing_credentials(s3: S3Server, make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    make_model(repo.path, tmp_path / "m.pth")
    s3.put(tmp_path / "m.pth", "models/creds/m.pth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=s3.endpoint,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(SRC),
    )
    proc = run_cli("show", "s3://models/creds/m.pth", env=env, check=None)
    _one_line_error(proc, "Unable to locate credentials")
    assert "credentials" in proc.stderr.split(".", 1)[1]


def test_fsspec_missing_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['fsspec'] = None; sys.modules['fsspec.core'] = None\n"
        "from jellyml.cli.main import main; sys.exit(main(['show', 's3://b/m.pth']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=False,
    )
    _one_line_error(proc, "pip install 'jellyml[remote]'")


def test_strip_refuses_a_url(tmp_path: Path) -> None:
    _one_line_error(
        run_cli("strip", "s3://b/m.pth", "-o", str(tmp_path / "o"), check=None), "is a URL"
    )
    assert not (tmp_path / "o").exists()


def test_api_errors_are_jellyml_errors(s3: S3Server) -> None:
    with pytest.raises(errors.ModelFileNotFoundError):
        jellyml.read_snapshot("s3://models/none.pth", storage_options=s3.options())


class _CutShort(BaseHTTPRequestHandler):
    """Honours Range, but a reply over 1 MiB is cut in the middle (``fail=cut``) or refused
    with a 500 (``fail=500``): a server error mid-transfer."""

    root: Path
    fail = "cut"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = (self.root / self.path.lstrip("/")).read_bytes()
        spec = self.headers.get("Range", "bytes=0-").split("=", 1)[1]
        first, _, last = spec.partition("-")
        if not first:
            start, stop = max(0, len(data) - int(last)), len(data)
        else:
            start, stop = int(first), min(len(data), int(last) + 1 if last else len(data))
        body = data[start:stop]
        if len(body) > 1024 * KIB and self.fail == "500":
            self.send_error(500)
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if len(body) > 1024 * KIB:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.mark.parametrize("fail", ["cut", "500"])
def test_a_server_error_mid_transfer_leaves_nothing(
    fail: str, make_repo: Any, tmp_path: Path
) -> None:
    root = tmp_path / "www"
    root.mkdir()
    repo = make_repo({"a.py": "x = 1\n", "blob.bin": os.urandom(2048 * KIB)})
    make_model(repo.path, root / "m.pth")
    handler = type("Handler", (_CutShort,), {"root": root, "fail": fail})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "out"
    out.mkdir()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/m.pth"
        assert run_cli("show", url, check=None).returncode == 0  # the small reads work
        proc = run_cli("fix", "extract-bundle", url, "-o", str(out / "m.bundle"), check=None)
        _one_line_error(proc, f"Reading {url} failed")
        eaten = run_cli("eat", url, "-c", str(tmp_path / "fresh"), check=None)
        _one_line_error(eaten, f"Reading {url} failed")
    finally:
        server.shutdown()
        server.server_close()
    assert os.listdir(out) == []
    assert not (tmp_path / "fresh").exists()


def _stderr_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run ``argv`` with stderr on a pseudo-terminal: its exit code, what it wrote there, and
    its stdout."""
    main, follower = pty.openpty()
    try:
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=follower, check=False)
        os.close(follower)
        seen = _read_all(main)
    finally:
        os.close(main)
    return proc.returncode, seen, proc.stdout


def _long_download(make_repo: Any, tmp_path: Path, web: HttpServer, name: str) -> str:
    """The URL of a checkpoint whose bundle (5 MiB) is long enough to report progress."""
    repo = make_repo({"a.py": "x = 1\n", "blob.bin": os.urandom(5 * 1024 * KIB)})
    make_model(repo.path, tmp_path / "m.pth")
    _publish_http(web, tmp_path / "m.pth", f"progress/{name}")
    return f"{web.url}/progress/{name}"


def test_a_long_transfer_shows_progress_on_a_terminal_only(
    make_repo: Any, tmp_path: Path, web: HttpServer
) -> None:
    url = _long_download(make_repo, tmp_path, web, "m.pth")
    argv = [*cli_command(), "fix", "extract-bundle", url, "--force", "-o"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("JELLYML_DISABLE_PROGRESS_BARS", None)
    code, seen, _ = _stderr_on_a_terminal([*argv, str(tmp_path / "tty.bundle")], env)
    assert code == 0 and "Downloading the snapshot" in seen and "MB" in seen
    assert seen.rstrip().endswith("MB") and "[" + "#" * 30 + "]" in seen  # finished, whole
    piped = subprocess.run(
        [*argv, str(tmp_path / "pipe.bundle")], env=env, capture_output=True, text=True
    )
    assert piped.returncode == 0 and piped.stderr == ""
    # -q and the setting turn it off on a terminal too
    code, seen, _ = _stderr_on_a_terminal([*argv, str(tmp_path / "q.bundle"), "-q"], env)
    assert code == 0 and seen == ""
    off = {**env, "JELLYML_DISABLE_PROGRESS_BARS": "1"}
    code, seen, _ = _stderr_on_a_terminal([*argv, str(tmp_path / "off.bundle")], off)
    assert code == 0 and seen == ""


def test_the_library_reports_progress_and_never_draws_it(
    make_repo: Any, tmp_path: Path, web: HttpServer
) -> None:
    url = _long_download(make_repo, tmp_path, web, "lib.pth")
    code = (
        "import json, sys, jellyml, jellyml.progress\n"
        "jellyml.read_snapshot(sys.argv[1]).extract_bundle(sys.argv[2])\n"
        "seen = []\n"
        "with jellyml.progress.reporting(lambda *event: seen.append(event)):\n"
        "    jellyml.read_snapshot(sys.argv[1]).extract_bundle(sys.argv[2] + '.2')\n"
        "print(json.dumps(seen))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-c", code, url, str(tmp_path / "lib.bundle")]
    status, drawn, out = _stderr_on_a_terminal(argv, env)
    assert status == 0 and drawn == ""  # a terminal, and still nothing drawn
    events = json.loads(out)
    total = (tmp_path / "lib.bundle").stat().st_size
    assert events[0] == ["Downloading the snapshot", 0, total, False]
    assert events[-1] == ["Downloading the snapshot", total, total, True]
    assert all(not e[3] for e in events[:-1])


def _publish_http(web: HttpServer, local: Path, name: str) -> None:
    target = web.root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(local, target)


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_a_missing_server_skips_here_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from remote_servers import need

    monkeypatch.delenv("JELLYML_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no nginx"):
        need(False, "no nginx")
    monkeypatch.setenv("JELLYML_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="no nginx"):
        need(False, "no nginx")
    need(True, "present")  # nothing happens


def test_a_snapshot_saved_first_costs_one_request_more(
    make_repo: Any, tmp_path: Path, s3: S3Server, web: HttpServer
) -> None:
    repo = make_repo({"a.py": "x = 1\n", "blob.bin": os.urandom(300 * KIB)})
    _commit, ours = snapshot_tensors(repo.path)
    path = tmp_path / "first.pth"
    write_checkpoint(path, [*ours.values(), *(os.urandom(4096) for _ in range(1000))])
    with zipfile.ZipFile(path) as archive:
        budget = path.stat().st_size - archive.start_dir + sum(map(len, ours.values())) + 64 * KIB
    s3_url, http_url = _publish(s3, web, path, "limits/first.pth")
    for url, requests, body_bytes in (
        (s3_url, lambda: s3.log.requests("first.pth"), lambda: s3.log.sent("first.pth")),
        (http_url, lambda: web.requests("first.pth"), lambda: web.body_sent("first.pth")),
    ):
        s3.log.clear()
        web.clear()
        out = tmp_path / "first.bundle"
        assert (
            run_cli(
                "fix", "extract-bundle", url, "-o", str(out), "--force", env=s3.env(), check=None
            ).returncode
            == 0
        )
        assert len(requests()) <= 5 and body_bytes() <= budget, (requests(), budget)


def test_a_body_read_in_short_pieces_is_read_whole() -> None:
    """aiohttp and aiobotocore may return fewer bytes than asked before the end (moto did, for
    a 100 MB object's tail): the reader keeps reading, and never past its limit."""
    import asyncio

    from jellyml.sources.http import read_at_most as _read_at_most

    class Trickle:
        def __init__(self, data: bytes) -> None:
            self.data = data

        async def read(self, n: int) -> bytes:
            piece, self.data = self.data[: min(n, 1000)], self.data[min(n, 1000) :]
            return piece

    data = os.urandom(70_000)
    assert asyncio.run(_read_at_most(Trickle(data), 65_537)) == data[:65_537]
    assert asyncio.run(_read_at_most(Trickle(data[:500]), 65_537)) == data[:500]
