"""create_snapshot in a torch.distributed job: rank 0 runs git, every rank gets the same bytes."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import jellyml  # noqa: E402
from jellyml import DistributedSnapshotError  # noqa: E402
from jellyml.snapshot import distributed  # noqa: E402

SCRIPT = Path(__file__).with_name("torchrun_snapshot.py")
# A hang guard, not a timed assertion: a hung collective would otherwise hang the test run.
HANG_GUARD_SECONDS = 300


def torchrun(repo_path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    out.mkdir()
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    return subprocess.run(
        [*argv, str(SCRIPT), str(repo_path), str(out), *extra],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )


@pytest.mark.torch
@pytest.mark.slow
def test_two_ranks_get_identical_bytes_and_only_rank0_runs_git(dirty_repo, tmp_path):
    repo = dirty_repo
    before = repo.state()
    proc = torchrun(repo.path, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    for name in ("snapshot", "metadata"):
        assert (out / f"rank0.{name}").read_bytes() == (out / f"rank1.{name}").read_bytes()
    assert int((out / "rank0.git_calls").read_text()) > 0
    assert (out / "rank1.git_calls").read_text() == "0"
    assert repo.state() == before

    # What rank 1 holds is a working snapshot of the dirty tree.
    held = torch.frombuffer(bytearray((out / "rank1.snapshot").read_bytes()), dtype=torch.uint8)
    torch.save({jellyml.SNAPSHOT_KEY: held}, tmp_path / "rank1.pth")
    bundle = jellyml.read_snapshot(tmp_path / "rank1.pth").extract_bundle(tmp_path / "b.bundle")
    subprocess.run(["git", "clone", "-q", bundle, str(tmp_path / "clone")], check=True)
    assert (tmp_path / "clone" / "train.py").read_text() == "lr = 0.25\n"
    assert (tmp_path / "clone" / "notes.txt").read_text() == "untracked\n"


@pytest.mark.torch
@pytest.mark.slow
def test_rank0_failure_is_the_same_clear_error_on_every_rank(tmp_path):
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    (not_a_repo / "a.py").write_text("x = 1\n")
    proc = torchrun(not_a_repo, tmp_path / "out")
    assert proc.returncode != 0
    out = tmp_path / "out"
    rank0, rank1 = ((out / f"rank{r}.error").read_text() for r in (0, 1))
    assert rank0 == rank1
    assert rank0.startswith(f"NotAGitRepoError: {not_a_repo} is not inside a git repository.")
    assert (out / "rank1.git_calls").read_text() == "0"
    assert sorted(p.name for p in not_a_repo.iterdir()) == ["a.py"]


@pytest.mark.torch
@pytest.mark.slow
def test_distributed_false_makes_one_snapshot_per_rank(dirty_repo, tmp_path):
    repo = dirty_repo
    before = repo.state()
    proc = torchrun(repo.path, tmp_path / "out", "--no-distributed")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert int((out / "rank0.git_calls").read_text()) > 0
    assert int((out / "rank1.git_calls").read_text()) > 0
    # Same code, so the same bundle (commit ids are deterministic), made twice.
    bundle0, bundle1 = ((out / f"rank{r}.snapshot").read_bytes()[1024:] for r in (0, 1))
    assert bundle0 == bundle1
    assert repo.state() == before


@pytest.mark.torch
def test_without_a_process_group_nothing_is_shared(dirty_repo):
    repo = dirty_repo
    assert not torch.distributed.is_initialized()
    assert distributed.current_world(torch) is None
    snapshot = jellyml.create_snapshot(str(repo.path))
    assert set(snapshot) == {jellyml.SNAPSHOT_KEY, jellyml.METADATA_KEY}


@pytest.mark.torch
def test_a_process_group_of_one_makes_the_snapshot_locally(dirty_repo, tmp_path):
    repo = dirty_repo
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    try:
        assert distributed.current_world(torch) is None
        snapshot = jellyml.create_snapshot(str(repo.path))
    finally:
        torch.distributed.destroy_process_group()
    assert snapshot[jellyml.SNAPSHOT_KEY].numel() > 1024


def _error_round_trip(exc: BaseException) -> jellyml.JellyMLError:
    return distributed.error_from_json(distributed.error_to_json(exc))


@pytest.mark.parametrize(
    "exc",
    [
        jellyml.NotAGitRepoError("/x/y", hint="Run `git init` there."),
        jellyml.GitCommandError(["git", "bundle", "create"], 128, "fatal: out of space\n"),
        jellyml.SnapshotTooLargeError(5_000, 1_000, "git bundle"),
        jellyml.PathNotFoundError("/nope"),
        jellyml.TorchMissingError(),
        # two built-in bases (ValueError, FileNotFoundError): a missing JELLYML_SNAPSHOT file
        jellyml.ModelFileNotFoundError("run.jelly"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_rank0_errors_are_rebuilt_with_their_class_message_and_fields(exc):
    rebuilt = _error_round_trip(exc)
    assert type(rebuilt) is type(exc)
    assert str(rebuilt) == str(exc)
    assert rebuilt.args == exc.args
    assert {k: v for k, v in vars(rebuilt).items()} == {k: v for k, v in vars(exc).items()}


def test_a_non_jellyml_failure_on_rank0_becomes_a_distributed_snapshot_error():
    rebuilt = _error_round_trip(MemoryError("cannot allocate"))
    assert isinstance(rebuilt, DistributedSnapshotError)
    assert isinstance(rebuilt, jellyml.JellyMLError)
    assert str(rebuilt) == "Rank 0 failed to make the code snapshot: MemoryError: cannot allocate"


def test_an_unknown_error_class_name_is_not_looked_up_outside_jellyml_errors():
    text = '{"type": "SystemExit", "message": "m", "hint": null, "fields": {}}'
    assert type(distributed.error_from_json(text)) is DistributedSnapshotError


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("gloo", "cpu"),
        ("mpi", "cpu"),
        ("cpu:gloo,cuda:nccl", "cpu"),
        ("nccl", "cuda:1"),
        ("xccl", "xpu:1"),
    ],
)
def test_broadcast_tensors_live_where_the_backend_needs_them(backend, expected):
    # Fake accelerators: this machine has no GPU, and only the choice of device is under test.
    fake_torch = types.SimpleNamespace(
        device=torch.device,
        cuda=types.SimpleNamespace(current_device=lambda: 1),
        xpu=types.SimpleNamespace(current_device=lambda: 1),
    )
    fake_dist = types.SimpleNamespace(
        Backend=torch.distributed.Backend, get_backend=lambda: backend
    )
    assert str(distributed._device(fake_torch, fake_dist)) == expected


@pytest.mark.torch
@pytest.mark.slow
def test_calling_it_on_rank0_only_fails_with_a_hint_instead_of_hanging(dirty_repo, tmp_path):
    repo = dirty_repo
    before = repo.state()
    proc = torchrun(repo.path, tmp_path / "out", "--rank0-only")
    assert proc.returncode != 0
    error = (tmp_path / "out" / "rank0.error").read_text()
    assert error.startswith(
        "DistributedSnapshotError: Sharing the code snapshot between ranks failed: "
    )
    assert error.endswith("to make one per process instead, pass distributed=False.")
    assert repo.state() == before
