"""Credentials on the command line never reach a checkpoint; a snapshot says what it cost."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from jellyml.snapshot import SnapshotWarning, report, snapshot_repo
from jellyml.snapshot.metadata import redact_argv
from kit.cli import jellyml

SECRETS = (
    "hf_SECRET123",
    "sk-abcdefghijklmnopqrstuvwx123456",
    "hunter2",
    "p4ssw0rd",
    "AKIAABCDEFGHIJKLMNOP",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "wandbkey123",
)


@pytest.mark.torch
def test_no_secret_anywhere_in_the_checkpoint(make_repo, tmp_path):
    pytest.importorskip("torch")
    repo = make_repo({"model.py": "m\n"}, name="proj")
    repo.write(
        "train.py",
        "import sys, torch, jellyml\n"
        "torch.save({'w': torch.ones(2), **jellyml.create_snapshot()}, sys.argv[1])\n",
    )
    repo.commit_all("train")
    argv = [
        str(tmp_path / "model.pth"),
        "--hf-token=hf_SECRET123",
        "--openai-api-key",
        "sk-abcdefghijklmnopqrstuvwx123456",
        "db.password=hunter2",
        "--data=https://alice:p4ssw0rd@data.example.com/set?x=1",
        "AKIAABCDEFGHIJKLMNOP",
        "--github=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "--wandb_key",
        "wandbkey123",
        "--lr=0.1",
        "--author=alice",
    ]
    subprocess.run([sys.executable, str(repo.path / "train.py"), *argv], cwd=tmp_path, check=True)
    data = (tmp_path / "model.pth").read_bytes()
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    shown = jellyml("show", str(tmp_path / "model.pth"), "--json", cwd=tmp_path).stdout
    for secret in SECRETS:
        assert secret not in shown
    import jellyml as api

    meta = api.read_snapshot(tmp_path / "model.pth").metadata
    assert meta["argv"][1:] == [
        str(tmp_path / "model.pth"),
        "--hf-token=<redacted>",
        "--openai-api-key",
        "<redacted>",
        "db.password=<redacted>",
        "--data=https://alice:<redacted>@data.example.com/set?x=1",
        "<redacted>",
        "--github=<redacted>",
        "--wandb_key",
        "<redacted>",
        "--lr=0.1",
        "--author=alice",
    ]
    assert meta["argv_redacted"] == 7


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["t.py", "--epochs", "3", "--name=run1"], ["t.py", "--epochs", "3", "--name=run1"]),
        (["t.py", "--token", "abc", "--x"], ["t.py", "--token", "<redacted>", "--x"]),
        (["t.py", "HF_TOKEN=abc"], ["t.py", "HF_TOKEN=<redacted>"]),
        (
            ["t.py", "--url=s3://b/k?X-Amz-Credential=abc&v=1"],
            ["t.py", "--url=s3://b/k?X-Amz-Credential=<redacted>&v=1"],
        ),
        (["t.py", "--sort-key=name"], ["t.py", "--sort-key=<redacted>"]),
        (["t.py", "--monkey=1", "--keyframes=3"], ["t.py", "--monkey=1", "--keyframes=3"]),
    ],
)
def test_redact_argv(argv, expected):
    assert redact_argv(argv)[0] == expected


def test_one_log_line_with_size_files_and_time(make_repo, tmp_path, caplog):
    repo = make_repo({"a.py": "a\n", "b/c.py": "c\n"})
    repo.write("new.py", "n\n")
    with caplog.at_level(logging.INFO, logger="jellyml"):
        snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
    lines = [r.getMessage() for r in caplog.records if r.name == "jellyml"]
    assert len(lines) == 1
    assert "MiB (history: full), 3 files" in lines[0] and str(repo.path) in lines[0]
    assert lines[0].endswith(" s")


def test_large_snapshot_warns_with_its_largest_files(make_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "LARGE_SNAPSHOT_WARNING", 50_000)
    repo = make_repo({"a.py": "a\n", "weights/big.bin": os.urandom(80_000)})
    repo.write("weights/mid.dat", os.urandom(30_000))  # not .bin: a data file, left out
    with pytest.warns(
        SnapshotWarning,
        match=r"largest files: weights/big\.bin \(0\.1 MiB\), "
        r"weights/mid\.dat",
    ):
        snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
