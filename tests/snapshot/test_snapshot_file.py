"""A snapshot made once and used everywhere: ``jellyml snapshot -o run.jelly`` (without torch),
``create_snapshot(from_file=...)`` and ``JELLYML_SNAPSHOT`` (no git run: counted by a wrapper
on PATH), the warning when the files here differ from the snapshot's, the error on a worker with
neither a repository nor a snapshot file, and ``save_snapshot`` without torch and into S3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jellyml
from jellyml import format as fmt
from kit.cli import jellyml as run_cli
from kit.repos import git_calls, git_logging_wrapper, make_dirty_repo

HERE = Path(__file__).resolve().parent
FILE = "jellyml-snapshot.jelly"
needs_torch = pytest.mark.torch


def python(code: str, *, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """``code`` in a fresh interpreter, as a user's script would run."""
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True
    )


#: Makes ``import torch`` fail in the interpreter that runs the rest: as if not installed.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


@pytest.fixture
def project(make_repo: Any) -> Any:
    return make_dirty_repo(make_repo)


@pytest.fixture
def copy(project: Any, tmp_path: Path) -> Path:
    """What a cluster runs: the project's files (ignored ones dropped, as Ray does), no .git,
    with run.jelly made beforehand where the repository is."""
    run_cli("snapshot", "-c", str(project.path), "-o", str(project.path / "run.jelly"))
    target = tmp_path / "copy"
    shutil.copytree(project.path, target, ignore=shutil.ignore_patterns(".git", "*.log", "ckpt"))
    return target


# --- jellyml snapshot -------------------------------------------------------------------------


def test_the_cli_writes_a_snapshot_file_without_torch(project, tmp_path):
    before = project.state()
    code = NO_TORCH + (
        "from jellyml.cli.main import main\n"
        f"code = main(['snapshot', '-c', {str(project.path)!r}, '-o', 'run.jelly'])\n"
        "assert sys.modules['torch'] is None\n"
        "raise SystemExit(code)\n"
    )
    proc = python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote" in proc.stdout and "JELLYML_SNAPSHOT=" in proc.stdout
    found = jellyml.read_snapshot(tmp_path / "run.jelly")
    assert found.metadata["git"]["dirty"] is True
    assert project.state() == before  # the repository is only read
    run_cli("eat", str(tmp_path / "run.jelly"), "-c", str(tmp_path / "eaten"), "--no-donut")
    assert (tmp_path / "eaten" / "notes.txt").read_text() == "untracked\n"


def test_an_output_inside_the_repository_is_not_in_its_own_snapshot(project):
    for _ in range(2):  # the second run would otherwise carry the first file
        proc = run_cli("snapshot", "-o", "run.jelly", cwd=project.path)
        assert proc.stderr == ""  # its own leaving out is not worth a warning
    listed = run_cli("ls", "run.jelly", cwd=project.path).stdout.split()
    assert "run.jelly" not in listed and "notes.txt" in listed
    left_out = jellyml.read_snapshot(project.path / "run.jelly").metadata["git"]["left_out"]
    assert [item["path"] for item in left_out] == ["run.jelly"]


def test_options_are_flags_and_other_files_are_not_replaced(project, tmp_path):
    out = tmp_path / "run.jelly"
    run_cli(
        "snapshot",
        *("-c", str(project.path), "-o", str(out)),
        *("--history", "shallow", "--exclude", "notes.txt", "--max-untracked-file-size", "1K"),
        *("--out-git-bundle-path", str(tmp_path / "code.bundle")),
    )
    git = jellyml.read_snapshot(out).metadata["git"]
    assert git["history"] == "shallow" and git["exclude"] == ["notes.txt"]
    assert (tmp_path / "code.bundle").read_bytes().startswith(b"# v2 git bundle")
    model = tmp_path / "model.pth"
    model.write_bytes(b"my checkpoint")
    refused = run_cli("snapshot", "-c", str(project.path), "-o", str(model), check=1)
    assert "--force" in refused.stderr and refused.stderr.count("\n") == 1
    assert model.read_bytes() == b"my checkpoint"
    run_cli("snapshot", "-c", str(project.path), "-o", str(model), "--force")
    assert jellyml.read_snapshot(model).metadata["git"]["exclude"] == []
    bad = run_cli("snapshot", "-o", str(out), "--max-total-size", "lots", check=2)
    assert "not a size" in bad.stderr


def test_include_brings_back_a_model_file_the_defaults_leave_out(project, tmp_path):
    project.write("weights.pt", b"small weights")
    out = tmp_path / "run.jelly"
    run_cli("snapshot", "-c", str(project.path), "-o", str(out))
    assert "weights.pt" not in run_cli("ls", str(out)).stdout.split()
    run_cli("snapshot", "-c", str(project.path), "-o", str(out), "--include", "*.pt")
    assert "weights.pt" in run_cli("ls", str(out)).stdout.split()
    assert run_cli("cat", str(out), "weights.pt").stdout == "small weights"


# --- create_snapshot(from_file=...) and JELLYML_SNAPSHOT --------------------------------------

WORKER = (
    "import warnings, json, jellyml\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    snapshot = jellyml.create_snapshot({args})\n"
    "raw = bytes(snapshot['jellyml_code_snapshot'].numpy().tobytes())\n"
    "print(json.dumps({{'said': [str(w.message) for w in caught], 'size': len(raw),\n"
    "                   'head': raw[:1024].split(b'\\0')[0].decode()}}))\n"
)


