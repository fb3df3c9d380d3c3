"""``jellyml strip`` the way a release script needs it (issue 21): nothing to strip is a
success, outputs are not replaced unasked, folders are stripped recursively, links are never
written through, damaged files are reported by scan, the output is verified, leftovers are
swept, renamed snapshot tensors are found, and ``--history`` keeps the code without its past."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import (
    SNAPSHOT_FILE,
    safetensors_bytes,
    snapshot_tensors,
    u8,
    write_safetensors_model,
    write_snapshot_file,
)
from kit.cli import jellyml


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _clean_model(path: Path) -> None:
    path.write_bytes(safetensors_bytes({"w": ("F32", [1], b"\0\0\0\0")}, {"format": "pt"}))


def test_nothing_to_strip_succeeds_and_strict_fails(tmp_path: Path) -> None:
    model = tmp_path / "clean.safetensors"
    _clean_model(model)
    out = tmp_path / "public.safetensors"
    proc = jellyml("strip", str(model), "-o", str(out))
    assert "Nothing to strip" in proc.stdout
    assert out.read_bytes() == model.read_bytes()  # the release goes on with a copy
    strict = jellyml("strip", str(model), "-o", str(tmp_path / "x"), "--strict", check=4)
    assert strict.stderr.startswith("error: ") and strict.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_output_is_replaced_only_with_force(make_repo: Any, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    write_safetensors_model(make_repo({"a.py": "x = 1\n"}).path, model)
    out = tmp_path / "public.safetensors"
    out.write_bytes(b"an earlier release")
    proc = jellyml("strip", str(model), "-o", str(out), check=1)
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert out.read_bytes() == b"an earlier release"
    jellyml("strip", str(model), "-o", str(out), "--force")
    jellyml("scan", "--check", str(out))


def _tree_of_runs(make_repo: Any, root: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    write_safetensors_model(repo.path, root / "run-a" / "model.safetensors")
    write_snapshot_file(repo.path, root / "run-b" / "checkpoint-10")
    (root / "run-b" / "checkpoint-10" / "model.safetensors").parent.mkdir(exist_ok=True)
    _clean_model(root / "run-b" / "checkpoint-10" / "model.safetensors")
    _clean_model(root / "clean.safetensors")


def test_recursive_strips_every_checkpoint_into_a_copy(make_repo: Any, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    (root / "run-a").mkdir(parents=True)
    _tree_of_runs(make_repo, root)
    before = _digests(root)
    out = tmp_path / "release"
    proc = jellyml("strip", str(root), "--recursive", "-o", str(out))
    assert "Stripped 2 checkpoints." in proc.stdout
    assert _digests(root) == before  # the input only read
    jellyml("scan", "--check", str(out))
    assert not (out / "run-b" / "checkpoint-10" / SNAPSHOT_FILE).exists()
    again = jellyml("strip", str(root), "--recursive", "-o", str(out), check=1)
    assert "already exists" in again.stderr
    jellyml("strip", str(root), "--recursive", "-o", str(out), "--force")
    jellyml("scan", "--check", str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release", "repo0", "runs"]
    jellyml("strip", str(root), "--recursive", "--in-place")
    jellyml("scan", "--check", str(root))
    assert _digests(root) == _digests(out)


@pytest.mark.torch
def test_strip_never_writes_through_a_linked_tag_folder(make_repo: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import jellyml as library

    shared = tmp_path / "storage" / "global_step5"
    shared.mkdir(parents=True)
    snapshot = library.create_snapshot(str(make_repo({"a.py": "x = 1\n"}).path))
    torch.save({"module": {"w": torch.ones(2)}, **snapshot}, shared / "mp_rank_00_model_states.pt")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "global_step5").symlink_to(shared, target_is_directory=True)
    (ckpt / "latest").write_text("global_step5")
    before = _digests(shared)
    jellyml("strip", str(ckpt), "-o", str(tmp_path / "public"))
    assert _digests(shared) == before  # the original kept its snapshot
    assert not (tmp_path / "public" / "global_step5").is_symlink()
    jellyml("scan", "--check", str(tmp_path / "public"))
    jellyml("strip", str(ckpt), "--recursive", "-o", str(tmp_path / "public2"))
    assert _digests(shared) == before
    jellyml("scan", "--check", str(tmp_path / "public2"))


def test_scan_follows_links_like_the_hf_cache(make_repo: Any, tmp_path: Path) -> None:
    cache = tmp_path / "models--me--model"
    (cache / "blobs").mkdir(parents=True)
    write_safetensors_model(make_repo({"a.py": "x = 1\n"}).path, cache / "blobs" / "abc123")
    rev = cache / "snapshots" / "0123abcd"
    rev.mkdir(parents=True)
    (rev / "model.safetensors").symlink_to("../../blobs/abc123")
    (rev / "loop").symlink_to("..", target_is_directory=True)  # a link loop ends
    proc = jellyml("scan", "--check", "--json", str(cache / "snapshots"), check=1)
    carrying = [e for e in json.loads(proc.stdout) if e["snapshot"]]
    assert [(Path(e["path"]).name, e["file"]) for e in carrying] == [
        ("0123abcd", "model.safetensors")
    ]


@pytest.mark.parametrize("damage", ["truncated", "no_end_record", "trailing", "tar"])
def test_scan_reports_damaged_files_that_may_hold_a_snapshot(
    damage: str, make_repo: Any, tmp_path: Path
) -> None:
    _commit, ours = snapshot_tensors(make_repo({"a.py": "x = 1\n"}).path)
    good = tmp_path / "good.pth"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("good/data.pkl", b"\x80\x02}q\x00.")
        for at, data in enumerate(ours.values()):
            archive.writestr(f"good/data/{at}", data)
    data = good.read_bytes()
    release = tmp_path / "release"
    release.mkdir()
    bad = release / "model.pth"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) - 200])
    elif damage == "no_end_record":
        bad.write_bytes(data[: data.rfind(b"PK\x05\x06")])
    elif damage == "trailing":
        bad.write_bytes(data + os.urandom(70_000))
    else:
        bad = release / "model.tar"
        with tarfile.open(bad, "w") as tar:
            tar.add(good, arcname="model.pth")
    proc = jellyml("scan", "--check", "--json", str(release), check=1)
    (entry,) = json.loads(proc.stdout)
    assert entry["snapshot"] is True and "may hold a snapshot" in entry["problem"]
    found = jellyml("scan", "--secrets", "--check", "--json", str(release), check=5)
    assert [f["rule"] for f in json.loads(found.stdout)] == ["damaged-checkpoint"]


def test_strip_refuses_a_crafted_pickle_it_cannot_reproduce(tmp_path: Path) -> None:
    def text(value: str) -> bytes:
        raw = value.encode()
        return b"X" + len(raw).to_bytes(4, "little") + raw

    # memo 5 is set inside our key's value, set again outside, then fetched: 'mine'
    payload = (
        b"\x80\x02}q\x00(" + text("jellyml_code_snapshot") + text("cpu") + b"q\x05"
        + text("jellyml_snapshot_metadata") + text("x")
        + text("k") + text("mine") + b"q\x05" + text("k2") + b"h\x05u."
    )  # fmt: skip
    model = tmp_path / "crafted.pth"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("crafted/data.pkl", payload)
    before = model.read_bytes()
    proc = jellyml("strip", str(model), "-o", str(tmp_path / "out.pth"), check=None)
    if proc.returncode == 0:  # then it must load as the input did, less our keys
        import pickle  # strings only: safe to load here

        out = zipfile.ZipFile(tmp_path / "out.pth").read("crafted/data.pkl")
        assert pickle.loads(out) == {"k": "mine", "k2": "mine"}
    else:
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1
        assert "would not load as the input did" in proc.stderr
        assert not (tmp_path / "out.pth").exists()
    assert model.read_bytes() == before


def test_a_killed_strip_s_part_file_is_swept(make_repo: Any, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    write_safetensors_model(make_repo({"a.py": "x = 1\n"}).path, model)
    leftover = tmp_path / ".jellyml-999999999-part-0123456789ab.strip.part"
    leftover.write_bytes(b"\0" * 1024)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    jellyml("strip", str(model), "-o", str(tmp_path / "public.safetensors"))
    assert not leftover.exists()


def test_renamed_safetensors_snapshot_is_found_and_stripped(make_repo: Any, tmp_path: Path) -> None:
    _commit, ours = snapshot_tensors(make_repo({"a.py": "x = 1\n"}).path)
    model = tmp_path / "renamed.safetensors"
    tensors = {"w": ("F32", [1], b"\0\0\0\0")}
    tensors.update({f"extra.{at}": u8(data) for at, data in enumerate(ours.values())})
    model.write_bytes(safetensors_bytes(tensors))
    jellyml("show", str(model))  # the reader finds it
    jellyml("strip", str(model), "-o", str(tmp_path / "public.safetensors"))
    jellyml("scan", "--check", str(tmp_path / "public.safetensors"))


def test_history_keeps_the_code_without_its_past(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    repo.write("b.py", "y = 2\n")
    repo.commit_all("second, by someone")
    model = tmp_path / "m.safetensors"
    write_safetensors_model(repo.path, model)
    assert len(jellyml("log", str(model)).stdout.splitlines()) == 2
    out = tmp_path / "public.safetensors"
    jellyml("strip", str(model), "--history", "-o", str(out))
    assert jellyml("ls", str(out)).stdout == jellyml("ls", str(model)).stdout
    log = jellyml("log", str(out)).stdout.splitlines()
    assert log[0].endswith("second, by someone") and log[1].startswith("(shallow snapshot")
    shown = json.loads(jellyml("show", "--json", str(out)).stdout)
    assert shown["commit"] == json.loads(jellyml("show", "--json", str(model)).stdout)["commit"]
    assert shown.get("history") == "shallow" or "shallow" in json.dumps(shown)
    assert jellyml("cat", str(out), "b.py").stdout == "y = 2\n"
