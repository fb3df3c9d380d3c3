"""create_snapshot: what it captures, and that it never changes anything the user can see."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import jellyml
from jellyml.errors import (
    BareRepoError,
    GitNotFoundError,
    GitTooOldError,
    NotAFolderError,
    NotAGitRepoError,
    PathNotFoundError,
    SnapshotTooLargeError,
)
from jellyml.gitcore import run as gitcmd
from jellyml.snapshot import Guards, SnapshotWarning, snapshot_repo
from jellyml.snapshot.redact import redact_argv
from kit.repos import DIRTY_IGNORED, GitRepo, make_dirty_repo, racy_edit, start_conflicting_merge

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def restore(bundle: Path, dest: Path) -> dict[str, tuple[str, bytes]]:
    """Clone a bundle the way a user would and return its working tree."""
    subprocess.run(["git", "clone", "-q", str(bundle), str(dest)], check=True)

    return GitRepo(dest).worktree()


def snapshot_and_restore(repo, tmp_path: Path, **kwargs) -> tuple[dict, dict]:
    bundle = tmp_path / "out.bundle"
    result = snapshot_repo(str(repo.path), bundle_path=str(bundle), **kwargs)
    return result.git_metadata(), restore(bundle, tmp_path / "restored")


# --- nothing the user can see changes -------------------------------------------------------


def states(make_repo):
    """Repos in every state the issue names, by name."""

    def clean():
        return make_repo({"a.py": "a\n"})

    def dirty():
        return make_dirty_repo(make_repo)

    def detached():
        repo = make_dirty_repo(make_repo)
        repo.git("commit", "-qam", "second")
        repo.git("checkout", "-q", "--detach", "HEAD~1")
        repo.write("model.py", "detached edit\n")
        return repo

    def unborn():
        repo = make_repo({"a.py": "a\n", "b/c.txt": "c\n"}, commit=False)
        repo.git("add", "a.py")
        return repo

    def with_stash():
        repo = make_dirty_repo(make_repo)
        repo.git("stash", "-q")
        repo.write("model.py", "after stash\n")
        return repo

    return {
        "clean": clean,
        "dirty": dirty,
        "detached": detached,
        "unborn": unborn,
        "with_stash": with_stash,
    }


@pytest.mark.parametrize("state", ["clean", "dirty", "detached", "unborn", "with_stash"])
@pytest.mark.parametrize("where", [".", "sub/dir"])
def test_repo_is_byte_for_byte_unchanged(make_repo, state, where):
    repo = states(make_repo)[state]()
    (repo.path / where).mkdir(parents=True, exist_ok=True)
    before = repo.state()
    snapshot = jellyml.create_snapshot(str(repo.path / where))
    assert repo.state() == before
    assert set(snapshot) == {jellyml.SNAPSHOT_KEY, jellyml.METADATA_KEY}


def test_split_index_and_linked_worktree_unchanged(dirty_repo, tmp_path):
    repo = dirty_repo
    repo.git("config", "core.splitIndex", "true")
    repo.git("update-index", "--split-index")
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", str(linked))
    (linked / "model.py").write_text("edited in the linked worktree\n")
    before = repo.state(), (linked / "model.py").read_bytes()
    result = snapshot_repo(str(linked), bundle_path=str(tmp_path / "b.bundle"))
    assert (repo.state(), (linked / "model.py").read_bytes()) == before
    files = restore(tmp_path / "b.bundle", tmp_path / "r")
    assert files["model.py"] == ("file", b"edited in the linked worktree\n")
    assert result.dirty


def test_merge_conflict_in_progress(make_repo, tmp_path):
    repo = start_conflicting_merge(make_repo({"a.txt": "base\n"}), "a.txt")
    assert (repo.path / ".git" / "MERGE_HEAD").exists()
    before = repo.state()
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert repo.state() == before
    assert b"<<<<<<<" in files["a.txt"][1]  # the working tree as it is, markers and all
    assert meta["dirty"]


def test_kill_at_any_moment_leaves_repo_unchanged(make_repo, tmp_path):
    repo = make_repo({f"src/f{i}.py": f"x = {i}\n" * 50 for i in range(600)})
    for i in range(0, 600, 3):
        repo.write(f"src/f{i}.py", "changed\n")
        repo.write(f"new/n{i}.txt", os.urandom(2000))
    before = repo.state()
    # The child signals once imports are done, so each kill lands in the git work itself.
    code = (
        "import sys\nfrom jellyml.snapshot import snapshot_repo\n"
        "print('ready', flush=True)\n"
        f"snapshot_repo({str(repo.path)!r}, bundle_path={str(tmp_path / 'k.bundle')!r})\n"
    )
    killed = []
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(delay)
        proc.kill()
        killed.append(proc.wait() == -9)
        proc.stdout.close()
        assert repo.state() == before, f"repo changed after a kill {delay}s into the git work"
    assert killed[0], "the first kill should land before the snapshot finished"


def test_eight_processes_at_once(dirty_repo, tmp_path):
    # The git work is what runs concurrently; torch would only add eight imports of it.
    repo = dirty_repo
    before = repo.state()
    script = (
        "import sys\n"
        "from jellyml.snapshot import snapshot_repo\n"
        "print(snapshot_repo(sys.argv[1], bundle_path=sys.argv[2]).commit)\n"
        "assert 'torch' not in sys.modules\n"
    )
    bundles = [tmp_path / f"{n}.bundle" for n in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(repo.path), str(bundle)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for bundle in bundles
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err.decode() for _, err in outputs]
    commits = {out.decode().strip() for out, _ in outputs}
    assert len(commits) == 1 and len(commits.pop()) == 40
    assert len({bundle.read_bytes() for bundle in bundles}) == 1  # the very same bundle
    assert repo.state() == before
    assert repo.git("stash", "list") == ""


# --- what the snapshot holds ----------------------------------------------------------------


def test_clean_tree_bundles_head_with_history(make_repo, tmp_path):
    repo = make_repo({"a.py": "1\n"})
    repo.write("a.py", "2\n")
    second = repo.commit_all("second")
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert meta["commit"] == second and meta["base_commit"] == second
    assert not meta["dirty"] and meta["changed_files"] == []
    assert files == {"a.py": ("file", b"2\n")}
    log = subprocess.run(
        ["git", "log", "--format=%s", "HEAD"],
        cwd=tmp_path / "restored",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert log == ["second", "first"]


def test_dirty_tree_is_captured_exactly(dirty_repo, tmp_path):
    repo = dirty_repo
    head = repo.git("rev-parse", "HEAD")
    expected = {k: v for k, v in repo.worktree().items() if k not in DIRTY_IGNORED}
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert files == expected
    parent = subprocess.run(
        ["git", "rev-parse", "HEAD^"],
        cwd=tmp_path / "restored",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert parent == head == meta["base_commit"]
    assert meta["branch"] == "main" and meta["dirty"]
    assert {(c["status"], c["path"]) for c in meta["changed_files"]} == {
        ("M", "config.yaml"),
        ("M", "train.py"),
        ("M", "staged.txt"),
        ("A", "new_staged.py"),
        ("D", "gone.txt"),
        ("A", "notes.txt"),
        ("A", "untracked dir/notes é.txt"),
    }
    assert meta["untracked_included"] == ["notes.txt", "untracked dir/notes é.txt"]


def test_odd_names_modes_symlinks_and_binary(make_repo, tmp_path):
    repo = make_repo({"plain.txt": "p\n"})
    repo.write("with space.txt", "s\n")
    repo.write("ünïcødé/名前.py", "u\n")
    repo.write("new\nline.txt", "n\n")
    repo.write("run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    repo.write("blob.dat", bytes(range(256)) * 40)  # not .bin: a data file, left out
    os.symlink("plain.txt", repo.path / "link.txt")
    expected = repo.worktree()
    _meta, files = snapshot_and_restore(repo, tmp_path)
    assert files == expected
    assert files["run.sh"][0] == "exec" and files["link.txt"] == ("link", b"plain.txt")


def test_snapshot_is_deterministic(dirty_repo, tmp_path):
    repo = dirty_repo
    first = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "1.bundle"))
    second = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "2.bundle"))
    assert first.commit == second.commit
    assert (tmp_path / "1.bundle").read_bytes() == (tmp_path / "2.bundle").read_bytes()


def test_unborn_repo(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"}, commit=False)
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert files == {"a.py": ("file", b"a\n")}
    assert meta["base_commit"] is None and meta["branch"] == "main" and meta["dirty"]
    again = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "again.bundle"))
    assert again.commit == meta["commit"]


def test_submodule_commit_is_recorded(make_repo, tmp_path):
    inner = make_repo({"lib.py": "lib\n"}, name="inner")
    repo = make_repo({"main.py": "m\n"}, name="outer")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner.path), "lib")
    repo.commit_all("add submodule")
    inner_head = inner.git("rev-parse", "HEAD")
    before = repo.state()
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert repo.state() == before
    assert meta["submodules"] == [{"path": "lib", "commit": inner_head}]
    assert meta["submodule_contents_included"] is False
    assert "lib/lib.py" not in files


def test_not_a_repo_names_the_flag(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.py").write_text("a\n")
    with pytest.raises(NotAGitRepoError, match="create_git_repo=True"):
        jellyml.create_snapshot(str(folder))
    assert sorted(os.listdir(folder)) == ["a.py"]


def test_create_git_repo_leaves_no_git_behind(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.py").write_text("a\n")
    (folder / ".gitignore").write_text("*.tmp\n")
    (folder / "x.tmp").write_text("ignored\n")
    bundle = tmp_path / "plain.bundle"
    result = snapshot_repo(str(folder), bundle_path=str(bundle), create_git_repo=True)
    assert sorted(os.listdir(folder)) == [".gitignore", "a.py", "x.tmp"]
    assert result.created_git_repo and result.base_commit is None
    assert restore(bundle, tmp_path / "r") == {
        "a.py": ("file", b"a\n"),
        ".gitignore": ("file", b"*.tmp\n"),
    }


def test_missing_path_file_and_bare_repo(tmp_path):
    with pytest.raises(PathNotFoundError, match="does not exist"):
        jellyml.create_snapshot(str(tmp_path / "nope"))
    (tmp_path / "file.py").write_text("x\n")
    with pytest.raises(NotAFolderError, match="is a file, not a folder"):
        jellyml.create_snapshot(str(tmp_path / "file.py"))
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    with pytest.raises(BareRepoError):
        jellyml.create_snapshot(str(tmp_path / "bare.git"))


def test_out_git_bundle_path_gets_the_same_bundle(dirty_repo, tmp_path):
    repo = dirty_repo
    out = tmp_path / "copy.bundle"
    snapshot = jellyml.create_snapshot(str(repo.path), out_git_bundle_path=str(out))
    tensor = snapshot[jellyml.SNAPSHOT_KEY]
    assert bytes(tensor[1024:].numpy()) == out.read_bytes()


# --- guards ---------------------------------------------------------------------------------


def test_large_and_secret_untracked_files_are_left_out_with_a_warning(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    repo.write("big.bin", b"x" * 2000)
    repo.write(".env", "TOKEN=1\n")
    repo.write("keys/id_rsa", "private\n")
    repo.write("gcp-credentials.json", "{}\n")
    repo.write("small.txt", "ok\n")
    with pytest.warns(SnapshotWarning) as caught:
        meta, files = snapshot_and_restore(
            repo, tmp_path, guards=Guards(max_untracked_file_size=1000)
        )
    message = str(caught[0].message)
    for name in ("big.bin", ".env", "keys/id_rsa", "gcp-credentials.json"):
        assert name in message and name not in files
    assert set(files) == {"a.py", "small.txt"}
    reasons = {item["path"]: item["reason"] for item in meta["left_out"]}
    assert "over the 1,000-byte limit" in reasons["big.bin"]
    assert "looks like a secret" in reasons[".env"]


def test_guards_are_configurable(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    repo.write(".env", "TOKEN=1\n")
    repo.write("notes.secret", "s\n")
    with pytest.warns(SnapshotWarning, match="notes.secret"):
        _meta, files = snapshot_and_restore(
            repo, tmp_path, guards=Guards(secret_patterns=["*.secret"])
        )
    assert ".env" in files and "notes.secret" not in files


def test_tracked_secrets_are_kept_and_nothing_warns_when_nothing_is_left_out(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n", ".env": "committed on purpose\n"})
    repo.write(".env", "changed\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _meta, files = snapshot_and_restore(repo, tmp_path)
    assert files[".env"] == ("file", b"changed\n")


def test_total_size_limit(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    repo.write("data.dat", os.urandom(50_000))  # not .bin: a data file, left out
    before = repo.state()
    with pytest.raises(SnapshotTooLargeError, match="over the limit"):
        jellyml.create_snapshot(str(repo.path), max_total_size=10_000)
    assert repo.state() == before
    committed = make_repo({"blob.bin": os.urandom(50_000)})
    with pytest.raises(SnapshotTooLargeError, match="git bundle"):
        jellyml.create_snapshot(str(committed.path), max_total_size=10_000)


# --- no temp files, errors from git ---------------------------------------------------------


def test_no_temp_files_left_on_success_error_or_interrupt(dirty_repo, tmp_path, monkeypatch):
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    repo = dirty_repo
    jellyml.create_snapshot(str(repo.path))
    assert list(scratch.iterdir()) == []
    with pytest.raises(SnapshotTooLargeError):
        jellyml.create_snapshot(str(repo.path), max_total_size=10)
    assert list(scratch.iterdir()) == []

    real_run = gitcmd.run

    def interrupted(args, **kwargs):
        if "bundle" in args:
            raise KeyboardInterrupt
        return real_run(args, **kwargs)

    monkeypatch.setattr(gitcmd, "run", interrupted)
    before = repo.state()
    with pytest.raises(KeyboardInterrupt):
        jellyml.create_snapshot(str(repo.path))
    assert list(scratch.iterdir()) == []
    assert repo.state() == before


def test_git_missing_or_too_old(make_repo, monkeypatch):
    repo = make_repo({"a.py": "a\n"})
    gitcmd.git_executable.cache_clear()
    gitcmd.git_version.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        with pytest.raises(GitNotFoundError, match="git was not found"):
            jellyml.create_snapshot(str(repo.path))
    finally:
        gitcmd.git_executable.cache_clear()
    monkeypatch.undo()
    monkeypatch.setattr(gitcmd, "git_version", lambda: (2, 20, 1))
    with pytest.raises(GitTooOldError, match=r"2\.20\.1 is too old"):
        jellyml.create_snapshot(str(repo.path))


# --- metadata and the saved file ------------------------------------------------------------


def test_metadata_is_saved_and_read_back(dirty_repo, tmp_path):
    repo = dirty_repo
    repo.git("remote", "add", "origin", "https://user:s3cret@example.com/team/project.git?t=1")
    repo.git("remote", "add", "ssh", "git@example.com:team/project.git")
    model = {"weights": torch.ones(3)}
    torch.save(model | jellyml.create_snapshot(str(repo.path)), tmp_path / "m.pth")
    loaded = torch.load(tmp_path / "m.pth", weights_only=True)
    assert loaded[jellyml.SNAPSHOT_KEY].dtype == torch.uint8
    assert loaded[jellyml.SNAPSHOT_KEY].dim() == 1
    meta = jellyml.read_snapshot(tmp_path / "m.pth").metadata
    assert meta is not None
    assert meta["git"]["remotes"] == {
        "origin": "https://example.com/team/project.git",
        "ssh": "git@example.com:team/project.git",
    }
    assert "s3cret" not in str(meta)
    assert meta["jellyml"] == jellyml.__version__
    assert meta["torch"] == torch.__version__
    assert meta["python"] == ".".join(map(str, sys.version_info[:3]))
    # the command line as recorded: pytest's own, credential-like values (`-p X`) redacted
    assert meta["argv"] == redact_argv(sys.argv)[0]
    assert meta["packages"]["torch"] == torch.__version__
    assert meta["packages"]["jellyml"] == jellyml.__version__
    assert meta["hostname"] and meta["created_at"].endswith("+00:00")
    assert meta["git"]["branch"] == "main" and meta["git"]["dirty"] is True


def test_import_jellyml_does_not_import_torch():
    code = "import sys, jellyml; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_same_size_edit_in_the_same_second_as_the_commit_is_captured(make_repo, tmp_path):
    # "Racy git": the edit has the size and (to the second) the mtime git cached at the commit.
    # git finds it only because the index is not older than the file; a copy of the index with
    # a fresh mtime used to hide the edit once a second had passed (as after torch's import).
    repo = make_repo({"train.py": "lr = 0.1\n"})
    racy_edit(repo, "train.py", b"lr = 0.5\n")
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert meta["dirty"] is True
    assert files["train.py"] == ("file", b"lr = 0.5\n")


def test_metadata_file_lists_are_capped_with_totals(make_repo, tmp_path, monkeypatch):
    import jellyml.snapshot.build as snapshot_module

    monkeypatch.setattr(snapshot_module, "MAX_LISTED", 3)
    repo = make_repo({"a.py": "a\n"})
    for i in range(5):
        repo.write(f"new{i}.txt", f"{i}\n")
    meta, files = snapshot_and_restore(repo, tmp_path)
    assert len(files) == 6  # the code is all there; only the metadata's lists are cut
    assert meta["untracked_included"] == ["new0.txt", "new1.txt", "new2.txt"]
    assert meta["untracked_included_total"] == 5
    assert len(meta["changed_files"]) == 3 and meta["changed_files_total"] == 5
