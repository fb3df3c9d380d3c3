"""The chunked broadcast: a snapshot larger than CHUNK_SIZE reaches every rank whole.

Real bundles rarely pass the real 64 MiB chunk size in a test, so two processes in a gloo
group (no torchrun launcher: each one is started here) make the chunk size tiny; then the
snapshot, its metadata and a rank 0 failure all travel in many chunks, the last one short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jellyml
from kit.checkpoints import write_checkpoint
from kit.repos import clone

pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.slow]

CHILD = Path(__file__).with_name("chunked_broadcast.py")
SNAPSHOT_CHUNK, ERROR_CHUNK = 997, 7  # as in chunked_broadcast.py
# A hang guard, not a timed assertion: a hung collective would otherwise hang the test run.
HANG_GUARD_SECONDS = 300


def _chunks(size: int, chunk: int) -> list[int]:
    """The broadcasts that carry ``size`` bytes in chunks of ``chunk``."""
    return [min(chunk, size - start) for start in range(0, size, chunk)]


def _run_two_ranks(repo: Path, not_a_repo: Path, out: Path) -> None:
    out.mkdir()
    rendezvous = out.parent / "rendezvous"
    argv = [sys.executable, str(CHILD), str(repo), str(not_a_repo), str(out)]
    procs = [
        subprocess.Popen(
            [*argv, str(rank), str(rendezvous)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    results = [p.communicate(timeout=HANG_GUARD_SECONDS) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]


def test_snapshot_metadata_and_errors_arrive_whole_in_many_chunks(dirty_repo, tmp_path):
    repo = dirty_repo
    before = repo.state()
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    out = tmp_path / "out"
    _run_two_ranks(repo.path, not_a_repo, out)

    snapshot, metadata = ((out / f"rank0.{name}").read_bytes() for name in ("snapshot", "metadata"))
    assert (out / "rank1.snapshot").read_bytes() == snapshot
    assert (out / "rank1.metadata").read_bytes() == metadata
    sent, received = (json.loads((out / f"rank{r}.chunks.json").read_text()) for r in (0, 1))
    assert sent == received
    # One 3-number head, then each tensor in chunks: several, the last one short.
    data_chunks = _chunks(len(snapshot), SNAPSHOT_CHUNK)
    meta_chunks = _chunks(len(metadata), SNAPSHOT_CHUNK)
    assert sent["snapshot"] == [3, *data_chunks, *meta_chunks]
    assert len(data_chunks) > 1 and len(meta_chunks) > 1
    assert data_chunks[-1] < SNAPSHOT_CHUNK and meta_chunks[-1] < SNAPSHOT_CHUNK

    # What rank 1 assembled is a snapshot a user can restore: the dirty tree, exactly.
    model = write_checkpoint(
        tmp_path / "rank1.pth",
        [(out / "rank1.snapshot").read_bytes(), (out / "rank1.metadata").read_bytes()],
    )
    found = jellyml.read_snapshot(model)
    assert found.metadata is not None and found.metadata["git"]["dirty"] is True
    restored = clone(found.extract_bundle(tmp_path / "b.bundle"), tmp_path / "clone")
    assert (restored / "train.py").read_text() == "lr = 0.25\n"
    assert (restored / "notes.txt").read_text() == "untracked\n"
    assert repo.state() == before

    # A failure on rank 0 travels the same way: the same error on rank 1, in many chunks.
    errors = [(out / f"rank{r}.error").read_text() for r in (0, 1)]
    assert errors[0] == errors[1]
    assert errors[0].startswith(f"NotAGitRepoError: {not_a_repo} is not inside a git repository")
    head, *error_chunks = sent["error"]
    assert head == 3 and len(error_chunks) > 1
    assert all(size == ERROR_CHUNK for size in error_chunks[:-1]) and error_chunks[-1] > 0
