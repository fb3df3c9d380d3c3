"""Checkpoint folders: the snapshot file beside the weights first, then what the folder's own
format points to (HF index and single files, Lightning's FSDP meta.pt, DeepSpeed's latest tag),
through the real CLI; ambiguous and hostile folders refused in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import jellyml
from jellyml import errors
from jellyml import format as fmt
from kit.checkpoints import (
    SNAPSHOT_FILE,
    dcp_like_folder,
    make_model,
    safetensors_bytes,
    snapshot_tensors,
    u8,
    write_safetensors_model,
    write_snapshot_file,
)
from kit.cli import jellyml as run_cli
from kit.repos import clone, git


def _weights(n: int) -> dict[str, tuple[str, list[int], bytes]]:
    return {f"w{i}": ("F32", [1], b"\0\0\x80\x3f") for i in range(n)}


def test_a_dcp_folder_is_read_through_its_snapshot_file(dirty_repo, tmp_path: Path) -> None:
    repo = dirty_repo
    folder = tmp_path / "step-100"
    dcp_like_folder(folder)
    commit = write_snapshot_file(repo.path, folder)

    shown = run_cli("show", "--json", str(folder), check=None)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["commit"] == commit
    eaten = run_cli("eat", str(folder), "-c", str(tmp_path / "fresh"), check=None)
    assert eaten.returncode == 0, eaten.stderr
    assert (tmp_path / "fresh" / "notes.txt").read_text() == "untracked\n"
    extracted = run_cli("fix", "extract-bundle", str(folder) + "/", "-o", str(tmp_path), check=None)
    assert extracted.returncode == 0, extracted.stderr
    assert git(clone(tmp_path / "step-100.bundle", tmp_path / "c"), "rev-parse", "HEAD") == commit
    assert not os.path.exists("/tmp/jellyml-pwned")  # .metadata was never unpickled
    found = jellyml.read_snapshot(folder)
    assert found.path == str(folder) and found.file == str(folder / SNAPSHOT_FILE)


def test_a_dcp_folder_without_a_snapshot_file_says_how_to_add_one(tmp_path: Path) -> None:
    dcp_like_folder(tmp_path / "ckpt")
    proc = run_cli("show", str(tmp_path / "ckpt"), check=None)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1  # a checkpoint, no snapshot
    assert "torch.distributed.checkpoint" in proc.stderr and "save_snapshot" in proc.stderr


def test_hf_sharded_reads_the_shard_the_index_names(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    commit, ours = snapshot_tensors(repo.path)
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "model-00001-of-00002.safetensors").write_bytes(safetensors_bytes(_weights(3)))
    second = {**_weights(2), **{k: u8(v) for k, v in ours.items()}}
    (folder / "model-00002-of-00002.safetensors").write_bytes(safetensors_bytes(second))
    weight_map = {f"w{i}": "model-00001-of-00002.safetensors" for i in range(3)}
    weight_map.update({k: "model-00002-of-00002.safetensors" for k in ours})
    index = {"metadata": {"total_size": 1}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    proc = run_cli("show", "--json", str(folder), check=None)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["commit"] == commit


def test_hf_single_file_lightning_meta_and_deepspeed(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    hf = tmp_path / "checkpoint-500"
    hf.mkdir()
    commit = write_safetensors_model(repo.path, hf / "model.safetensors")
    (hf / "optimizer.pt").write_bytes(b"PK\x03\x04 not read")
    (hf / "trainer_state.json").write_text("{}")
    fsdp = tmp_path / "fsdp.ckpt"
    fsdp.mkdir()
    (fsdp / "__0_0.distcp").write_bytes(b"x")
    make_model(repo.path, fsdp / "meta.pt")
    deepspeed = tmp_path / "deepspeed.ckpt"
    (deepspeed / "checkpoint").mkdir(parents=True)
    (deepspeed / "latest").write_text("checkpoint\n")
    make_model(repo.path, deepspeed / "checkpoint" / "mp_rank_00_model_states.pt")
    (deepspeed / "checkpoint" / "zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"x")
    for folder in (hf, fsdp, deepspeed):
        proc = run_cli("show", "--json", str(folder), check=None)
        assert proc.returncode == 0, (folder, proc.stderr)
        assert json.loads(proc.stdout)["commit"] == commit


def test_the_snapshot_file_comes_first(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_safetensors_model(repo.path, folder / "model.safetensors")
    repo.write("a.py", "x = 2\n")
    repo.commit_all("second")
    newer = write_snapshot_file(repo.path, folder)
    assert jellyml.read_snapshot(folder).commit == newer


def test_one_checkpoint_in_a_folder_is_found_two_are_ambiguous(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    folder = tmp_path / "runs"
    folder.mkdir()
    commit = make_model(repo.path, folder / "last.ckpt")
    (folder / "notes.txt").write_text("hi")
    assert jellyml.read_snapshot(folder).commit == commit
    make_model(repo.path, folder / "epoch=3.ckpt")
    proc = run_cli("show", str(folder), check=None)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1  # not one checkpoint
    assert "several files" in proc.stderr and "epoch=3.ckpt, last.ckpt" in proc.stderr
    with pytest.raises(errors.AmbiguousFolderError) as caught:
        jellyml.read_snapshot(folder)
    assert caught.value.candidates == ["epoch=3.ckpt", "last.ckpt"]


@pytest.mark.parametrize(
    ("make", "phrase", "status"),
    [
        (
            lambda f: (f / "model.safetensors.index.json").write_text(
                json.dumps({"weight_map": {fmt.SNAPSHOT_KEY: "../outside.safetensors"}})
            ),
            "names a file outside the folder",
            3,
        ),
        (lambda f: (f / "latest").write_text("/etc"), "names a file outside the folder", 3),
        (lambda f: (f / "model.safetensors.index.json").write_text("{oops"), "not valid JSON", 3),
        (
            lambda f: (f / "model.safetensors.index.json").write_text('{"weight_map": {}}'),
            "holds no JellyML snapshot",
            4,
        ),
        (lambda f: (f / "notes.txt").write_text("x"), "holding no checkpoint jellyml knows", 3),
    ],
)
def test_hostile_or_empty_folders_are_refused(
    make: Any, phrase: str, status: int, tmp_path: Path
) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (tmp_path / "outside.safetensors").write_bytes(b"never read")
    make(folder)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("fix", "extract-bundle", str(folder), "-o", str(out), check=None)
    assert proc.returncode == status and proc.stderr.count("\n") == 1, proc.stderr
    assert phrase in proc.stderr and "Traceback" not in proc.stderr
    assert os.listdir(out) == []


@pytest.mark.torch
def test_real_dcp_save_with_a_snapshot_file(dirty_repo, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    dcp = pytest.importorskip("torch.distributed.checkpoint")
    repo = dirty_repo
    folder = tmp_path / "dcp"
    state = {"w": torch.arange(6.0)}
    dcp.save(state, checkpoint_id=str(folder))
    commit = write_snapshot_file(repo.path, folder)
    loaded = {"w": torch.zeros(6)}
    dcp.load(loaded, checkpoint_id=str(folder))  # the extra file does not disturb DCP
    assert torch.equal(loaded["w"], state["w"])
    assert jellyml.read_snapshot(folder).commit == commit
