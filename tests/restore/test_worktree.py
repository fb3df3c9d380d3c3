"""``eat --worktree DIR`` and ``undo --worktree DIR`` (issue 18): a snapshot beside the user's
own work, in a linked worktree, through the installed CLI in real repositories.

Also checks the git 2.39 facts ``jellyml.gitcore.worktree`` relies on: a new worktree inherits
sparse-checkout patterns (and would lack files), and nothing keeps a removed worktree's commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from crash_runner import crashing

from jellyml.restore.crash import WORKTREE_POINTS
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml
from kit.repos import user_state

KILLED = -signal.SIGKILL
BASE = {
    "model.py": "layers = 2\n",
    "train.py": "lr = 0.1\n",
    "docs/guide.md": "# guide\n",
    "data/prep.py": "prep = 1\n",
    ".gitignore": "*.log\nruns/\n",
}


def _snapshot(make_repo: Any, tmp_path: Path) -> tuple[Any, Path, str]:
    """A repository and a model whose (dirty) snapshot was made from it: its code then."""
    repo = make_repo(BASE, name="project")
    repo.write("model.py", "layers = 3\n")
    repo.write("notes.txt", "untracked, in the snapshot\n")
    model = tmp_path / "model.pth"
    commit = make_model(repo.path, model)
    repo.git("checkout", "-q", "--", "model.py")
    (repo.path / "notes.txt").unlink()
    return repo, model, commit


def _everything(repo: Any) -> dict[str, Any]:
    """What the user sees of their worktree, byte for byte: files, HEAD, index, stash,
    branches, status; and what git knows of worktrees and jellyml's refs."""
    return {
        **user_state(repo),
        "porcelain": repo.git("status", "--porcelain=v2", "--branch", "--untracked-files=all"),
        "index_bytes": hashlib.sha256((repo.path / ".git" / "index").read_bytes()).hexdigest(),
        "worktrees": repo.git("worktree", "list", "--porcelain"),
        "jellyml_refs": repo.git("for-each-ref", "refs/jellyml"),
        "all_refs": repo.git("for-each-ref", "--format=%(refname) %(objectname)"),
    }


def _files(folder: Path) -> dict[str, bytes]:
    found = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            full = Path(root) / name
            if name == ".git":
                continue
            found[str(full.relative_to(folder))] = full.read_bytes()
    return found


def _snapshot_files(model: Path, cwd: Path) -> dict[str, bytes]:
    """Every file ``jellyml ls`` lists, with ``jellyml cat``'s bytes."""
    names = jellyml("ls", "-z", str(model), cwd=cwd).stdout.split("\0")
    out = {}
    for name in filter(None, names):
        proc = subprocess.run(
            [*cli_command(), "cat", str(model), name], cwd=cwd, capture_output=True, check=True
        )
        out[name] = proc.stdout
    return out


