"""An eat made by JellyML 1.0.0 (stash + checkout + its history file) is undone after upgrading.

The 1.0.0 side is reproduced with the exact git commands and history layout that JellyML 1.0.0
used (``git stash --include-untracked -m jellyml_stash_at_<date>``, ``git fetch <bundle>``,
``git checkout FETCH_HEAD``; ``jellyml_history_map.json`` -> ``<uuid>.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.cli import jellyml
from kit.repos import user_state


def _eat_like_1_0_0(repo, bundle: Path, data_dir: Path, *, detached: bool = False) -> None:
    date = "2023-01-20-0b6a3f0e-1111-2222-3333-444455556666"
    branch = repo.git("rev-parse", "HEAD") if detached else repo.git("branch", "--show-current")
    dirty = repo.git("status", "--porcelain") != ""
    message = f"jellyml_stash_at_{date}" if dirty else None
    if message:
        repo.git("stash", "--include-untracked", "--quiet", "-m", message)
    repo.git("fetch", "--quiet", str(bundle))
    repo.git("checkout", "--quiet", "FETCH_HEAD")
    item = {
        "version": "january-07-2023",
        "date": date,
        "going_to_model_snapshot": "model.pth",
        "type": "pull",
        "model_snapshot_commit_hash": repo.git("rev-parse", "HEAD"),
        "git_branch_name_or_commit_hash": branch,
        "git_stash_message": message,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "jellyml_history_map.json").write_text(json.dumps({str(repo.path): "h.json"}))
    history = {"version": "january-07-2023", "history_stack": [item]}
    (data_dir / "h.json").write_text(json.dumps(history))


@pytest.mark.parametrize("detached", [False, True])
@pytest.mark.parametrize("dirty", [False, True])
def test_undo_an_eat_made_by_1_0_0(make_repo, fixtures_dir, git_env, tmp_path, dirty, detached):
    bundle = tmp_path / "dirty.bundle"
    model = fixtures_dir / "jellyml-1.0.0-dirty.pth"
    jellyml("fix", "extract-bundle", str(model), "-o", str(bundle), cwd=tmp_path)
    repo = make_repo({"model.py": "mine\n", "keep.txt": "k\n"})
    if detached:
        repo.git("checkout", "-q", "--detach")
    if dirty:
        repo.write("model.py", "staged\n")
        repo.git("add", "model.py")
        repo.write("keep.txt", "unstaged\n")
        repo.write("new/untracked.txt", "untracked\n")
    repo.write("older.txt", "a stash of the user's own\n")
    repo.git("stash", "push", "-q", "--include-untracked", "-m", "the user's own stash")
    if dirty:  # the stash above took the dirty state too: make it again
        repo.git("stash", "apply", "-q", "--index")
    before = user_state(repo)
    _eat_like_1_0_0(repo, bundle, git_env / ".local" / "share" / "jellyml", detached=detached)
    assert (repo.path / "scratch.txt").read_text() == "scratch\n"
    proc = jellyml("undo", cwd=repo.path)
    assert "Back on" in proc.stdout
    assert user_state(repo) == before  # the 1.0.0 stash is gone again, the user's stays
    assert "Nothing to undo" in jellyml("undo", cwd=repo.path).stdout
    assert repo.git("for-each-ref", "refs/jellyml/") == ""
