"""``cat``, ``ls``, ``diff`` and ``log`` bounded (issue 23, points 3 and 4): a big blob streams
with the process's memory flat; a git bomb of a few KB is stopped at the ``JELLYML_MAX_*`` limits
eat applies, in one line naming the limit; a huge commit subject is cut, its length said."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from kit.checkpoints import make_model, model_from_bundle
from kit.cli import jellyml, jellyml_capped, one_error_line, peak_rss_of_cli
from kit.repos import bundle_of

#: ``cat``'s own process stays under this, whatever the blob (the issue's bound).
CAT_MEMORY = 64 << 20


def _git(repo: Any, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo.path, input=input, capture_output=True, check=True
    )
    return proc.stdout.decode().strip()


def git_bomb(make_repo: Any, tmp_path: Path, levels: int = 9) -> tuple[Any, Path]:
    """A repository whose HEAD tree names 10**levels files with a few KB of objects (each
    tree lists the one below ten times), and a model file of it."""
    repo = make_repo({"seed": "x\n"})
    blob = _git(repo, "hash-object", "-w", "--stdin", input=b"x\n")
    tree = _git(
        repo,
        "mktree",
        input=b"".join(b"100644 blob %s\tf%d\n" % (blob.encode(), i) for i in range(10)),
    )
    for _ in range(levels - 1):
        rows = b"".join(b"040000 tree %s\td%d\n" % (tree.encode(), i) for i in range(10))
        tree = _git(repo, "mktree", input=rows)
    return repo, model_of_tree(repo, tree, tmp_path / "bomb.pth")


def model_of_tree(repo: Any, tree: str, out: Path) -> Path:
    """``tree`` committed on ``repo``'s HEAD, and a model file whose snapshot is that commit."""
    commit = _git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "made by hand")
    _git(repo, "update-ref", "HEAD", commit)
    bundle, tip = bundle_of(repo)
    return model_from_bundle(out, bundle, tip, {"git": {}, "packages": {}})


def test_ls_stops_a_git_bomb_at_the_file_limit(make_repo: Any, tmp_path: Path) -> None:
    repo, model = git_bomb(make_repo, tmp_path)
    for args in (["ls", str(model)], ["ls", str(model), "d0/"], ["ls", "-z", str(model)]):
        proc = jellyml_capped(*args, cwd=repo.path)
        one_error_line(proc, "JELLYML_MAX_FILES", "100,000 files")
        assert proc.stdout == ""


def test_diff_stops_a_git_bomb_before_git_walks_it(make_repo: Any, tmp_path: Path) -> None:
    repo, model = git_bomb(make_repo, tmp_path)
    for args in (["diff", "--stat", "--no-pager", str(model)], ["diff", str(model), str(model)]):
        proc = jellyml_capped(*args, cwd=repo.path)
        one_error_line(proc, "JELLYML_MAX_FILES")
        assert len(proc.stdout) < 1000


def test_each_limit_is_named_when_hit(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a/b/c/deep.txt": "x" * 5000, "top.txt": "y\n"})
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    cases = {
        "JELLYML_MAX_DEPTH": ("1", "folder levels"),
        "JELLYML_MAX_FILE_SIZE": ("1000", "largest file"),
        "JELLYML_MAX_SIZE": ("2000", "in all"),
        "JELLYML_MAX_FILES": ("1", "files"),
    }
    for variable, (value, what) in cases.items():
        proc = jellyml_capped("ls", str(model), cwd=repo.path, env={variable: value})
        one_error_line(proc, variable, what)
    proc = jellyml_capped("ls", str(model), cwd=repo.path, env={"JELLYML_MAX_FILES": "0"})
    assert proc.returncode == 0 and proc.stdout.split() == ["a/b/c/deep.txt", "top.txt"]


def test_log_stops_at_the_commit_limit(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a": "1\n"})
    for n in range(6):
        repo.git("commit", "-q", "--allow-empty", "-m", f"c{n}")
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    proc = jellyml_capped("log", str(model), cwd=repo.path, env={"JELLYML_MAX_FILES": "5"})
    one_error_line(proc, "JELLYML_MAX_FILES", "commits")
    shown = jellyml("log", "-n", "3", str(model), cwd=repo.path, env={"JELLYML_MAX_FILES": "5"})
    assert len(shown.stdout.splitlines()) == 3


def test_cat_streams_a_big_blob_with_memory_flat(make_repo: Any, tmp_path: Path) -> None:
    size = 300 << 20  # zeros: a few hundred KB in the bundle
    repo = make_repo({"small.txt": "s\n"})
    with open(repo.path / "big.bin", "wb") as f:
        f.truncate(size)
    repo.commit_all("a big blob")  # committed: an untracked file this big is left out
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    assert model.stat().st_size < 4 << 20
    out = tmp_path / "out.bin"
    with open(out, "wb") as sink:
        code, peak = peak_rss_of_cli("cat", str(model), "big.bin", cwd=repo.path, stdout=sink)
    assert code == 0
    assert out.stat().st_size == size
    with open(out, "rb") as f:
        assert hashlib.sha256(f.read(1 << 20)).digest() == hashlib.sha256(bytes(1 << 20)).digest()
    out.unlink()
    assert peak < CAT_MEMORY, f"cat's peak RSS was {peak / (1 << 20):.0f} MiB"


def test_a_huge_subject_is_cut_with_its_length_said(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a": "1\n"})
    subject = "S" * 10_000_000
    _git(repo, "commit", "-q", "--allow-empty", "-F", "-", input=subject.encode())
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    proc = jellyml_capped("log", str(model), cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert len(first) < 400 and "(10,000,000 characters)" in first
    whole = jellyml_capped("log", "--full", "-n", "1", str(model), cwd=repo.path)
    assert subject in whole.stdout


def crafted_tree_model(make_repo: Any, tmp_path: Path, name: bytes) -> tuple[Any, Path]:
    """A model file whose snapshot tree names ``name`` (which git itself never writes)."""
    source = make_repo({"seed": "x\n"})
    blob = _git(source, "hash-object", "-w", "--stdin", input=b"x\n")
    raw = b"100644 " + name + b"\0" + bytes.fromhex(blob)
    tree = _git(source, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=raw)
    return source, model_of_tree(source, tree, tmp_path / "crafted.pth")


def test_a_tree_naming_an_absolute_path_is_refused_by_name(make_repo: Any, tmp_path: Path) -> None:
    for name in (b"/abs", b".."):
        source, model = crafted_tree_model(make_repo, tmp_path, name)
        shown = name.decode()
        one_error_line(jellyml_capped("ls", str(model), cwd=source.path), repr(shown), "plain")
        one_error_line(jellyml_capped("eat", str(model), cwd=source.path), repr(shown), "plain")
