"""history="full" | "shallow" | "auto", and shallow clones: every snapshot restores, its
`git log` works wherever it is eaten, and where the base commit exists eat rebuilds the very
same commit a full snapshot gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jellyml.errors import InvalidSnapshotOptionError, SnapshotTooLargeError
from jellyml.snapshot import SnapshotWarning, bundling, snapshot_repo
from jellyml.snapshot.create import snapshot_metadata
from kit.checkpoints import metadata_tensor, snapshot_parts, snapshot_tensor, write_checkpoint
from kit.cli import jellyml
from kit.repos import GitRepo


def model_of(repo_path: Path, out: Path, **kwargs):
    """A checkpoint (torch's layout, no torch needed) of the repo as it is; its snapshot."""
    snap, tensor, meta = snapshot_parts(repo_path, **kwargs)
    write_checkpoint(out, {"0": b"\0" * 16, "1": tensor, "2": meta})
    return snap


def git(path: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def history_repo(make_repo, commits: int = 4):
    repo = make_repo({"train.py": "lr = 0\n", "data/notes.md": "n\n"}, name="origin")
    for i in range(1, commits):
        repo.write("train.py", f"lr = {i}\n")
        repo.commit_all(f"commit {i}")
    return repo


def make_dirty(path: Path) -> None:
    (path / "train.py").write_text("lr = 0.5  # dirty\n")
    (path / "new_module.py").write_text("x = 1\n")


def test_shallow_bundle_is_a_parentless_twin_and_the_metadata_rebuilds_the_commit(
    make_repo, tmp_path
):
    repo = history_repo(make_repo)
    make_dirty(repo.path)
    head = repo.git("rev-parse", "HEAD")
    snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "s.bundle"), history="shallow")
    meta = snap.git_metadata()
    assert meta["history"] == "shallow" and meta["history_requested"] == "shallow"
    assert meta["base_commit"] == head and meta["commit"] != meta["bundle_commit"]
    raw = meta["snapshot_commit_object"].encode()
    assert f"parent {head}".encode() in raw
    rehashed = subprocess.run(
        ["git", "hash-object", "-t", "commit", "--stdin"],
        cwd=repo.path,
        input=raw,
        capture_output=True,
        check=True,
    )
    assert rehashed.stdout.decode().strip() == snap.commit
    subprocess.run(
        ["git", "clone", "-q", str(tmp_path / "s.bundle"), str(tmp_path / "c")], check=True
    )
    clone = tmp_path / "c"
    assert git(clone, "rev-parse", "HEAD") == meta["bundle_commit"]
    assert git(clone, "rev-list", "--count", "HEAD") == "1"
    assert (clone / "train.py").read_text() == "lr = 0.5  # dirty\n"
    assert (clone / "new_module.py").exists()


@pytest.mark.parametrize("dirty", [True, False])
def test_full_and_shallow_eaten_into_the_original_repo_give_the_same_commit(
    make_repo, tmp_path, dirty
):
    repo = history_repo(make_repo)
    if dirty:
        make_dirty(repo.path)
    base = repo.git("rev-parse", "HEAD")
    full = model_of(repo.path, tmp_path / "full.pth", history="full")
    thin = model_of(repo.path, tmp_path / "thin.pth", history="shallow")
    assert full.commit == thin.commit and full.history == "full"
    assert os.path.getsize(tmp_path / "thin.pth") < os.path.getsize(tmp_path / "full.pth")
    for model in ("thin.pth", "full.pth"):
        proc = jellyml("eat", str(tmp_path / model), "-c", str(repo.path), cwd=tmp_path)
        assert "no history" not in proc.stderr
        assert repo.git("rev-parse", "HEAD") == full.commit
        if dirty:
            assert repo.git("rev-parse", "HEAD^") == base
        assert repo.git("rev-list", "--count", "HEAD") == ("5" if dirty else "4")
        jellyml("undo", "-c", str(repo.path), cwd=tmp_path)
        assert repo.git("rev-parse", "HEAD") == base


