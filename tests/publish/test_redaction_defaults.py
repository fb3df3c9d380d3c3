"""What a snapshot must not record (issue 21, point 6): the command-line secrets and the
credential files a hostile probe found in a real checkpoint's bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jellyml.snapshot.redact import REDACTED, redact_argv
from kit.checkpoints import make_model
from kit.cli import jellyml


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--pass", "s3cr3t"], ["--pass", REDACTED]),
        (["-p", "s3cr3t"], ["-p", REDACTED]),
        (["--pw", "s3cr3t"], ["--pw", REDACTED]),
        (["--db-pwd=s3cr3t"], [f"--db-pwd={REDACTED}"]),
        (["--passphrase", "s3cr3t"], ["--passphrase", REDACTED]),
        (["--password", "-starts-with-a-dash"], ["--password", REDACTED]),
        (["--bearer", "s3cr3t"], ["--bearer", REDACTED]),
        (["Authorization: Bearer s3cr3t"], [f"Authorization: Bearer {REDACTED}"]),
        (['{"token": "s3cr3t", "lr": 0.1}'], [f'{{"token": "{REDACTED}", "lr": 0.1}}']),
        (["https://s3cr3t@github.com/o/r.git"], [f"https://{REDACTED}@github.com/o/r.git"]),
        (["https://me:p@ss@word@host/r"], [f"https://me:{REDACTED}@host/r"]),
        # what must stay
        (["--epochs", "3", "--port", "80", "--author", "me"], None),
        (["--use_auth_token", "--epochs", "3"], None),
        (['{"lr": 0.1, "name": "run"}'], None),
    ],
)
def test_the_probe_s_secrets_are_redacted(argv: list[str], expected: Any) -> None:
    redacted, count = redact_argv(["train.py", *argv])
    assert redacted == ["train.py", *(argv if expected is None else expected)]
    assert count == (0 if expected is None else 1)
    assert "s3cr3t" not in json.dumps(redacted)


@pytest.mark.parametrize(
    "name", [".envrc", ".git-credentials", ".aws/credentials", "kaggle.json", "secrets.toml"]
)
def test_untracked_credential_files_stay_out(make_repo: Any, tmp_path: Path, name: str) -> None:
    repo = make_repo({"train.py": "x = 1\n"})
    repo.write(name, "password = hunter2-but-longer\n")
    make_model(repo.path, tmp_path / "m.pth")
    assert name not in jellyml("ls", str(tmp_path / "m.pth")).stdout.splitlines()
