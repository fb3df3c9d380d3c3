"""Snapshots in safetensors files: read without torch and without the safetensors package,
through the real CLI (show, eat into an empty folder, fix extract-bundle), and every kind of
damaged or lying header refused in one line with nothing written."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jellyml
from jellyml import errors
from jellyml import format as fmt
from kit.checkpoints import safetensors_bytes, snapshot_tensors, u8, write_safetensors_model
from kit.cli import jellyml as run_cli
from kit.repos import clone, git


def test_show_eat_and_extract_a_safetensors_file(dirty_repo, tmp_path: Path) -> None:
    repo = dirty_repo
    model = tmp_path / "model.safetensors"
    commit = write_safetensors_model(repo.path, model)

    shown = run_cli("show", "--json", str(model), check=None)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["commit"] == commit and described["dirty"] is True

    eaten = run_cli("eat", str(model), "-c", str(tmp_path / "fresh"), check=None)
    assert eaten.returncode == 0, eaten.stderr
    assert (tmp_path / "fresh" / "config.yaml").read_text() == "epochs: 10\n"
    assert (tmp_path / "fresh" / "notes.txt").read_text() == "untracked\n"

    out = tmp_path / "out.bundle"
    extracted = run_cli("fix", "extract-bundle", str(model), "-o", str(out), check=None)
    assert extracted.returncode == 0, extracted.stderr
    assert git(clone(out, tmp_path / "clone"), "rev-parse", "HEAD") == commit


def test_the_snapshot_may_be_anywhere_among_the_tensors(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    commit, ours = snapshot_tensors(repo.path)
    tensors = {fmt.METADATA_KEY: u8(ours[fmt.METADATA_KEY])}
    tensors["w"] = ("F16", [2], b"\0\0\0\0")
    tensors[fmt.SNAPSHOT_KEY] = u8(ours[fmt.SNAPSHOT_KEY])
    tensors["bytes"] = u8(b"{not a header at all}" * 60)  # U8 user data that starts like JSON
    path = tmp_path / "mixed.safetensors"
    path.write_bytes(safetensors_bytes(tensors))
    found = jellyml.read_snapshot(path)
    assert found.commit == commit and found.metadata is not None


@pytest.mark.torch
def test_what_safetensors_save_file_writes(dirty_repo, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    from safetensors import safe_open

    repo = dirty_repo
    snapshot = jellyml.create_snapshot(str(repo.path))
    path = tmp_path / "model.safetensors"
    weights = {"w": torch.randn(10, 10), "b": torch.zeros(3, dtype=torch.float16)}
    st_torch.save_file({**weights, **snapshot}, str(path), metadata={"format": "pt"})
    found = jellyml.read_snapshot(path)
    raw = snapshot[fmt.SNAPSHOT_KEY].numpy().tobytes()
    assert found.commit == fmt.decode_header(raw[: fmt.HEADER_SIZE], len(raw)).commit
    with safe_open(str(path), framework="pt") as f:
        ours = f.get_tensor(fmt.SNAPSHOT_KEY).numpy().tobytes()
    data = path.read_bytes()
    header_start = found.bundle_offset - fmt.HEADER_SIZE
    assert data[header_start : found.bundle_offset + found.bundle_size] == ours
    shown = run_cli("show", str(path), check=None)
    assert shown.returncode == 0 and found.commit[:12] in shown.stdout  # type: ignore[index]


def _valid(make_repo: Any, tmp_path: Path) -> bytes:
    repo = make_repo({"a.py": "x = 1\n"})
    model = tmp_path / "valid.safetensors"
    write_safetensors_model(repo.path, model)
    return model.read_bytes()


def _header(entries: dict[str, Any]) -> bytes:
    text = json.dumps(entries).encode()
    return struct.pack("<Q", len(text)) + text


def _lying(**changes: Any) -> Callable[[bytes], bytes]:
    """The valid file with its snapshot tensor's header entry changed."""

    def make(valid: bytes) -> bytes:
        (length,) = struct.unpack_from("<Q", valid)
        header = json.loads(valid[8 : 8 + length])
        header[fmt.SNAPSHOT_KEY].update(changes)
        return _header(header) + valid[8 + length :]

    return make


BAD: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "shorter than the length": (lambda v: v[:5], "shorter than its 8-byte header length"),
    "header over 100 MB": (
        lambda v: struct.pack("<Q", 200_000_000) + b"{" + b" " * 100,
        "at most 100 MB",
    ),
    "header past the end": (lambda v: struct.pack("<Q", 5000) + b"{}", "runs past the end"),
    "header not JSON": (lambda v: struct.pack("<Q", 9) + b"{not json", "not valid JSON"),
    "header a list": (lambda v: struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    "offsets past the end": (_lying(data_offsets=[0, 10**12]), "lies past the end"),
    "offsets backwards": (_lying(data_offsets=[50, 10]), "bad data_offsets"),
    "offsets not numbers": (_lying(data_offsets=["0", 10]), "bad dtype, shape or data_offsets"),
    "shape that lies": (_lying(shape=[3]), "shape does not match its size"),
    "cut in the buffer": (lambda v: v[: len(v) - 100], "lies past the end"),
    "metadata not strings": (
        lambda v: _header({"__metadata__": {"a": 1}}),
        "__metadata__ is not a map of strings",
    ),
    "bundle damaged": (
        lambda v: v.replace(b"# v2 git bundle", b"# v2 git bundlX", 1),
        "does not match its sha256",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_safetensors_fail_in_one_line_and_write_nothing(
    case: str, make_repo: Any, tmp_path: Path
) -> None:
    make, phrase = BAD[case]
    work = tmp_path / "work"
    work.mkdir()
    bad = work / "bad.safetensors"
    bad.write_bytes(make(_valid(make_repo, tmp_path)))
    before = bad.read_bytes()
    commands = [("fix", "extract-bundle", str(bad), "-o", str(work / "o"))]
    if case != "bundle damaged":  # show reads the metadata only, not the bundle
        commands.append(("show", str(bad)))
    for argv in commands:
        proc = run_cli(*argv, check=None)
        # 3: not a (readable) checkpoint; 1: a checkpoint whose snapshot is damaged.
        status = 1 if case == "bundle damaged" else 3
        assert proc.returncode == status, (case, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert phrase in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(os.listdir(work)) == ["bad.safetensors"]  # no output, no temporary file
    assert bad.read_bytes() == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=st.binary(max_size=300), tail=st.binary(max_size=200))
def test_any_header_is_read_or_refused_cleanly(tmp_path: Path, header: bytes, tail: bytes) -> None:
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + tail)
    with pytest.raises(errors.ModelFileError):
        jellyml.read_snapshot(path)


def test_a_header_length_from_the_fuzzer_is_bounded(tmp_path: Path) -> None:
    # a huge claimed length must be refused before anything that size is read or allocated
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(errors.TruncatedCheckpointError, match="100 MB"):
        jellyml.read_snapshot(path)
