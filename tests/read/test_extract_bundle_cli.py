"""Every bad input to ``jellyml fix extract-bundle``: one line, non-zero exit, nothing changed.

Each case runs twice: through the real CLI in a fresh interpreter, and through the spec's Python
door ``jellyml.extract_bundle.extract_bundle``, which must raise the matching JellyMLError.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

import jellyml
from jellyml import errors
from jellyml.extract_bundle import ExtractBundleArgs_dataclass, extract_bundle
from kit.checkpoints import patch_snapshot_header
from kit.cli import jellyml as cli
from kit.repos import clone, git, make_dirty_repo


@dataclass(frozen=True)
class Case:
    make: Callable[[Path, Callable[[], Path]], Path]
    error: type[errors.JellyMLError]
    says: str
    output: Optional[str] = None  # relative to the work folder; None = the default
    needs_torch: bool = True


def good_checkpoint(make_repo: Any, folder: Path, name: str = "model.pth", **save: Any) -> Path:
    torch = pytest.importorskip("torch")
    repo = make_dirty_repo(make_repo)
    snapshot = jellyml.create_snapshot(str(repo.path))
    path = folder / name
    torch.save({"model_state_dict": {"w": torch.ones(100)}, **snapshot}, path, **save)
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def truncated_at(where: str) -> Callable[[Path, Callable[[], Path]], Path]:
    def make(models: Path, good: Callable[[], Path]) -> Path:
        path = good()
        data = path.read_bytes()
        with zipfile.ZipFile(path) as archive:
            directory = archive.start_dir
        cut = {
            "in-bundle": data.find(b"# v2 git bundle") + 100,
            "in-directory": directory + 60,
            "in-end-record": len(data) - 10,
        }[where]
        return write(path, data[:cut])

    return make


def with_header(**fields: Any) -> Callable[[Path, Callable[[], Path]], Path]:
    def make(models: Path, good: Callable[[], Path]) -> Path:
        path = good()
        patch_snapshot_header(path, **fields)
        return path

    return make


def not_json_header(models: Path, good: Callable[[], Path]) -> Path:
    path = good()
    data = bytearray(path.read_bytes())
    at = data.find(b'{"magic_number": "jelly_ml_snapshot"')
    broken = b'{"magic_number": "jelly_ml_snapshot", snapshot_size: twelve}'
    data[at : at + 1024] = broken + b"\0" * (1024 - len(broken))
    return write(path, bytes(data))


def flipped_bundle_byte(models: Path, good: Callable[[], Path]) -> Path:
    path = good()
    data = bytearray(path.read_bytes())
    data[data.find(b"# v2 git bundle") + 200] ^= 0x01
    return write(path, bytes(data))


def no_snapshot(models: Path, good: Callable[[], Path]) -> Path:
    torch = pytest.importorskip("torch")
    path = models / "plain.pth"
    torch.save({"w": torch.ones(1000), "b": torch.zeros(10)}, path)
    return path


def zip_without_pickle(models: Path, good: Callable[[], Path]) -> Path:
    path = models / "weights.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights/data/0", b"x" * 2048)
    return path


CASES: dict[str, Case] = {
    "missing-path": Case(
        lambda m, g: m / "nope.pth", errors.ModelFileNotFoundError, "does not exist", None, False
    ),
    "directory": Case(lambda m, g: m, errors.NotACheckpointError, "is a directory", None, False),
    "random-binary": Case(
        lambda m, g: write(m / "r.pth", random.Random(7).randbytes(70_000)),
        errors.NotACheckpointError,
        "is not a PyTorch checkpoint (it is not a zip archive)",
        needs_torch=False,
    ),
    "text-file": Case(
        lambda m, g: write(m / "notes.txt", b"epochs: 3\nlr: 0.1\n" * 40),
        errors.NotACheckpointError,
        "it is not a zip archive",
        needs_torch=False,
    ),
    "empty-file": Case(
        lambda m, g: write(m / "empty.pth", b""),
        errors.NotACheckpointError,
        "not a zip archive",
        needs_torch=False,
    ),
    "plain-pickle": Case(
        lambda m, g: write(m / "p.pkl", pickle.dumps({"w": list(range(500))}, protocol=2)),
        errors.NotACheckpointError,
        "it is not a zip archive",
        needs_torch=False,
    ),
    "zip-without-data-pkl": Case(
        zip_without_pickle,
        errors.NotACheckpointError,
        "is a zip archive but not a PyTorch checkpoint",
        needs_torch=False,
    ),
    "truncated-in-bundle": Case(
        truncated_at("in-bundle"), errors.TruncatedCheckpointError, "is truncated or damaged"
    ),
    "truncated-in-directory": Case(
        truncated_at("in-directory"), errors.TruncatedCheckpointError, "is truncated or damaged"
    ),
    "truncated-in-end-record": Case(
        truncated_at("in-end-record"), errors.TruncatedCheckpointError, "is truncated or damaged"
    ),
    "no-snapshot": Case(no_snapshot, errors.SnapshotNotFoundError, "holds no JellyML snapshot"),
    "header-not-json": Case(
        not_json_header, errors.CorruptSnapshotError, "its header is not valid JSON"
    ),
    "offset-before-1024": Case(
        with_header(snapshot_offset=512), errors.CorruptSnapshotError, "snapshot_offset 512"
    ),
    "offset-past-entry": Case(
        with_header(snapshot_offset=10**9), errors.CorruptSnapshotError, "lies outside"
    ),
    "size-past-entry": Case(
        with_header(snapshot_size=10**9), errors.CorruptSnapshotError, "runs past the end"
    ),
    "negative-size": Case(
        with_header(snapshot_size=-1), errors.CorruptSnapshotError, "not a non-negative integer"
    ),
    "checksum-mismatch": Case(
        flipped_bundle_byte, errors.CorruptSnapshotError, "bundle does not match its sha256"
    ),
    "newer-format": Case(
        with_header(format_version=3), errors.UnsupportedFormatError, "written by a newer jellyml"
    ),
    "legacy-torch-format": Case(
        lambda m, g: g(_use_new_zipfile_serialization=False),
        errors.NotACheckpointError,
        "was saved in PyTorch's legacy pre-1.6 format, which jellyml cannot read",
    ),
    "output-in-missing-folder": Case(
        lambda m, g: g(), errors.OutputPathError, "No such file or directory", "missing/x.bundle"
    ),
}
NAMES = [pytest.param(n, marks=pytest.mark.torch) if c.needs_torch else n for n, c in CASES.items()]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256: what must not change."""
    found = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = Path(root, name)
            found[str(full.relative_to(folder))] = hashlib.sha256(full.read_bytes()).hexdigest()
    return found


