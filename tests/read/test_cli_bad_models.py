"""Every kind of bad model file: one clear line, a failure exit status, and the repository
exactly as it was. The status (docs/CLI.md): 3 not a checkpoint, 4 no snapshot, 1 otherwise."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from jellyml import format as fmt
from kit.checkpoints import make_model, write_checkpoint
from kit.cli import jellyml


def _header(size: int, payload: bytes, **extra) -> bytes:
    fields = {
        "magic_number": fmt.SNAPSHOT_MAGIC,
        "snapshot_offset": 1024,
        "snapshot_size": size,
        "version": fmt.LEGACY_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        **extra,
    }
    return json.dumps(fields).encode().ljust(1024, b"\0")


def _bad_files(tmp: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the error must contain)."""
    bundle = (tmp.parent / "good.bundle").read_bytes()
    files: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, phrase: str) -> None:
        path = tmp / f"{name}.pth"
        path.write_bytes(data)
        files[name] = (path, phrase)

    files["missing"] = (tmp / "missing.pth", "does not exist")
    (tmp / "folder.pth").mkdir()
    files["directory"] = (tmp / "folder.pth", "directory")
    put("empty", b"", "")
    put("text", b"just some text\n" * 10, "")
    put("random", bytes(range(256)) * 40, "")
    with zipfile.ZipFile(tmp / "nopkl.pth", "w") as z:
        z.writestr("x/data/0", b"0" * 2000)
    files["zip without data.pkl"] = (tmp / "nopkl.pth", "not a PyTorch checkpoint")
    put("truncated", good.read_bytes()[: good.stat().st_size // 2], "")
    write_checkpoint(tmp / "plain.pth", {"0": b"\1" * 4096})
    files["no snapshot"] = (tmp / "plain.pth", "holds no JellyML snapshot")
    write_checkpoint(tmp / "badjson.pth", {"0": b'{"jelly_ml_snapshot": ,'.ljust(2048, b"\0")})
    files["header not json"] = (tmp / "badjson.pth", "corrupt")
    write_checkpoint(tmp / "oversize.pth", {"0": _header(10**9, bundle) + bundle})
    files["size past the end"] = (tmp / "oversize.pth", "corrupt")
    flipped = bytearray(bundle)
    flipped[-5] ^= 0xFF
    write_checkpoint(tmp / "sha.pth", {"0": _header(len(bundle), bundle) + bytes(flipped)})
    files["bundle sha256 mismatch"] = (tmp / "sha.pth", "corrupt")
    junk = b"not a bundle at all" * 10
    write_checkpoint(tmp / "junk.pth", {"0": _header(len(junk), junk) + junk})
    files["payload not a bundle"] = (tmp / "junk.pth", "corrupt")
    wrong = _header(len(bundle), bundle, format_version=2, commit="ab" * 20) + bundle
    write_checkpoint(tmp / "wrongcommit.pth", {"0": wrong})
    files["header names another commit"] = (tmp / "wrongcommit.pth", "does not hold commit")
    newer = _header(len(bundle), bundle, format_version=99) + bundle
    write_checkpoint(tmp / "newer.pth", {"0": newer})
    files["newer format"] = (tmp / "newer.pth", "newer jellyml")
    return files


@pytest.fixture
def bad_files(make_repo, tmp_path):
    source = make_repo({"a.py": "snapshot\n"}, name="source")
    good = tmp_path / "good.pth"
    make_model(source.path, good)
    jellyml("fix", "extract-bundle", str(good), "-o", str(tmp_path / "good.bundle"), cwd=tmp_path)
    folder = tmp_path / "bad"
    folder.mkdir()
    return _bad_files(folder, good)


def _exit_status(path: Path) -> int:
    from jellyml import JellyMLError, NotACheckpointError, SnapshotNotFoundError, read_snapshot

    try:
        read_snapshot(path)
    except NotACheckpointError:
        return 3
    except SnapshotNotFoundError:
        return 4
    except JellyMLError:
        return 1
    return 1  # readable, refused later (the bundle does not hold the header's commit)


def test_bad_model_files_change_nothing(make_repo, bad_files, tmp_path):
    repo = make_repo({"a.py": "mine\n"})
    repo.write("a.py", "uncommitted\n")
    repo.write("untracked.txt", "u\n")
    before = repo.state()
    empty = tmp_path / "empty-target"
    empty.mkdir()
    for name, (path, phrase) in bad_files.items():
        for argv, cwd in (
            (["eat", str(path)], repo.path),
            (["load", str(path), "-c", str(empty)], tmp_path),
            (["show", str(path)], tmp_path),
            (["git", str(path), "bundle", "list-heads", "{}"], tmp_path),
            (["fix", "extract-bundle", str(path), "-o", str(tmp_path / "x.bundle")], tmp_path),
        ):
            if name == "header names another commit" and argv[0] not in ("eat", "load"):
                continue  # only restoring checks the bundle's commit against the header
            proc = jellyml(*argv, cwd=cwd, check=None)
            assert proc.returncode == _exit_status(path), (name, argv, proc.returncode)
            assert proc.stderr.startswith("error: "), (name, argv, proc.stderr)
            assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, name
            assert phrase in proc.stderr, (name, proc.stderr)
        assert repo.state() == before, name
        assert list(empty.iterdir()) == [], name
        assert not (tmp_path / "x.bundle").exists(), name
