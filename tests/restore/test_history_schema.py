"""Issue 10, items 4 and 12: every field of the history file is checked before use, and its items
belong to one repository (not merely to a path)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.repos import user_state

COMMANDS = (["undo"], ["fix", "delete-last-history-item"])


def _eaten(make_repo, tmp_path):
    source = make_repo({"a.txt": "mine\n"}, name="source")
    source.write("a.txt", "snapshot\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a.txt": "mine\n"})
    repo.write("a.txt", "uncommitted\n")
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    path = Path(jellyml("fix", "get-history-path", cwd=repo.path).stdout.strip())
    return repo, model, before, path


def _one_line_refusal(proc) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "is corrupt" in proc.stderr and "jellyml fix clear-history" in proc.stderr
    assert proc.stderr.count("\n") == 1


def _with_item(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data["items"][0].update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "changes",
    [
        {"ref_prefix": "refs/"},
        {"ref_prefix": "refs/heads"},
        {"ref_prefix": "refs/jellyml/../heads"},
        {"saved_worktree": None},
        {"saved_index": 5},
        {"head": ["a"]},
        {"branch": "refs/tags/v1"},
        {"branch": "refs/heads/../../x"},
        {"untracked": [1, 2]},
        {"untracked": "a.txt"},
        {"state": "done"},
        {"id": "x; rm -rf /"},
        {"after_branch": "-x"},
        {"created_at": None},
        {"head": "z" * 40},
    ],
)
def test_wrong_fields_refused_in_one_line(make_repo, tmp_path, changes):
    repo, model, _before, path = _eaten(make_repo, tmp_path)
    repo.git("tag", "v1")
    _with_item(path, **changes)
    middle = repo.state()
    for command in (*COMMANDS, ["eat", str(model)]):
        _one_line_refusal(jellyml(*command, cwd=repo.path, check=None))
        assert repo.state() == middle  # every branch and tag still there


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",
        b'{"version": 1, "items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        b'{"version": 1, "items": null}',
        b'{"version": 1, "items": [null]}',
        b'{"version": 1, "repo_id": 5, "items": []}',
    ],
    ids=["not-utf8", "deeply-nested", "null-items", "null-item", "typed-repo-id"],
)
def test_unreadable_history_refused_in_one_line(make_repo, tmp_path, raw):
    repo, model, _before, path = _eaten(make_repo, tmp_path)
    path.write_bytes(raw)
    middle = repo.state()
    for command in (*COMMANDS, ["eat", str(model)]):
        _one_line_refusal(jellyml(*command, cwd=repo.path, check=None))
        assert repo.state() == middle


def test_huge_history_file_refused(make_repo, tmp_path):
    repo, model, _before, path = _eaten(make_repo, tmp_path)
    path.write_bytes(b'{"version": 1, "items": [], "pad": "' + b"x" * (17 << 20) + b'"}')
    for command in (*COMMANDS, ["eat", str(model)]):
        proc = jellyml(*command, cwd=repo.path, check=None)
        _one_line_refusal(proc)
        assert "larger than 16 MiB" in proc.stderr


def test_item_naming_commits_that_are_not_there(make_repo, tmp_path):
    """A history of an earlier JellyML file layout (no repo_id) whose commits are not in this
    repository: said plainly, with the way out, instead of git's "not a tree object"."""
    repo, _model, _before, path = _eaten(make_repo, tmp_path)
    data = json.loads(path.read_text())
    data.pop("repo_id", None)
    data["items"][0]["saved_worktree"] = "1" * 40
    path.write_text(json.dumps(data))
    proc = jellyml("undo", cwd=repo.path, check=1)
    _one_line_refusal(proc)
    assert "not in" in proc.stderr


def test_repository_made_again_at_the_same_path(make_repo, tmp_path):
    repo, model, _before, path = _eaten(make_repo, tmp_path)
    shutil.rmtree(repo.path / ".git")
    for name in ("a.txt",):
        (repo.path / name).unlink(missing_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=repo.path, check=True)
    repo.write("a.txt", "mine\n")
    repo.commit_all("first")  # the same first commit as before: fixed dates, same content
    repo.write("a.txt", "new work\n")
    before = user_state(repo)
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    proc = jellyml("eat", str(model), cwd=repo.path)
    assert "earlier repository" in proc.stderr
    assert len(json.loads(path.read_text())["items"]) == 1
    jellyml("undo", cwd=repo.path)
    assert user_state(repo) == before
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
