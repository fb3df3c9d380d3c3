"""What goes in and what is left out: exclude= patterns, unreadable untracked files, and
tracked files hidden behind --assume-unchanged / --skip-worktree."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jellyml.snapshot import SnapshotWarning, snapshot_repo
from kit.checkpoints import make_model
from kit.cli import jellyml


def restored(bundle: Path, dest: Path) -> dict[str, bytes]:
    subprocess.run(["git", "clone", "-q", str(bundle), str(dest)], check=True)
    found = {}
    for root, dirs, files in os.walk(dest):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            full = Path(root) / name
            found[str(full.relative_to(dest))] = full.read_bytes()
    return found


def test_exclude_leaves_untracked_paths_out_and_records_them(make_repo, tmp_path):
    repo = make_repo({"train.py": "t\n", ".gitignore": "*.log\n", "data/keep.md": "tracked\n"})
    repo.write(".venv/lib/site.py", "venv\n")
    repo.write(".venv/bin/python", "bin\n")
    repo.write("data/big/shard0.bin", "d\n")
    repo.write("data/notes.txt", "kept\n")
    repo.write("debug.log", "already ignored\n")
    repo.write("data/keep.md", "tracked and edited\n")  # tracked: exclude never applies
    before = repo.state()
    with pytest.warns(SnapshotWarning, match=r"\.venv/"):
        snap = snapshot_repo(
            str(repo.path),
            bundle_path=str(tmp_path / "b.bundle"),
            exclude=[".venv/", "data/big", "*.log", "data/keep.md"],
        )
    assert repo.state() == before
    files = restored(tmp_path / "b.bundle", tmp_path / "r")
    assert set(files) == {"train.py", ".gitignore", "data/keep.md", "data/notes.txt"}
    assert files["data/keep.md"] == b"tracked and edited\n"
    meta = snap.git_metadata()
    left = {item["path"]: item["reason"] for item in meta["left_out"]}
    assert left == {
        ".venv/": "matches an exclude= pattern",
        "data/big/": "matches an exclude= pattern",
    }
    assert meta["exclude"] == [".venv/", "data/big", "*.log", "data/keep.md"]
    assert meta["untracked_included"] == ["data/notes.txt"]


def test_exclude_negation_and_a_single_string(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    repo.write("out/run1.txt", "1\n")
    repo.write("out/summary.txt", "s\n")
    with pytest.warns(SnapshotWarning):
        snapshot_repo(
            str(repo.path),
            bundle_path=str(tmp_path / "b.bundle"),
            exclude=["out/*", "!out/summary.txt"],
        )
    assert set(restored(tmp_path / "b.bundle", tmp_path / "r")) == {"a.py", "out/summary.txt"}
    with pytest.warns(SnapshotWarning):
        snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "c.bundle"), exclude="out/")
    assert set(restored(tmp_path / "c.bundle", tmp_path / "r2")) == {"a.py"}


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_flagged_tracked_files_are_snapshotted_as_they_are(make_repo, tmp_path, flag):
    repo = make_repo({"config.yaml": "lr: 0.1\n", "train.py": "t\n"})
    repo.git("update-index", flag, "config.yaml")
    repo.write("config.yaml", "lr: 0.9  # local edit git does not show\n")
    assert repo.git("status", "--porcelain") == ""  # git itself says: clean
    before = repo.state()
    snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
    assert repo.state() == before  # the flag stays set in the user's index
    meta = snap.git_metadata()
    assert meta["dirty"] is True
    assert meta["changed_files"] == [{"status": "M", "path": "config.yaml"}]
    assert meta["index_flags_ignored"] == ["config.yaml"]
    files = restored(tmp_path / "b.bundle", tmp_path / "r")
    assert files["config.yaml"] == b"lr: 0.9  # local edit git does not show\n"


def test_sparse_checkout_files_are_not_deleted(make_repo, tmp_path):
    repo = make_repo({"src/a.py": "a\n", "docs/big.md": "d\n"})
    repo.git("sparse-checkout", "set", "src")
    assert not (repo.path / "docs").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
    assert snap.dirty is False and snap.commit == repo.git("rev-parse", "HEAD")


def _as_nobody(code: str, folder: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": folder,
        "TMPDIR": folder,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def _skip_unless_nobody_can_snapshot() -> None:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("root reads every file; setpriv is needed to run the snapshot as nobody")
    # The interpreter, and jellyml itself: a checkout in a private folder (mode 0700, as home
    # folders often are) is out of the unprivileged user's reach.
    if _as_nobody("import jellyml.snapshot", "/tmp").returncode != 0:
        pytest.skip("the unprivileged user cannot import jellyml here (a private folder)")


@contextlib.contextmanager
def _shared_folder() -> Iterator[Path]:
    """A folder in /tmp that the unprivileged user can reach (root reads anything: the
    snapshot runs as nobody); everything in it made readable again, then removed."""
    folder = tempfile.mkdtemp(prefix="jellyml-test-unreadable-", dir="/tmp")
    try:
        os.chmod(folder, 0o777)
        yield Path(folder)
    finally:
        for root, dirs, names in os.walk(folder):
            for name in dirs + names:
                os.chmod(os.path.join(root, name), 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def _snapshot_as_nobody(repo: Path, folder: Path) -> dict[str, Any]:
    """Snapshot ``repo`` as the unprivileged user into ``folder/b.bundle``: what it left out
    and the warnings it gave."""
    code = (
        "import json, warnings\nfrom jellyml.snapshot import snapshot_repo\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    s = snapshot_repo({str(repo)!r}, bundle_path={str(folder / 'b.bundle')!r})\n"
        "print(json.dumps({'left': s.git_metadata()['left_out'], "
        "'warnings': [str(x.message) for x in w]}))\n"
    )
    proc = _as_nobody(code, str(folder))
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout)
    return found


def _committed_repo(folder: Path, files: dict[str, str]) -> Path:
    repo = folder / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "c"], cwd=repo, check=True)
    return repo


def test_unreadable_untracked_file_is_left_out_with_a_warning(make_repo, tmp_path):
    _skip_unless_nobody_can_snapshot()
    with _shared_folder() as folder:
        repo = _committed_repo(folder, {"train.py": "t\n"})
        (repo / "notes.txt").write_text("readable\n")
        secret = repo / "private" / "locked.txt"
        secret.parent.mkdir()
        secret.write_text("no access\n")
        secret.chmod(0o000)
        (repo / "locked-dir").mkdir()
        (repo / "locked-dir" / "inside.txt").write_text("hidden\n")
        (repo / "locked-dir").chmod(0o000)
        got = _snapshot_as_nobody(repo, folder)
        assert got["left"] == [
            {"path": "locked-dir/", "reason": "cannot be read (Permission denied)"},
            {"path": "private/locked.txt", "reason": "cannot be read (Permission denied)"},
        ]
        assert any("private/locked.txt" in w and "locked-dir/" in w for w in got["warnings"])
        files = restored(folder / "b.bundle", tmp_path / "r")
        assert set(files) == {"train.py", "notes.txt"}


def test_an_unreadable_modified_tracked_file_is_left_out_with_a_warning(make_repo, tmp_path):
    """As an unreadable untracked file: the snapshot is made (git add alone would fail on it),
    holds the file as the index has it, and the metadata and a warning name it."""
    _skip_unless_nobody_can_snapshot()
    with _shared_folder() as folder:
        repo = _committed_repo(folder, {"train.py": "lr = 1\n", "secret.cfg": "token = old\n"})
        (repo / "train.py").write_text("lr = 2\n")
        (repo / "secret.cfg").write_text("token = new, unreadable\n")
        (repo / "secret.cfg").chmod(0o000)
        got = _snapshot_as_nobody(repo, folder)
        assert got["left"] == [
            {"path": "secret.cfg", "reason": "cannot be read (Permission denied)"}
        ]
        assert any("secret.cfg" in w and "1 file out" in w for w in got["warnings"])
        files = restored(folder / "b.bundle", tmp_path / "r")
        assert files["train.py"] == b"lr = 2\n"  # the readable edit went in
        assert files["secret.cfg"] == b"token = old\n"  # the index's version


def test_gitmodules_update_command_never_runs_nor_blocks_a_snapshot(make_repo, tmp_path):
    """``update = !command`` in .gitmodules (refused by git there, CVE-2019-19604) made git's
    diff machinery die: the snapshot took the repository for one without commits, or failed."""
    pwned = tmp_path / "pwned"
    repo = make_repo({"train.py": "lr = 1\n"})
    repo.write(
        ".gitmodules",
        f'[submodule "lib"]\n\tpath = lib\n\turl = https://example.invalid/lib.git\n'
        f"\tupdate = !touch {pwned}\n",
    )
    head = repo.git("rev-parse", "HEAD")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{head},lib")
    repo.git("add", ".gitmodules")
    repo.git("commit", "-qm", "a submodule")
    (repo.path / "lib").mkdir()  # as an uninitialised submodule leaves it
    repo.write("train.py", "lr = 2\n")
    snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
    assert snap.base_commit == repo.git("rev-parse", "HEAD") and snap.dirty
    assert snap.changed_files == [{"status": "M", "path": "train.py"}]
    assert snap.submodules == [{"path": "lib", "commit": head}]
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    diffed = jellyml("diff", str(model), "--stat", cwd=repo.path)  # nothing differs
    assert diffed.returncode == 0 and diffed.stdout == ""
    assert not pwned.exists()
