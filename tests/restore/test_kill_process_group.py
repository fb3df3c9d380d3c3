"""Issue 10, item 2: kill -9 of the whole process group (git included), then `jellyml undo` alone.

``timeout -s KILL``, the OOM killer or a lost node kill git in the middle of a checkout, which
leaves git's own ``.git/index.lock``; recovery must deal with it and say what it did.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_runner import crashing

from kit.checkpoints import make_model
from kit.cli import jellyml
from kit.files import identity, sparse_file
from kit.repos import user_state

BASE = {"model.py": "v1\n", "config.yaml": "epochs: 3\n", "pkg/mod.py": "m\n"}


def _setup(make_repo, tmp_path, files: int = 0, in_the_way: str = ""):
    """A repository with every kind of uncommitted work and a checkpoint of the same project
    (with ``in_the_way`` committed in it: a file the user's tree ignores)."""
    extra = {f"data/f{n:04}.txt": f"{n}\n" for n in range(files)}
    repo = make_repo({**BASE, **extra, ".gitignore": "*.log\n"})
    source = tmp_path / "source"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(source)], check=True)
    (source / "model.py").write_text("snapshot version\n")
    (source / "pkg" / "mod.py").unlink()
    (source / "pkg" / "mod.py").mkdir()  # a file becomes a folder
    (source / "pkg" / "mod.py" / "x.py").write_text("x\n")
    if in_the_way:
        (source / in_the_way).write_text("the snapshot's own\n")
        subprocess.run(["git", "add", "-f", in_the_way], cwd=source, check=True)
    model = tmp_path / "m.pth"
    commit = make_model(source, model)
    repo.write("model.py", "staged\n")
    repo.git("add", "model.py")
    repo.write("model.py", "staged, then edited\n")
    repo.write("config.yaml", "unstaged\n")
    repo.write("untracked/deep/file.txt", "untracked\n")
    repo.write(".env", "SECRET=1\n")
    repo.write("run.log", "ignored, never touched\n")
    return repo, model, commit


def _leave_index_lock(repo) -> Path:
    """What git killed mid-checkout leaves: a fresh .git/index.lock."""
    lock = repo.path / ".git" / "index.lock"
    lock.write_bytes(b"DIRC half written")
    return lock


@pytest.mark.parametrize("point", ["eat:untracked-removed", "eat:checked-out"])
def test_index_lock_left_by_a_killed_eat_is_removed_and_said(make_repo, tmp_path, point):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    assert crashing("eat", str(model), cwd=repo.path, CRASH_KILL_AT=point).returncode == -9
    lock = _leave_index_lock(repo)
    proc = jellyml("undo", cwd=repo.path)
    assert f"Removed {lock}" in proc.stderr.replace("\n", " ")
    assert not lock.exists()
    assert user_state(repo) == before


def test_index_lock_left_by_a_killed_undo_is_removed(make_repo, tmp_path):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    proc = crashing("undo", cwd=repo.path, CRASH_KILL_AT="undo:untracked-removed")
    assert proc.returncode == -9
    lock = _leave_index_lock(repo)
    assert "Removed" in jellyml("undo", cwd=repo.path).stderr
    assert not lock.exists()
    assert user_state(repo) == before


@pytest.mark.parametrize("name", ["HEAD.lock", "refs/heads/main.lock", "packed-refs.lock"])
def test_other_git_locks_left_by_a_killed_undo_are_removed(make_repo, tmp_path, name):
    repo, model, _commit = _setup(make_repo, tmp_path)
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    proc = crashing("undo", cwd=repo.path, CRASH_KILL_AT="undo:worktree-restored")
    assert proc.returncode == -9
    lock = repo.path / ".git" / name
    lock.write_text("left by a killed git\n")
    out = jellyml("undo", cwd=repo.path)
    assert f"Removed {lock}" in out.stderr.replace("\n", " ")
    assert not lock.exists()
    assert user_state(repo) == before


def test_older_index_lock_is_not_ours_to_remove(make_repo, tmp_path):
    """A lock older than the interrupted eat was not left by it: named, never deleted."""
    repo, model, _commit = _setup(make_repo, tmp_path)
    assert crashing("eat", str(model), cwd=repo.path, CRASH_KILL_AT="eat:recorded").returncode
    lock = _leave_index_lock(repo)
    old = time.time() - 3600
    os.utime(lock, (old, old))
    proc = jellyml("undo", cwd=repo.path, check=1)
    assert str(lock) in proc.stderr and "another git command" in proc.stderr
    assert lock.exists()
    lock.unlink()
    jellyml("undo", cwd=repo.path)