def test_worktree_leaves_a_dirty_sparse_merging_repo_with_a_submodule_exactly(
    make_repo: Any, tmp_path: Path
) -> None:
    repo, model, commit = _snapshot(make_repo, tmp_path)
    # A submodule, a merge in progress, sparse checkout dropping folders, a stash, dirty work.
    lib = make_repo({"lib.py": "x = 1\n"}, name="lib")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "lib")
    repo.commit_all("add lib")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("side.txt", "side\n")
    repo.commit_all("side")
    repo.git("checkout", "-q", "main")
    repo.write("train.py", "lr = 0.5\n")
    repo.git("stash", "-q")
    repo.git("merge", "--no-commit", "--no-ff", "-q", "side")
    repo.git("sparse-checkout", "set", "--no-cone", "/*.py", "/.gitignore", "/*.txt")
    repo.write("model.py", "layers = 9\n")  # unstaged
    repo.write("todo.txt", "mine\n")  # untracked
    repo.write("train.log", "ignored\n")
    assert (repo.path / ".git" / "MERGE_HEAD").exists()
    assert not (repo.path / "docs").exists()
    before = _everything(repo)

    target = tmp_path / "beside"
    out = jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    assert "new worktree" in out.stdout and "not touched" in out.stdout
    assert _everything(repo) == {
        **before,
        "worktrees": repo.git("worktree", "list", "--porcelain"),
        "jellyml_refs": repo.git("for-each-ref", "refs/jellyml"),
        "all_refs": repo.git("for-each-ref", "--format=%(refname) %(objectname)"),
    }
    # Every file of the snapshot, with its bytes, though the user's checkout is sparse.
    assert _files(target) == _snapshot_files(model, repo.path)
    assert git_in(target, "rev-parse", "HEAD") == commit
    assert git_in(target, "status", "--porcelain") == ""
    listing = repo.git("worktree", "list", "--porcelain")
    assert f"worktree {target}" in listing
    assert f"locked jellyml: snapshot of {model}" in listing
    refs = repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/jellyml")
    assert refs.endswith(f"/worktree {commit}") and len(refs.splitlines()) == 1
    # `git worktree prune` leaves a locked worktree, even with its folder gone for a while.
    repo.git("worktree", "prune")
    assert f"worktree {target}" in repo.git("worktree", "list", "--porcelain")

    out = jellyml("undo", "--worktree", str(target), cwd=repo.path)
    assert "Removed the worktree" in out.stdout
    assert not target.exists()
    assert _everything(repo) == before
    repo.git("-c", "gc.reflogExpire=now", "gc", "-q", "--prune=now")
    assert subprocess.run(["git", "cat-file", "-e", commit], cwd=repo.path).returncode != 0


def git_in(folder: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_old_style_sparse_checkout_is_turned_off_there_only(make_repo: Any, tmp_path: Path) -> None:
    """core.sparseCheckout set by hand (no extensions.worktreeConfig): jellyml turns that
    extension on to turn sparse checkout off in the new worktree, and off again on undo."""
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    repo.git("config", "core.sparseCheckout", "true")
    repo.write(".git/info/sparse-checkout", "/*.py\n")
    repo.git("read-tree", "-mu", "HEAD")
    assert not (repo.path / "docs").exists()
    config = (repo.path / ".git" / "config").read_bytes()
    before = _everything(repo)
    target = tmp_path / "wt"
    jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    assert _files(target) == _snapshot_files(model, repo.path)
    assert not (repo.path / "docs").exists()
    jellyml("undo", "--worktree", str(target), cwd=repo.path)
    assert (repo.path / ".git" / "config").read_bytes() == config
    assert _everything(repo) == before


def test_git_alone_would_lose_files_of_a_sparse_repository(make_repo: Any, tmp_path: Path) -> None:
    """Why the worktree is added with --no-checkout and sparse checkout turned off there."""
    repo = make_repo(BASE)
    repo.git("sparse-checkout", "set", "--no-cone", "/*.py")
    repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "plain"), "HEAD")
    assert not (tmp_path / "plain" / "docs" / "guide.md").exists()


@pytest.mark.parametrize("branch", [None, "old-model"])
def test_undo_inside_the_worktree_and_a_branch(make_repo: Any, tmp_path: Path, branch: Any) -> None:
    repo, model, commit = _snapshot(make_repo, tmp_path)
    before = _everything(repo)
    target = tmp_path / "wt"
    extra = ["-b", branch] if branch else []
    jellyml("eat", str(model), "--worktree", str(target), *extra, cwd=repo.path)
    head = git_in(target, "symbolic-ref", "-q", "--short", "HEAD") if branch else None
    assert head == branch
    assert git_in(target, "rev-parse", "HEAD") == commit
    status = json.loads(jellyml("status", "--json", cwd=repo.path).stdout)
    assert [w["path"] for w in status["worktrees"]] == [str(target)]
    assert status["worktrees"][0]["branch"] == branch
    assert status["next_command"] == f"jellyml undo --worktree {target}"
    if branch:  # a commit on the worktree's branch is not lost by removing the worktree
        (target / "model.py").write_text("layers = 4\n")
        git_in(target, "commit", "-qam", "tried 4 layers")
    out = jellyml("undo", cwd=target)
    assert "Removed the worktree" in out.stdout
    assert not target.exists()
    after = _everything(repo)
    if branch:
        assert repo.git("log", "-1", "--format=%s", branch) == "tried 4 layers"
        assert f"Branch {branch}" in out.stdout
        after["branches"] = before["branches"]
        after["all_refs"] = before["all_refs"]
    assert after == before
    assert "Nothing of jellyml's is active" in jellyml("status", cwd=repo.path).stdout


