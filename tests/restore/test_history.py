"""The history file: where it lives, its versions, atomic writes, the lock, and the fix commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jellyml.errors import CorruptHistoryError, NewerHistoryError
from jellyml.restore import history
from jellyml.restore.history import HistoryItem
from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.repos import user_state


def _eaten(make_repo, tmp_path):
    source = make_repo({"a.txt": "mine\n"}, name="source")  # the same project
    source.write("a.txt", "snapshot\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a.txt": "mine\n"})
    repo.write("a.txt", "uncommitted\n")
    repo.write("new.txt", "untracked\n")
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    return repo, model, before


def _history_path(repo) -> Path:
    return Path(jellyml("fix", "get-history-path", cwd=repo.path).stdout.strip())


def test_history_path_per_repo_in_user_data_dir(make_repo, git_env):
    one, two = make_repo({"x": "1"}), make_repo({"x": "1"})
    (one.path / "sub").mkdir()
    path = _history_path(one)
    assert path.is_relative_to(git_env / ".local" / "share" / "jellyml")
    assert path.suffix == ".json" and one.path.name in path.name
    assert _history_path(two) != path
    assert (
        Path(jellyml("fix", "get-history-path", "-c", "sub", cwd=one.path).stdout.strip()) == path
    )


def test_history_records_and_pops(make_repo, tmp_path):
    repo, model, _before = _eaten(make_repo, tmp_path)
    data = json.loads(_history_path(repo).read_text())
    assert data["version"] == history.HISTORY_VERSION
    [item] = data["items"]
    assert item["state"] == history.EATEN and item["model"] == str(model)
    assert item["untracked"] == ["new.txt"]
    jellyml("undo", cwd=repo.path)
    assert json.loads(_history_path(repo).read_text())["items"] == []
    assert not list(_history_path(repo).parent.glob(".history-*"))  # no temp file left


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 1, "items": 5}',
        '{"items": []}',
        '{"version": 1, "items": [7]}',
    ],
)
def test_corrupt_history_names_clear_history(make_repo, tmp_path, content):
    repo, model, _before = _eaten(make_repo, tmp_path)
    path = _history_path(repo)
    path.write_text(content)
    middle = repo.state()
    for command in (["undo"], ["eat", str(model)]):
        proc = jellyml(*command, cwd=repo.path, check=1)
        assert "is corrupt" in proc.stderr and "jellyml fix clear-history" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert repo.state() == middle


def test_clear_history_keeps_the_put_aside_work(make_repo, tmp_path):
    repo, _model, _before = _eaten(make_repo, tmp_path)
    path = _history_path(repo)
    path.write_text("garbage")
    out = jellyml("fix", "clear-history", cwd=repo.path).stdout
    assert "Deleted" in out and "refs/jellyml/" in out
    assert not path.exists()
    saved = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/**/saved")
    assert repo.git("show", f"{saved}:a.txt") == "uncommitted"
    # Untracked files stay in the put-aside folder, under their own paths (issue 17), named.
    [kept] = (repo.path / ".git" / "jellyml").glob("*/files/new.txt")
    assert kept.read_text() == "untracked\n"
    assert str(kept.parent) in out.replace("\n", "")
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert "There was no history file" in jellyml("fix", "clear-history", cwd=repo.path).stdout


def test_newer_history_refused(make_repo, tmp_path):
    repo, _model, _before = _eaten(make_repo, tmp_path)
    path = _history_path(repo)
    path.write_text(json.dumps({"version": 99, "items": []}))
    proc = jellyml("undo", cwd=repo.path, check=1)
    assert "newer jellyml" in proc.stderr
    with pytest.raises(NewerHistoryError):
        history.read(str(path), str(repo.path))


def test_delete_last_history_item(make_repo, tmp_path):
    repo, _model, _before = _eaten(make_repo, tmp_path)
    eaten = repo.state()
    out = jellyml("fix", "delete-last-history-item", cwd=repo.path).stdout
    assert "Deleted the last history item" in out and "refs/jellyml/" in out
    assert repo.worktree() == eaten[0]  # the working tree is not touched
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    saved = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/**/saved")
    assert repo.git("show", f"{saved}:a.txt") == "uncommitted"
    out = jellyml("fix", "delete-last-history-item", cwd=repo.path).stdout
    assert "empty; nothing deleted" in out


def test_fix_commands_outside_a_repo(tmp_path):
    for command in ("delete-last-history-item", "get-history-path", "clear-history"):
        proc = jellyml("fix", command, cwd=tmp_path, check=1)
        assert "is not inside a git repository" in proc.stderr


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "h" / "repo.json")
    with history.transaction(path, "/repo") as h:
        h.items.append(_item("one"))
    before = Path(path).read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError), history.transaction(path, "/repo") as h:
        h.items.append(_item("two"))
    assert Path(path).read_bytes() == before
    assert os.listdir(os.path.dirname(path)) == ["repo.json", "repo.json.lock"]


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "h" / "repo.json")
    script = (
        "import sys\n"
        "from jellyml.restore import history\n"
        "from jellyml.restore.history import HistoryItem\n"
        "for n in range(25):\n"
        "    with history.transaction(sys.argv[1], '/repo') as h:\n"
        "        i = f'{sys.argv[2]}-{n}'\n"
        "        h.items.append(HistoryItem(i, 'eaten', 'm', 'c' * 40, None,\n"
        "                       None, 'a' * 40, 'b' * 40, 'refs/jellyml/' + i, 'now'))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, path, str(k)]) for k in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    items = history.read(path, "/repo").items
    assert sorted(i.id for i in items) == sorted(f"{k}-{n}" for k in range(4) for n in range(25))


def test_item_that_does_not_fit_is_corrupt(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"version": 1, "items": [{"id": "x"}]}))
    with pytest.raises(CorruptHistoryError, match="clear-history"):
        history.read(str(path), "/repo")


def _item(name: str) -> HistoryItem:
    return HistoryItem(
        name, "eaten", "m", "c" * 40, None, None, "a" * 40, "b" * 40, f"refs/jellyml/{name}", "now"
    )


def test_repository_id_is_made_once_and_a_damaged_one_replaced(make_repo, tmp_path):
    repo, model, _before = _eaten(make_repo, tmp_path)
    id_file = repo.path / ".git" / "jellyml-id"
    first = id_file.read_text()
    assert first.strip().isalnum() and oct(id_file.stat().st_mode)[-3:] == "600"
    jellyml("undo", cwd=repo.path)
    jellyml("eat", str(model), cwd=repo.path)
    assert id_file.read_text() == first  # kept: the history names it
    jellyml("undo", cwd=repo.path)
    id_file.write_text("not an id!\n")
    jellyml("eat", str(model), cwd=repo.path)
    assert id_file.read_text() != "not an id!\n" and id_file.read_text().strip().isalnum()
    jellyml("undo", cwd=repo.path)
