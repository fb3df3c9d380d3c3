"""Lightning ``strategy="ddp", devices=2`` on CPU (gloo) with JellyMLLightningPlugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

import jellyml  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.lightning, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("ddp_train.py")
# A hang guard, not a timed assertion: a hung collective would otherwise hang the test run.
HANG_GUARD_SECONDS = 300


def run_ddp(
    namespace: str, repo_path: Path, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    out.mkdir()
    return subprocess.run(
        [sys.executable, str(SCRIPT), namespace, str(repo_path), str(out), *extra],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )


@pytest.mark.parametrize(
    ("namespace", "wiring"),
    [
        ("lightning.pytorch", "--plugin"),
        ("pytorch_lightning", "--plugin"),
        # The callback, for strategies whose sharded saves bypass CheckpointIO, on every rank.
        ("lightning.pytorch", "--callback"),
        # Both: the callback shares the snapshot rank 0's plugin made with the other ranks.
        ("lightning.pytorch", "--both"),
    ],
)
def test_ddp_git_runs_once_and_every_checkpoint_holds_the_snapshot(
    namespace, wiring, make_repo, tmp_path
):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    repo.write("train.py", "lr = 0.25\n")
    repo.write("notes.txt", "untracked\n")
    before = repo.state()
    out = tmp_path / "out"
    proc = run_ddp(namespace, repo.path, out, wiring)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rank0 = (out / "rank0.snapshot").read_bytes()
    assert rank0
    # The plugin alone: only rank 0 saves, so only rank 0 holds a snapshot. With the callback,
    # every rank holds the same bytes (sharded saves write on every rank).
    assert (out / "rank1.snapshot").read_bytes() == (b"" if wiring == "--plugin" else rank0)
    assert int((out / "rank0.git_calls").read_text()) > 0
    assert (out / "rank1.git_calls").read_text() == "0"  # rank 1 never ran git
    ckpts = sorted((out / "ckpts").iterdir())
    assert [p.name for p in ckpts] == ["epoch=0-step=2.ckpt", "last.ckpt", "manual.ckpt"]
    for ckpt in ckpts:
        saved = torch.load(ckpt, weights_only=True)
        assert saved[jellyml.SNAPSHOT_KEY].numpy().tobytes() == rank0
    assert jellyml.read_snapshot(ckpts[0]).metadata["git"]["untracked_included"] == ["notes.txt"]
    assert repo.state() == before
    # Lightning's log says it once, on rank 0 (both ranks write to the same stderr).
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if "JellyML:" in line]
    assert len(said) == 1 and "with uncommitted changes" in said[0], said


def test_ddp_plugin_failure_stops_the_script_before_any_rank_starts(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    out = tmp_path / "out"
    proc = run_ddp("lightning.pytorch", plain, out, "--plugin")
    assert proc.returncode == 3
    error = (out / "built.error").read_text()
    assert error.startswith(f"NotAGitRepoError: {plain} is not inside a git repository.")
    assert sorted(p.name for p in out.iterdir()) == ["built.error"]  # no rank ever started
    assert list(plain.iterdir()) == []


def test_ddp_callback_failure_is_the_same_error_on_both_ranks(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    out = tmp_path / "out"
    proc = run_ddp("lightning.pytorch", plain, out, "--callback")
    assert proc.returncode != 0
    rank0, rank1 = ((out / f"rank{r}.error").read_text() for r in (0, 1))
    assert rank0 == rank1
    assert rank0.startswith(f"NotAGitRepoError: {plain} is not inside a git repository.")
    assert (out / "rank1.git_calls").read_text() == "0"
    assert list(plain.iterdir()) == []
