"""``jellyml.integrations.accelerate.attach`` in real Accelerate runs on CPU: two processes under
torchrun, ``save_state`` with automatic checkpoint naming and ``total_limit=3``, a resume with
``load_state``; git runs counted by a wrapper on PATH; disk use measured with ``du``."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import jellyml
from kit.cli import jellyml as run_cli
from kit.files import disk_usage
from kit.repos import git_calls, git_logging_wrapper, training_project

pytest.importorskip("torch")
pytest.importorskip("accelerate")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_transformers import run_guarded  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]
FILE = "jellyml-snapshot.jelly"
SCRIPT = "accelerate_train.py"


@pytest.fixture
def project(make_repo: Any) -> Any:
    return training_project(make_repo, HERE / SCRIPT)


def torchrun(script: Path, *args: str, env: dict[str, str]) -> Any:
    """Two processes of ``script``, run from its folder (as a job runs from the code's copy)."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    proc = run_guarded([*argv, str(script), *args], {**os.environ, **env}, script.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def folders(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").iterdir(), key=lambda p: int(p.name.split("_")[1]))


def with_wrapper(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    log = git_logging_wrapper(tmp_path / "bin")
    return log, {"PATH": f"{log.parent}{os.pathsep}{os.environ['PATH']}"}


def test_two_processes_run_git_once_and_every_folder_links_one_file(project, tmp_path):
    log, env = with_wrapper(tmp_path)
    out = tmp_path / "out"
    torchrun(project.path / SCRIPT, str(out), "10", str(project.path), env=env)
    assert git_calls(log) and set(git_calls(log)) == {"rank=0"}  # rank 1 ran no git
    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert reports[0] == reports[1] and reports[0]["step"] == 10 and reports[0]["has_snapshot"]
    saved = folders(out)
    assert [p.name for p in saved] == ["checkpoint_7", "checkpoint_8", "checkpoint_9"]
    files = [p / FILE for p in saved]
    assert len({f.stat().st_ino for f in files}) == 1  # one file, three links
    assert disk_usage(*files) <= 1.05 * disk_usage(files[0])
    assert not list(out.rglob(".jellyml-*"))  # no temporary file left
    shown = run_cli("show", "--json", str(saved[-1]))
    assert json.loads(shown.stdout)["dirty"] is True
    run_cli("eat", str(saved[-1]), "-c", str(tmp_path / "eaten"), "--no-donut")
    assert (tmp_path / "eaten" / "model.py").read_text() == "layers = 3\n"
    assert (tmp_path / "eaten" / "notes.txt").read_text() == "untracked\n"

    # load_state resumes as before; the new folders carry the (new run's) snapshot too
    torchrun(project.path / SCRIPT, str(out), "2", str(project.path), "--resume", env=env)
    resumed = json.loads((out / "rank0.json").read_text())
    assert resumed["step"] == 12
    assert [p.name for p in folders(out)] == ["checkpoint_9", "checkpoint_10", "checkpoint_11"]
    assert all((p / FILE).is_file() for p in folders(out))


def test_workers_given_a_snapshot_file_run_no_git(project, tmp_path):
    run_cli("snapshot", "-c", str(project.path), "-o", str(tmp_path / "run.jelly"))
    copy = tmp_path / "copy"  # what a cluster runs: the files, without .git
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".git"))
    log, env = with_wrapper(tmp_path)
    out = tmp_path / "out"
    proc = torchrun(
        copy / SCRIPT, str(out), "4", env={**env, "JELLYML_SNAPSHOT": str(tmp_path / "run.jelly")}
    )
    assert git_calls(log) == []
    assert "SnapshotWarning" not in proc.stderr  # the copy is the snapshot's code
    for folder in folders(out):
        assert filecmp.cmp(folder / FILE, tmp_path / "run.jelly", shallow=False)
    assert jellyml.read_snapshot(folders(out)[-1]).metadata["git"]["dirty"] is True


def test_no_repository_and_no_snapshot_file_warns_once_and_trains_on(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".git"))
    out = tmp_path / "out"
    proc = torchrun(copy / SCRIPT, str(out), "3", env={})
    said = [line for line in proc.stderr.splitlines() if "get no code snapshot" in line]
    assert len(said) == 1, proc.stderr[-3000:]
    assert "JELLYML_SNAPSHOT" in said[0] and "jellyml snapshot -o" in said[0]
    assert json.loads((out / "rank0.json").read_text())["step"] == 3
    assert [p.name for p in folders(out)] == ["checkpoint_0", "checkpoint_1", "checkpoint_2"]
    assert not list(out.rglob(FILE))