def test_depth_1_clone_snapshot_restores_everywhere(make_repo, tmp_path):
    origin = history_repo(make_repo, commits=5)
    url = f"file://{origin.path}"
    shallow_clone = tmp_path / "ci-checkout"
    subprocess.run(["git", "clone", "-q", "--depth", "1", url, str(shallow_clone)], check=True)
    make_dirty(shallow_clone)
    base = git(shallow_clone, "rev-parse", "HEAD")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # automatic: no warning to make
        snap = model_of(shallow_clone, tmp_path / "m.pth")
    assert snap.history == "shallow" and "shallow clone" in snap.history_reason

    empty = tmp_path / "empty"
    proc = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(empty), cwd=tmp_path)
    assert git(empty, "log", "--format=%H") == snap.bundle_commit  # git log works
    assert (empty / "train.py").read_text() == "lr = 0.5  # dirty\n"
    assert base[:12] in proc.stderr and url in proc.stderr

    full_clone = tmp_path / "full-clone"
    subprocess.run(["git", "clone", "-q", url, str(full_clone)], check=True)
    proc = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(full_clone), cwd=tmp_path)
    assert git(full_clone, "rev-parse", "HEAD") == snap.commit
    assert git(full_clone, "rev-parse", "HEAD^") == base
    assert git(full_clone, "rev-list", "--count", "HEAD") == "6"
    assert "no history" not in proc.stderr


def test_clean_depth_1_clone_is_head_itself(make_repo, tmp_path):
    origin = history_repo(make_repo)
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin.path}", str(clone)])
    with pytest.warns(SnapshotWarning, match="shallow clone"):
        snap = model_of(clone, tmp_path / "m.pth", history="full")
    assert snap.commit == origin.git("rev-parse", "HEAD") and not snap.dirty
    jellyml("eat", str(tmp_path / "m.pth"), "-c", str(origin.path), cwd=tmp_path)
    assert origin.git("rev-parse", "HEAD") == snap.commit


def test_eaten_into_a_repo_without_the_base_names_base_and_remote(make_repo, tmp_path):
    repo = history_repo(make_repo)
    repo.git("remote", "add", "origin", "https://user:pw@example.com/team/proj.git")
    make_dirty(repo.path)
    snap = model_of(repo.path, tmp_path / "m.pth", history="shallow")
    other = make_repo({"unrelated.txt": "u\n"}, name="other")
    # Another project: eat refuses it unless forced; forced, it says what the snapshot lacks.
    refused = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(other.path), cwd=tmp_path, check=1)
    assert "shares no history" in refused.stderr
    proc = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(other.path), "--force", cwd=tmp_path)
    assert other.git("rev-parse", "HEAD") == snap.bundle_commit
    assert (other.path / "new_module.py").exists()
    assert snap.base_commit[:12] in proc.stderr
    assert "https://example.com/team/proj.git" in proc.stderr and "pw" not in proc.stderr
    jellyml("undo", "-c", str(other.path), cwd=tmp_path)
    assert sorted(os.listdir(other.path)) == [".git", "unrelated.txt"]


def test_auto_is_full_under_the_limit_and_shallow_above_with_one_warning(
    make_repo, tmp_path, monkeypatch
):
    repo = history_repo(make_repo)
    make_dirty(repo.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "a.bundle"))
    assert small.history == "full" and small.history_requested == "auto"
    monkeypatch.setattr(bundling, "AUTO_FULL_HISTORY_LIMIT", 100)
    with pytest.warns(SnapshotWarning, match="history='full'") as caught:
        big = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b.bundle"))
    assert len(caught) == 1
    assert big.history == "shallow" and big.commit == small.commit


def test_size_limit_goes_shallow_first_then_errors(make_repo, tmp_path):
    repo = make_repo({"train.py": "x\n", "weights.bin": os.urandom(300_000)})
    (repo.path / "weights.bin").unlink()
    repo.commit_all("drop the weights")
    limit = 100_000
    with pytest.warns(SnapshotWarning, match=r"full history made .* over max_total_size"):
        snap = snapshot_repo(
            str(repo.path),
            bundle_path=str(tmp_path / "a.bundle"),
            guards=_guards(limit),
        )
    assert snap.history == "shallow" and os.path.getsize(tmp_path / "a.bundle") < limit
    with pytest.raises(SnapshotTooLargeError, match="full history"):
        snapshot_repo(
            str(repo.path),
            bundle_path=str(tmp_path / "b.bundle"),
            guards=_guards(limit),
            history="full",
        )
    repo.write("weights2.bin", os.urandom(300_000))
    repo.commit_all("weights again")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "made a shallow snapshot" before the error
        with pytest.raises(SnapshotTooLargeError, match="shallow"):
            snapshot_repo(
                str(repo.path), bundle_path=str(tmp_path / "c.bundle"), guards=_guards(limit)
            )


