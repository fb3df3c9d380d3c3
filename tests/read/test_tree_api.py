"""The Python side of ls / cat / diff / log: ``jellyml.ls_snapshot``, ``cat_snapshot``,
``diff_snapshot``, ``log_snapshot``; the error types and fields; bundles that need a commit
from the repository (thin bundles, shallow snapshots); untrusted text from a snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import jellyml
from kit.checkpoints import make_model, model_from_bundle, shallow_model
from kit.repos import bundle_of, unchanged


@pytest.fixture
def dirty(make_repo: Any) -> Any:
    repo = make_repo({"a.py": "a = 1\n", "pkg/b.py": "b = 1\n"})
    repo.write("a.py", "a = 2\n")
    repo.write("new.txt", "new\n")
    return repo


def model_of(repo: Any, tmp_path: Path, name: str = "m.pth") -> str:
    out = tmp_path / name
    make_model(repo.path, out)
    return str(out)


def test_ls_and_cat(dirty: Any, tmp_path: Path) -> None:
    model = model_of(dirty, tmp_path)
    with unchanged(dirty):
        assert jellyml.ls_snapshot(model) == ["a.py", "new.txt", "pkg/b.py"]
        assert jellyml.ls_snapshot(model, ["pkg"]) == ["pkg/b.py"]
        assert jellyml.cat_snapshot(model, "a.py") == b"a = 2\n"
        with pytest.raises(jellyml.PathNotInSnapshotError) as caught:
            jellyml.cat_snapshot(model, "pkg/c.py")
    assert isinstance(caught.value, LookupError)
    assert (caught.value.model, caught.value.path) == (model, "pkg/c.py")
    with pytest.raises(jellyml.NotAFileInSnapshotError) as folder:
        jellyml.cat_snapshot(model, "pkg")
    assert folder.value.kind == "folder"


def test_diff_snapshot_returns_plain_text(
    dirty: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not in a repository: the checkpoints are enough
    model = model_of(dirty, tmp_path)
    dirty.write("pkg/b.py", "b = 2\n")
    with unchanged(dirty):
        patch = jellyml.diff_snapshot(model, code_dir=str(dirty.path))
        stat = jellyml.diff_snapshot(model, output="--name-status", code_dir=str(dirty.path))
        base = jellyml.diff_snapshot(model, base=True, output="--name-only")
        same = jellyml.diff_snapshot(model, model)
    assert "-b = 1\n+b = 2\n" in patch and "\x1b" not in patch
    assert stat == "M\tpkg/b.py\n"
    assert base == "a.py\nnew.txt\n"
    assert same == ""
    with pytest.raises(ValueError, match="output must be one of"):
        jellyml.diff_snapshot(model, output="--raw")


def test_revision_not_found(dirty: Any, tmp_path: Path) -> None:
    model = model_of(dirty, tmp_path)
    for rev in ("nope", "--output=/tmp/x", ""):
        with pytest.raises(jellyml.RevisionNotFoundError) as caught:
            jellyml.diff_snapshot(model, rev, code_dir=str(dirty.path))
        assert caught.value.top == str(dirty.path)


def test_log_snapshot_cleans_subjects(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a": "1\n"})
    repo.git("commit", "-q", "--allow-empty", "-m", "evil \x1b[31mred\x07 subject")
    model = model_of(repo, tmp_path)
    log = jellyml.log_snapshot(model)
    assert [e.subject for e in log.entries] == ["evil \\x1b[31mred\\x07 subject", "first"]
    assert log.entries[0].commit == repo.git("rev-parse", "HEAD")
    assert not log.shallow and log.commit == log.entries[0].commit


def test_log_snapshot_of_a_shallow_snapshot(make_repo: Any, tmp_path: Path) -> None:
    source = make_repo({"a": "1\n"})
    source.write("a", "2\n")
    source.commit_all("snapshot")
    model = tmp_path / "s.pth"
    ids = shallow_model(source, model, {"origin": "git@example.com:t/p.git", "up\x1b": "x\x07"})
    log = jellyml.log_snapshot(str(model))
    assert [e.commit for e in log.entries] == [ids["flat"]]
    assert log.shallow and (log.commit, log.base_commit) == (ids["real"], ids["base"])
    assert log.remotes == {"origin": "git@example.com:t/p.git", "up\\x1b": "x\\x07"}


def test_missing_base_commit_names_it_and_the_remote(make_repo: Any, tmp_path: Path) -> None:
    source = make_repo({"a": "1\n"})
    source.write("a", "2\n")
    source.commit_all("snapshot")
    model = tmp_path / "s.pth"
    ids = shallow_model(source, model, {"origin": "https://example.com/p.git"})
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    with pytest.raises(jellyml.MissingCommitError) as caught:
        jellyml.diff_snapshot(str(model), base=True, code_dir=str(nowhere))
    assert (caught.value.commit, caught.value.top) == (ids["base"], None)
    assert caught.value.remotes == {"origin": "https://example.com/p.git"}
    assert "inside a clone of the project (https://example.com/p.git)" in str(caught.value)


def test_a_thin_bundle_borrows_what_it_needs_from_the_repository(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo({"a": "1\n"})
    repo.write("a", "2\n")
    head = repo.commit_all("second")
    bundle = tmp_path / "thin.bundle"
    subprocess.run(
        ["git", "bundle", "create", "-q", str(bundle), "HEAD", "^HEAD~1"], cwd=repo.path, check=True
    )
    model = model_from_bundle(tmp_path / "thin.pth", bundle.read_bytes(), head, {"git": {}})
    elsewhere = make_repo({"b": "other\n"})
    with unchanged(repo, elsewhere):
        assert jellyml.cat_snapshot(str(model), "a", code_dir=str(repo.path)) == b"2\n"
        with pytest.raises(jellyml.MissingCommitError) as caught:
            jellyml.ls_snapshot(str(model), code_dir=str(elsewhere.path))
    assert caught.value.commit == repo.git("rev-parse", "HEAD~1")


def test_diff_base_without_a_recorded_base_commit(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a": "1\n"})
    bundle = tmp_path / "b.bundle"
    subprocess.run(
        ["git", "bundle", "create", "-q", str(bundle), "HEAD"], cwd=repo.path, check=True
    )
    head = repo.git("rev-parse", "HEAD")
    model = model_from_bundle(tmp_path / "m.pth", bundle.read_bytes(), head, {})
    with pytest.raises(jellyml.BaseCommitUnknownError, match="does not record the commit"):
        jellyml.diff_snapshot(str(model), base=True)


def test_diff_base_of_a_snapshot_made_before_the_first_commit(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "1\n", "b/c.py": "2\n"}, commit=False)
    model = model_of(repo, tmp_path)
    with unchanged(repo):
        assert jellyml.diff_snapshot(model, base=True, output="--name-status") == (
            "A\ta.py\nA\tb/c.py\n"
        )


def test_damaged_bundles_are_corrupt_snapshots(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a": "1\n"})
    bundle, head = bundle_of(repo)
    cut = model_from_bundle(tmp_path / "cut.pth", bundle[:-200], head, {})
    not_a_bundle = model_from_bundle(tmp_path / "junk.pth", b"PK" + bundle[2:], head, {})
    with pytest.raises(jellyml.CorruptSnapshotError, match="git bundle cannot be read"):
        jellyml.ls_snapshot(str(cut))
    with pytest.raises(jellyml.CorruptSnapshotError, match="bundle signature"):
        jellyml.log_snapshot(str(not_a_bundle))
    # Two checkpoints load at the same time: a damaged second one still fails cleanly.
    fine = model_from_bundle(tmp_path / "fine.pth", bundle, head, {})
    with pytest.raises(jellyml.CorruptSnapshotError, match="git bundle cannot be read") as hit:
        jellyml.diff_snapshot(str(fine), str(cut))
    assert hit.value.path == str(cut)
    # A bundle changed after its header was written: its sha256 no longer matches.
    good = model_from_bundle(tmp_path / "good.pth", bundle, head, {})
    data = bytearray(good.read_bytes())
    at = data.rfind(b"PACK") + 100
    data[at] ^= 0xFF
    good.write_bytes(bytes(data))
    with pytest.raises(jellyml.CorruptSnapshotError, match="does not match its sha256"):
        jellyml.cat_snapshot(str(good), "a")


def test_looking_inside_never_imports_torch(dirty: Any, tmp_path: Path) -> None:
    import sys

    model = model_of(dirty, tmp_path)
    code = (
        "import sys, jellyml\n"
        f"m = {model!r}\n"
        "jellyml.ls_snapshot(m); jellyml.cat_snapshot(m, 'a.py'); jellyml.log_snapshot(m)\n"
        "jellyml.diff_snapshot(m, m); jellyml.diff_snapshot(m, base=True)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
