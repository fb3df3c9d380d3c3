"""``jellyml status``, ``eat -b NAME`` and ``jellyml fix clean-undo-branches`` (issue 18),
through the installed CLI in real repositories."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.repos import user_state

BASE = {"model.py": "layers = 2\n", "train.py": "lr = 0.1\n"}


def _project(make_repo: Any, tmp_path: Path) -> tuple[Any, Path, str]:
    repo = make_repo(BASE, name="project")
    repo.write("model.py", "layers = 3\n")
    model = tmp_path / "model.pth"
    commit = make_model(repo.path, model)
    repo.git("checkout", "-q", "--", "model.py")
    return repo, model, commit


def _status(repo: Any) -> tuple[str, dict[str, Any]]:
    text = jellyml("status", cwd=repo.path).stdout
    data = json.loads(jellyml("status", "-c", str(repo.path), "--json", cwd="/").stdout)
    return text, data


def test_status_before_during_and_after_eats(make_repo: Any, tmp_path: Path) -> None:
    repo, model, commit = _project(make_repo, tmp_path)
    text, data = _status(repo)
    assert text == f"Nothing of jellyml's is active in {repo.path}.\n"
    assert data["nothing_active"] is True and data["next_command"] is None
    assert data["eats"] == [] and data["worktrees"] == [] and data["undo_branches"] == []

    repo.write("train.py", "lr = 0.2\n")  # dirty work, and an untracked file put aside
    repo.write("notes.txt", "12345\n")
    jellyml("eat", str(model), cwd=repo.path)
    target = tmp_path / "wt"
    jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    text, data = _status(repo)
    (eaten,) = data["eats"]
    assert eaten["model"] == str(model) and eaten["commit"] == commit
    assert eaten["previous_branch"] == "main" and eaten["saved_changes"] is True
    assert eaten["put_aside"] == 1 and eaten["put_aside_size"] == 6
    assert eaten["state"] == "eaten" and eaten["created_at"].startswith("20")
    (made,) = data["worktrees"]
    assert made["path"] == str(target) and made["model"] == str(model) and made["exists"]
    assert data["next_command"] == f"jellyml undo -c {repo.path}"
    assert f"Active eats in {repo.path}, newest first (1):" in text
    assert f"{model}  commit {commit[:12]}" in text
    when = datetime.datetime.fromisoformat(eaten["created_at"]).astimezone(datetime.timezone.utc)
    assert f"{commit[:12]}  {when:%Y-%m-%d %H:%M:%S} UTC\n" in text  # to the second, in UTC
    assert (
        "you were on main; put aside: changes to tracked files, 1 file or folder (6 bytes)" in text
    )
    assert f"Worktrees made by `jellyml eat --worktree` (1):\n  {target}\n" in text
    assert text.endswith("Next: jellyml undo\n")

    jellyml("undo", cwd=repo.path)
    out = jellyml("undo", cwd=repo.path)  # nothing to undo here: the worktree is named
    assert f"Nothing to undo in {repo.path}." in out.stdout
    assert f"`jellyml undo --worktree {target}` removes one" in out.stdout
    text, data = _status(repo)
    assert data["eats"] == [] and len(data["worktrees"]) == 1
    assert f"No active eat in {repo.path}." in text
    assert text.endswith(f"Next: jellyml undo --worktree {target}\n")
    jellyml("undo", "--worktree", str(target), cwd=repo.path)
    text, data = _status(repo)
    assert text == f"Nothing of jellyml's is active in {repo.path}.\n"


def test_status_newest_first_and_outside_a_repository(make_repo: Any, tmp_path: Path) -> None:
    repo, model, _commit = _project(make_repo, tmp_path)
    other = make_repo({"model.py": "layers = 5\n"}, name="other")
    second = tmp_path / "second.pth"
    make_model(other.path, second)
    jellyml("eat", str(model), cwd=repo.path)
    jellyml("eat", str(second), "--force", cwd=repo.path)
    _text, data = _status(repo)
    assert [e["model"] for e in data["eats"]] == [str(second), str(model)]
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    out = jellyml("status", cwd=nowhere, check=1)
    assert "not" in out.stderr and "Traceback" not in out.stderr


def test_eat_b_lands_on_a_new_branch_and_undo_leaves_it(make_repo: Any, tmp_path: Path) -> None:
    repo, model, commit = _project(make_repo, tmp_path)
    repo.write("train.py", "lr = 0.3\n")
    before = user_state(repo)
    out = jellyml("eat", str(model), "-b", "old-model", cwd=repo.path)
    assert "on new branch old-model" in out.stdout
    assert repo.git("symbolic-ref", "--short", "HEAD") == "old-model"
    assert repo.git("rev-parse", "HEAD") == commit
    assert (
        json.loads(jellyml("status", "--json", cwd=repo.path).stdout)["eats"][0]["new_branch"]
        == "old-model"
    )
    repo.write("model.py", "layers = 7\n")
    repo.git("commit", "-qam", "try 7 layers")
    tip = repo.git("rev-parse", "HEAD")
    out = jellyml("undo", cwd=repo.path)
    assert "Back on branch main" in out.stdout and "Branch old-model" in out.stdout
    assert repo.git("rev-parse", "old-model") == tip  # left in place, with the commit on it
    assert repo.git("for-each-ref", "refs/heads/jellyml-undo-*") == ""
    after = user_state(repo)
    assert after.pop("branches") != before.pop("branches")
    assert after == before
    # The name is taken now: refused, nothing changed.
    out = jellyml("eat", str(model), "-b", "old-model", cwd=repo.path, check=1)
    assert "Branch old-model already exists" in out.stderr
    assert user_state(repo)["head"] == before["head"]


def test_eat_b_into_an_empty_folder(make_repo: Any, tmp_path: Path) -> None:
    _repo, model, commit = _project(make_repo, tmp_path)
    target = tmp_path / "clone"
    jellyml("eat", str(model), "-c", str(target), "-b", "old")
    head = subprocess.run(
        ["git", "symbolic-ref", "--short", "HEAD"], cwd=target, capture_output=True, text=True
    )
    assert head.stdout.strip() == "old"
    assert (
        subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=target, capture_output=True, text=True
        ).stdout.strip()
        == commit
    )


def _undo_branch(repo: Any, name: str, *, unique: bool, when: str = "1700000000 +0000") -> str:
    """A jellyml-undo-* branch: one commit of its own (``unique``) or the tip of main."""
    if not unique:
        repo.git("branch", name, "main")
        return repo.git("rev-parse", name)
    tree = repo.git("rev-parse", "main^{tree}")
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    proc = subprocess.run(
        ["git", "commit-tree", tree, "-p", "main", "-m", f"work {name}"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    repo.git("update-ref", f"refs/heads/{name}", proc.stdout.strip())
    return proc.stdout.strip()


def _branches(repo: Any) -> list[str]:
    return repo.git(
        "for-each-ref", "--format=%(refname:short)", "refs/heads/jellyml-undo-*"
    ).split()


def test_clean_undo_branches_never_deletes_unique_commits(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo(BASE)
    _undo_branch(repo, "jellyml-undo-1-merged", unique=False)
    mine = _undo_branch(repo, "jellyml-undo-2-mine", unique=True)
    shared = _undo_branch(repo, "jellyml-undo-3-shared", unique=True)
    repo.git("branch", "keep-shared", shared)
    # Two undo branches at one unique commit: one may go, never both.
    twin = _undo_branch(repo, "jellyml-undo-4-twin", unique=True)
    repo.git("branch", "jellyml-undo-5-twin", twin)
    listed = _branches(repo)

    out = jellyml("fix", "clean-undo-branches", "--dry-run", cwd=repo.path)
    assert _branches(repo) == listed  # dry run: nothing deleted
    assert "Would delete" in out.stdout and "jellyml-undo-2-mine" in out.stdout

    out = jellyml("fix", "clean-undo-branches", cwd=repo.path)
    left = _branches(repo)
    assert "jellyml-undo-2-mine" in left and repo.git("rev-parse", "jellyml-undo-2-mine") == mine
    assert "jellyml-undo-1-merged" not in left and "jellyml-undo-3-shared" not in left
    assert len([b for b in left if b.endswith("twin")]) == 1
    assert "1 commit on no other branch" in out.stdout
    for branch in _branches(repo):  # whatever is left holds commits of its own
        count = repo.git(
            "rev-list", "--count", branch, "--not", f"--exclude={branch}", "--branches"
        )
        assert int(count) >= 1


def test_clean_undo_branches_older_than(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo(BASE)
    old = _undo_branch(repo, "jellyml-undo-old", unique=True)
    repo.git("branch", "has-old", old)
    import time

    now = f"{int(time.time())} +0000"
    new = _undo_branch(repo, "jellyml-undo-new", unique=True, when=now)
    repo.git("branch", "has-new", new)
    out = jellyml("fix", "clean-undo-branches", "--older-than", "30", cwd=repo.path)
    assert _branches(repo) == ["jellyml-undo-new"]
    assert "Left 1 newer undo branch" in out.stdout
    out = jellyml("fix", "clean-undo-branches", "--older-than", "soon", cwd=repo.path, check=2)
    assert "not a number of days" in out.stderr


def test_undo_suggests_cleaning_many_undo_branches(make_repo: Any, tmp_path: Path) -> None:
    repo, model, _commit = _project(make_repo, tmp_path)
    for n in range(6):
        _undo_branch(repo, f"jellyml-undo-{n}", unique=True)
    jellyml("eat", str(model), cwd=repo.path)
    out = jellyml("undo", cwd=repo.path)
    assert "jellyml fix clean-undo-branches" in out.stdout
    _text, data = _status(repo)
    assert data["next_command"] == f"jellyml fix clean-undo-branches -c {repo.path}"
    assert len(data["undo_branches"]) == 6


@pytest.mark.parametrize(
    "argv", [["status", "-c"], ["undo", "-c"], ["undo", "--worktree"], ["status", "--json", "-c"]]
)
def test_a_folder_that_does_not_exist_is_said_so(tmp_path: Path, argv: list[str]) -> None:
    """Not as its nearest existing parent (which git looked in) being no repository."""
    missing = tmp_path / "gone" / "project"
    proc = jellyml(*argv, str(missing), cwd=tmp_path, check=None)
    assert proc.returncode == 1, proc
    assert proc.stderr == f"error: {missing} does not exist. Check the path.\n"
    assert not (tmp_path / "gone").exists()
