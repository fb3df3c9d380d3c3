"""create_snapshot leaves every file of the repository with its time, ``.git/objects``
included (issue 23, point 9): git "freshens" (touches) objects it is asked to write and finds
already there; a snapshot puts those times back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kit.cli import jellyml

#: A time long past (2020-09-13), set on every file before the snapshot: any touch shows.
PAST_NS = 1_600_000_000 * 10**9


def _times(top: Path) -> dict[str, int]:
    found = {}
    for folder, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, top)] = os.stat(path, follow_symlinks=False).st_mtime_ns
    return found


def _age(top: Path) -> None:
    for folder, _dirs, files in os.walk(top):
        for name in files:
            os.utime(os.path.join(folder, name), ns=(PAST_NS, PAST_NS), follow_symlinks=False)


def test_a_snapshot_keeps_every_file_time_of_the_repository(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"src/a.py": "a\n", "src/b.py": "b\n", "docs/x.md": "x\n"})
    repo.git("gc", "-q")  # a pack, as most repositories have
    repo.write("src/c.py", "c\n")
    repo.commit_all("loose objects too")
    repo.write("src/a.py", "a changed\n")  # dirty: a snapshot commit on top of HEAD
    repo.write("new.py", "b\n")  # untracked, with the content of an object already packed
    _age(repo.path)
    before = _times(repo.path)
    for attempt in range(2):  # the second finds every object the first wrote (in its store)
        jellyml("snapshot", "-o", str(tmp_path / f"s{attempt}.jelly"), cwd=repo.path)
        changed = {p for p, t in _times(repo.path).items() if before.get(p) != t}
        assert changed == set(), sorted(changed)
