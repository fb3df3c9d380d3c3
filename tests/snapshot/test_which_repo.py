"""Which repository a snapshot is of: the entry script's, whatever the current directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jellyml.errors import NotAGitRepoError
from jellyml.snapshot import snapshot_repo

TRAIN = """\
import json, sys, warnings
from jellyml.snapshot import snapshot_repo
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for i in range(2):  # a second snapshot (the next checkpoint) must not warn again
        s = snapshot_repo(None, bundle_path=sys.argv[1] + str(i))
meta = s.git_metadata()
print(json.dumps({
    "top": meta["repo_path"], "by": meta["repo_chosen_by"], "script": meta["entry_script"],
    "warnings": [str(w.message) for w in caught],
}))
"""


def run_script(script: Path, cwd: Path, tmp_path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out.bundle")],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def project(make_repo):
    repo = make_repo({"model.py": "m\n"}, name="proj")
    repo.write("train.py", TRAIN)
    repo.commit_all("train script")
    return repo


def test_script_run_from_another_repository_snapshots_its_own_and_warns_once(
    project, make_repo, tmp_path
):
    other = make_repo({"other.txt": "o\n"}, name="other-project")
    (other.path / "sub").mkdir()
    got = run_script(project.path / "train.py", other.path / "sub", tmp_path)
    assert got["top"] == str(project.path) and got["by"] == "entry_script"
    assert got["script"] == str(project.path / "train.py")
    assert len(got["warnings"]) == 1
    assert str(project.path) in got["warnings"][0] and str(other.path) in got["warnings"][0]


def test_script_run_from_a_folder_outside_any_repository(project, tmp_path):
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    got = run_script(project.path / "train.py", elsewhere, tmp_path)
    assert got["top"] == str(project.path) and got["by"] == "entry_script"
    assert got["warnings"] == []


def test_script_outside_any_repository_falls_back_to_the_current_directory(make_repo, tmp_path):
    repo = make_repo({"code.py": "c\n"}, name="cwd-repo")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "train.py").write_text(TRAIN)
    got = run_script(scripts / "train.py", repo.path, tmp_path)
    assert got["top"] == str(repo.path) and got["by"] == "cwd"
    assert got["script"] == str(scripts / "train.py") and got["warnings"] == []


def test_python_c_uses_the_current_directory(make_repo, tmp_path):
    repo = make_repo({"code.py": "c\n"}, name="cwd-repo")
    code = TRAIN.replace("sys.argv[1]", repr(str(tmp_path / "c.bundle")))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True
    )
    got = json.loads(proc.stdout)
    assert got == {"top": str(repo.path), "by": "cwd", "script": None, "warnings": []}


def test_notebook_style_call_uses_the_current_directory(make_repo, tmp_path, monkeypatch):
    # In-process, as in a notebook: __main__ here is pytest's, an installed tool, not the code.
    repo = make_repo({"code.py": "c\n"}, name="nb-repo")
    monkeypatch.chdir(repo.path)
    snap = snapshot_repo(None, bundle_path=str(tmp_path / "nb.bundle"))
    meta = snap.git_metadata()
    assert meta["repo_path"] == str(repo.path)
    assert (meta["repo_chosen_by"], meta["entry_script"]) == ("cwd", None)


def test_explicit_path_is_recorded(make_repo, tmp_path):
    repo = make_repo({"code.py": "c\n"})
    meta = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "b")).git_metadata()
    assert meta["repo_chosen_by"] == "git_repo_path" and meta["repo_path"] == str(repo.path)


def test_nothing_in_a_repository_suggests_git_repo_path_not_git_init(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "train.py").write_text(
        "import sys\nfrom jellyml.snapshot import snapshot_repo\n"
        "from jellyml.errors import NotAGitRepoError\n"
        "try:\n    snapshot_repo(None, bundle_path=sys.argv[1])\n"
        "except NotAGitRepoError as e:\n    print(e)\n"
    )
    elsewhere = tmp_path / "run-dir"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, str(scripts / "train.py"), str(tmp_path / "x.bundle")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    message = proc.stdout
    assert "git_repo_path=os.path.dirname(__file__)" in message
    assert "create_git_repo=True" in message and "git init" not in message
    assert str(scripts) in message
    assert sorted(os.listdir(elsewhere)) == [] and sorted(os.listdir(scripts)) == ["train.py"]


def test_not_a_repo_error_for_an_explicit_folder(tmp_path):
    with pytest.raises(NotAGitRepoError, match="create_git_repo=True") as caught:
        snapshot_repo(str(tmp_path), bundle_path=str(tmp_path / "x.bundle"))
    assert "git init" not in str(caught.value)
