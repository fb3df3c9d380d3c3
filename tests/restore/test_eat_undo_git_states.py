"""eat and undo meet what users do with git in between: operations half done (rebase,
cherry-pick, revert, bisect, am), a branch moved or deleted after the eat, and an ignored file
standing where undo would put the user's work back."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.repos import user_state

BASE = {"model.py": "def model():\n    return 'v1'\n", "config.yaml": "epochs: 3\n"}


def _model(make_repo, tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    source = make_repo({**BASE, **files}, name="source")
    model = tmp_path / "m.pth"
    return model, make_model(source.path, model)


def _without_objects(git_dir_state: dict[str, str]) -> dict[str, str]:
    """Every file under .git but the object store (saving work writes objects, nothing else)."""
    return {k: v for k, v in git_dir_state.items() if not k.startswith("objects/")}


# --- an operation half done: eat refuses and changes nothing --------------------------------


def _diverged(make_repo):
    """main and topic both changed model.py's line since BASE: any replay of one onto the
    other stops on a conflict."""
    repo = make_repo(BASE)
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("model.py", "def model():\n    return 'topic'\n")
    repo.commit_all("topic")
    repo.git("checkout", "-q", "main")
    repo.write("model.py", "def model():\n    return 'main'\n")
    repo.commit_all("main")
    return repo


def _rebase(repo) -> None:
    repo.git("checkout", "-q", "topic")
    repo.git("rebase", "--merge", "main", check=False)


def _rebase_apply(repo) -> None:
    repo.git("checkout", "-q", "topic")
    repo.git("rebase", "--apply", "main", check=False)


def _am(repo) -> None:
    patch = repo.git("format-patch", "--stdout", "main..topic")
    repo.git("am", "-q", input=patch.encode() + b"\n", check=False)


def _cherry_pick(repo) -> None:
    repo.git("cherry-pick", "topic", check=False)


def _revert(repo) -> None:
    repo.write("model.py", "def model():\n    return 'later'\n")
    repo.commit_all("later")
    repo.git("revert", "--no-edit", "HEAD~1", check=False)


def _bisect(repo) -> None:
    repo.git("bisect", "start")


HALF_DONE = {
    "rebase": (_rebase, "rebase-merge", "rebase --abort"),
    "rebase or am": (_rebase_apply, "rebase-apply", "rebase --abort"),
    "am": (_am, "rebase-apply", "am --abort"),
    "cherry-pick": (_cherry_pick, "CHERRY_PICK_HEAD", "cherry-pick --abort"),
    "revert": (_revert, "REVERT_HEAD", "revert --abort"),
    "bisect": (_bisect, "BISECT_LOG", "bisect reset"),
}


@pytest.mark.parametrize("operation", list(HALF_DONE))
def test_eat_refuses_in_the_middle_of_an_operation(make_repo, tmp_path, operation):
    model, commit = _model(make_repo, tmp_path, {"snapshot.txt": "s\n"})
    repo = _diverged(make_repo)
    start, marker, abort = HALF_DONE[operation]
    start(repo)
    assert (repo.path / ".git" / marker).exists(), f"git did not stop in a {operation}"
    before = repo.state()
    proc = jellyml("eat", str(model), "--force", cwd=repo.path, check=1)
    shown = "rebase or am" if operation == "am" else operation  # git leaves the same folder
    assert f"is in the middle of a {shown}." in proc.stderr
    assert f"Finish or abort the {shown} first" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert repo.state() == before  # not one byte of .git, objects included
    # The operation, not anything else, was the reason: once it is aborted, eat goes ahead.
    repo.git(*abort.split())
    jellyml("eat", str(model), "--force", cwd=repo.path)
    assert repo.git("rev-parse", "HEAD") == commit
    jellyml("undo", cwd=repo.path)


# --- a branch moved or deleted between eat and undo -----------------------------------------


def _eaten(make_repo, tmp_path):
    model, commit = _model(make_repo, tmp_path, {"snapshot.txt": "s\n"})
    repo = make_repo(BASE)
    repo.write("model.py", "staged\n")
    repo.git("add", "model.py")
    repo.write("model.py", "staged, then edited\n")
    repo.write("notes.txt", "untracked\n")
    before = user_state(repo)
    jellyml("eat", str(model), "--force", cwd=repo.path)
    assert repo.git("rev-parse", "HEAD") == commit
    return repo, before


def test_branch_moved_between_eat_and_undo_is_left_where_the_user_put_it(make_repo, tmp_path):
    repo, before = _eaten(make_repo, tmp_path)
    # While the snapshot is checked out, a commit lands on main from a linked worktree.
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", str(linked), "main")
    (linked / "config.yaml").write_text("epochs: 5\n")
    repo.git("-C", str(linked), "commit", "-q", "-am", "committed elsewhere")
    repo.git("worktree", "remove", str(linked))
    moved_to = repo.git("rev-parse", "main")
    assert moved_to != before["head"]

    proc = jellyml("undo", cwd=repo.path)
    assert "Branch main moved since the eat; it was left where it is" in proc.stderr
    assert f"HEAD is detached at {before['head'][:7]}" in proc.stderr
    after = user_state(repo)
    assert repo.git("rev-parse", "main") == moved_to  # the new commit is not lost
    assert after["head"] == before["head"] and after["branch"] == ""  # detached at the old one
    for key in ("files", "index", "staged", "unstaged", "status", "stash"):
        assert after[key] == before[key], key  # the uncommitted work is back, split as it was
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert repo.git("for-each-ref", "refs/jellyml/") == ""


def test_branch_deleted_between_eat_and_undo_is_recreated(make_repo, tmp_path):
    repo, before = _eaten(make_repo, tmp_path)
    repo.git("branch", "-q", "-D", "main")
    proc = jellyml("undo", cwd=repo.path)
    assert "moved" not in proc.stderr
    assert user_state(repo) == before  # back on main, at the same commit, work as it was


# --- undo never overwrites a file written after the eat -----------------------------------


def test_file_written_after_eating_where_the_users_goes_back_is_kept_on_a_branch(
    make_repo, tmp_path
):
    # The snapshot ignores *.txt; the user's notes.txt (untracked, not ignored in their tree)
    # is put aside by eat. A new notes.txt made after eating is ignored by the snapshot's rules:
    # undo keeps it on the jellyml-undo branch, names it and how to get it back (issue 17;
    # it used to refuse).
    model, _commit = _model(make_repo, tmp_path, {".gitignore": "*.txt\n"})
    repo = make_repo(BASE)
    repo.write("notes.txt", "my notes, put aside by eat\n")
    repo.write("model.py", "edited\n")
    before = user_state(repo)
    jellyml("eat", str(model), "--force", cwd=repo.path)
    assert not (repo.path / "notes.txt").exists()
    repo.write("notes.txt", "written after eating, ignored\n")
    assert repo.git("status", "--porcelain") == ""  # git does not see it

    proc = jellyml("undo", cwd=repo.path)
    branch = repo.git("branch", "--list", "--format=%(refname:short)", "jellyml-undo-*")
    assert branch and "notes.txt" in proc.stderr and branch in proc.stderr
    assert f"git checkout {branch} -- notes.txt" in proc.stderr.replace("\n", " ")
    assert "Traceback" not in proc.stderr
    assert repo.git("show", f"{branch}:notes.txt") == "written after eating, ignored"
    after = user_state(repo)
    after["branches"] = before["branches"]
    assert after == before


# --- an operation started after the eat: undo refuses and changes nothing --------------------


@pytest.mark.parametrize(
    ("start", "shown", "abort"),
    [
        (["bisect", "start"], "bisect", ["bisect", "reset"]),
        (["merge", "--no-commit", "--no-ff", "side"], "merge", ["merge", "--abort"]),
    ],
)
def test_undo_refuses_while_an_operation_started_after_the_eat_is_half_done(
    make_repo, tmp_path, start, shown, abort
):
    # Issue 22, point 13.
    repo, before = _eaten(make_repo, tmp_path)
    head = repo.git("rev-parse", "HEAD")
    repo.git("branch", "side", head)
    repo.git("checkout", "-q", "side")
    repo.write("side.txt", "side\n")
    repo.commit_all("side")
    repo.git("checkout", "-q", "--detach", head)
    repo.git(*start)
    middle = repo.state()
    proc = jellyml("undo", cwd=repo.path, check=1)
    assert f"is in the middle of a {shown}." in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert repo.state() == middle
    repo.git(*abort)
    repo.git("checkout", "-q", "--detach", head)
    repo.git("branch", "-D", "side")
    jellyml("undo", cwd=repo.path)
    assert user_state(repo) == before
