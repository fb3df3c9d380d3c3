"""``jellyml strip`` and ``jellyml scan``: publishing a checkpoint without its code, and checking
that it is gone, through the real CLI."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import jellyml
from jellyml import errors
from jellyml import format as fmt
from kit.checkpoints import (
    SNAPSHOT_FILE,
    dcp_like_folder,
    safetensors_bytes,
    snapshot_tensors,
    u8,
    write_safetensors_model,
    write_snapshot_file,
)
from kit.cli import jellyml as run_cli

OURS = {fmt.SNAPSHOT_KEY, fmt.METADATA_KEY}


def _ok(proc: Any) -> Any:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def _one_line_error(proc: Any, phrase: str) -> None:
    # Exit 4 says "a checkpoint without a snapshot" (docs/CLI.md, exit status); other failures 1.
    code = 4 if "holds no JellyML snapshot" in proc.stderr else 1
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert phrase in proc.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _digest(p) for p in folder.rglob("*") if p.is_file()}


def _same(a: Any, b: Any) -> bool:
    import torch

    if torch.is_tensor(b):
        return torch.is_tensor(a) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(b, dict):
        return type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in b)
    return bool(a == b)


@pytest.mark.torch
@pytest.mark.parametrize("layout", ["last", "first", "middle", "ordered", "reused"])
def test_strip_a_torch_checkpoint(layout: str, dirty_repo, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    snapshot = jellyml.create_snapshot(str(dirty_repo.path))
    weights = {"w": torch.randn(3, 3), "n": {"b": torch.arange(4, dtype=torch.uint8)}}
    saved: Any = {
        "last": {**weights, "epoch": 3, **snapshot},
        "first": {**snapshot, **weights, "u": torch.ones(2, dtype=torch.uint8)},
        "middle": {"a": 1, **snapshot, "name": "run-7", **weights},
        "ordered": OrderedDict([*weights.items(), *snapshot.items()]),
        "reused": {**snapshot, "view": weights["w"][1:], "w": weights["w"]},
    }[layout]
    model, out = tmp_path / "model.pth", tmp_path / "public.pth"
    torch.save(saved, model)
    before = _digest(model)
    proc = _ok(run_cli("strip", str(model), "-o", str(out), check=None))
    assert "jellyml_code_snapshot, jellyml_snapshot_metadata removed" in proc.stdout
    expected = type(saved)((k, v) for k, v in saved.items() if k not in OURS)
    assert _same(torch.load(out, weights_only=True), expected)
    assert _same(torch.load(out, weights_only=True, mmap=True), expected)
    assert _digest(model) == before  # the input is untouched
    with pytest.raises(errors.SnapshotNotFoundError):
        jellyml.read_snapshot(out)
    assert out.stat().st_size < model.stat().st_size - snapshot[fmt.SNAPSHOT_KEY].numel()
    assert sorted(os.listdir(tmp_path)) == ["model.pth", "public.pth", "repo0"]


@pytest.mark.torch
def test_strip_in_place_and_never_over_the_input_unasked(dirty_repo, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    snapshot = jellyml.create_snapshot(str(dirty_repo.path))
    model = tmp_path / "model.pth"
    torch.save({"w": torch.ones(2), **snapshot}, model)
    before = _digest(model)
    _one_line_error(run_cli("strip", str(model), "-o", str(model), check=None), "Pass --in-place")
    assert _digest(model) == before
    _ok(run_cli("strip", str(model), "--in-place", check=None))
    assert list(torch.load(model, weights_only=True)) == ["w"]
    assert sorted(os.listdir(tmp_path)) == ["model.pth", "repo0"]  # no temporary file left
    # nothing left to strip: said, and a success (issue 21); a failure only with --strict
    again = _ok(run_cli("strip", str(model), "--in-place", check=None))
    assert "Nothing to strip" in again.stdout
    _one_line_error(
        run_cli("strip", str(model), "--in-place", "--strict", check=None),
        "holds no JellyML snapshot",
    )


def _tensors_of(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    data = path.read_bytes()
    (length,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + length])
    blobs = {
        name: data[8 + length + info["data_offsets"][0] : 8 + length + info["data_offsets"][1]]
        for name, info in header.items()
        if name != "__metadata__"
    }
    return header, blobs


def test_strip_a_safetensors_file(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    _commit, ours = snapshot_tensors(repo.path)
    tensors = {"z.weight": ("F32", [2], b"\x01\x02\x03\x04\x05\x06\x07\x08")}
    tensors.update({name: u8(data) for name, data in ours.items()})
    tensors["a.bias"] = ("BF16", [3], b"\x09\x0a\x0b\x0c\x0d\x0e")
    tensors["ids"] = u8(b"{user bytes}")
    model, out = tmp_path / "model.safetensors", tmp_path / "public.safetensors"
    model.write_bytes(safetensors_bytes(tensors, {"format": "pt", "note": "kept"}))
    _ok(run_cli("strip", str(model), "-o", str(out), check=None))
    header, blobs = _tensors_of(out)
    assert header["__metadata__"] == {"format": "pt", "note": "kept"}
    assert set(blobs) == {"z.weight", "a.bias", "ids"}
    for name in blobs:
        assert blobs[name] == tensors[name][2]
        assert (
            header[name]["dtype"] == tensors[name][0] and header[name]["shape"] == tensors[name][1]
        )
    assert (8 + struct.unpack_from("<Q", out.read_bytes())[0]) % 8 == 0
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(str(out), framework="np") as f:  # the real parser agrees
        assert set(f.keys()) == set(blobs) and f.metadata() == header["__metadata__"]
        assert f.get_tensor("z.weight").tobytes() == tensors["z.weight"][2]


def test_strip_a_folder(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    folder = tmp_path / "step-9"
    dcp_like_folder(folder)
    write_snapshot_file(repo.path, folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(b"keep me")
    before = _tree(folder)
    out = tmp_path / "public"
    _ok(run_cli("strip", str(folder), "-o", str(out), check=None))
    assert _tree(out) == {k: v for k, v in before.items() if k != SNAPSHOT_FILE}
    assert _tree(folder) == before
    _one_line_error(run_cli("strip", str(folder), "-o", str(out), check=None), "already exists")
    _ok(run_cli("strip", str(folder), "--in-place", check=None))
    assert _tree(folder) == _tree(out)
    assert sorted(os.listdir(tmp_path)) == ["public", "repo0", "step-9"]


def test_strip_an_hf_shard_and_its_index(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    _commit, ours = snapshot_tensors(repo.path)
    folder = tmp_path / "hf"
    folder.mkdir()
    shard = {"w": ("F32", [1], b"\0\0\x80\x3f"), **{k: u8(v) for k, v in ours.items()}}
    (folder / "model-00001-of-00001.safetensors").write_bytes(safetensors_bytes(shard))
    weight_map = {k: "model-00001-of-00001.safetensors" for k in ["w", *ours]}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    _ok(run_cli("strip", str(folder), "--in-place", check=None))
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == {"w": "model-00001-of-00001.safetensors"}
    _header, blobs = _tensors_of(folder / "model-00001-of-00001.safetensors")
    assert blobs == {"w": b"\0\0\x80\x3f"}


def test_strip_failures_leave_nothing(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    model = tmp_path / "m.safetensors"
    model.write_bytes(safetensors_bytes({"w": ("F32", [1], b"\0\0\0\0")}))
    _one_line_error(
        run_cli("strip", str(model), "-o", str(tmp_path / "o"), "--strict", check=None),
        "holds no JellyML",
    )
    write_safetensors_model(repo.path, model)
    _one_line_error(
        run_cli("strip", str(model), "-o", str(tmp_path / "missing" / "o"), check=None),
        "Cannot write",
    )
    _one_line_error(
        run_cli("strip", str(tmp_path / "nope.pth"), "--in-place", check=None), "does not exist"
    )
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors", "repo0"]


def test_scan_finds_what_still_carries_a_snapshot(dirty_repo, tmp_path: Path) -> None:
    repo = dirty_repo
    tree = tmp_path / "release"
    (tree / "ckpt" / "step-1").mkdir(parents=True)
    commit = write_safetensors_model(repo.path, tree / "weights.safetensors")
    write_snapshot_file(repo.path, tree / "ckpt" / "step-1")
    (tree / "README.md").write_text("# model\n")
    (tree / "clean.safetensors").write_bytes(safetensors_bytes({"w": ("F32", [1], b"\0" * 4)}))
    (tree / ".git").mkdir()
    (tree / ".git" / "x.safetensors").write_bytes(b"not looked at")

    listed = json.loads(_ok(run_cli("scan", "--json", str(tree), check=None)).stdout)
    by_name = {Path(e["path"]).name: e for e in listed}
    assert set(by_name) == {"weights.safetensors", "step-1", "clean.safetensors"}
    assert by_name["weights.safetensors"]["commit"] == commit and by_name["step-1"]["dirty"]
    assert by_name["step-1"]["kind"] == "folder" and by_name["step-1"]["file"] == SNAPSHOT_FILE
    assert by_name["clean.safetensors"]["snapshot"] is False
    assert by_name["weights.safetensors"]["size"] == (tree / "weights.safetensors").stat().st_size

    human = run_cli("scan", "--check", str(tree), check=None)
    assert human.returncode == 1 and commit[:12] in human.stdout
    assert "3 checkpoints, 2 carrying a snapshot." in human.stdout

    _ok(run_cli("strip", str(tree / "weights.safetensors"), "--in-place", check=None))
    _ok(run_cli("strip", str(tree / "ckpt" / "step-1"), "--in-place", check=None))
    # the stripped folder holds no checkpoint file any more: it is no checkpoint at all
    assert (
        "2 checkpoints, 0 carrying" in _ok(run_cli("scan", "--check", str(tree), check=None)).stdout
    )


def test_scan_counts_an_unreadable_snapshot_as_carried(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    model = tmp_path / "m.safetensors"
    write_safetensors_model(repo.path, model)
    data = model.read_bytes()
    at = data.find(b'"magic_number": "jelly_ml_metadata"')
    model.write_bytes(data[:at] + b'"magic_number": "jelly_ml_metadatX"' + data[at + 35 :])
    data = model.read_bytes()
    at = data.find(b"jelly_ml_snapshot")
    model.write_bytes(
        data[:at] + data[at:].replace(b'"format_version": 2', b'"format_version": 9', 1)
    )
    proc = run_cli("scan", "--check", "--json", str(tmp_path), check=None)
    assert proc.returncode == 1
    (entry,) = json.loads(proc.stdout)
    assert entry["snapshot"] is True and "newer jellyml" in entry["problem"]


def test_scan_of_a_missing_path_is_one_line(tmp_path: Path) -> None:
    _one_line_error(run_cli("scan", str(tmp_path / "nope"), check=None), "does not exist")


def test_strip_removes_a_damaged_snapshot_file_too(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    folder = tmp_path / "ckpt"
    write_snapshot_file(repo.path, folder)
    (folder / "weights.bin").write_bytes(b"w")
    data = (folder / SNAPSHOT_FILE).read_bytes()
    (folder / SNAPSHOT_FILE).write_bytes(data.replace(b"# v2 git bundle", b"# v2 git bundlX"))
    _ok(run_cli("strip", str(folder), "--in-place", check=None))
    assert sorted(os.listdir(folder)) == ["weights.bin"]


@pytest.mark.torch
def test_strip_refuses_what_it_cannot_rewrite_safely(make_repo: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    snapshot = jellyml.create_snapshot(str(make_repo({"a.py": "x = 1\n"}).path))
    model = tmp_path / "p4.pth"
    torch.save({"w": torch.ones(2), **snapshot}, model, pickle_protocol=4)
    before = _digest(model)
    _one_line_error(
        run_cli("strip", str(model), "-o", str(tmp_path / "o.pth"), check=None), "protocol 4"
    )
    assert _digest(model) == before and not (tmp_path / "o.pth").exists()
    nested = tmp_path / "nested.pth"
    torch.save({"w": torch.ones(2), "extra": dict(snapshot)}, nested)
    _one_line_error(
        run_cli("strip", str(nested), "--in-place", check=None), "not stored under the top-level"
    )
    assert sorted(os.listdir(tmp_path)) == ["nested.pth", "p4.pth", "repo0"]


@pytest.mark.torch
@pytest.mark.slow  # ~20 s: thirty torch.save + strip + torch.load round trips
def test_strip_keeps_any_checkpoint_s_other_keys(make_repo: Any, tmp_path: Path) -> None:
    """Random checkpoints (tensors of several dtypes, views sharing storage, nested dicts and
    lists, plain values) with the snapshot at a random place: strip keeps everything else."""
    torch = pytest.importorskip("torch")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from jellyml.publish.strip import strip

    snapshot = jellyml.create_snapshot(str(make_repo({"a.py": "x = 1\n"}).path))
    base = torch.arange(12, dtype=torch.float32)
    dtypes = st.sampled_from([torch.float32, torch.uint8, torch.int64, torch.float16])
    tensors = st.one_of(
        st.builds(lambda n, d: torch.arange(n).to(d), st.integers(0, 5), dtypes),
        st.builds(lambda i: base[i:], st.integers(0, 11)),  # views of one storage
    )
    leaves = st.one_of(tensors, st.integers(), st.text(max_size=5), st.none(), st.booleans())
    values = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=8,
    )

    @settings(
        max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.dictionaries(st.text(max_size=6), values, max_size=5), st.integers(0, 5))
    def check(model: dict[str, Any], at: int) -> None:
        items = [(k, v) for k, v in model.items() if k not in OURS]
        at = min(at, len(items))
        saved = dict(items[:at] + list(snapshot.items()) + items[at:])
        path, out = tmp_path / "m.pth", tmp_path / "o.pth"
        torch.save(saved, path)
        strip(str(path), str(out), force=True)
        assert _same_deep(torch.load(out, weights_only=True), dict(items))

    check()


def _same_deep(a: Any, b: Any) -> bool:
    import torch

    if torch.is_tensor(b):
        return torch.is_tensor(a) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(b, dict):
        return isinstance(a, dict) and list(a) == list(b) and all(_same_deep(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_deep(x, y) for x, y in zip(a, b))
    return bool(a == b)


def test_a_damaged_data_pkl_is_refused_never_crashes() -> None:
    """Random damage to a real data.pkl: strip_pickle answers or refuses (PickleStripError),
    whatever the bytes; it never executes them."""
    import pickle

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from jellyml.containers.strip_pickle import PickleStripError, strip_pickle

    # Our own pickle of plain values: loading it back below is safe (we made it).
    real = pickle.dumps({"a": 1, fmt.SNAPSHOT_KEY: (1, "x"), fmt.METADATA_KEY: [2]}, protocol=2)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, len(real) - 1), st.binary(min_size=1, max_size=4), st.booleans())
    def check(at: int, junk: bytes, cut: bool) -> None:
        data = real[:at] if cut else real[:at] + junk + real[at + len(junk) :]
        with contextlib.suppress(PickleStripError):
            strip_pickle(data)

    check()
    assert strip_pickle(real).removed_keys == (fmt.SNAPSHOT_KEY, fmt.METADATA_KEY)
    assert pickle.loads(strip_pickle(real).data) == {"a": 1}
