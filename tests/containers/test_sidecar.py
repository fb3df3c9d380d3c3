"""``jellyml.save_snapshot``: the snapshot file of a checkpoint folder, read back by safetensors
and by the jellyml CLI."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jellyml
from jellyml.containers import sidecar
from jellyml.errors import OutputPathError
from kit.cli import jellyml as jellyml_cli

#: The tests folder: the test kit (kit.*) is imported from it.
TESTS = Path(__file__).resolve().parents[1]

#: Tests that make a snapshot with create_snapshot; the others run without torch.
needs_torch = pytest.mark.torch


@pytest.fixture
def repo(make_repo: Any) -> Any:
    repo = make_repo({"train.py": "lr = 0.1\n"})
    repo.write("train.py", "lr = 0.25\n")  # uncommitted
    repo.write("notes.txt", "untracked\n")
    return repo


@pytest.fixture
def snapshot(repo: Any) -> dict[str, Any]:
    pytest.importorskip("torch")
    return jellyml.create_snapshot(str(repo.path))


def tensor_bytes(snapshot: dict[str, Any], key: str) -> bytes:
    return bytes(snapshot[key].numpy().tobytes())


@needs_torch
def test_safetensors_reads_back_both_tensors_byte_for_byte(snapshot, tmp_path):
    safetensors = pytest.importorskip("safetensors")
    path = jellyml.save_snapshot(tmp_path / "checkpoint-10", snapshot)
    assert path == str(tmp_path / "checkpoint-10" / "jellyml-snapshot.jelly")
    with safetensors.safe_open(path, framework="numpy") as f:
        assert sorted(f.keys()) == [jellyml.SNAPSHOT_KEY, jellyml.METADATA_KEY]
        assert f.metadata() == {"format": "jellyml"}
        for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
            assert f.get_tensor(key).tobytes() == tensor_bytes(snapshot, key)


@needs_torch
def test_the_layout_is_exact(snapshot, tmp_path):
    folder = tmp_path / "ckpt"
    raw = Path(jellyml.save_snapshot(folder, snapshot)).read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert length % 8 == 0
    header = json.loads(raw[8 : 8 + length])
    code, meta = (tensor_bytes(snapshot, k) for k in (jellyml.SNAPSHOT_KEY, jellyml.METADATA_KEY))
    assert header == {
        "__metadata__": {"format": "jellyml"},
        jellyml.SNAPSHOT_KEY: {"dtype": "U8", "shape": [len(code)], "data_offsets": [0, len(code)]},
        jellyml.METADATA_KEY: {
            "dtype": "U8",
            "shape": [len(meta)],
            "data_offsets": [len(code), len(code) + len(meta)],
        },
    }
    assert raw[8 + length :] == code + meta
    assert sidecar.read_sidecar_tensors(folder / "jellyml-snapshot.jelly") == {
        jellyml.SNAPSHOT_KEY: (8 + length, len(code)),
        jellyml.METADATA_KEY: (8 + length + len(code), len(meta)),
    }
    assert [p.name for p in folder.iterdir()] == ["jellyml-snapshot.jelly"]  # no temp left


@needs_torch
def test_bytes_in_give_the_same_file_as_tensors(snapshot, tmp_path):
    as_bytes = {k: tensor_bytes(snapshot, k) for k in snapshot}
    one = Path(jellyml.save_snapshot(tmp_path / "a", snapshot)).read_bytes()
    assert Path(jellyml.save_snapshot(tmp_path / "b", as_bytes)).read_bytes() == one


@needs_torch
def test_without_a_snapshot_it_makes_one_with_the_options_given(repo, tmp_path):
    pytest.importorskip("torch")
    path = jellyml.save_snapshot(tmp_path / "out", git_repo_path=str(repo.path))
    found = jellyml.read_snapshot(tmp_path / "out")
    assert found.file == path and found.path == str(tmp_path / "out")
    assert found.metadata["git"]["dirty"] is True


@needs_torch
def test_cli_show_and_extract_bundle_take_the_checkpoint_folder(snapshot, repo, tmp_path):
    folder = tmp_path / "checkpoint-3"
    jellyml.save_snapshot(folder, snapshot)
    (folder / "model.safetensors").write_bytes(b"not read")
    shown = jellyml_cli("show", str(folder), check=None, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert jellyml.read_snapshot(folder).commit[:7] in shown.stdout
    bundle = tmp_path / "code.bundle"
    extracted = jellyml_cli(
        "fix", "extract-bundle", str(folder), "-o", str(bundle), check=None, timeout=120
    )
    assert extracted.returncode == 0, extracted.stderr
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True)
    assert (clone / "train.py").read_text() == "lr = 0.25\n"
    assert (clone / "notes.txt").read_text() == "untracked\n"
    shown_file = jellyml_cli(
        "show", str(folder / "jellyml-snapshot.jelly"), check=None, timeout=120
    )  # the file itself works too
    assert shown_file.returncode == 0, shown_file.stderr
    assert jellyml.read_snapshot(folder).commit[:7] in shown_file.stdout


@needs_torch
def test_options_without_snapshot_none_are_refused(snapshot, tmp_path):
    with pytest.raises(TypeError, match="only used when snapshot is None"):
        jellyml.save_snapshot(tmp_path, snapshot, git_repo_path=".")


@needs_torch
def test_a_folder_where_a_file_is_cannot_be_written(snapshot, tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(OutputPathError):
        jellyml.save_snapshot(tmp_path / "taken", snapshot)


def write_raw(path: Path, header: Any, data: bytes = b"", *, length: Any = None) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def u8(begin: int, end: int) -> dict[str, Any]:
    return {"dtype": "U8", "shape": [end - begin], "data_offsets": [begin, end]}


@pytest.mark.parametrize(
    ("header", "data", "length", "problem"),
    [
        ({}, b"", 200 * 1024 * 1024, "at most 100 MB"),
        ({}, b"", 50, "header runs past the end"),
        (b"{not json", b"", None, "not valid JSON"),
        ([1, 2], b"", None, "not a JSON object"),
        ({"x": {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}}, b"1234", None, "bad dtype"),
        ({"x": u8(0, 8)}, b"1234", None, "past the end of the file"),
        ({"x": {"dtype": "U8", "shape": [3], "data_offsets": [0, 4]}}, b"1234", None, "shape"),
        ({"x": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}}, b"1", None, "bad dtype"),
    ],
)
def test_a_damaged_header_is_refused_before_it_is_trusted(tmp_path, header, data, length, problem):
    path = write_raw(tmp_path / "f.jelly", header, data, length=length)
    with pytest.raises(jellyml.ModelFileError, match=problem):
        sidecar.read_sidecar_tensors(path)


def test_a_control_character_in_a_tensor_name_is_not_printed(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_raw(folder / "jellyml-snapshot.jelly", {"\x1b[31mred": {"dtype": "F32"}})
    proc = jellyml_cli("show", str(folder), check=None, timeout=120)
    assert proc.returncode == 4  # no tensor of ours in it: a checkpoint without a snapshot
    assert "\x1b" not in proc.stdout + proc.stderr


def test_a_file_without_the_code_tensor_holds_no_snapshot(tmp_path):
    write_raw(tmp_path / "jellyml-snapshot.jelly", {"other": u8(0, 4)}, b"1234")
    with pytest.raises(jellyml.SnapshotNotFoundError):
        jellyml.read_snapshot(tmp_path)


def test_written_and_read_without_torch_from_plain_bytes(repo, tmp_path):
    """A snapshot built by hand (git bundle + JellyML headers, by the test kit), saved and
    restored, in an interpreter that never imports torch, numpy or transformers."""
    code = """
