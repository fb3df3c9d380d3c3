"""`jellyml extract-bundle` (and `jellyml fix extract-bundle`): stdout with `-o -`, mode 0600
whatever the umask, no silent overwrite."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml, needs_pty, read_pty


@pytest.fixture
def model(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    path = tmp_path / "m.pth"
    make_model(source.path, path)
    return path


def _umask_022(argv, cwd):
    code = "import os, sys, runpy; os.umask(0o022); sys.argv = sys.argv[1:]; "
    code += "runpy.run_module('jellyml', run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code, "jellyml", *argv], cwd=cwd, capture_output=True
    )


@pytest.mark.parametrize("prefix", [[], ["fix"]], ids=["top-level", "fix"])
def test_dash_writes_the_bundle_to_stdout(model, tmp_path, prefix):
    reference = tmp_path / "ref.bundle"
    jellyml(*prefix, "extract-bundle", str(model), "-o", str(reference), cwd=tmp_path)
    proc = _umask_022([*prefix, "extract-bundle", str(model), "-o", "-"], tmp_path)
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout == reference.read_bytes() and proc.stdout.startswith(b"# v2 git bundle")
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("prefix", [[], ["fix"]], ids=["top-level", "fix"])
def test_the_file_is_private_whatever_the_umask(model, tmp_path, prefix):
    proc = _umask_022([*prefix, "extract-bundle", str(model)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "m.bundle").st_mode) == 0o600


def test_an_existing_file_is_replaced_only_with_force(model, tmp_path):
    target = tmp_path / "code.bundle"
    target.write_text("mine\n")
    proc = jellyml("extract-bundle", str(model), "-o", str(target), cwd=tmp_path, check=1)
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert target.read_text() == "mine\n"
    assert set(os.listdir(tmp_path)) == {"source", "m.pth", "code.bundle"}  # no temporary
    jellyml("extract-bundle", str(model), "-o", str(target), "--force", cwd=tmp_path)
    assert target.read_bytes().startswith(b"# v2 git bundle")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_never_over_the_model_itself(model, tmp_path):
    before = model.read_bytes()
    proc = jellyml("extract-bundle", str(model), "-o", str(model), "-f", cwd=tmp_path, check=1)
    assert "model file itself" in proc.stderr and model.read_bytes() == before


def test_the_python_door_takes_force(model, tmp_path):
    from jellyml import OutputExistsError
    from jellyml.extract_bundle import ExtractBundleArgs_dataclass, extract_bundle

    out = tmp_path / "x.bundle"
    assert extract_bundle(ExtractBundleArgs_dataclass(str(model), str(out))) == 0
    with pytest.raises(OutputExistsError):
        extract_bundle(ExtractBundleArgs_dataclass(str(model), str(out)))
    assert extract_bundle(ExtractBundleArgs_dataclass(str(model), str(out), force=True)) == 0


@needs_pty
def test_dash_refuses_a_terminal(model, tmp_path):
    leader, follower = os.openpty()
    argv = [*cli_command(), "extract-bundle", str(model), "-o", "-"]
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, cwd=tmp_path)
    os.close(follower)
    out = read_pty(leader)
    assert proc.wait() == 2
    assert b"refusing to write the bundle to a terminal" in out and b"git bundle" not in out


def test_written_once_and_never_over_a_file_that_appeared_meanwhile(model, tmp_path, monkeypatch):
    """The bundle goes through the one writer: one temporary file beside the target, put in
    place without replacing what another process wrote there while the bundle was read."""
    from jellyml import OutputExistsError, outputs
    from jellyml.read import extract, reader

    made = []
    real_new_file, real_chunks = outputs.new_file_beside, reader.bundle_chunks
    monkeypatch.setattr(outputs, "new_file_beside", lambda *a: made.append(a) or real_new_file(*a))
    target = tmp_path / "out" / "code.bundle"
    target.parent.mkdir()

    def meanwhile(*args):
        target.write_text("someone else's\n")
        yield from real_chunks(*args)

    monkeypatch.setattr(reader, "bundle_chunks", meanwhile)
    with pytest.raises(OutputExistsError):
        extract.extract(str(model), str(target))
    assert target.read_text() == "someone else's\n"
    assert os.listdir(target.parent) == ["code.bundle"]  # nothing else left behind
    assert len(made) == 1
    monkeypatch.setattr(reader, "bundle_chunks", real_chunks)
    extract.extract(str(model), str(target), force=True)
    assert target.read_bytes().startswith(b"# v2 git bundle") and len(made) == 2
