"""``gitcore.pack.bundle_tree``: a bundle's tip tree read from its pack in Python, checked
against ``git ls-tree -r -l`` on real repositories (deltas, sha256, links, submodules), and
damaged packs refused with ``PackError`` rather than misread."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from jellyml.gitcore.pack import PackError, blob_id, bundle_tree


def git_listing(repo: Path) -> dict[bytes, tuple[str, str, str]]:
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-l", "-z", "HEAD"], cwd=repo, capture_output=True, check=True
    ).stdout
    found = {}
    for record in out.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            mode, _kind, oid, size = meta.decode().split()
            found[path] = (mode, oid, size)
    return found


def bundle(repo: Path, out: Path) -> bytes:
    subprocess.run(["git", "bundle", "create", "-q", str(out), "HEAD"], cwd=repo, check=True)
    return out.read_bytes()


def assert_matches_git(repo: Path, tmp_path: Path) -> dict[bytes, Any]:
    tree = bundle_tree(bundle(repo, tmp_path / "b.bundle"))
    expected = git_listing(repo)
    assert {p: (f.mode, f.oid) for p, f in tree.items()} == {
        p: (m, o) for p, (m, o, _s) in expected.items()
    }
    for path, file in tree.items():  # a size, when known, is the blob's
        assert file.size is None or str(file.size) == expected[path][2]
    return tree


def test_a_history_of_deltas_links_and_submodules(make_repo, tmp_path):
    repo = make_repo({"a.txt": "start\n"})
    for i in range(25):
        repo.write(f"dir{i % 4}/data.txt", "\n".join(str(n) for n in range(i * 50)) + "\n")
        repo.write("a.txt", f"version {i}\n" * 40)
        repo.commit_all(f"step {i}")
    (repo.path / "link").symlink_to("a.txt")
    repo.write("run.sh", "#!/bin/sh\n", mode=0o755)
    repo.git("add", "-A")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub")
    repo.git("commit", "-q", "-m", "links")
    repo.git("repack", "-adf", "-q", "--depth=50")
    tree = assert_matches_git(repo.path, tmp_path)
    assert tree[b"link"].mode == "120000" and tree[b"run.sh"].mode == "100755"
    assert tree[b"sub"].mode == "160000"
    assert tree[b"a.txt"].oid == blob_id("sha1", ("version 24\n" * 40).encode())


def test_a_sha256_repository(tmp_path):
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(repo)], check=True)
    (repo / "f.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "one"], cwd=repo, check=True)
    tree = assert_matches_git(repo, tmp_path)
    assert len(tree[b"f.py"].oid) == 64


@pytest.mark.parametrize("cut", [20, 200, -30])
def test_a_damaged_pack_is_refused(make_repo, tmp_path, cut):
    repo = make_repo({"a.txt": "hello\n" * 100, "b/c.txt": "world\n"})
    data = bundle(repo.path, tmp_path / "b.bundle")
    start = data.index(b"PACK")
    with pytest.raises(PackError):
        bundle_tree(data[: start + cut] if cut > 0 else data[:cut] + b"\0" * 10)


def test_not_a_bundle_is_refused():
    with pytest.raises(PackError):
        bundle_tree(b"not a bundle at all")
