"""The spec's Python API doors: each returns 0, prints nothing, and raises JellyMLError."""

from __future__ import annotations

import pytest

from jellyml import JellyMLError, ModelFileNotFoundError, NotAGitRepoError
from jellyml.delete_last_history_item import (
    DeleteLastHistoryItemArgs_dataclass,
    delete_last_history_item,
)
from jellyml.eat import EatArgsWithModel_dataclass, eat
from jellyml.extract_bundle import ExtractBundleArgs_dataclass, extract_bundle
from jellyml.git import GitArgs_dataclass, git
from jellyml.undo import UndoArgs_dataclass, undo
from kit.checkpoints import make_model
from kit.repos import user_state


@pytest.fixture
def setup(make_repo, tmp_path):
    # The same first commit as the repository's (fixed dates): a snapshot of the same project.
    source = make_repo({"a.py": "mine\n"}, name="source")
    source.write("a.py", "snapshot\n")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    repo = make_repo({"a.py": "mine\n"})
    repo.write("a.py", "uncommitted\n")
    repo.write("u.txt", "untracked\n")
    return repo, model, commit


def test_eat_and_undo(setup, capsys):
    repo, model, commit = setup
    before = user_state(repo)
    args = EatArgsWithModel_dataclass(
        model=str(model), quiet=False, code_dir=str(repo.path), no_donut=False
    )
    assert eat(args) == 0
    assert repo.git("rev-parse", "HEAD") == commit
    assert undo(UndoArgs_dataclass(quiet=False, code_dir=str(repo.path), no_donut=False)) == 0
    assert user_state(repo) == before
    assert undo(UndoArgs_dataclass(quiet=True, code_dir=str(repo.path), no_donut=True)) == 0
    assert capsys.readouterr() == ("", "")


def test_eat_uses_the_current_directory(setup, monkeypatch):
    repo, model, commit = setup
    monkeypatch.chdir(repo.path)
    assert eat(EatArgsWithModel_dataclass(str(model), True, None, True)) == 0
    assert repo.git("rev-parse", "HEAD") == commit
    assert undo(UndoArgs_dataclass(True, None, True)) == 0


def test_errors_are_raised(setup, tmp_path):
    repo, _model, _commit = setup
    before = repo.state()
    with pytest.raises(ModelFileNotFoundError):
        eat(EatArgsWithModel_dataclass(str(tmp_path / "nope.pth"), True, str(repo.path), True))
    with pytest.raises(NotAGitRepoError):
        undo(UndoArgs_dataclass(True, str(tmp_path), True))
    with pytest.raises(JellyMLError):
        git(GitArgs_dataclass([]))
    assert repo.state() == before


def test_git_returns_gits_exit_code(setup, capfd, monkeypatch):
    repo, model, commit = setup
    monkeypatch.chdir(repo.path)
    assert git(GitArgs_dataclass([str(model), "bundle", "list-heads", "{}"])) == 0
    assert commit in capfd.readouterr().out
    assert git(GitArgs_dataclass([str(model), "rev-parse", "--verify", "-q", "nothing"])) == 1


def test_extract_bundle_and_delete_last_history_item(setup, tmp_path):
    repo, model, _commit = setup
    out = tmp_path / "out.bundle"
    assert extract_bundle(ExtractBundleArgs_dataclass(str(model), str(out))) == 0
    assert out.read_bytes().startswith(b"# v2 git bundle")
    eat(EatArgsWithModel_dataclass(str(model), True, str(repo.path), True))
    args = DeleteLastHistoryItemArgs_dataclass(code_dir=str(repo.path))
    assert delete_last_history_item(args) == 0
    assert delete_last_history_item(args) == 0  # empty now: still 0
    saved = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/**/saved")
    assert saved  # the saved commits stay under their ref
    # The untracked file stays in the put-aside folder, under its own path (issue 17).
    folder = repo.git("rev-parse", "--git-path", "jellyml")
    [kept] = (repo.path / folder).glob("*/files/u.txt")
    assert kept.read_text() == "untracked\n"
