"""DeepSpeed checkpoint folders, laid out as ``engine.save_checkpoint(save_dir)`` lays them out
(DeepSpeed's ``runtime/engine.py``: ``_get_ckpt_name``, ``_get_zero_ckpt_name``, the ``latest``
file rank 0 writes, the ``zero_to_fp32.py`` it copies), with the snapshot in either place the
README's recipe puts it: ``client_state={**snapshot}`` (inside the model states file) or
``jellyml.save_snapshot(<save_dir>/<tag>)`` (a snapshot file in the tag folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import make_model, write_checkpoint, write_snapshot_file
from kit.cli import jellyml as run_cli

ZERO3_STATES = "zero_pp_rank_0_mp_rank_00_model_states.pt"


def _tag(save_dir: Path, tag: str, repo: Any, *, where: str, zero3: bool = False) -> str:
    """One ``save_checkpoint`` of a 2-rank ZeRO run into ``save_dir/tag``; the snapshot's
    commit. ``where``: "client_state" or "save_snapshot"."""
    folder = save_dir / tag
    folder.mkdir(parents=True)
    states = [ZERO3_STATES, "zero_pp_rank_1_mp_rank_00_model_states.pt"] if zero3 else []
    states = states or ["mp_rank_00_model_states.pt"]
    if where == "client_state":
        commit = make_model(repo.path, folder / states[0])  # the snapshot's keys in the dict
    else:
        write_checkpoint(folder / states[0], [b"\0" * 2048])  # weights only
        commit = write_snapshot_file(repo.path, folder)
    for name in states[1:]:
        write_checkpoint(folder / name, [b"\1" * 2048])
    for rank in (0, 1):
        optim = f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt"
        write_checkpoint(folder / ("bf16_" + optim if zero3 else optim), [b"\2" * 4096])
    (save_dir / "latest").write_text(tag)  # rank 0, after the tag's files
    (save_dir / "zero_to_fp32.py").write_text("# DeepSpeed's recovery script\n")
    return commit


def _shown(path: Path) -> str:
    return str(json.loads(run_cli("show", "--json", str(path)).stdout)["commit"])


@pytest.mark.parametrize("where", ["client_state", "save_snapshot"])
@pytest.mark.parametrize("zero3", [False, True], ids=["zero2", "zero3"])
def test_the_save_dir_is_read_through_latest(make_repo, tmp_path, where, zero3):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    save_dir = tmp_path / "checkpoints"
    old = _tag(save_dir, "global_step5", repo, where=where, zero3=zero3)
    repo.write("train.py", "lr = 0.2\n")
    new = _tag(save_dir, "global_step10", repo, where=where, zero3=zero3)
    assert old != new
    assert _shown(save_dir) == new  # latest names global_step10
    assert _shown(save_dir / "global_step5") == old  # a tag folder read by itself
    run_cli("eat", str(save_dir), "-c", str(tmp_path / "eaten"), "--no-donut")
    assert (tmp_path / "eaten" / "train.py").read_text() == "lr = 0.2\n"


def test_a_tag_without_a_snapshot_says_so(make_repo, tmp_path):
    save_dir = tmp_path / "checkpoints"
    (save_dir / "global_step1").mkdir(parents=True)
    write_checkpoint(save_dir / "global_step1" / "mp_rank_00_model_states.pt", [b"\0" * 2048])
    (save_dir / "latest").write_text("global_step1")
    for path in (save_dir, save_dir / "global_step1"):
        proc = run_cli("show", str(path), check=4)  # a checkpoint without a snapshot
        assert "mp_rank_00_model_states.pt" in proc.stderr and proc.stderr.count("\n") == 1