@pytest.fixture
def setup(make_repo: Any, tmp_path: Path) -> Callable[[Case], tuple[Path, Path]]:
    """Build a case: the model path, and a work folder (the cwd) that starts empty."""

    def build(case: Case) -> tuple[Path, Path]:
        models = tmp_path / "models"
        work = tmp_path / "work"
        models.mkdir()
        work.mkdir()
        model = case.make(models, lambda **save: good_checkpoint(make_repo, models, **save))
        return model, work

    return build


def exit_status(error: type[errors.JellyMLError]) -> int:
    """docs/CLI.md: 3 not a checkpoint, 4 a checkpoint without a snapshot, 1 anything else."""
    if issubclass(error, errors.NotACheckpointError):
        return 3
    return 4 if issubclass(error, errors.SnapshotNotFoundError) else 1


@pytest.mark.parametrize("name", NAMES)
def test_cli_bad_input(name: str, setup: Callable[[Case], tuple[Path, Path]]) -> None:
    case = CASES[name]
    model, work = setup(case)
    before = tree(model.parent), tree(work)
    args = ["fix", "extract-bundle", str(model)]
    if case.output:
        args += ["-o", case.output]
    out = cli(*args, cwd=work, check=exit_status(case.error))
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    assert case.says in lines[0]
    assert "Traceback" not in out.stderr
    assert (tree(model.parent), tree(work)) == before  # no bundle, no temp file, model as it was