@needs_torch
def test_a_worker_given_the_file_runs_no_git_and_says_nothing_when_the_code_matches(copy, tmp_path):
    log = git_logging_wrapper(tmp_path / "bin")
    path_env = {"PATH": f"{log.parent}{os.pathsep}{os.environ['PATH']}"}
    by_env = python(
        WORKER.format(args=""), cwd=copy, env={**path_env, "JELLYML_SNAPSHOT": "run.jelly"}
    )
    by_arg = python(WORKER.format(args="from_file='run.jelly'"), cwd=copy, env=path_env)
    for proc in (by_env, by_arg):
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["said"] == []
        assert (
            json.loads(result["head"])["commit"] == jellyml.read_snapshot(copy / "run.jelly").commit
        )
    assert git_calls(log) == []
    assert json.loads(by_env.stdout) == json.loads(by_arg.stdout)


@needs_torch
def test_differing_files_give_exactly_one_line(copy, tmp_path):
    (copy / "model.py").write_text("def model():\n    return 2\n")  # same size, other bytes
    (copy / "config.yaml").write_text("epochs: 1000\n")
    (copy / "notes.txt").unlink()
    proc = python(
        "import jellyml; jellyml.create_snapshot()", cwd=copy, env={"JELLYML_SNAPSHOT": "run.jelly"}
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "SnapshotWarning: JellyML: 3 of the " in lines[0]
    assert "config.yaml, model.py, notes.txt" in lines[0]


@needs_torch
def test_the_warning_finds_the_copy_from_a_script_in_a_subfolder(copy):
    (copy / "scripts").mkdir()
    (copy / "scripts" / "run.py").write_text(
        "import warnings, jellyml\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    jellyml.create_snapshot(from_file={str(copy / 'run.jelly')!r})\n"
        "print(len(caught), [str(w.message) for w in caught])\n"
    )
    (copy / "train.py").write_text("lr = 9\n")
    proc = subprocess.run(
        [sys.executable, "scripts/run.py"], cwd=copy, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1 ") and "(train.py)" in proc.stdout, proc.stdout


@needs_torch
def test_out_git_bundle_path_works_from_a_file_too(copy, tmp_path):
    bundle = tmp_path / "out.bundle"
    snapshot = jellyml.create_snapshot(
        git_repo_path=str(copy), from_file=copy / "run.jelly", out_git_bundle_path=str(bundle)
    )
    assert bundle.read_bytes() == bytes(snapshot[fmt.SNAPSHOT_KEY].numpy()[fmt.HEADER_SIZE :])


@needs_torch
def test_neither_a_repository_nor_a_file_names_both_ways_out(copy):
    proc = python("import jellyml; jellyml.create_snapshot()", cwd=copy)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("jellyml.errors.NotAGitRepoError")
    assert "git_repo_path" in last and "jellyml snapshot -o run.jelly" in last
    assert "JELLYML_SNAPSHOT=run.jelly" in last and "from_file" in last


@needs_torch
def test_a_missing_snapshot_file_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JELLYML_SNAPSHOT", str(tmp_path / "nope.jelly"))
    with pytest.raises(jellyml.ModelFileNotFoundError, match=r"nope\.jelly"):
        jellyml.create_snapshot()


# --- save_snapshot without torch, and into a URL ----------------------------------------------


def test_save_snapshot_makes_the_file_without_torch(project, tmp_path):
    code = NO_TORCH + (
        "import jellyml\n"
        f"print(jellyml.save_snapshot('ckpt', git_repo_path={str(project.path)!r}))\n"
        "assert sys.modules['torch'] is None\n"
    )
    proc = python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert jellyml.read_snapshot(tmp_path / "ckpt").metadata["git"]["dirty"] is True
    from_file = python(
        NO_TORCH + "import jellyml; jellyml.save_snapshot('again', from_file='ckpt')", cwd=tmp_path
    )
    assert from_file.returncode == 0, from_file.stderr
    assert (tmp_path / "again" / FILE).read_bytes() == (tmp_path / "ckpt" / FILE).read_bytes()


@pytest.fixture
def s3() -> Iterator[Any]:
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    sys.path.insert(0, str(HERE.parent / "read"))
    from remote_servers import s3_server

    with s3_server() as server:
        server.make_bucket("models")
        yield server


def test_save_snapshot_into_s3_is_one_put(project, tmp_path, s3):
    run_cli("snapshot", "-c", str(project.path), "-o", str(tmp_path / "run.jelly"))
    s3.log.clear()
    url = jellyml.save_snapshot(
        "s3://models/run/step-5",
        from_file=tmp_path / "run.jelly",
        git_repo_path=str(project.path),
        storage_options=s3.options(),
    )
    assert url == f"s3://models/run/step-5/{FILE}"
    puts = s3.log.settled("PUT", 1)
    assert len(puts) == 1 and puts[0][2] == 200, s3.log.entries
    shown = run_cli("show", "--json", "s3://models/run/step-5/", env=s3.env())
    assert (
        json.loads(shown.stdout)["commit"] == jellyml.read_snapshot(tmp_path / "run.jelly").commit
    )
    cli_url = run_cli(
        "snapshot", "-c", str(project.path), "-o", "s3://models/run.jelly", env=s3.env()
    )
    assert "s3://models/run.jelly" in cli_url.stdout


def test_a_url_without_credentials_is_one_line(project, tmp_path, s3):
    proc = run_cli(
        "snapshot",
        "-c",
        str(project.path),
        "-o",
        "s3://no-such-bucket/run.jelly",
        env=s3.env(),
        check=1,
    )
    assert proc.stderr.count("\n") == 1 and "s3://no-such-bucket/run.jelly" in proc.stderr


def test_warnings_from_a_file_snapshot_point_at_the_caller(copy):
    pytest.importorskip("torch")
    (copy / "train.py").write_text("changed\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jellyml.create_snapshot(git_repo_path=str(copy), from_file=copy / "run.jelly")
    assert [w.filename for w in caught] == [__file__]
