"""The one all-or-nothing writer (``jellyml.outputs.replacing``): its no-clobber mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jellyml.errors import OutputExistsError
from jellyml.outputs import replacing


def test_no_clobber_writes_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with replacing(str(target), ".part", no_clobber=True) as (out, _tmp):
        out.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out"]


def test_no_clobber_never_replaces_a_file_not_even_one_made_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with (
        pytest.raises(OutputExistsError),
        replacing(str(target), ".part", no_clobber=True) as (
            out,
            _tmp,
        ),
    ):
        out.write(b"new")
        target.write_bytes(b"made meanwhile by someone else")
    assert target.read_bytes() == b"made meanwhile by someone else"
    assert os.listdir(tmp_path) == ["out"]  # no temporary file left


def test_replacing_replaces_by_default(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with replacing(str(target), ".part", durable=True) as (out, _tmp):
        out.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out"]
