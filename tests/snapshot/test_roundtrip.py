"""Property: for any tree of files, restoring the snapshot gives back exactly the working tree."""

from __future__ import annotations

import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jellyml.snapshot import Guards, snapshot_repo
from kit.repos import GitRepo

# Any character a file name can hold: everything but "/" (folders are built from parts) and
# NUL; backslashes, control characters, spaces and unicode included. Left out: "." and "..",
# names starting with ".git" (git refuses ".git"; .gitignore or .gitattributes would change
# what git does), and the names git's NTFS protection (on everywhere, core.protectNTFS)
# refuses: ".git" with trailing dots or spaces, and its short name "git~1".
_part = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\0")
    | st.sampled_from(" -_.é名\\\t"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..") and not _git_refuses(s))


def _git_refuses(name: str) -> bool:
    folded = name.lower().rstrip(". ")
    return folded.startswith(".git") or folded == "git~1"


_path = st.lists(_part, min_size=1, max_size=3).map("/".join)
_content = st.binary(max_size=300)
_tree = st.dictionaries(_path, _content, min_size=1, max_size=12)


def _consistent(tree: dict[str, bytes]) -> dict[str, bytes]:
    """Drop paths that would need a file and a folder of the same name."""
    kept: dict[str, bytes] = {}
    for path in sorted(tree):
        parts = path.split("/")
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if prefixes & kept.keys() or any(k.startswith(path + "/") for k in kept):
            continue
        kept[path] = tree[path]
    return kept


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(committed=_tree, changes=_tree, deletions=st.integers(0, 3), data=st.data())
def test_restore_reproduces_the_working_tree(tmp_path_factory, committed, changes, deletions, data):
    root = tmp_path_factory.mktemp("prop")
    repo = GitRepo(root / "repo")
    repo.path.mkdir()
    repo.git("init", "-q")
    committed = _consistent(committed)
    for rel, content in committed.items():
        repo.write(rel, content)
    repo.commit_all("base")
    for rel, content in _consistent({**changes}).items():
        target = repo.path / rel
        if any(
            (repo.path / "/".join(rel.split("/")[:i])).is_file()
            for i in range(1, rel.count("/") + 1)
        ):
            continue  # a committed file stands where this folder would go
        if target.is_dir():
            continue
        repo.write(rel, content)
    for rel in data.draw(st.lists(st.sampled_from(sorted(committed)), max_size=deletions)):
        (repo.path / rel).unlink(missing_ok=True)
    expected = repo.worktree()
    before = repo.state()

    bundle = root / "s.bundle"
    # No secret or model patterns: a random name may well end in .key, .pem or .PT.
    guards = Guards(secret_patterns=(), model_patterns=())
    snapshot_repo(str(repo.path), bundle_path=str(bundle), guards=guards)
    subprocess.run(["git", "clone", "-q", str(bundle), str(root / "out")], check=True)
    assert GitRepo(root / "out").worktree() == expected
    assert repo.state() == before
