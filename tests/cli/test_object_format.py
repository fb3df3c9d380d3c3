"""A snapshot of a sha256 repository meets a sha1 one (or the other way round): one line of
ours, not git's "bad revision" or a failed index-pack called a corrupt snapshot, and nothing
changed; into a new folder it still comes out, as a repository of its own format."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.repos import git


def _repo(path: Path, object_format: str, content: str) -> Path:
    subprocess.run(["git", "init", "-q", f"--object-format={object_format}", str(path)], check=True)
    (path / "train.py").write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "first")
    return path


def _state(repo: Path) -> tuple[str, str, str]:
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return (
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "rev-parse", "HEAD"),
        refs,
    )


@pytest.mark.parametrize("snapshot_format, repo_format", [("sha256", "sha1"), ("sha1", "sha256")])
def test_another_object_format_is_refused_in_one_line(
    tmp_path: Path, snapshot_format: str, repo_format: str, make_repo: Any
) -> None:
    source = _repo(tmp_path / "source", snapshot_format, "lr = 1\n")
    model = tmp_path / "m.pth"
    make_model(source, model)
    repo = _repo(tmp_path / "here", repo_format, "lr = 2\n")
    (repo / "mine.txt").write_text("uncommitted\n")
    before = _state(repo)
    for argv in (["eat", str(model)], ["eat", str(model), "--force"], ["diff", str(model)]):
        proc = jellyml(*argv, cwd=repo, check=1)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
        assert f"is a {snapshot_format} repository's" in proc.stderr
        assert f"uses {repo_format}" in proc.stderr and "corrupt" not in proc.stderr
        assert _state(repo) == before
    fresh = tmp_path / "fresh"
    jellyml("eat", str(model), "-c", str(fresh), cwd=tmp_path)
    assert git(fresh, "rev-parse", "--show-object-format") == snapshot_format
    assert (fresh / "train.py").read_text() == "lr = 1\n"
    assert jellyml("ls", str(model), cwd=repo).stdout == "train.py\n"  # needs no repository
