"""Property: for any mix of committed, modified, staged, deleted, new and untracked files,
eat followed by undo gives back exactly the same state."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jellyml.restore.eat import eat_snapshot
from jellyml.restore.undo import undo_last
from kit.checkpoints import make_model
from kit.repos import GitRepo, user_state

NAMES = st.sampled_from(["a.py", "b c.txt", "dir/x.py", "dir/sub/y.md", "ü.txt", "dir/z", "e"])
KINDS = st.sampled_from(
    [
        "committed",
        "modified",
        "staged",
        "staged+modified",
        "deleted",
        "staged-deleted",
        "new-staged",
        "untracked",
    ]
)
CONTENT = st.binary(max_size=40)


def _build(path: Path, files: dict[str, tuple[str, bytes]]) -> GitRepo:
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q")
    existing = {n: c for n, (k, c) in files.items() if k not in ("new-staged", "untracked")}
    for name, content in existing.items():
        repo.write(name, content)
    repo.commit_all("base")
    for name, (kind, content) in files.items():
        changed = content + b"\nchanged"
        if kind in ("modified", "untracked"):
            repo.write(name, changed)
        elif kind in ("staged", "new-staged"):
            repo.write(name, changed)
            repo.git("add", "--", name)
        elif kind == "staged+modified":
            repo.write(name, changed)
            repo.git("add", "--", name)
            repo.write(name, changed + b" again")
        elif kind == "deleted":
            (path / name).unlink()
        elif kind == "staged-deleted":
            repo.git("rm", "-q", "--", name)
    return repo


def _no_prefix_clash(files: dict[str, tuple[str, bytes]]) -> bool:
    # "dir/z" as a file and "dir/z/..." as a folder cannot both exist
    names = list(files)
    return not any(a != b and b.startswith(a + "/") for a in names for b in names)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.dictionaries(NAMES, st.tuples(KINDS, CONTENT), min_size=1, max_size=6).filter(
        _no_prefix_clash
    ),
    snapshot=st.dictionaries(NAMES, CONTENT, min_size=1, max_size=4).filter(
        lambda d: _no_prefix_clash({k: ("", v) for k, v in d.items()})
    ),
)
def test_eat_then_undo_restores_any_state(files, snapshot):
    tmp = Path(tempfile.mkdtemp(prefix="jellyml-prop-"))
    try:
        source = _build(tmp / "source", {n: ("committed", c) for n, c in snapshot.items()})
        source.write("extra-untracked", b"in the snapshot\n")
        model = tmp / "m.pth"
        commit = make_model(source.path, model)
        repo = _build(tmp / "repo", files)
        before = user_state(repo)
        eat_snapshot(str(model), str(repo.path), force=True)
        assert repo.git("rev-parse", "HEAD") == commit
        assert (repo.path / "extra-untracked").read_bytes() == b"in the snapshot\n"
        undo_last(str(repo.path))
        assert user_state(repo) == before
        assert (
            subprocess.run(
                ["git", "for-each-ref", "refs/jellyml/"], cwd=repo.path, capture_output=True
            ).stdout
            == b""
        )
    finally:
        shutil.rmtree(tmp)
