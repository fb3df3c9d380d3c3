"""eat in a repository where git itself fails (issue 23, point 6): with ``submodule.recurse``
set and a committed ``.gitmodules`` naming ``update = !cmd`` for a submodule, ``git status``
and ``git checkout`` die. eat must refuse before it saves or removes anything, with git's
message, and never run the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.checkpoints import make_model
from kit.cli import jellyml, one_error_line
from kit.repos import user_state


def poisoned_repo(make_repo: Any, tmp_path: Path) -> tuple[Any, Path, Path]:
    """A repository with work in progress whose git configuration makes git fail; a model
    file of its first commit; the file the submodule command would create."""
    repo = make_repo({"train.py": "print(1)\n"})
    model = tmp_path / "first.pth"
    make_model(repo.path, model)
    marker = tmp_path / "PWNED"
    repo.write(
        ".gitmodules",
        f'[submodule "x"]\n\tpath = x\n\turl = https://example.com/x\n\tupdate = !touch {marker}\n',
    )
    head = repo.git("rev-parse", "HEAD")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{head},x")
    repo.commit_all("a submodule")
    repo.git("config", "submodule.recurse", "true")
    repo.write("train.py", "print(2)  # work in progress\n")
    repo.write("notes.txt", "untracked\n")
    return repo, model, marker


def test_eat_refuses_when_git_fails_and_changes_nothing(make_repo: Any, tmp_path: Path) -> None:
    repo, model, marker = poisoned_repo(make_repo, tmp_path)
    before = user_state(repo)
    proc = jellyml("eat", str(model), cwd=repo.path, check=None)
    err = one_error_line(proc, "submodule.x.update", "submodule.recurse", "nothing was changed")
    assert "Traceback" not in err
    assert not marker.exists()
    assert user_state(repo) == before
    assert repo.git("for-each-ref", "refs/jellyml") == ""
    # no eat was recorded: undo has nothing to undo, and says so
    undo = jellyml("undo", cwd=repo.path)
    assert "Nothing to undo" in undo.stdout
    assert user_state(repo) == before and not marker.exists()


def test_an_undo_blocked_by_configuration_names_the_setting(make_repo: Any, tmp_path: Path) -> None:
    repo, model, marker = poisoned_repo(make_repo, tmp_path)
    repo.git("config", "--unset", "submodule.recurse")
    jellyml("eat", str(model), cwd=repo.path)
    repo.git("config", "submodule.recurse", "true")  # set after the eat
    proc = jellyml("undo", cwd=repo.path, check=None)
    one_error_line(proc, "submodule.x.update")
    assert not marker.exists()
    repo.git("config", "--unset", "submodule.recurse")
    jellyml("undo", cwd=repo.path)
    assert (repo.path / "train.py").read_text() == "print(2)  # work in progress\n"
    assert (repo.path / "notes.txt").read_text() == "untracked\n"
