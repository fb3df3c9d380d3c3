"""``--storage-option KEY=VALUE`` and ``JELLYML_STORAGE_OPTIONS`` (issue 21, point 4): the CLI
reaches an S3 store that is not AWS (moto's server on loopback) with no ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import write_safetensors_model
from kit.cli import jellyml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "read"))
from remote_servers import S3Server, s3_server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    with s3_server() as server:
        server.make_bucket("models")
        yield server


def _no_aws_environment() -> dict[str, str]:
    """Credentials only: nothing in the environment names the endpoint."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def published(s3: S3Server, make_repo: Any, tmp_path: Path) -> tuple[str, str]:
    model = tmp_path / "model.safetensors"
    commit = write_safetensors_model(make_repo({"train.py": "x = 1\n"}).path, model)
    s3.put(model, "models/run-1/model.safetensors")
    return "s3://models/run-1/model.safetensors", commit


@pytest.fixture(autouse=True)
def _without_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "JELLYML_STORAGE_OPTIONS"):
        monkeypatch.delenv(name, raising=False)


def test_storage_option_reaches_the_endpoint(s3: S3Server, published: tuple[str, str]) -> None:
    url, commit = published
    option = f"client_kwargs.endpoint_url={s3.endpoint}"
    env = _no_aws_environment()
    shown = jellyml("show", "--json", url, "--storage-option", option, env=env)
    assert json.loads(shown.stdout)["commit"] == commit
    assert "train.py" in jellyml("ls", url, "--storage-option", option, env=env).stdout
    scanned = jellyml("scan", "--json", "s3://models/run-1/", "--storage-option", option, env=env)
    assert [e["commit"] for e in json.loads(scanned.stdout)] == [commit]
    found = jellyml("scan", "--secrets", "--json", url, "--storage-option", option, env=env)
    assert json.loads(found.stdout) == []


def test_environment_variable_is_json_for_every_command(
    s3: S3Server, published: tuple[str, str]
) -> None:
    url, commit = published
    options = json.dumps({"client_kwargs": {"endpoint_url": s3.endpoint}, "anon": False})
    env = {**_no_aws_environment(), "JELLYML_STORAGE_OPTIONS": options}
    assert json.loads(jellyml("show", "--json", url, env=env).stdout)["commit"] == commit
    assert "train.py" in jellyml("ls", url, env=env).stdout


def test_the_flag_wins_over_the_variable(s3: S3Server, published: tuple[str, str]) -> None:
    url, commit = published
    wrong = json.dumps({"client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}})
    env = {**_no_aws_environment(), "JELLYML_STORAGE_OPTIONS": wrong}
    option = f"client_kwargs.endpoint_url={s3.endpoint}"
    shown = jellyml("show", "--json", url, "--storage-option", option, env=env)
    assert json.loads(shown.stdout)["commit"] == commit


def test_unreachable_store_names_the_options(published: tuple[str, str]) -> None:
    url, _commit = published
    option = "client_kwargs.endpoint_url=http://127.0.0.1:9"  # nothing listens there
    proc = jellyml("show", url, "--storage-option", option, env=_no_aws_environment(), check=1)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "--storage-option" in proc.stderr and "JELLYML_STORAGE_OPTIONS" in proc.stderr


@pytest.mark.parametrize(
    ("args", "env", "phrase"),
    [
        (["--storage-option", "no-equals-sign"], {}, "not KEY=VALUE"),
        ([], {"JELLYML_STORAGE_OPTIONS": "{not json"}, "not JSON"),
        ([], {"JELLYML_STORAGE_OPTIONS": "[1, 2]"}, "not a JSON object"),
    ],
)
def test_bad_options_are_one_line(args: list[str], env: dict[str, str], phrase: str) -> None:
    proc = jellyml("show", "s3://models/x.pth", *args, env={**os.environ, **env}, check=None)
    assert proc.returncode in (1, 2) and phrase in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
