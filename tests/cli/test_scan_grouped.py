"""``jellyml scan`` on what a trainer leaves: one row per checkpoint (a folder's optimizer,
RNG and scheduler states are not rows of "no snapshot"), a header row, when and on which
branch each snapshot was made, and JellyML 1.0.0 files with their commit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kit.checkpoints import (
    FIXTURES,
    make_model,
    safetensors_bytes,
    write_checkpoint,
    write_snapshot_file,
)
from kit.cli import jellyml
from kit.repos import make_dirty_repo

#: The commit of the JellyML 1.0.0 fixtures (tests/fixtures/README.md).
V100_COMMIT = "5396996905c84034095deb4dd5fde2035c40cb39"


def _trainer_output(make_repo: Any, out: Path) -> str:
    repo = make_dirty_repo(make_repo)
    commit = ""
    for step in (500, 1000, 1500):
        folder = out / f"checkpoint-{step}"
        commit = write_snapshot_file(repo.path, folder)
        (folder / "model.safetensors").write_bytes(
            safetensors_bytes({"w": ("F32", [1], b"\0\0\x80\x3f")}, {"format": "pt"})
        )
        for name in ("optimizer.pt", "rng_state.pth", "scheduler.pt", "training_args.bin"):
            write_checkpoint(folder / name, [b"\0" * 64])  # torch.save files, no snapshot
        (folder / "trainer_state.json").write_text("{}\n")
    shutil.copy(FIXTURES / "jellyml-1.0.0-clean.pth", out / "old.pth")
    return commit


def test_a_trainer_folder_is_one_row_per_checkpoint(make_repo: Any, tmp_path: Path) -> None:
    out = tmp_path / "hf_out"
    commit = _trainer_output(make_repo, out)
    proc = jellyml("scan", str(out), check=None)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "snapshot",
        "commit",
        "state",
        "created",
        "branch",
        "size",
        "checkpoint",
    ]
    rows = lines[1:-1]
    assert [row.split()[-1] for row in rows] == [
        f"{out}/checkpoint-500/",
        f"{out}/checkpoint-1000/",
        f"{out}/checkpoint-1500/",
        f"{out}/old.pth",
    ]
    for row in rows[:3]:
        assert row.split()[:3] == ["yes", commit[:12], "dirty"]
        assert " main " in row or " master " in row  # the branch it was made on
    assert V100_COMMIT[:12] in rows[3]  # read from the 1.0.0 file's bundle
    assert "optimizer.pt" not in proc.stdout and "no snapshot" not in proc.stdout
    assert lines[-1] == "4 checkpoints, 4 carrying a snapshot."

    listed = json.loads(jellyml("scan", "--json", str(out), check=None).stdout)
    first = listed[0]
    assert first["kind"] == "folder" and first["file"] == "jellyml-snapshot.jelly"
    assert first["created_at"] and first["branch"] in ("main", "master")
    assert first["size"] == sum(p.stat().st_size for p in (out / "checkpoint-500").iterdir())
    assert listed[-1]["commit"] == V100_COMMIT and listed[-1]["kind"] == "file"


def test_a_second_snapshot_in_a_checkpoint_folder_still_shows(
    make_repo: Any, tmp_path: Path
) -> None:
    """A gate: a file of a checkpoint folder that carries a snapshot of its own (or cannot be
    read) keeps a row, so --check still fails on it."""
    out = tmp_path / "hf_out"
    _trainer_output(make_repo, out)
    for step in (500, 1000, 1500):
        (out / f"checkpoint-{step}" / "jellyml-snapshot.jelly").unlink()
    make_model(make_repo({"a.py": "1\n"}, name="other").path, out / "checkpoint-1000" / "extra.pt")
    (out / "old.pth").unlink()
    proc = jellyml("scan", "--check", "--json", str(out), check=None)
    assert proc.returncode == 1
    rows = {Path(e["path"]).name: e for e in json.loads(proc.stdout)}
    assert set(rows) == {"checkpoint-500", "checkpoint-1000", "checkpoint-1500"}
    assert rows["checkpoint-1000"]["snapshot"] and rows["checkpoint-1000"]["file"] == "extra.pt"
    assert not rows["checkpoint-500"]["snapshot"]
