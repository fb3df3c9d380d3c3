"""``hf://`` measured like S3 (issue 21, point 5): against a Hub-compatible server on loopback
(``fake_hub``: the four routes ``HfFileSystem`` uses), ``show``, ``ls`` and ``eat`` of a
checkpoint read only the snapshot's end of the file, never fsspec's 5 MiB default block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jellyml import format as fmt
from kit.checkpoints import snapshot_tensors, write_checkpoint
from kit.cli import jellyml

pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed")
from fake_hub import Hub, fake_hub

KIB = 1024
WEIGHTS = 8 * 1024 * KIB


@pytest.fixture
def hub(make_repo: Any, tmp_path: Path) -> Iterator[tuple[Hub, int]]:
    repo = make_repo({"train.py": "print('hi')\n", "README.md": "# model\n"})
    _commit, ours = snapshot_tensors(repo.path)
    folder = tmp_path / "hub" / "me" / "model" / "checkpoint-500"
    folder.mkdir(parents=True)
    tensors = [bytes(WEIGHTS), ours[fmt.SNAPSHOT_KEY], ours[fmt.METADATA_KEY]]
    write_checkpoint(folder / "pytorch_model.bin", tensors)
    (folder / "config.json").write_text("{}")
    with fake_hub(tmp_path / "hub") as server:
        yield server, sum(len(part) for part in ours.values())


def _run(hub: Hub, *args: str) -> Any:
    hub.clear()
    env = {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0", "HF_TOKEN": ""}
    return jellyml(*args, "--storage-option", f"endpoint={hub.url}", env=env)


def _file_reads(hub: Hub) -> list[tuple[str, str, int, int]]:
    return [entry for entry in hub.requests() if "/resolve/" in entry[1]]


@pytest.mark.parametrize("command", ["show", "ls"])
def test_a_file_costs_three_requests_and_the_snapshot_s_end(
    hub: tuple[Hub, int], command: str
) -> None:
    server, snapshot_bytes = hub
    proc = _run(server, command, "hf://me/model/checkpoint-500/pytorch_model.bin")
    assert "train.py" in proc.stdout or command == "show"
    assert len(server.requests()) <= 3, server.requests()
    reads = _file_reads(server)
    assert all(status == 206 for _m, _p, status, _n in reads)
    assert sum(n for *_rest, n in reads) <= snapshot_bytes + 64 * KIB


@pytest.mark.parametrize("command", ["show", "ls"])
def test_a_checkpoint_folder_costs_one_listing_more(hub: tuple[Hub, int], command: str) -> None:
    server, snapshot_bytes = hub
    _run(server, command, "hf://me/model/checkpoint-500")
    # repository info, the listing of the folder's parent (what is it?) and of the folder
    # itself, then one ranged read
    assert len(server.requests()) <= 4, server.requests()
    assert len(_file_reads(server)) == 1
    assert sum(n for *_rest, n in _file_reads(server)) <= snapshot_bytes + 64 * KIB


def test_eat_of_an_hf_checkpoint(hub: tuple[Hub, int], tmp_path: Path) -> None:
    server, snapshot_bytes = hub
    target = tmp_path / "restored"
    _run(server, "eat", "hf://me/model/checkpoint-500/pytorch_model.bin", "-c", str(target))
    assert (target / "train.py").read_text() == "print('hi')\n"
    assert len(server.requests()) <= 3, server.requests()
    assert sum(n for *_rest, n in _file_reads(server)) <= snapshot_bytes + 64 * KIB
