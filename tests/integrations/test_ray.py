"""``jellyml.integrations.ray.JellyMLCallback`` on a real local Ray cluster (started once for the
module: ``ray.init(num_cpus=2, include_dashboard=False)``), ``TorchTrainer`` with 2 workers on
CPU; storage on a local folder and on S3 (moto's server on 127.0.0.1); git runs counted by a
wrapper on PATH (it logs the process that ran git)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jellyml
from jellyml.gitcore import run as gitrun
from kit.cli import jellyml as run_cli
from kit.files import disk_usage
from kit.repos import git_calls, git_logging_wrapper, training_project

pytest.importorskip("torch")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.train")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "read"))
import ray_train  # noqa: E402
from remote_servers import S3Server, s3_server  # noqa: E402

from jellyml.integrations.ray import JellyMLCallback  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow, pytest.mark.ray]
FILE = "jellyml-snapshot.jelly"
SCRIPT = "ray_train.py"
# A hang guard, not a timed assertion.
HANG_GUARD_SECONDS = 600


class Cluster:
    def __init__(self, address: str, log: Path) -> None:
        self.address = address
        self.log = log

    def git_pids(self) -> list[str]:
        calls = git_calls(self.log)
        self.log.write_text("")
        return calls


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One local cluster for the module, with a git that logs who runs it first on PATH (the
    workers Ray starts inherit the driver's environment)."""
    scratch = Path(tempfile.mkdtemp(prefix="jellyml-ray-"))  # short: Ray's socket paths
    log = git_logging_wrapper(scratch / "bin", what="pid=$PPID")
    saved = {k: os.environ.get(k) for k in ("PATH", "RAY_DEDUP_LOGS", "RAY_AUTH_MODE")}
    os.environ["PATH"] = f"{log.parent}{os.pathsep}{os.environ['PATH']}"
    os.environ["RAY_DEDUP_LOGS"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"  # no token file written into the real HOME
    gitrun.git_executable.cache_clear()  # this process finds git on PATH again: the wrapper
    context = ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(scratch / "ray"),
    )
    try:
        yield Cluster(context.address_info["gcs_address"], log)
    finally:
        ray.shutdown()
        gitrun.git_executable.cache_clear()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def project(make_repo: Any) -> Any:
    return training_project(make_repo, HERE / SCRIPT)


def test_a_driver_in_its_repository_snapshots_once_and_every_checkpoint_links_it(
    cluster, project, tmp_path
):
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(ray_train)  # the workers cannot import tests/
    cluster.git_pids()
    callback = JellyMLCallback(str(project.path))
    storage = tmp_path / "results"
    ray_train.trainer(str(storage), [callback], name="local").fit()
    calls = cluster.git_pids()
    assert calls and set(calls) == {f"pid={os.getpid()}"}  # git ran in the driver only
    folders = sorted(p for p in (storage / "local").glob("checkpoint_*") if p.is_dir())
    assert len(folders) == ray_train.KEEP  # num_to_keep rotated the others away
    files = [folder / FILE for folder in folders]
    assert all(f.is_file() for f in files)
    assert len({f.stat().st_ino for f in files}) == 1  # one file, linked into every folder
    assert disk_usage(*files) <= 1.05 * disk_usage(files[0])
    assert {p.name for p in folders[-1].iterdir()} == {"model-0.pt", "model-1.pt", FILE}
    commit = jellyml.read_snapshot(files[0]).commit
    shown = json.loads(run_cli("show", "--json", str(folders[-1])).stdout)
    assert shown["commit"] == commit and shown["dirty"] is True
    run_cli("eat", str(folders[0]), "-c", str(tmp_path / "eaten"), "--no-donut")
    assert (tmp_path / "eaten" / "model.py").read_text() == "layers = 3\n"


@pytest.fixture
def s3() -> Iterator[S3Server]:
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    with s3_server() as server:
        server.make_bucket("models")
        yield server


def test_a_submitted_job_without_git_uses_the_snapshot_file_on_s3(cluster, project, tmp_path, s3):
    """As ``ray job submit --working-dir .``: the driver runs in a copy without ``.git``, the
    working directory goes to the workers without ``.git`` either, and ``JELLYML_SNAPSHOT``
    reaches both; storage is S3. No process runs git."""
    run_cli("snapshot", "-c", str(project.path), "-o", str(project.path / "run.jelly"))
    commit = jellyml.read_snapshot(project.path / "run.jelly").commit
    copy = tmp_path / "copy"
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".git"))
    cluster.git_pids()
    result = tmp_path / "result.json"
    proc = _run_driver(
        [str(copy / SCRIPT), cluster.address, "models/job-runs", str(result), s3.endpoint],
        cwd=copy,
        env={"JELLYML_SNAPSHOT": "run.jelly", "RAY_CHDIR_TO_TRIAL_DIR": "0"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert cluster.git_pids() == []  # not the driver, not the controller, not a worker
    assert "SnapshotWarning" not in proc.stderr  # the copies are the snapshot's code
    assert json.loads(result.read_text())["metrics"]["commit"] == commit
    import s3fs

    fs = s3fs.S3FileSystem(**s3.options())
    folders = sorted(p for p in fs.glob("models/job-runs/job/checkpoint_*") if fs.isdir(p))
    assert len(folders) == ray_train.KEEP
    for folder in folders:
        assert fs.isfile(f"{folder}/{FILE}")
        assert fs.cat_file(f"{folder}/{FILE}") == (project.path / "run.jelly").read_bytes()
    s3.log.clear()
    url = f"s3://{folders[-1]}/"
    shown = run_cli("show", "--json", url, env=s3.env())
    assert json.loads(shown.stdout)["commit"] == commit
    assert len(s3.log.requests()) <= 4, s3.log.requests()  # the budget of a small file + 1


def _run_driver(argv: list[str], cwd: Path, env: dict[str, str]) -> Any:
    full = {**os.environ, **env}
    full.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )


def test_a_driver_with_neither_repository_nor_file_warns_once_and_writes_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no repository here, and pytest is no entry script
    with pytest.warns(jellyml.SnapshotWarning) as caught:
        callback = JellyMLCallback()
    assert len(caught) == 1 and "JELLYML_SNAPSHOT" in str(caught[0].message)
    assert callback.snapshot is None
    folder = tmp_path / "checkpoint_x"
    folder.mkdir()
    callback.after_report(None, [{}], _Persisted(str(folder)))
    assert list(folder.iterdir()) == []


class _Persisted:
    """What after_report receives: a checkpoint persisted at ``path`` on a local filesystem."""

    def __init__(self, path: str) -> None:
        import pyarrow.fs

        self.path = path
        self.filesystem = pyarrow.fs.LocalFileSystem()
