"""Shared test fixtures: real git in temporary repositories, in a deterministic environment.

Every test runs with ``HOME`` and the user data directory in its own temp folder, no system or
global git config, a fixed identity, fixed dates and ``TZ=UTC`` (as git-filter-repo's tests do),
so object ids are stable and nothing of the machine's own config leaks in. The helpers behind
these fixtures live in the test kit, ``tests/kit/`` (``kit.repos``, ``kit.cli``,
``kit.checkpoints``, ``kit.files``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

import pytest

from kit.checkpoints import FIXTURES
from kit.repos import (
    CLEARED_ENV,
    GitRepo,
    MakeRepo,
    deterministic_env,
    make_conflicted_repo,
    make_dirty_repo,
)


@pytest.fixture(autouse=True)
def git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate HOME, the user data dir and git config for every test."""
    home = tmp_path_factory.mktemp("home")
    for key in CLEARED_ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in deterministic_env(home).items():
        monkeypatch.setenv(key, value)
    # What a process killed on purpose (kill -9 tests) leaves in its temp folder lands here,
    # in pytest's own temporary tree, not in the machine's /tmp.
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmp")))
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    return home


@pytest.fixture
def make_repo(tmp_path: Path) -> Iterator[MakeRepo]:
    """``make_repo(files={...}, commit=True)`` -> GitRepo with one commit of ``files``."""
    counter = iter(range(1000))

    def make(
        files: Optional[dict[str, Union[str, bytes]]] = None, *, commit: bool = True, name: str = ""
    ) -> GitRepo:
        path = tmp_path / (name or f"repo{next(counter)}")
        path.mkdir(parents=True)
        repo = GitRepo(path)
        repo.git("init", "-q")
        for rel, content in (files or {}).items():
            repo.write(rel, content)
        if commit:
            repo.commit_all("first")
        return repo

    yield make


@pytest.fixture
def dirty_repo(make_repo: MakeRepo) -> GitRepo:
    """A repository with every kind of uncommitted work (``kit.repos.make_dirty_repo``)."""
    return make_dirty_repo(make_repo)


@pytest.fixture
def conflicted_repo(make_repo: MakeRepo) -> GitRepo:
    """A repository in the middle of a merge, ``model.py`` unmerged
    (``kit.repos.make_conflicted_repo``)."""
    return make_conflicted_repo(make_repo)


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the JellyML 1.0.0 fixtures are missing: {FIXTURES}")
    return FIXTURES