def test_undo_refuses_a_worktree_with_changes_unless_forced(make_repo: Any, tmp_path: Path) -> None:
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    target = tmp_path / "wt"
    jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    (target / "train.py").write_text("lr = 0.9\n")
    (target / "result.csv").write_text("acc,0.9\n")
    inside = _files(target)
    out = jellyml("undo", "--worktree", str(target), cwd=repo.path, check=1)
    assert "holds uncommitted changes and 1 untracked file" in out.stderr
    assert "--force" in out.stderr and "Traceback" not in out.stderr
    assert _files(target) == inside  # nothing changed
    out = jellyml("undo", "--worktree", str(target), "--force", cwd=repo.path)
    assert not target.exists()
    (kept,) = repo.git(
        "for-each-ref", "--format=%(refname:short)", "refs/heads/jellyml-undo-*"
    ).split()
    assert kept in out.stderr
    assert repo.git("show", f"{kept}:train.py") == "lr = 0.9"
    assert repo.git("show", f"{kept}:result.csv") == "acc,0.9"
    assert repo.git("for-each-ref", "refs/jellyml") == ""
    assert str(target) not in repo.git("worktree", "list")


def test_refusals_change_nothing(make_repo: Any, tmp_path: Path) -> None:
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine\n")
    repo.git("branch", "taken")
    before = _everything(repo)
    cases = [
        (["--worktree", str(full)], "not empty"),
        (["--worktree", str(repo.path / "beside")], "not ignored"),
        (["--worktree", str(repo.path / ".git" / "wt")], "git folder"),
        (["--worktree", str(tmp_path / "new"), "-b", "taken"], "already exists"),
        (["--worktree", str(tmp_path / "new2"), "-b", "bad..name"], "not a valid branch name"),
        (["-b", "taken"], "already exists"),
        (["--worktree", str(tmp_path / "two\nlines")], "characters jellyml does not record"),
    ]
    for options, reason in cases:
        out = jellyml("eat", str(model), *options, cwd=repo.path, check=1)
        assert reason in out.stderr, (options, out.stderr)
        assert "nothing was changed" in out.stderr and "Traceback" not in out.stderr
        assert _everything(repo) == before
    assert _files(full) == {"keep.txt": b"mine\n"}
    assert not (tmp_path / "new").exists() and not (repo.path / "beside").exists()
    out = jellyml("undo", "--worktree", str(full), cwd=repo.path, check=1)
    assert "is not a worktree made by `jellyml eat --worktree`" in out.stderr
    assert _everything(repo) == before


def test_an_ignored_folder_inside_the_tree_is_allowed(make_repo: Any, tmp_path: Path) -> None:
    repo, model, commit = _snapshot(make_repo, tmp_path)
    (repo.path / "runs").mkdir()  # ignored by runs/, and empty: it stays, empty
    before = _everything(repo)
    jellyml("eat", str(model), "--worktree", str(repo.path / "runs"), cwd=repo.path)
    assert git_in(repo.path / "runs", "rev-parse", "HEAD") == commit
    assert repo.git("status", "--porcelain=v2", "--branch") == before["porcelain"]
    jellyml("undo", "--worktree", "runs", cwd=repo.path)
    assert (repo.path / "runs").is_dir() and not os.listdir(repo.path / "runs")
    assert _everything(repo) == before