def _guards(limit: int):
    from jellyml.snapshot import Guards

    return Guards(max_total_size=limit)


def test_unknown_history_is_refused(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    with pytest.raises(InvalidSnapshotOptionError, match="'auto', 'full', 'shallow'"):
        snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "x"), history="none")


# --- earlier guarantees, in every mode ------------------------------------------------------


def _subject(make_repo, tmp_path: Path, kind: str) -> Path:
    origin = history_repo(make_repo)
    if kind == "depth-1 clone":
        path = tmp_path / "shallow-clone"
        subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin.path}", str(path)])
    else:
        path = origin.path
    if kind != "clean":
        make_dirty(path)
    return path


@pytest.mark.parametrize("kind", ["clean", "dirty", "depth-1 clone"])
@pytest.mark.parametrize("history", ["full", "shallow", "auto"])
def test_repo_unchanged_and_concurrent_processes_agree(make_repo, tmp_path, kind, history):

    path = _subject(make_repo, tmp_path, kind)
    repo = GitRepo(path)
    before = repo.state()
    code = (
        "import sys, warnings\nwarnings.simplefilter('ignore')\n"
        "from jellyml.snapshot import snapshot_repo\n"
        "s = snapshot_repo(sys.argv[1], bundle_path=sys.argv[2], history=sys.argv[3])\n"
        "print(s.commit, s.bundle_commit, s.history)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), str(tmp_path / f"{i}.bundle"), history],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err.decode() for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert repo.state() == before
    bundles = {(tmp_path / f"{i}.bundle").read_bytes() for i in range(4)}
    assert len(bundles) == 1


@pytest.mark.torch
def test_warnings_point_at_the_callers_line(make_repo, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import jellyml
    from jellyml.snapshot import report

    monkeypatch.setattr(bundling, "AUTO_FULL_HISTORY_LIMIT", 100)
    monkeypatch.setattr(report, "LARGE_SNAPSHOT_WARNING", 10)
    repo = history_repo(make_repo)
    repo.write(".env", "TOKEN=1\n")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)])
    monkeypatch.setattr(report, "LARGE_SNAPSHOT_WARNING", 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jellyml.create_snapshot(str(repo.path))
        jellyml.create_snapshot(str(clone), history="full")
    texts = [str(w.message) for w in caught]
    # auto went shallow, .env left out, large (twice), the clone is shallow
    assert len(caught) == 5, texts
    assert {w.filename for w in caught} == {__file__}, texts


@pytest.mark.parametrize("tamper", ["author", "not a commit", "huge"])
def test_a_recorded_commit_object_that_does_not_match_is_not_used(make_repo, tmp_path, tamper):
    """The metadata is untrusted: the rebuilt commit is used only if its id is the header's."""
    import json

    repo = history_repo(make_repo)
    make_dirty(repo.path)
    bundle = tmp_path / "s.bundle"
    snap = snapshot_repo(str(repo.path), bundle_path=str(bundle), history="shallow")
    meta = snapshot_metadata(snap)
    raw = meta["git"]["snapshot_commit_object"]
    meta["git"]["snapshot_commit_object"] = {
        "author": raw.replace("Test Author", "Someone Else"),
        "not a commit": "tree nonsense\n\nx\n",
        "huge": "x" * (2 * 1024 * 1024),
    }[tamper]
    meta_tensor, meta_sha = metadata_tensor(json.dumps(meta, sort_keys=True).encode())
    tensor = snapshot_tensor(bundle.read_bytes(), snap.commit, meta_sha)
    write_checkpoint(tmp_path / "m.pth", {"1": tensor, "2": meta_tensor})
    if tamper == "huge":  # the metadata is refused as a whole: the bundle lacks the header's commit
        proc = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(repo.path), cwd=tmp_path, check=1)
        assert "does not hold commit" in proc.stderr
        return
    proc = jellyml("eat", str(tmp_path / "m.pth"), "-c", str(repo.path), cwd=tmp_path)
    assert repo.git("rev-parse", "HEAD") == snap.bundle_commit
    assert "does not give back its commit" in proc.stderr
    after = sorted(repo.git("cat-file", "--batch-all-objects", "--batch-check").splitlines())
    assert not any(line.startswith(snap.commit) for line in after)  # nothing false written