import json, subprocess, sys
from jellyml import format as fmt
import jellyml
repo, folder, out, tests = sys.argv[1:5]
sys.path.insert(0, tests)
from kit.checkpoints import metadata_tensor, snapshot_tensor
subprocess.run(["git", "-C", repo, "bundle", "create", out + ".in", "HEAD"], check=True,
               capture_output=True)
bundle = open(out + ".in", "rb").read()
commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], check=True,
                        capture_output=True, text=True).stdout.strip()
meta, meta_sha = metadata_tensor(json.dumps({"git": {"dirty": False}}).encode())
snapshot = {
    fmt.SNAPSHOT_KEY: snapshot_tensor(bundle, commit, meta_sha),
    fmt.METADATA_KEY: meta,
}
jellyml.save_snapshot(folder, snapshot)
found = jellyml.read_snapshot(folder)
found.extract_bundle(out)
assert found.commit == commit and found.metadata == {"git": {"dirty": False}}
assert open(out, "rb").read() == bundle
print(sorted(m for m in ("torch", "numpy", "transformers") if m in sys.modules))
"""
    folder, out = tmp_path / "ckpt", tmp_path / "out.bundle"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(repo.path), str(folder), str(out), str(TESTS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_importing_jellyml_never_imports_transformers_or_torch():
    code = (
        "import sys, jellyml, jellyml.integrations, jellyml.containers.sidecar\n"
        "jellyml.save_snapshot, jellyml.read_snapshot\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