@pytest.mark.parametrize("name", NAMES)
def test_api_bad_input(
    name: str,
    setup: Callable[[Case], tuple[Path, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    model, work = setup(case)
    monkeypatch.chdir(work)
    before = tree(model.parent), tree(work)
    with pytest.raises(case.error) as info:
        extract_bundle(ExtractBundleArgs_dataclass(model=str(model), output_path=case.output))
    assert type(info.value) is case.error
    assert case.says in str(info.value)
    assert "\n" not in str(info.value)
    assert (tree(model.parent), tree(work)) == before


def test_cli_message_is_the_exception_text(setup: Callable[[Case], tuple[Path, Path]]) -> None:
    model, work = setup(CASES["random-binary"])
    with pytest.raises(errors.NotACheckpointError) as info:
        jellyml.read_snapshot(model)
    out = cli("fix", "extract-bundle", str(model), cwd=work, check=3)  # not a checkpoint
    assert out.stderr == f"error: {info.value}\n"


@pytest.mark.torch
@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_debug_shows_the_traceback(setup: Callable[[Case], tuple[Path, Path]], where: str) -> None:
    model, work = setup(CASES["truncated-in-bundle"])
    args = ["fix", "extract-bundle", str(model)]
    if where == "before":
        args = ["--debug", *args]
    elif where == "after":
        args = [*args, "--debug"]
    env = {"JELLYML_DEBUG": "1"} if where == "env" else None
    out = cli(*args, cwd=work, env=env, check=3)  # a truncated file is not a checkpoint
    assert out.stderr.startswith("Traceback (most recent call last):")
    assert "TruncatedCheckpointError" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert os.listdir(work) == []


@pytest.mark.torch
def test_cli_writes_the_default_bundle(make_repo: Any, tmp_path: Path) -> None:
    model = good_checkpoint(make_repo, tmp_path, "run 7.pth")
    work = tmp_path / "work"
    work.mkdir()
    out = cli("fix", "extract-bundle", str(model), cwd=work)
    bundle = work / "run 7.bundle"
    commit = jellyml.read_snapshot(model).commit
    assert commit
    assert out.stdout == f"Wrote {bundle}: {bundle.stat().st_size:,} bytes (commit {commit}).\n"
    repo = clone(bundle, tmp_path / "clone")
    assert git(repo, "rev-parse", "HEAD") == commit
    assert (repo / "config.yaml").read_text() == "epochs: 10\n"


@pytest.mark.torch
@pytest.mark.parametrize("output", ["-o", "--output_path"])
def test_cli_output_path_file_or_folder(make_repo: Any, tmp_path: Path, output: str) -> None:
    model = good_checkpoint(make_repo, tmp_path)
    folder = tmp_path / "bundles"
    folder.mkdir()
    cli("fix", "extract-bundle", str(model), output, str(folder), cwd=tmp_path)
    assert os.listdir(folder) == ["model.bundle"]
    target = folder / "named.bundle"
    cli("fix", "extract-bundle", str(model), output, str(target), cwd=tmp_path)
    assert target.read_bytes() == (folder / "model.bundle").read_bytes()
    assert extract_bundle(ExtractBundleArgs_dataclass(str(model), str(folder / "api.bundle"))) == 0
    assert (folder / "api.bundle").read_bytes() == target.read_bytes()


@pytest.mark.torch
def test_cli_refuses_to_overwrite_the_model(make_repo: Any, tmp_path: Path) -> None:
    model = good_checkpoint(make_repo, tmp_path, "m.bundle")  # a model named like a bundle
    before = model.read_bytes()
    out = cli("fix", "extract-bundle", str(model), cwd=tmp_path, check=1)
    assert "it is the model file itself" in out.stderr
    assert model.read_bytes() == before
