"""What a new user hits with checkpoint folders: a Trainer's ``output_dir`` (a folder of
``checkpoint-*`` folders) names the checkpoints it holds, and a weights file whose folder
carries the snapshot file points to it instead of advising ``torch.save``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit.checkpoints import safetensors_bytes, write_snapshot_file
from kit.cli import jellyml
from kit.repos import make_dirty_repo


def _trainer_output_dir(make_repo: Any, root: Path, steps: list[int]) -> str:
    """What the HF Trainer with JellyMLCallback leaves: checkpoint-N folders (weights, the
    optimizer, the RNG state, the snapshot file), and no checkpoint of its own."""
    repo = make_dirty_repo(make_repo)
    commit = ""
    for step in steps:
        folder = root / f"checkpoint-{step}"
        commit = write_snapshot_file(repo.path, folder)
        (folder / "model.safetensors").write_bytes(
            safetensors_bytes({"w": ("F32", [1], b"\0\0\x80\x3f")}, {"format": "pt"})
        )
        for name in ("optimizer.pt", "rng_state.pth", "scheduler.pt"):
            (folder / name).write_bytes(b"not read")
        (folder / "trainer_state.json").write_text("{}\n")
    (root / "runs").mkdir()
    return commit


def test_a_trainer_output_dir_names_its_checkpoints(make_repo: Any, tmp_path: Path) -> None:
    out = tmp_path / "hf_out"
    out.mkdir()
    _trainer_output_dir(make_repo, out, [500, 1000, 1500])
    proc = jellyml("show", str(out), check=None)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert "holds no checkpoint jellyml knows" not in proc.stderr
    assert "3 checkpoint folders (checkpoint-500, checkpoint-1000, checkpoint-1500)" in proc.stderr
    assert f"the latest is {out / 'checkpoint-1500'}" in proc.stderr
    shown = jellyml("show", "--json", str(out / "checkpoint-1500"), check=None)
    assert shown.returncode == 0 and json.loads(shown.stdout)["dirty"] is True


def test_many_checkpoints_are_counted_not_all_named(make_repo: Any, tmp_path: Path) -> None:
    out = tmp_path / "hf_out"
    out.mkdir()
    _trainer_output_dir(make_repo, out, [100 * i for i in range(1, 9)])
    proc = jellyml("eat", str(out), "-c", str(tmp_path / "fresh"), check=None)
    assert proc.returncode == 3 and "8 checkpoint folders" in proc.stderr
    assert "checkpoint-500 and 3 more" in proc.stderr and "checkpoint-800" in proc.stderr
    assert not (tmp_path / "fresh").exists()


def test_a_weights_file_beside_the_snapshot_file_points_to_it(
    make_repo: Any, tmp_path: Path
) -> None:
    out = tmp_path / "final"
    out.mkdir()
    _trainer_output_dir(make_repo, out, [7])
    weights = out / "checkpoint-7" / "model.safetensors"
    proc = jellyml("show", str(weights), check=None)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr
    assert "torch.save" not in proc.stderr
    assert f"in {out / 'checkpoint-7' / 'jellyml-snapshot.jelly'}" in proc.stderr
    assert f"Pass the folder ({out / 'checkpoint-7'})" in proc.stderr
    lone = tmp_path / "lone.safetensors"  # no snapshot file beside it: the usual advice
    lone.write_bytes(weights.read_bytes())
    assert "torch.save" in jellyml("show", str(lone), check=None).stderr