def test_eat_refuses_while_git_holds_the_index(make_repo, tmp_path):
    repo, model, _commit = _setup(make_repo, tmp_path)
    lock = _leave_index_lock(repo)
    before = repo.state()
    proc = jellyml("eat", str(model), cwd=repo.path, check=1)
    assert str(lock) in proc.stderr and "nothing was changed" in proc.stderr
    assert repo.state() == before


def _killed_at_random(argv: list[str], cwd: Path, delay: float) -> int:
    """Run the CLI in a session of its own and SIGKILL the whole group (git included) after
    ``delay`` seconds, unless it finished first. Returns its exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jellyml", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def _timed(argv: list[str], cwd: Path) -> float:
    start = time.monotonic()
    jellyml(*argv, cwd=cwd)
    return time.monotonic() - start


def _extra_undo_branches(before: str, after: str) -> list[str]:
    """Branches ``after`` has and ``before`` has not, all of them ``jellyml-undo-*``."""
    extra = set(after.splitlines()) - set(before.splitlines())
    names = [line.split()[0][len("refs/heads/") :] for line in extra]
    assert all(n.startswith("jellyml-undo-") for n in names), names
    return names


def _kill_loop(repo, model, runs: int, big: int = 0) -> None:
    """``runs`` times: eat (or eat, then undo) killed with its whole process group at a random
    moment within the measured duration of the command; `jellyml undo` alone then gives the
    user's work back exactly, every time. ``big``: files that large are compared by identity
    (same inode, mode, mtime, size), never read."""
    state = (lambda: user_state(repo, big=big)) if big else (lambda: user_state(repo))
    before = state()
    # The faster of two runs: a run slowed by a busy machine would put most kills after the end.
    eat_time = undo_time = float("inf")
    for _ in range(2):
        eat_time = min(eat_time, _timed(["eat", str(model)], repo.path))
        undo_time = min(undo_time, _timed(["undo"], repo.path))
    assert state() == before
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for run in range(runs):
        if run % 2 == 0:
            delay = rng.uniform(0, eat_time * 1.1)
            status = _killed_at_random(["eat", str(model)], repo.path, delay)
        else:
            jellyml("eat", str(model), cwd=repo.path)
            delay = rng.uniform(0, undo_time * 1.1)
            status = _killed_at_random(["undo"], repo.path, delay)
        outcomes.append(status)
        recovery = jellyml("undo", cwd=repo.path, check=None)
        assert recovery.returncode == 0, (seed, run, delay, recovery.stderr)
        assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout, (seed, run)
        after = state()
        if status == -signal.SIGKILL:
            # git killed while writing a file (eat's checkout, undo's restore) leaves it
            # half-written; the recovery cannot tell it from an edit of the user's, so it keeps
            # it on a branch (docs/CLI.md says so): allowed, never required, and the user's work
            # must still be back exactly.
            kept = _extra_undo_branches(before["branches"], after["branches"])
            for name in kept:
                repo.git("branch", "-D", name)
            after["branches"] = state()["branches"]
        assert after == before, (seed, run, delay)
        assert not (repo.path / ".git" / "index.lock").exists()
        assert not (repo.path / ".git" / "jellyml").exists(), (seed, run)
    assert outcomes.count(-signal.SIGKILL) >= runs // 3, (seed, outcomes)  # most were killed


@pytest.mark.slow
def test_kill_the_process_group_at_random_moments(make_repo, tmp_path):
    """30 runs on a 300-file repository with every kind of uncommitted work."""
    repo, model, _commit = _setup(make_repo, tmp_path, files=300)
    _kill_loop(repo, model, runs=30)


@pytest.mark.slow
def test_kill_the_process_group_with_large_files(make_repo, tmp_path):
    """Issue 17: the same, with the files of an ML project around: a 200 MB untracked
    checkpoint and 200 MB of ignored runs (left in place), a 50 MB ignored file where the
    snapshot has one (moved aside and back), and untracked files a snapshot would carry (moved
    aside and back), so that kills land during the renames too. The large files keep their
    inode every time: nothing copied them, nothing lost them."""
    repo, model, _commit = _setup(make_repo, tmp_path, files=100, in_the_way="data.log")
    kept = [
        sparse_file(repo.path / "outputs" / "big.ckpt", 200 << 20),
        sparse_file(repo.path / "run.log", 200 << 20),
        sparse_file(repo.path / "data.log", 50 << 20),
    ]
    for n in range(40):
        repo.write(f"scratch/idea{n:02}.py", f"# idea {n}\n")
    mine = {p: identity(p) for p in kept}
    _kill_loop(repo, model, runs=20, big=1 << 20)
    assert {p: identity(p) for p in kept} == mine