def test_worktree_outside_a_repository_is_a_clone(make_repo: Any, tmp_path: Path) -> None:
    _repo, model, commit = _snapshot(make_repo, tmp_path)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    target = tmp_path / "fresh"
    out = jellyml("eat", str(model), "--worktree", str(target), cwd=nowhere)
    assert "Cloned the snapshot" in out.stdout
    assert git_in(target, "rev-parse", "HEAD") == commit
    assert _files(target) == _snapshot_files(model, nowhere)
    assert os.listdir(nowhere) == []


def test_recurse_submodules(make_repo: Any, tmp_path: Path) -> None:
    lib = make_repo({"lib.py": "x = 1\n"}, name="lib")
    repo = make_repo(BASE, name="project")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "lib")
    repo.commit_all("add lib")
    model = tmp_path / "model.pth"
    make_model(repo.path, model)
    plain = tmp_path / "plain"
    jellyml("eat", str(model), "--worktree", str(plain), cwd=repo.path)
    assert (plain / "lib").is_dir() and not os.listdir(plain / "lib")  # not initialised
    # git 2.39 refuses file:// submodules by default: the failure is said, the eat stands.
    deep = tmp_path / "deep"
    out = jellyml("eat", str(model), "--worktree", str(deep), "--recurse-submodules", cwd=repo.path)
    assert "may need the network" in out.stderr
    allowed = tmp_path / "allowed"
    env = {"GIT_ALLOW_PROTOCOL": "file"}
    argv = ["eat", str(model), "--worktree", str(allowed), "--recurse-submodules"]
    jellyml(*argv, cwd=repo.path, env=env)
    assert (allowed / "lib" / "lib.py").read_text() == "x = 1\n"
    for folder in (plain, deep, allowed):
        jellyml("undo", "--worktree", str(folder), "--force", cwd=repo.path)
    assert repo.git("worktree", "list").count("\n") == 0


def test_api_worktree(make_repo: Any, tmp_path: Path) -> None:
    from jellyml.eat import EatArgsWithModel, eat
    from jellyml.undo import UndoArgs, undo

    repo, model, commit = _snapshot(make_repo, tmp_path)
    before = _everything(repo)
    target = tmp_path / "api"
    assert eat(EatArgsWithModel(str(model), code_dir=str(repo.path)), worktree=str(target)) == 0
    assert git_in(target, "rev-parse", "HEAD") == commit
    assert undo(UndoArgs(code_dir=str(repo.path)), worktree=str(target)) == 0
    assert not target.exists()
    assert _everything(repo) == before


@pytest.mark.parametrize("point", WORKTREE_POINTS)
def test_kill_at_every_step_then_undo_removes_everything(
    make_repo: Any, tmp_path: Path, point: str
) -> None:
    """kill -9 anywhere in eat --worktree or undo --worktree: `jellyml undo --worktree DIR`
    then leaves the repository as it was, and status says what is pending meanwhile."""
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    repo.write("train.py", "lr = 0.7\n")
    before = _everything(repo)
    target = tmp_path / "wt"
    killed = point != "worktree:removing"
    eat = crashing("eat", str(model), "--worktree", str(target), cwd=repo.path, CRASH_KILL_AT=point)
    assert eat.returncode == (KILLED if killed else 0), eat.stderr
    if not killed:
        undo = crashing("undo", "--worktree", str(target), cwd=repo.path, CRASH_KILL_AT=point)
        assert undo.returncode == KILLED
    status = json.loads(jellyml("status", "--json", cwd=repo.path).stdout)
    assert status["next_command"] == f"jellyml undo --worktree {target}"
    jellyml("undo", "--worktree", str(target), cwd=repo.path)
    assert not target.exists()
    assert _everything(repo) == before
    assert "Nothing of jellyml's is active" in jellyml("status", cwd=repo.path).stdout


