"""Issue 10, items 17 (eat into a read-only repository) and 19 (git's "dubious ownership")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml

# Run as ``unshare -m python READ_ONLY REPO ARGS...``: in a mount namespace of its own, REPO is
# bind-mounted read-only over itself, then the CLI runs (root ignores file modes; not mounts).
READ_ONLY = """
import os, subprocess, sys
repo = sys.argv[1]
subprocess.run(["mount", "--bind", repo, repo], check=True)
subprocess.run(["mount", "-o", "remount,ro,bind", repo, repo], check=True)
os.execv(sys.executable, [sys.executable, "-m", "jellyml", *sys.argv[2:]])
"""


def _related(make_repo, tmp_path: Path):
    repo = make_repo({"a.txt": "a\n"})
    source = make_repo({"a.txt": "a\n"}, name="source")
    source.write("a.txt", "snapshot\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    return repo, model


def _read_only_eat(repo, model: Path) -> subprocess.CompletedProcess[str]:
    if os.getuid() != 0:
        for root, dirs, files in os.walk(repo.path):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o555 if name in dirs else 0o444)
        return jellyml("eat", str(model), cwd=repo.path, check=None)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount the repository read-only as root")
    argv = ["unshare", "-m", sys.executable, "-c", READ_ONLY, str(repo.path), "eat", str(model)]
    proc = subprocess.run(argv, cwd=repo.path, capture_output=True, text=True, check=False)
    if "mount" in proc.stderr and "Traceback" in proc.stderr:
        pytest.skip(f"cannot mount here: {proc.stderr.strip().splitlines()[-1]}")
    return proc


def test_17_eat_into_a_read_only_repository_says_so(make_repo, tmp_path):
    repo, model = _related(make_repo, tmp_path)
    before = repo.state()
    proc = _read_only_eat(repo, model)
    assert proc.returncode == 1, proc.stderr
    assert "not writable" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert repo.state() == before


@pytest.mark.skipif(os.getuid() != 0, reason="making a repository another user's needs root")
@pytest.mark.parametrize("command", [["undo"], ["eat", "MODEL"], ["fix", "get-history-path"]])
def test_19_dubious_ownership_shows_the_reason_and_the_fix(make_repo, tmp_path, command):
    repo, model = _related(make_repo, tmp_path)
    for root, dirs, files in os.walk(repo.path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), 65534, 65534)
    os.lchown(repo.path, 65534, 65534)
    argv = [str(model) if a == "MODEL" else a for a in command]
    proc = jellyml(*argv, cwd=repo.path, check=1)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "owned by" in proc.stderr
    assert f"git config --global --add safe.directory {repo.path}" in proc.stderr
