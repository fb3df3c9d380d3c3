"""Issue 17: eat and undo in a real ML repository. Outputs, data, checkpoints and secrets stay
where they are; eat puts aside exactly what a snapshot would carry.

Big files are sparse (``truncate``): their content does not matter, only that eat and undo leave
them alone (same inode, same mode, same mtime) and never copy them into ``.git``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jellyml.snapshot import snapshot_repo
from kit.checkpoints import make_model, snapshot_tensor
from kit.cli import jellyml
from kit.files import identity, sparse_file
from kit.repos import objects_size, user_state

MiB = 1 << 20
BASE = {"train.py": "lr = 0.1\n", "eval.py": "print('eval')\n", ".gitignore": "*.log\n"}
#: Files at least this large are compared by identity, never read.
BIG = MiB


def _project(make_repo, tmp_path: Path):
    """The user's repository and a checkpoint of its code as it was a while ago (train.py
    changed, uncommitted), made before the user added runs/ and wandb/ to .gitignore."""
    repo = make_repo(BASE)
    then = tmp_path / "then"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(then)], check=True)
    (then / "train.py").write_text("lr = 0.5  # the run that worked\n")
    model = tmp_path / "model.pth"
    commit = make_model(then, model)
    repo.write(".gitignore", "*.log\nruns/\nwandb/\n")
    repo.commit_all("ignore runs")
    return repo, model, commit


def _state(repo) -> dict:
    """``user_state``, with files of ``BIG`` bytes or more compared by identity, not read."""
    return user_state(repo, big=BIG)


def _ml_files(repo, size: int = 200 * MiB) -> dict[Path, tuple[int, int, int, int]]:
    """What an ML project has lying around: a big untracked checkpoint, an ignored runs/ folder,
    a secret, and a notes file (the one a snapshot would carry)."""
    paths = [
        sparse_file(repo.path / "outputs" / "big.ckpt", size),
        sparse_file(repo.path / "runs" / "exp1" / "events.bin", size, mode=0o640),
        repo.write(".env", "WANDB_API_KEY=hunter2-secret\n", mode=0o600),
    ]
    repo.write("notes.md", "what I tried\n")
    return {p: identity(p) for p in paths}


def _identities(kept: dict[Path, tuple[int, int, int, int]]) -> dict:
    return {p: identity(p) for p in kept}


def test_checkpoint_runs_and_secret_stay_untouched_through_eat_and_undo(make_repo, tmp_path):
    repo, model, commit = _project(make_repo, tmp_path)
    kept = _ml_files(repo)
    notes = identity(repo.path / "notes.md")
    before = _state(repo)
    out = jellyml("eat", str(model), cwd=repo.path).stdout
    assert repo.git("rev-parse", "HEAD") == commit
    assert (repo.path / "train.py").read_text() == "lr = 0.5  # the run that worked\n"
    assert _identities(kept) == kept  # same inode, mode, mtime: never moved, never read
    assert not (repo.path / "notes.md").exists()  # a snapshot would carry it: put aside
    flat = " ".join(out.split())
    assert "Put aside 1 untracked file (13 bytes)" in flat
    assert "Left in place 3 files and folders" in flat
    assert ".env" in flat and "outputs/big.ckpt" in flat and "runs/" in flat
    out = jellyml("undo", cwd=repo.path).stdout
    assert "Put back 1 untracked file (13 bytes)" in " ".join(out.split())
    assert _identities(kept) == kept
    assert identity(repo.path / "notes.md") == notes  # moved, not copied: the same file
    assert _state(repo) == before


def test_eaten_model_inside_the_repository_stays_readable(make_repo, tmp_path):
    repo, model, commit = _project(make_repo, tmp_path)
    inside = repo.path / "checkpoints" / "model.pth"
    inside.parent.mkdir()
    shutil.move(str(model), inside)
    mine = identity(inside)
    jellyml("eat", "checkpoints/model.pth", cwd=repo.path)
    assert identity(inside) == mine
    shown = json.loads(jellyml("show", "checkpoints/model.pth", "--json", cwd=repo.path).stdout)
    assert shown["commit"] == commit
    jellyml("undo", cwd=repo.path)
    assert identity(inside) == mine


def test_old_gitignore_and_eating_twice(make_repo, tmp_path):
    """The snapshot's .gitignore does not ignore runs/; the user's does. Their rules decide:
    runs/ stays, at eat, at a second eat of the same model (which does nothing) and at undo."""
    repo, model, _commit = _project(make_repo, tmp_path)
    runs = sparse_file(repo.path / "runs" / "exp1" / "events.bin", 200 * MiB)
    mine = identity(runs)
    before, size = _state(repo), objects_size(repo.path)
    jellyml("eat", str(model), cwd=repo.path)
    assert "?? runs/" in repo.git("status", "--porcelain")  # the snapshot's rules show it
    middle = repo.git_dir_state()
    out = jellyml("eat", str(model), cwd=repo.path).stdout
    assert "already checked out" in out
    assert repo.git_dir_state() == middle  # nothing at all was done
    assert identity(runs) == mine
    jellyml("undo", cwd=repo.path)
    assert identity(runs) == mine
    assert _state(repo) == before
    assert objects_size(repo.path) - size <= MiB


def test_eval_outputs_written_while_eaten_stay_on_disk(make_repo, tmp_path):
    repo, model, _commit = _project(make_repo, tmp_path)
    repo.write("train.py", "lr = 0.2  # mine, uncommitted\n")
    before = _state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    repo.write("eval_results.json", '{"acc": 0.93}\n')
    repo.write("plots/loss.png", b"\x89PNG fake")
    repo.write("eval.py", "print('eval, fixed')\n")  # an edit to a tracked file
    proc = jellyml("undo", cwd=repo.path)
    assert (repo.path / "eval_results.json").read_text() == '{"acc": 0.93}\n'
    assert (repo.path / "plots" / "loss.png").read_bytes() == b"\x89PNG fake"
    out = " ".join(proc.stdout.split())
    assert "written while the snapshot was checked out" in out
    assert "eval_results.json" in out and "plots/" in out
    branch = repo.git("branch", "--list", "--format=%(refname:short)", "jellyml-undo-*")
    err = " ".join(proc.stderr.split())
    assert f"git checkout {branch} -- eval.py" in err
    assert repo.git("show", f"{branch}:eval.py") == "print('eval, fixed')"
    assert "eval_results.json" not in repo.git("ls-tree", "-r", "--name-only", branch)
    for new in ("eval_results.json", "plots/loss.png"):
        (repo.path / new).unlink()
    (repo.path / "plots").rmdir()
    after = _state(repo)
    after["branches"] = before["branches"]
    assert after == before


def _objects_hold(repo, secret: bytes) -> bool:
    """Whether any object in the repository (loose or packed, reachable or not) holds
    ``secret``."""
    found = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo.path,
        capture_output=True,
        check=True,
    ).stdout
    return secret in found


def _world_readable_holding(git_dir: Path, secret: bytes) -> list[str]:
    """Files under ``git_dir`` that hold ``secret`` and that anyone could read (every folder on
    the way and the file itself readable by others)."""
    found = []
    for root, _dirs, files in os.walk(git_dir):
        for name in files:
            path = Path(root) / name
            if secret not in path.read_bytes():
                continue
            chain = [path, *list(path.parents)[: len(path.relative_to(git_dir).parts)]]
            if all(os.stat(p).st_mode & stat.S_IROTH for p in chain):
                found.append(str(path))
    return found


SECRET = b"hunter2-secret"


def test_secret_keeps_its_mode_and_never_reaches_git(make_repo, tmp_path):
    repo, model, _commit = _project(make_repo, tmp_path)
    env = repo.write(".env", b"WANDB_API_KEY=" + SECRET + b"\n", mode=0o600)
    mine = identity(env)
    jellyml("eat", str(model), cwd=repo.path)
    assert identity(env) == mine
    assert not _objects_hold(repo, SECRET)
    assert not _world_readable_holding(repo.path / ".git", SECRET)
    jellyml("undo", cwd=repo.path)
    assert identity(env) == mine and stat.S_IMODE(os.stat(env).st_mode) == 0o600
    assert not _objects_hold(repo, SECRET)


def test_secret_in_the_snapshots_way_is_put_aside_privately(make_repo, tmp_path):
    """The snapshot tracks a .env of its own: the user's goes aside, into a folder only its
    owner can enter, keeping its mode, and comes back the same file."""
    repo = make_repo(BASE)
    then = tmp_path / "then"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(then)], check=True)
    (then / ".env").write_text("PLACEHOLDER=1\n")
    subprocess.run(["git", "add", "-f", ".env"], cwd=then, check=True)
    subprocess.run(["git", "commit", "-qm", "example env"], cwd=then, check=True)
    model = tmp_path / "model.pth"
    make_model(then, model)
    env = repo.write(".env", b"WANDB_API_KEY=" + SECRET + b"\n", mode=0o600)
    mine = identity(env)
    jellyml("eat", str(model), cwd=repo.path)
    assert (repo.path / ".env").read_text() == "PLACEHOLDER=1\n"
    [aside] = (repo.path / ".git" / "jellyml").glob("*/files/.env")
    assert stat.S_IMODE(os.stat(aside).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(repo.path / ".git" / "jellyml").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(aside.parent.parent).st_mode) == 0o700
    assert not _world_readable_holding(repo.path / ".git", SECRET)
    assert not _objects_hold(repo, SECRET)
    jellyml("undo", cwd=repo.path)
    assert identity(env) == mine
    assert not (repo.path / ".git" / "jellyml").exists()


def test_a_gigabyte_of_untracked_and_ignored_data_costs_git_nothing(make_repo, tmp_path):
    """.git grows by at most 1 MiB over eat + undo of a tree with 1 GiB of untracked and
    ignored data, and the next snapshot still carries the full history."""
    repo, model, _commit = _project(make_repo, tmp_path)
    kept = {
        p: identity(p)
        for p in (
            sparse_file(repo.path / "outputs" / "final.ckpt", 400 * MiB),
            sparse_file(repo.path / "data" / "train.parquet", 100 * MiB),
            sparse_file(repo.path / "runs" / "exp1" / "events.bin", 300 * MiB),
            sparse_file(repo.path / "wandb" / "run-1" / "files" / "model.pt", 224 * MiB),
        )
    }
    for n in range(20):
        repo.write(f"scratch/idea{n}.py", f"# idea {n}\n")
    before, size = _state(repo), objects_size(repo.path)
    jellyml("eat", str(model), cwd=repo.path)
    assert _identities(kept) == kept
    jellyml("undo", cwd=repo.path)
    assert _identities(kept) == kept
    assert _state(repo) == before
    assert objects_size(repo.path) - size <= MiB
    assert not (repo.path / ".git" / "jellyml").exists()
    snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "next.bundle"))
    assert snap.history == "full", snap.history_reason
    assert {item.path for item in snap.left_out} >= {"outputs/final.ckpt", "data/train.parquet"}


def test_put_aside_folder_removed_by_hand_is_named_and_nothing_changes(make_repo, tmp_path):
    repo, model, _commit = _project(make_repo, tmp_path)
    repo.write("notes.md", "what I tried\n")
    repo.write("train.py", "lr = 0.2\n")
    before = user_state(repo)
    jellyml("eat", str(model), cwd=repo.path)
    [folder] = (repo.path / ".git" / "jellyml").iterdir()
    away = tmp_path / "away"
    shutil.move(str(folder), away)
    middle = repo.state()
    proc = jellyml("undo", cwd=repo.path, check=1)
    assert proc.stderr.startswith("error: What eat put aside")
    assert str(folder) in proc.stderr.replace("\n", "") and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert repo.state() == middle  # nothing else lost, nothing changed
    shutil.move(str(away), folder)
    jellyml("undo", cwd=repo.path)
    assert user_state(repo) == before


def test_a_put_aside_file_removed_by_hand_is_named(make_repo, tmp_path):
    repo, model, _commit = _project(make_repo, tmp_path)
    repo.write("notes.md", "what I tried\n")
    repo.write("todo.md", "next\n")
    jellyml("eat", str(model), cwd=repo.path)
    [kept] = (repo.path / ".git" / "jellyml").glob("*/files/todo.md")
    kept.unlink()
    middle = repo.state()
    proc = jellyml("undo", cwd=repo.path, check=1)
    assert "todo.md" in proc.stderr and "2 put aside" in proc.stderr
    assert repo.state() == middle


def _other_device(path: Path) -> bool:
    shm = Path("/dev/shm")
    return shm.is_dir() and os.access(shm, os.W_OK) and os.stat(shm).st_dev != os.stat(path).st_dev


def test_across_file_systems_files_are_copied_with_a_warning(make_repo, tmp_path):
    """A repository whose git folder is on another file system: what goes aside is copied
    (mode and mtime kept), and eat says how much it copied."""
    if not _other_device(tmp_path):
        pytest.skip("needs /dev/shm on another file system than the temporary folder")
    source = make_repo(BASE, name="source")
    source.write("train.py", "lr = 0.5\n")
    model = tmp_path / "model.pth"
    make_model(source.path, model)
    git_dir = Path(tempfile.mkdtemp(prefix="jellyml-test-", dir="/dev/shm")) / "repo.git"
    try:
        repo_path = tmp_path / "repo"
        argv = ["git", "init", "-q", f"--separate-git-dir={git_dir}", str(repo_path)]
        subprocess.run(argv, check=True)
        repo = type(source)(repo_path)
        for rel, content in BASE.items():
            repo.write(rel, content)
        repo.commit_all("first")
        notes = repo.write("notes.md", "what I tried\n", mode=0o640)
        os.utime(notes, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))
        before = user_state(repo)
        proc = jellyml("eat", str(model), cwd=repo.path)
        assert "copied 13 bytes" in proc.stderr.lower()
        jellyml("undo", cwd=repo.path)
        assert user_state(repo) == before
        st = os.stat(notes)
        assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime_ns == 1_600_000_000 * 10**9
    finally:
        shutil.rmtree(git_dir.parent, ignore_errors=True)


MOUNT_THEN_RUN = """
import os, subprocess, sys
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sys.argv[1]], check=True)
os.execv(sys.executable, [sys.executable, "-m", "jellyml", *sys.argv[2:]])
"""


def test_a_mount_point_in_the_way_is_refused(make_repo, tmp_path):
    repo, _model, _commit = _project(make_repo, tmp_path)
    then = tmp_path / "then"
    (then / "data").write_text("the snapshot has a file here\n")
    model = tmp_path / "data.pth"
    make_model(then, model)
    (repo.path / "data").mkdir()
    if os.getuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a file system in the way")
    before = repo.state()
    data = str(repo.path / "data")
    argv = ["unshare", "-m", sys.executable, "-c", MOUNT_THEN_RUN, data, "eat", str(model)]
    proc = subprocess.run(argv, cwd=repo.path, capture_output=True, text=True, check=False)
    if "mount" in proc.stderr and "Traceback" in proc.stderr:
        pytest.skip(f"cannot mount here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 1, proc.stderr
    assert "data" in proc.stderr and "mount point" in proc.stderr
    assert repo.state() == before


def test_an_eaten_checkpoint_folder_in_the_repository_stays_whole(make_repo, tmp_path):
    """A Trainer-style checkpoint folder (weights, config, the snapshot file) inside the
    repository, eaten: every file of it stays, the small JSON files included."""
    from jellyml.snapshot.create import encode_metadata, snapshot_metadata
    from jellyml.snapshot.save import save_snapshot

    repo, _model, commit = _project(make_repo, tmp_path)
    snap = snapshot_repo(str(tmp_path / "then"), bundle_path=str(tmp_path / "b.bundle"))
    meta, meta_sha = encode_metadata(snapshot_metadata(snap))
    tensor = snapshot_tensor((tmp_path / "b.bundle").read_bytes(), snap.commit, meta_sha)
    folder = repo.path / "checkpoint-500"
    save_snapshot(
        folder, {"jellyml_code_snapshot": tensor, "jellyml_snapshot_metadata": bytes(meta)}
    )
    (folder / "config.json").write_text('{"hidden_size": 8}\n')
    sparse_file(folder / "model.safetensors", 50 * MiB)
    files = {p.name: identity(p) for p in folder.iterdir()}
    jellyml("eat", "checkpoint-500", cwd=repo.path)
    assert repo.git("rev-parse", "HEAD") == commit
    assert {p.name: identity(p) for p in folder.iterdir()} == files
    jellyml("undo", cwd=repo.path)
    assert {p.name: identity(p) for p in folder.iterdir()} == files


def test_an_ignored_folder_in_the_way_goes_aside_whole(make_repo, tmp_path):
    """The snapshot has a file where the user has an ignored folder (with a big file in it):
    the folder goes aside whole, by rename, and comes back the same folder."""
    repo, _model, _commit = _project(make_repo, tmp_path)
    then = tmp_path / "then"
    (then / "cache").write_text("the snapshot's cache file\n")
    model = tmp_path / "cache.pth"
    make_model(then, model)
    repo.write(".gitignore", "*.log\nruns/\nwandb/\ncache/\n")
    repo.commit_all("ignore cache")
    big = sparse_file(repo.path / "cache" / "features.npy", 100 * MiB)
    repo.write("cache/index.json", "{}\n")
    kept = {p: identity(p) for p in (big, repo.path / "cache")}
    before = _state(repo)
    jellyml("eat", str(model), "--force", cwd=repo.path)
    assert (repo.path / "cache").read_text() == "the snapshot's cache file\n"
    jellyml("undo", cwd=repo.path)
    assert _identities(kept) == kept
    assert _state(repo) == before


def test_names_with_newlines_and_read_only_files_go_aside_and_back(make_repo, tmp_path):
    repo, model, _commit = _project(make_repo, tmp_path)
    repo.write("notes\nwith a newline.md", "odd name\n")
    repo.write("frozen/results.txt", "read-only\n", mode=0o444)
    repo.write("plain.md", "x\n")
    before = user_state(repo)
    kept = {p: identity(p) for p in repo.path.glob("*.md")}
    jellyml("eat", str(model), cwd=repo.path)
    assert not (repo.path / "frozen").exists() and not (repo.path / "plain.md").exists()
    jellyml("undo", cwd=repo.path)
    assert user_state(repo) == before
    assert {p: identity(p) for p in repo.path.glob("*.md")} == kept


def test_eating_a_full_snapshot_adds_only_its_own_objects_to_git(make_repo, tmp_path):
    """A full snapshot's bundle carries the project's whole history, which the repository
    has: only the snapshot's own objects (its commit, trees, changed files) go into .git."""
    repo = make_repo({"train.py": "lr = 0.1\n", "assets/table.dat": os.urandom(2 * MiB)})
    then = tmp_path / "then"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(then)], check=True)
    (then / "train.py").write_text("lr = 0.5\n")
    model = tmp_path / "model.pth"
    make_model(then, model)
    assert model.stat().st_size > 2 * MiB  # the history is in the checkpoint
    size = objects_size(repo.path)
    jellyml("eat", str(model), cwd=repo.path)
    jellyml("undo", cwd=repo.path)
    assert objects_size(repo.path) - size < 64 * 1024
    jellyml("eat", str(model), cwd=repo.path)  # a second time: nothing to bring in at all
    jellyml("undo", cwd=repo.path)
    assert objects_size(repo.path) - size < 64 * 1024


def test_an_empty_put_aside_folder_left_by_a_kill_is_swept(make_repo, tmp_path):
    """What a kill between an undo's last two steps (or an eat's first two) leaves: a folder
    with no file in it, its journal maybe gone. The next undo removes it; one holding a file
    (the user's, after `fix clear-history`) stays."""
    repo, _model, _commit = _project(make_repo, tmp_path)
    empty = repo.path / ".git" / "jellyml" / "20260101-000000-aaaaaa" / "files" / "deep"
    empty.mkdir(parents=True)
    kept = repo.path / ".git" / "jellyml" / "20260101-000000-bbbbbb" / "files" / "notes.md"
    kept.parent.mkdir(parents=True)
    kept.write_text("mine\n")
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert not empty.parent.parent.exists()
    assert kept.read_text() == "mine\n"


def test_a_half_written_journal_left_by_a_kill_is_swept(make_repo, tmp_path):
    repo, _model, _commit = _project(make_repo, tmp_path)
    half = repo.path / ".git" / "jellyml" / "20260101-000000-cccccc" / ".jellyml-x.tmp"
    half.parent.mkdir(parents=True)
    half.write_text('{"version": 1, "entr')
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert not (repo.path / ".git" / "jellyml").exists()