def test_non_utf8_commit_object_rebuilds_the_same_commit(make_repo, tmp_path):
    origin = history_repo(make_repo)
    older = tmp_path / "older-clone"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(older)], check=True)
    origin.write("train.py", "lr = 9\n")
    origin.git("add", "-A")
    (tmp_path / "msg").write_bytes(b"caf\xe9 au lait\n")
    origin.git("-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", str(tmp_path / "msg"))
    head = origin.git("rev-parse", "HEAD")
    snap = model_of(origin.path, tmp_path / "m.pth", history="shallow")
    assert snap.commit == head and "caf\udce9" in snap.snapshot_commit_object
    jellyml("eat", str(tmp_path / "m.pth"), "-c", str(older), cwd=tmp_path)
    assert git(older, "rev-parse", "HEAD") == head
    assert git(older, "rev-parse", "HEAD^") == origin.git("rev-parse", "HEAD^")


@pytest.mark.slow  # six processes killed at staggered moments
def test_kill_at_any_moment_of_a_shallow_snapshot_leaves_the_repo_unchanged(make_repo, tmp_path):
    import time

    repo = make_repo({f"src/f{i}.py": f"x = {i}\n" * 50 for i in range(600)})
    for i in range(0, 600, 3):
        repo.write(f"src/f{i}.py", "changed\n")
        repo.write(f"new/n{i}.txt", os.urandom(2000))
    repo.git("update-index", "--assume-unchanged", "src/f1.py")
    before = repo.state()
    code = (
        "import sys\nfrom jellyml.snapshot import snapshot_repo\n"
        "print('ready', flush=True)\n"
        f"snapshot_repo({str(repo.path)!r}, bundle_path={str(tmp_path / 'k.bundle')!r}, "
        "history='shallow', exclude=['new/n3*'])\n"
        "print('done', flush=True)\n"
    )

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        return proc

    def duration() -> float:
        proc, began = start(), time.monotonic()
        assert proc.stdout is not None and proc.stdout.read() == b"done\n" and proc.wait() == 0
        proc.stdout.close()
        return time.monotonic() - began

    # The kills land at fractions of the git work's own duration (the shorter of two runs:
    # the first may be slow, its files not yet cached), and each is checked to have landed.
    took = min(duration(), duration())
    assert repo.state() == before
    for share in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45):
        proc = start()
        time.sleep(share * took)
        proc.kill()
        assert proc.wait() == -signal.SIGKILL, f"the kill {share:.0%} into {took:.2f} s missed"
        assert proc.stdout is not None and proc.stdout.read() == b""  # killed before the end
        proc.stdout.close()
        assert repo.state() == before, f"repo changed after a kill {share:.0%} into the git work"


def test_sha256_repository_shallow_snapshot_rebuilds_the_same_commit(tmp_path):
    repo = tmp_path / "sha256"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(repo)], check=True)
    (repo / "train.py").write_text("lr = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    base = git(repo, "rev-parse", "HEAD")
    make_dirty(repo)
    snap = model_of(repo, tmp_path / "m.pth", history="shallow")
    assert len(snap.commit) == 64 and snap.bundle_commit != snap.commit
    jellyml("eat", str(tmp_path / "m.pth"), "-c", str(repo), cwd=tmp_path)
    assert git(repo, "rev-parse", "HEAD") == snap.commit
    assert git(repo, "rev-parse", "HEAD^") == base
