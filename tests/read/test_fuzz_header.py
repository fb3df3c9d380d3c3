"""Property-based fuzzing of the header parser and of the whole reader.

Whatever bytes it is given, the parser returns a bounded ``Header`` or raises ``HeaderError`` /
``NewerFormatError``; the reader returns the exact bundle or raises a ``JellyMLError``, never
``IndexError``, ``struct.error``, ``RecursionError`` or the like.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jellyml
from jellyml import format as fmt
from jellyml.errors import JellyMLError
from jellyml.snapshot.create import encode_metadata
from kit.checkpoints import snapshot_tensor, write_checkpoint
from kit.repos import bundle_of

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = [
    "magic_number",
    "snapshot_offset",
    "snapshot_size",
    "metadata_offset",
    "metadata_size",
    "version",
    "format_version",
    "sha256",
    "commit",
    "metadata_sha256",
]
plausible = {
    "magic_number": st.sampled_from([fmt.SNAPSHOT_MAGIC, fmt.METADATA_MAGIC, "jelly", ""]),
    "snapshot_offset": st.integers(-5, 5000) | json_values,
    "snapshot_size": st.integers(-5, 5000) | json_values,
    "metadata_offset": st.integers(-5, 5000) | json_values,
    "metadata_size": st.integers(-5, 5000) | json_values,
    "version": st.sampled_from([fmt.LEGACY_VERSION, "january-8-2023"]) | json_values,
    "format_version": st.integers(-1, 4) | json_values,
    "sha256": st.sampled_from(["a" * 64, "A" * 64, "a" * 63]) | json_values,
    "commit": st.sampled_from(["b" * 40, "c" * 64, "HEAD"]) | json_values,
    "metadata_sha256": st.sampled_from(["d" * 64, ""]) | json_values,
}
header_objects = st.fixed_dictionaries(
    {}, optional={name: plausible[name] for name in FIELDS}
).flatmap(
    lambda known: st.dictionaries(st.text(max_size=10), json_values, max_size=3).map(
        lambda extra: {**extra, **known}
    )
)


def check_header(block: bytes, entry_size: int) -> None:
    try:
        header = fmt.decode_header(block, entry_size)
    except (fmt.HeaderError, fmt.NewerFormatError):
        return
    assert header.magic in (fmt.SNAPSHOT_MAGIC, fmt.METADATA_MAGIC)
    assert fmt.HEADER_SIZE <= header.offset <= entry_size
    assert 0 <= header.size <= entry_size - header.offset
    assert 1 <= header.format_version <= fmt.FORMAT_VERSION


@FUZZ
@given(st.binary(max_size=1100), st.integers(0, 10**12))
def test_decode_header_random_bytes(block: bytes, entry_size: int) -> None:
    check_header(block, entry_size)


@FUZZ
@given(st.binary(max_size=1000), st.integers(0, 10**6))
def test_decode_header_random_bytes_after_the_magic(tail: bytes, entry_size: int) -> None:
    check_header(b'{"magic_number": "jelly_ml_snapshot", ' + tail, entry_size)


@FUZZ
@given(header_objects, st.integers(0, 6000))
def test_decode_header_random_json_objects(fields: dict[str, Any], entry_size: int) -> None:
    raw = json.dumps(fields).encode()
    if len(raw) > fmt.HEADER_SIZE:
        raw = raw[: fmt.HEADER_SIZE]  # cut-off JSON is one more kind of bad header
    check_header(raw + b"\0" * (fmt.HEADER_SIZE - len(raw)), entry_size)


@FUZZ
@given(json_values, st.integers(0, 6000))
def test_decode_header_any_json_value(value: Any, entry_size: int) -> None:
    raw = json.dumps(value).encode()[: fmt.HEADER_SIZE]
    check_header(raw, entry_size)


# --- the whole reader on damaged checkpoints ---------------------------------------------

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "truncate", "insert", "delete"]),
        st.floats(0, 1, exclude_max=True),  # where, as a fraction of the chosen region
        st.sampled_from(["anywhere", "header", "directory", "end"]),
        st.integers(1, 255),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, regions: dict[str, tuple[int, int]], steps: list[Any]) -> bytes:
    out = bytearray(data)
    for kind, where, region, value in steps:
        start, end = regions[region]
        end = min(end, len(out))
        if start >= end:
            continue
        at = start + int(where * (end - start))
        if kind == "flip":
            out[at] ^= value
        elif kind == "set":
            out[at] = value
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes([value]) * (value % 7 + 1)
        else:
            del out[at : at + value % 7 + 1]
    return bytes(out)


def regions_of(data: bytes, path: Path) -> dict[str, tuple[int, int]]:
    header = data.find(b'{"magic_number": "jelly_ml_snapshot"')
    with zipfile.ZipFile(path) as archive:
        directory = archive.start_dir
    return {
        "anywhere": (0, len(data)),
        "header": (header, header + 400),
        "directory": (directory, len(data)),
        "end": (max(0, len(data) - 100), len(data)),
    }


def fuzz_reader(base: Path, bundle: bytes) -> None:
    data = base.read_bytes()
    regions = regions_of(data, base)
    folder = Path(tempfile.mkdtemp(prefix="jellyml-fuzz-"))

    @FUZZ
    @given(mutations)
    def damaged(steps: list[Any]) -> None:
        path = folder / "model.pth"
        path.write_bytes(mutate(data, regions, steps))
        out = folder / "out.bundle"
        try:
            found = jellyml.read_snapshot(path)
            found.extract_bundle(out)
        except JellyMLError as exc:
            assert "\n" not in str(exc)
            assert not out.exists()
            return
        # whatever survived the damage, what comes out is the bundle, byte for byte
        assert out.read_bytes() == bundle
        out.unlink()

    try:
        damaged()
    finally:
        for name in os.listdir(folder):
            os.unlink(folder / name)
        os.rmdir(folder)


def test_reader_on_damaged_hand_built_checkpoints(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "print(1)\n", "b.txt": "two\n"})
    bundle, commit = bundle_of(repo.path, tmp_path / "plain.bundle")
    meta, digest = encode_metadata({"git": {"commit": commit}})
    base = write_checkpoint(
        tmp_path / "base.pth",
        [b"\x7b" * 1500, snapshot_tensor(bundle, commit, digest), bytes(meta)],
        force_zip64=True,
    )
    assert jellyml.read_snapshot(base).metadata == {"git": {"commit": commit}}
    fuzz_reader(base, bundle)


@pytest.mark.torch
def test_reader_on_damaged_torch_checkpoints(make_repo: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    repo = make_repo({"a.py": "print(1)\n"})
    repo.write("a.py", "print(2)\n")
    bundle_path = tmp_path / "ref.bundle"
    snapshot = jellyml.create_snapshot(str(repo.path), out_git_bundle_path=str(bundle_path))
    base = tmp_path / "base.pth"
    torch.save({"w": torch.ones(300), **snapshot, "b": torch.zeros(5)}, base)
    fuzz_reader(base, bundle_path.read_bytes())
