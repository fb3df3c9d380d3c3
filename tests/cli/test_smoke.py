from __future__ import annotations

import subprocess

import pytest

torch = pytest.importorskip("torch")

import jellyml  # noqa: E402
from kit.cli import jellyml as cli  # noqa: E402


@pytest.mark.torch
def test_dirty_snapshot_saves_and_reads_back(make_repo, tmp_path):
    repo = make_repo({"a.py": "print(1)\n"})
    repo.write("a.py", "print(2)\n")
    repo.write("new.txt", "untracked\n")
    snapshot = jellyml.create_snapshot(str(repo.path))
    torch.save({"w": torch.ones(2), **snapshot}, tmp_path / "m.pth")
    found = jellyml.read_snapshot(tmp_path / "m.pth")
    bundle = found.extract_bundle(tmp_path / "m.bundle")
    subprocess.run(["git", "clone", "-q", bundle, str(tmp_path / "c")], check=True)
    assert (tmp_path / "c" / "a.py").read_text() == "print(2)\n"
    assert (tmp_path / "c" / "new.txt").read_text() == "untracked\n"


def test_cli_version(tmp_path):
    out = cli("--version", cwd=tmp_path)
    assert out.stdout.strip() == f"jellyml {jellyml.__version__}"
