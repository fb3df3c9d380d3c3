"""The header format: exact bytes, round trips, compatibility rules and every bound."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from jellyml import format as fmt
from jellyml.errors import CorruptSnapshotError, UnsupportedFormatError
from jellyml.reader import read_snapshot
from kit.checkpoints import snapshot_tensor, write_checkpoint
from kit.repos import bundle_of

SHA = "0123456789abcdef" * 4
META_SHA = "fedcba9876543210" * 4
COMMIT = "5396996905c84034095deb4dd5fde2035c40cb39"

GOLDEN_SNAPSHOT_JSON = (
    b'{"magic_number": "jelly_ml_snapshot", "snapshot_offset": 1024, "snapshot_size": 12345, '
    b'"version": "january-7-2023", "format_version": 2, '
    b'"sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", '
    b'"commit": "5396996905c84034095deb4dd5fde2035c40cb39", '
    b'"metadata_sha256": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"}'
)
GOLDEN_METADATA_JSON = (
    b'{"magic_number": "jelly_ml_metadata", "metadata_offset": 1024, "metadata_size": 2048, '
    b'"version": "january-7-2023", "format_version": 2, '
    b'"sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}'
)
#: The header of tests/fixtures' jellyml-1.0.0-clean.pth, as JellyML 1.0.0 wrote it.
LEGACY_JSON = (
    b'{"magic_number": "jelly_ml_snapshot", "snapshot_offset": 1024, "snapshot_size": 347, '
    b'"version": "january-7-2023"}'
)


def pad(raw: bytes) -> bytes:
    return raw + b"\0" * (1024 - len(raw))


def header_of(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "magic_number": "jelly_ml_snapshot",
        "snapshot_offset": 1024,
        "snapshot_size": 100,
        "version": "january-7-2023",
        "format_version": 2,
        "sha256": SHA,
    }
    for key, value in fields.items():
        if value is _DROP:
            base.pop(key)
        else:
            base[key] = value
    return pad(json.dumps(base).encode())


_DROP = object()


def test_snapshot_header_golden_bytes() -> None:
    written = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC, 12345, SHA, commit=COMMIT, metadata_sha256=META_SHA
    )
    assert len(GOLDEN_SNAPSHOT_JSON) == 355
    assert written == GOLDEN_SNAPSHOT_JSON + b"\0" * (1024 - 355)


def test_metadata_header_golden_bytes() -> None:
    written = fmt.encode_header(fmt.METADATA_MAGIC, 2048, SHA)
    assert written == GOLDEN_METADATA_JSON + b"\0" * (1024 - len(GOLDEN_METADATA_JSON))


def test_snapshot_header_round_trip() -> None:
    block = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC, 12345, SHA, commit=COMMIT, metadata_sha256=META_SHA
    )
    header = fmt.decode_header(block, 1024 + 12345)
    assert header == fmt.Header(
        magic=fmt.SNAPSHOT_MAGIC,
        offset=1024,
        size=12345,
        format_version=2,
        sha256=SHA,
        commit=COMMIT,
        metadata_sha256=META_SHA,
    )


def test_metadata_header_round_trip() -> None:
    header = fmt.decode_header(fmt.encode_header(fmt.METADATA_MAGIC, 2048, SHA), 1024 + 2048)
    assert (header.magic, header.offset, header.size, header.sha256) == (
        fmt.METADATA_MAGIC,
        1024,
        2048,
        SHA,
    )
    assert header.commit is None and header.metadata_sha256 is None


def test_legacy_header_decodes_as_format_1() -> None:
    header = fmt.decode_header(pad(LEGACY_JSON), 1024 + 347)
    assert header == fmt.Header(fmt.SNAPSHOT_MAGIC, 1024, 347, 1)


def test_legacy_field_order_and_spacing_do_not_matter() -> None:
    raw = b'{"version":"january-7-2023","snapshot_size":5,"snapshot_offset":1024,' + (
        b'"magic_number":"jelly_ml_snapshot"}'
    )
    assert fmt.decode_header(pad(raw), 1029).size == 5


def test_unknown_fields_are_ignored() -> None:
    block = header_of(future_field={"nested": [1, 2]}, compression="none")
    header = fmt.decode_header(block, 1124)
    assert (header.offset, header.size, header.sha256) == (1024, 100, SHA)


def test_bytes_after_the_first_nul_are_ignored() -> None:
    block = bytearray(header_of())
    block[-10:] = b"garbage!!!"
    assert fmt.decode_header(bytes(block), 1124).size == 100


def test_payload_may_start_after_1024() -> None:
    header = fmt.decode_header(header_of(snapshot_offset=2048, snapshot_size=10), 2058)
    assert (header.offset, header.size) == (2048, 10)


@pytest.mark.parametrize("version", [3, 99, 2**40])
def test_newer_format_version_is_refused(version: int) -> None:
    with pytest.raises(fmt.NewerFormatError) as info:
        fmt.decode_header(header_of(format_version=version), 1124)
    assert info.value.found == str(version)


def test_other_version_string_without_format_version_is_newer() -> None:
    block = header_of(format_version=_DROP, sha256=_DROP, version="february-1-2030")
    with pytest.raises(fmt.NewerFormatError):
        fmt.decode_header(block, 1124)


@pytest.mark.parametrize("version", ["", 7, None, _DROP])
def test_no_version_at_all_is_a_damaged_header_not_a_newer_one(version: Any) -> None:
    """Issue 23: a bogus header was "written by a newer jellyml (format None)"."""
    block = header_of(format_version=_DROP, sha256=_DROP, version=version)
    with pytest.raises(fmt.HeaderError, match="no format_version"):
        fmt.decode_header(block, 1124)


@pytest.mark.parametrize("version", ["2", 0, -1, True, 2.0, [2]])
def test_format_version_must_be_a_positive_integer(version: Any) -> None:
    with pytest.raises(fmt.HeaderError) as info:
        fmt.decode_header(header_of(format_version=version), 1124)
    assert info.value.field == "format_version"


def test_null_format_version_counts_as_absent() -> None:
    block = header_of(format_version=None, sha256=_DROP)
    assert fmt.decode_header(block, 1124).format_version == 1


@pytest.mark.parametrize(
    ("fields", "entry_size", "field"),
    [
        ({"snapshot_offset": 0}, 1124, "snapshot_offset"),
        ({"snapshot_offset": 1023}, 1124, "snapshot_offset"),
        ({"snapshot_offset": 1125, "snapshot_size": 0}, 1124, "snapshot_offset"),
        ({"snapshot_offset": 2**70}, 1124, "snapshot_offset"),
        ({"snapshot_size": 101}, 1124, "snapshot_size"),
        ({"snapshot_offset": 1100, "snapshot_size": 25}, 1124, "snapshot_size"),
        ({"snapshot_size": 2**64}, 1124, "snapshot_size"),
        ({"snapshot_size": -1}, 1124, "snapshot_size"),
        ({"snapshot_size": True}, 1124, "snapshot_size"),
        ({"snapshot_size": "100"}, 1124, "snapshot_size"),
        ({"snapshot_size": 100.0}, 1124, "snapshot_size"),
        ({"snapshot_size": None}, 1124, "snapshot_size"),
        ({"snapshot_size": _DROP}, 1124, "snapshot_size"),
        ({"snapshot_offset": False}, 1124, "snapshot_offset"),
        ({"snapshot_offset": "1024"}, 1124, "snapshot_offset"),
        ({"sha256": SHA.upper()}, 1124, "sha256"),
        ({"sha256": SHA[:-1]}, 1124, "sha256"),
        ({"sha256": "z" * 64}, 1124, "sha256"),
        ({"sha256": 12}, 1124, "sha256"),
        ({"sha256": _DROP}, 1124, "sha256"),
        ({"commit": "HEAD"}, 1124, "commit"),
        ({"commit": COMMIT[:39]}, 1124, "commit"),
        ({"metadata_sha256": "abc"}, 1124, "metadata_sha256"),
        ({"magic_number": "jelly_ml_snapshots"}, 1124, "magic_number"),
    ],
)
def test_bad_field_is_named(fields: dict[str, Any], entry_size: int, field: str) -> None:
    with pytest.raises(fmt.HeaderError) as info:
        fmt.decode_header(header_of(**fields), entry_size)
    assert info.value.field == field
    assert field in info.value.problem


def test_size_exactly_filling_the_tensor_is_fine() -> None:
    assert fmt.decode_header(header_of(snapshot_size=0), 1024).size == 0
    assert fmt.decode_header(header_of(snapshot_offset=1124, snapshot_size=0), 1124).size == 0


def test_metadata_over_the_limit_is_refused_before_reading() -> None:
    size = fmt.MAX_METADATA_SIZE + 1
    block = fmt.encode_header(fmt.METADATA_MAGIC, size, SHA)
    with pytest.raises(fmt.HeaderError, match="limit"):
        fmt.decode_header(block, 1024 + size)
    assert fmt.decode_header(fmt.encode_header(fmt.METADATA_MAGIC, size - 1, SHA), 1024 + size)


@pytest.mark.parametrize(
    "block",
    [
        pad(b'{"magic_number": "jelly_ml_snapshot", '),
        pad(b'{"magic_number": "jelly_ml_snapshot"} trailing'),
        pad(b'{"magic_number": "jelly_ml_snapshot", "x": "\xff\xfe"}'),
        b'{"magic_number": "jelly_ml_snapshot", "x": ' + b"[" * 980 + b"\0" * 2,
        pad(b'["jelly_ml_snapshot"]'),
        pad(b'"jelly_ml_snapshot"'),
    ],
    ids=["cut-off", "trailing", "bad-utf8", "deep-nesting", "array", "string"],
)
def test_malformed_json_is_a_header_error(block: bytes) -> None:
    with pytest.raises(fmt.HeaderError):
        fmt.decode_header(block, 5000)


def test_deep_nesting_is_a_header_error_even_on_a_deep_stack() -> None:
    block = b'{"magic_number": "jelly_ml_snapshot", "x": ' + b"[" * 980 + b"\0" * 2

    def deep(n: int) -> None:
        if n:
            deep(n - 1)
        else:
            fmt.decode_header(block, 5000)

    with pytest.raises(fmt.HeaderError, match="not valid JSON"):
        deep(300)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (pad(LEGACY_JSON), True),
        (fmt.encode_header(fmt.METADATA_MAGIC, 1, SHA), True),
        (pad(b'  {"magic_number": "jelly_ml_snapshot"'), True),
        (pad(b'{"model": "weights"}'), False),
        (b"\x00" * 1024, False),
        (pad(b"jelly_ml_snapshot {"), False),
    ],
)
def test_looks_like_header(block: bytes, expected: bool) -> None:
    assert fmt.looks_like_header(block) is expected


def test_encode_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError):
        fmt.encode_header("jelly_ml_other", 1, SHA)
    with pytest.raises(ValueError):
        fmt.encode_header(fmt.SNAPSHOT_MAGIC, -1, SHA)


# --- the same problems, as a user of the reader meets them --------------------------------


@pytest.fixture
def bundle(make_repo: Any, tmp_path: Path) -> tuple[bytes, str]:
    repo = make_repo({"a.py": "print(1)\n"})
    return bundle_of(repo.path, tmp_path / "plain.bundle")


def checkpoint_with_header(tmp_path: Path, bundle: bytes, **fields: Any) -> Path:
    tensor = bytearray(snapshot_tensor(bundle, COMMIT))
    raw = json.loads(bytes(tensor[:1024]).split(b"\0")[0])
    for key, value in fields.items():
        if value is _DROP:
            raw.pop(key)
        else:
            raw[key] = value
    tensor[:1024] = pad(json.dumps(raw).encode())
    return write_checkpoint(tmp_path / "model.pth", [b"\0" * 16, bytes(tensor)])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"snapshot_offset": 1000}, "snapshot_offset"),
        ({"snapshot_offset": 10**9}, "snapshot_offset"),
        ({"snapshot_size": 10**9}, "snapshot_size"),
        ({"snapshot_size": -5}, "snapshot_size"),
        ({"snapshot_size": False}, "snapshot_size"),
        ({"snapshot_size": "12"}, "snapshot_size"),
        ({"sha256": "not-a-digest"}, "sha256"),
    ],
)
def test_reader_names_the_bad_field(
    tmp_path: Path, bundle: tuple[bytes, str], fields: dict[str, Any], field: str
) -> None:
    path = checkpoint_with_header(tmp_path, bundle[0], **fields)
    with pytest.raises(CorruptSnapshotError) as info:
        read_snapshot(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"The snapshot in {path} is corrupt: {field} ")


def test_reader_says_written_by_a_newer_jellyml(tmp_path: Path, bundle: tuple[bytes, str]) -> None:
    path = checkpoint_with_header(tmp_path, bundle[0], format_version=3)
    with pytest.raises(UnsupportedFormatError, match="written by a newer jellyml"):
        read_snapshot(path)
    path = checkpoint_with_header(tmp_path, bundle[0], format_version=_DROP, version="march-1-2031")
    with pytest.raises(UnsupportedFormatError, match="written by a newer jellyml"):
        read_snapshot(path)


def test_reader_honours_offset_and_size(tmp_path: Path, bundle: tuple[bytes, str]) -> None:
    data, _ = bundle
    gap = b"\xee" * 100
    digest = hashlib.sha256(data).hexdigest()
    raw = json.loads(fmt.encode_header(fmt.SNAPSHOT_MAGIC, len(data), digest).split(b"\0")[0])
    raw["snapshot_offset"] = 1024 + len(gap)
    tensor = pad(json.dumps(raw).encode()) + gap + data + b"\xff" * 50
    path = write_checkpoint(tmp_path / "model.pth", [tensor])
    out = read_snapshot(path).extract_bundle(tmp_path / "out.bundle")
    assert Path(out).read_bytes() == data
