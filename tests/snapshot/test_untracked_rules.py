"""Issue 17, the snapshot side: which untracked files a snapshot carries, and the one rule eat
shares. Model and data files (and files that hold a snapshot of their own) are left out by
default, recorded with their reason; ``include=`` brings one back; a warning names the largest
when the untracked files that go in are many megabytes; ``history="auto"`` is decided by what the
full bundle would carry, never by unreachable objects."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jellyml.snapshot import (
    DEFAULT_MODEL_PATTERNS,
    UNTRACKED_WARNING_SIZE,
    Guards,
    SnapshotWarning,
    snapshot_repo,
)
from kit.checkpoints import make_model, write_checkpoint
from kit.cli import jellyml

MiB = 1 << 20
#: What the issue names, at least.
REQUIRED_PATTERNS = [
    *("*.pt", "*.pth", "*.ckpt", "*.safetensors", "*.bin", "*.gguf", "*.onnx", "*.h5"),
    *("*.npz", "*.npy", "*.parquet", "*.arrow", "*.tfrecord"),
]


def _snap(repo, tmp_path: Path, **options):
    tmp_path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snap = snapshot_repo(str(repo.path), bundle_path=str(tmp_path / "s.bundle"), **options)
    return snap, [str(w.message) for w in caught if issubclass(w.category, SnapshotWarning)]


def _files_in(tmp_path: Path, snap) -> list[str]:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", snap.bundle_path, str(clone)], check=True)
    out = subprocess.run(
        ["git", "ls-files"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def test_model_and_data_files_are_left_out_with_their_reason(make_repo, tmp_path):
    assert set(REQUIRED_PATTERNS) <= set(DEFAULT_MODEL_PATTERNS)
    repo = make_repo({"train.py": "x = 1\n"})
    names = [f"out/model{pattern[1:]}" for pattern in REQUIRED_PATTERNS]
    for name in names:
        repo.write(name, b"\0weights")
    repo.write("out/MODEL.PT", b"upper case too")
    repo.write("notes.md", "kept\n")
    snap, warned = _snap(repo, tmp_path)
    reasons = {item.path: item.reason for item in snap.left_out}
    for name in [*names, "out/MODEL.PT"]:
        assert "a model or data file" in reasons[name] and "include=" in reasons[name]
    assert snap.untracked_included == ["notes.md"]
    assert "out/model.pt" in " ".join(warned)
    assert _files_in(tmp_path, snap) == ["notes.md", "train.py"]


def test_include_brings_a_model_file_back(make_repo, tmp_path):
    repo = make_repo({"train.py": "x = 1\n"})
    repo.write("configs/lookup.npy", b"small table")
    repo.write("weights/tiny.pt", b"tiny")
    repo.write("weights/other.pt", b"other")
    repo.write("data/a.parquet", b"a")
    snap, _ = _snap(repo, tmp_path, guards=Guards(include=("configs/lookup.npy", "tiny.pt")))
    assert sorted(snap.untracked_included) == ["configs/lookup.npy", "weights/tiny.pt"]
    assert {i.path for i in snap.left_out} == {"weights/other.pt", "data/a.parquet"}
    snap, _ = _snap(repo, tmp_path / "2", guards=Guards(include=("data/",)))
    assert snap.untracked_included == ["data/a.parquet"]


def test_include_does_not_bring_back_secrets_or_large_files(make_repo, tmp_path):
    repo = make_repo({"train.py": "x = 1\n"})
    repo.write(".env", "KEY=1\n")
    repo.write("big.pt", b"\0" * 2000)
    guards = Guards(max_untracked_file_size=1000, include=(".env", "big.pt"))
    snap, _ = _snap(repo, tmp_path, guards=guards)
    assert snap.untracked_included == []


def test_a_file_holding_a_snapshot_is_left_out_whatever_its_name(make_repo, tmp_path):
    repo = make_repo({"train.py": "x = 1\n"})
    make_model(repo.path, repo.path / "checkpoint_latest")  # no extension: not named like one
    write_checkpoint(repo.path / "plain_archive", [b"no snapshot in here"])  # a zip all the same
    snap, _ = _snap(repo, tmp_path)
    reasons = {item.path: item.reason for item in snap.left_out}
    assert "holds a JellyML snapshot" in reasons["checkpoint_latest"]
    assert snap.untracked_included == ["plain_archive"]
    snap, _ = _snap(repo, tmp_path / "2", guards=Guards(include=("checkpoint_latest",)))
    assert "checkpoint_latest" in snap.untracked_included


def test_one_warning_names_the_largest_when_untracked_files_are_many_megabytes(make_repo, tmp_path):
    assert 5 * MiB == UNTRACKED_WARNING_SIZE
    repo = make_repo({"train.py": "x = 1\n"})
    repo.write("data/big.csv", os.urandom(3 * MiB))
    repo.write("data/mid.csv", os.urandom(2 * MiB))
    repo.write("data/small.csv", os.urandom(MiB // 2))
    _, warned = _snap(repo, tmp_path)
    about = [w for w in warned if "MiB of untracked files" in w]
    assert len(about) == 1
    assert "the largest: data/big.csv (3.0 MiB)" in about[0]
    (repo.path / "data" / "mid.csv").unlink()
    _, warned = _snap(repo, tmp_path / "2")
    assert not [w for w in warned if "MiB of untracked files" in w]


def test_history_auto_is_not_fooled_by_unreachable_objects(make_repo, tmp_path):
    """20 MiB of objects nothing reaches (work put aside and dropped, a deleted branch) used
    to make every snapshot shallow; what the full bundle would carry decides."""
    repo = make_repo({"train.py": "x = 1\n"})
    for n in range(4):
        blob = tmp_path / f"blob{n}"
        blob.write_bytes(os.urandom(5 * MiB))
        repo.git("hash-object", "-w", str(blob))
    out = repo.git("count-objects", "-v")
    assert int(dict(line.split(": ") for line in out.splitlines())["size"]) > 16 * 1024
    snap, warned = _snap(repo, tmp_path)
    assert snap.history == "full", snap.history_reason
    assert not [w for w in warned if "shallow" in w]


def test_eat_puts_aside_exactly_what_a_snapshot_carries(make_repo, tmp_path):
    """The same rule, one function: what the snapshot's metadata says it would carry of the
    user's untracked files is what eat puts aside; the rest stays."""
    base = {"train.py": "x = 1\n", ".gitignore": "runs/\n"}
    repo = make_repo(base)
    source = make_repo(base, name="source")
    source.write("train.py", "x = 2\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    for name, content in {
        "notes.md": b"notes\n",
        "scratch/idea.py": b"idea\n",
        "weights.pt": b"w",
        ".env": b"K=1\n",
        "runs/log.txt": b"ignored\n",
        "big.txt": b"\0" * (11 * MiB),
    }.items():
        repo.write(name, content)
    snap, _ = _snap(repo, tmp_path)
    jellyml("eat", str(model), cwd=repo.path)
    [folder] = (repo.path / ".git" / "jellyml").iterdir()
    aside = sorted(
        str(p.relative_to(folder / "files")) for p in (folder / "files").rglob("*") if p.is_file()
    )
    assert aside == sorted(snap.untracked_included) == ["notes.md", "scratch/idea.py"]
    for stays in ("weights.pt", ".env", "runs/log.txt", "big.txt"):
        assert (repo.path / stays).exists(), stays
    jellyml("undo", cwd=repo.path)


@pytest.mark.torch
def test_checkpoints_saved_into_the_project_stop_swallowing_checkpoints(make_repo, tmp_path):
    """The README literally: torch.save into the project folder, no *.pth in .gitignore. Each
    checkpoint used to carry the ones before it (3.0 -> 5.8 -> 11.3 MB); now they are the
    same size."""
    pytest.importorskip("torch")
    repo = make_repo({"train.py": "x = 1\n"})
    script = (
        "import os, torch, jellyml\n"
        "for epoch in range(3):\n"
        "    snapshot = jellyml.create_snapshot()\n"
        "    weights = {'w': torch.frombuffer(bytearray(os.urandom(2 << 20)), dtype=torch.uint8)}\n"
        "    torch.save({'model_state_dict': weights, **snapshot}, f'my_model_{epoch}.pth')\n"
        "    torch.save({'model_state_dict': weights, **snapshot}, 'my_model.pth')\n"
    )
    (repo.path / "train.py").write_text(script)
    repo.commit_all("train")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "train.py"], cwd=repo.path, check=True, env=env)
    sizes = [(repo.path / f"my_model_{n}.pth").stat().st_size for n in range(3)]
    assert max(sizes) - min(sizes) < 4096, sizes