def test_every_worktree_crash_point_is_reached(make_repo: Any, tmp_path: Path) -> None:
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    log = tmp_path / "points.log"
    target = str(tmp_path / "wt")
    assert (
        crashing(
            "eat", str(model), "--worktree", target, cwd=repo.path, CRASH_LOG=str(log)
        ).returncode
        == 0
    )
    assert crashing("undo", "--worktree", target, cwd=repo.path, CRASH_LOG=str(log)).returncode == 0
    assert tuple(log.read_text().split()) == WORKTREE_POINTS


def test_a_shallow_snapshot_gets_the_same_commit_where_its_base_is(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo(BASE, name="project")
    repo.write("model.py", "layers = 3\n")
    base = repo.git("rev-parse", "HEAD")
    full, thin = tmp_path / "full.pth", tmp_path / "thin.pth"
    commit = make_model(repo.path, full, history="full")
    assert make_model(repo.path, thin, history="shallow") == commit
    repo.git("checkout", "-q", "--", "model.py")
    target = tmp_path / "wt"
    out = jellyml("eat", str(thin), "--worktree", str(target), cwd=repo.path)
    assert "no history" not in out.stderr
    assert git_in(target, "rev-parse", "HEAD") == commit
    assert git_in(target, "rev-parse", "HEAD^") == base
    assert _files(target) == _snapshot_files(full, repo.path)
    jellyml("undo", "--worktree", str(target), cwd=repo.path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"path": "relative/dir"}, "not an absolute path"),
        ({"path": "/tmp/../etc"}, "not an absolute path"),
        ({"ref_prefix": "refs/heads"}, "outside refs/jellyml"),
        ({"state": "gone"}, "unknown state"),
        ({"commit": "HEAD"}, "not a commit id"),
        ({"branch": "-x"}, "not a branch name"),
        ({"extra": 1}, "unknown fields"),
        ({"made_folder": "yes"}, "wrong type"),
    ],
)
def test_a_crafted_worktree_record_is_refused(
    make_repo: Any, tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    """The history file is untrusted: a worktree record naming a path or ref jellyml never
    writes is refused in one line, and nothing is removed."""
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    target = tmp_path / "wt"
    jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    path = Path(jellyml("fix", "get-history-path", cwd=repo.path).stdout.strip())
    data = json.loads(path.read_text())
    data["worktrees"][0].update(change)
    path.write_text(json.dumps(data))
    before = _everything(repo)
    for argv in (["status"], ["undo", "--worktree", str(target)]):
        out = jellyml(*argv, cwd=repo.path, check=1)
        assert reason in out.stderr and "clear-history" in out.stderr
        assert "Traceback" not in out.stderr
    assert _everything(repo) == before and (target / "model.py").exists()


def test_a_worktree_git_forgot_is_never_deleted(make_repo: Any, tmp_path: Path) -> None:
    """Its files cannot be kept on a branch once git's record of the worktree is gone: undo
    refuses, even with --force, until they are moved out; then it removes the rest."""
    repo, model, _commit = _snapshot(make_repo, tmp_path)
    target = tmp_path / "wt"
    jellyml("eat", str(model), "--worktree", str(target), cwd=repo.path)
    admin = Path(git_in(target, "rev-parse", "--absolute-git-dir"))
    subprocess.run(["rm", "-rf", str(admin)], check=True)
    inside = _files(target)
    out = jellyml("undo", "--worktree", str(target), "--force", cwd=repo.path, check=1)
    assert "no longer knows as a worktree" in out.stderr and "Move it out" in out.stderr
    assert _files(target) == inside
    for name in os.listdir(target):
        if name != ".git":
            subprocess.run(["rm", "-rf", str(target / name)], check=True)
    jellyml("undo", "--worktree", str(target), cwd=repo.path)
    assert not target.exists()
    assert repo.git("for-each-ref", "refs/jellyml") == ""
