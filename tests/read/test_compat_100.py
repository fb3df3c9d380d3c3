"""Two-way compatibility with JellyML 1.0.0: its files load, and it can read ours."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

import jellyml
from jellyml.extract_bundle import ExtractBundleArgs_dataclass, extract_bundle
from kit.checkpoints import legacy_reader
from kit.cli import jellyml as cli
from kit.files import sha256_file
from kit.repos import clone, git

BASE = "5396996905c84034095deb4dd5fde2035c40cb39"
MODEL_PY = 'def model():\n    return "v1"\n'


def test_clean_fixture_restores_the_base_commit(fixtures_dir: Path, tmp_path: Path) -> None:
    found = jellyml.read_snapshot(fixtures_dir / "jellyml-1.0.0-clean.pth")
    assert found.format_version == 1
    assert found.commit is None and found.metadata is None
    assert found.entry == "jellyml-1.0.0-clean/data/1"
    bundle = found.extract_bundle(tmp_path / "clean.bundle")
    assert Path(bundle).stat().st_size == found.bundle_size == 347
    repo = clone(bundle, tmp_path / "clean")
    assert git(repo, "rev-parse", "HEAD") == BASE
    assert (repo / "model.py").read_text() == MODEL_PY
    assert (repo / "config.yaml").read_text() == "epochs: 3\n"
    assert sorted(p.name for p in repo.iterdir() if p.name != ".git") == [
        "config.yaml",
        "model.py",
    ]


def test_dirty_fixture_restores_the_snapshot_commit(fixtures_dir: Path, tmp_path: Path) -> None:
    found = jellyml.read_snapshot(fixtures_dir / "jellyml-1.0.0-dirty.pth")
    bundle = found.extract_bundle(tmp_path / "dirty.bundle")
    repo = clone(bundle, tmp_path / "dirty")
    assert git(repo, "rev-parse", "HEAD^") == BASE
    assert (repo / "config.yaml").read_text() == "epochs: 10\n"
    assert (repo / "scratch.txt").read_text() == "scratch\n"
    assert (repo / "model.py").read_text() == MODEL_PY
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("name", ["jellyml-1.0.0-clean.pth", "jellyml-1.0.0-dirty.pth"])
def test_fixtures_through_the_cli_and_the_api(
    fixtures_dir: Path, tmp_path: Path, name: str
) -> None:
    model = tmp_path / name
    shutil.copyfile(fixtures_dir / name, model)
    before = sha256_file(model)
    out = cli("fix", "extract-bundle", str(model), cwd=tmp_path)
    stem_bundle = tmp_path / (model.stem + ".bundle")
    assert out.stdout.strip() == f"Wrote {stem_bundle}: {stem_bundle.stat().st_size:,} bytes."
    assert out.stderr == ""
    api_out = tmp_path / "api.bundle"
    assert extract_bundle(ExtractBundleArgs_dataclass(str(model), str(api_out))) == 0
    assert api_out.read_bytes() == stem_bundle.read_bytes()
    # the bundle is the tensor after its 1024-byte header: exactly what 1.0.0 wrote
    assert stem_bundle.read_bytes() == legacy_reader(model)
    assert sha256_file(model) == before


def test_legacy_reader_finds_the_fixture_bundle(fixtures_dir: Path) -> None:
    # the re-implemented 1.0.0 reader must work on 1.0.0's own files, or it proves nothing
    data = legacy_reader(fixtures_dir / "jellyml-1.0.0-dirty.pth")
    assert data.startswith(b"# v2 git bundle") and len(data) == 689


@pytest.mark.torch
@pytest.mark.parametrize("to_buffer", [False, True])
def test_jellyml_100_reads_what_we_write(dirty_repo, tmp_path: Path, to_buffer: bool) -> None:
    torch = pytest.importorskip("torch")
    repo = dirty_repo
    ours = tmp_path / "ours.bundle"
    snapshot = jellyml.create_snapshot(str(repo.path), out_git_bundle_path=str(ours))
    path = tmp_path / "model.pth"
    # the metadata tensor is saved before the snapshot so that 1.0.0's reader meets it first
    obj = {"w": torch.ones(5), "meta": snapshot[jellyml.METADATA_KEY], **snapshot}
    if to_buffer:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        path.write_bytes(buffer.getvalue())
    else:
        torch.save(obj, path)
    with zipfile.ZipFile(path) as archive:
        heads = [archive.read(n)[:40] for n in archive.namelist() if "/data/" in n]
    magics = [h for h in heads if h.startswith(b'{"magic_number": "jelly_ml_')]
    assert magics[0].startswith(b'{"magic_number": "jelly_ml_metadata"'), "metadata not first"
    assert legacy_reader(path) == ours.read_bytes()
    assert jellyml.read_snapshot(path).bundle_size == ours.stat().st_size
