"""kill -9 at every step of eat and of undo, then recovery: nothing of the user's work is lost.

``crash_runner.py`` runs the CLI with a crash hook (``jellyml.restore.crash``) that SIGKILLs
the process at a given crash point; then ``jellyml undo`` must bring back exactly what the user had.
"""

from __future__ import annotations

import signal
import subprocess

import pytest
from crash_runner import crashing

from jellyml.gitcore.repo import find_repo
from jellyml.restore.common import history_of
from jellyml.restore.crash import POINTS as KILL_POINTS
from jellyml.restore.lock import repo_lock
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml
from kit.repos import user_state

BASE = {"model.py": "v1\n", "config.yaml": "epochs: 3\n", "pkg/mod.py": "m\n"}
KILLED = -signal.SIGKILL


def _setup(make_repo, tmp_path):
    source = make_repo({**BASE, ".gitignore": "*.log\n"}, name="source")  # the same project
    source.write("model.py", "snapshot version\n")
    source.write("pkg/mod.py", "snapshot mod\n")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    repo = make_repo({**BASE, ".gitignore": "*.log\n"})
    repo.write("model.py", "staged\n")
    repo.git("add", "model.py")
    repo.write("model.py", "staged, then edited\n")
    repo.git("rm", "-q", "--cached", "config.yaml")
    repo.write("pkg/mod.py", "unstaged\n")
    repo.write("untracked/deep/file.txt", "untracked\n")
    repo.write("notes.txt", "untracked too\n")  # eat:moving: one of the two moved, not both
    repo.write("run.log", "ignored, never touched\n")
    return repo, model, commit


def _jellyml_refs(repo) -> str:
    return repo.git("for-each-ref", "refs/jellyml/")


def test_every_crash_point_is_reached(make_repo, tmp_path):
    """An eat and an undo pass every crash point, in order: none of the kill tests below
    kills at a point that is never reached."""
    repo, model, _commit = _setup(make_repo, tmp_path)
    log = tmp_path / "points.log"
    assert crashing("eat", str(model), cwd=repo.path, CRASH_LOG=str(log)).returncode == 0
    assert crashing("undo", cwd=repo.path, CRASH_LOG=str(log)).returncode == 0
    assert tuple(log.read_text().split()) == KILL_POINTS


def test_the_shipped_cli_has_no_kill_switch(make_repo, tmp_path):
    """The variables the old kill switch read do nothing to the real command line."""
    repo, model, _commit = _setup(make_repo, tmp_path)
    env = {"JELLYML_TEST_KILL_AT": "eat:saved", "JELLYML_TEST_INTERRUPT_AT": "eat:saved"}
    jellyml("eat", str(model), cwd=repo.path, env=env)
    jellyml("undo", cwd=repo.path, env=env)


@pytest.mark.parametrize("step", [p for p in KILL_POINTS if p.startswith("eat:")])
def test_kill_during_eat_then_undo(make_repo, tmp_path, step):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    proc = crashing("eat", str(model), cwd=repo.path, CRASH_KILL_AT=step)
    assert proc.returncode == KILLED
    assert (repo.path / "run.log").read_text() == "ignored, never touched\n"
    jellyml("undo", cwd=repo.path)
    assert user_state(repo) == before  # no stray branch either: nothing was done after eating
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout


@pytest.mark.parametrize("step", [p for p in KILL_POINTS if p.startswith("eat:")][1:])
def test_eat_after_an_interrupted_eat_refuses(make_repo, tmp_path, step):
    repo, model, _commit = _setup(make_repo, tmp_path)
    assert crashing("eat", str(model), cwd=repo.path, CRASH_KILL_AT=step).returncode == KILLED
    middle = repo.state()
    proc = jellyml("eat", str(model), cwd=repo.path, check=1)
    assert "was interrupted" in proc.stderr and "jellyml undo" in proc.stderr
    assert repo.state() == middle


@pytest.mark.parametrize("step", [p for p in KILL_POINTS if p.startswith("undo:")])
@pytest.mark.parametrize("work_after", [False, True])
def test_kill_during_undo_then_undo_again(make_repo, tmp_path, step, work_after):
    repo, model, commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    assert repo.git("rev-parse", "HEAD") == commit
    if work_after:
        repo.write("model.py", "work after eating\n")
        repo.write("new_after.txt", "new after eating\n")
    proc = crashing("undo", cwd=repo.path, CRASH_KILL_AT=step)
    assert proc.returncode == KILLED
    jellyml("undo", cwd=repo.path)
    after = user_state(repo)
    branches = repo.git("branch", "--list", "--format=%(refname:short)", "jellyml-undo-*")
    if work_after:
        assert len(branches.split()) == 1, branches  # one branch, even across the two runs
        assert repo.git("show", f"{branches}:model.py") == "work after eating"
        # A new file in nobody's way stays where it was written (issue 17).
        assert after["files"].pop("new_after.txt") == ("file", b"new after eating\n")
        after["branches"] = before["branches"]
        after["status"] = before["status"]
    else:
        assert branches == ""
    assert after == before
    assert _jellyml_refs(repo) == ""


def test_eat_while_another_jellyml_holds_the_repo(make_repo, tmp_path):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = repo.state()
    found = find_repo(str(repo.path))
    assert found is not None
    with repo_lock(found, history_of(found)):
        proc = jellyml("eat", str(model), cwd=repo.path, check=1)
        undo = jellyml("undo", cwd=repo.path, check=1)
    assert "Another jellyml is changing" in proc.stderr
    assert "Another jellyml is changing" in undo.stderr
    assert repo.state() == before


def test_two_eats_at_once(make_repo, tmp_path):
    repo, model, _commit = _setup(make_repo, tmp_path)
    other = make_repo({"other.txt": "other\n"}, name="other-source")
    model_b = tmp_path / "b.pth"
    make_model(other.path, model_b)
    before = user_state(repo)
    procs = [
        subprocess.Popen(
            [*cli_command(), "eat", str(m), "--force"],
            cwd=repo.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in (model, model_b)
    ]
    results = [(p.wait(), p.communicate()[1]) for p in procs]
    for code, err in results:
        assert code == 0 or (code == 1 and "Another jellyml is changing" in err), err
    wins = sum(1 for code, _ in results if code == 0)
    assert wins >= 1
    for _ in range(wins):
        assert "Back on" in jellyml("undo", cwd=repo.path).stdout
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert user_state(repo) == before


@pytest.mark.parametrize(
    "step", ["eat:recorded", "eat:moving", "eat:untracked-removed", "eat:checked-out"]
)
def test_ctrl_c_during_eat_rolls_back_at_once(make_repo, tmp_path, step):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    proc = crashing("eat", str(model), cwd=repo.path, CRASH_INTERRUPT_AT=step)
    assert proc.returncode == 130
    assert "Interrupted" in proc.stderr
    assert user_state(repo) == before
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert _jellyml_refs(repo) == ""
