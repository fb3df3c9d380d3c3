"""Shared test fixtures: real git in temporary repositories, in a deterministic environment.

Every test runs with ``HOME`` and the user data directory in its own temp folder, no system or
global git config, a fixed identity, fixed dates and ``TZ=UTC`` (as git-filter-repo's tests do),
so object ids are stable and nothing of the machine's own config leaks in.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

import pytest

#: Checkpoints written by JellyML 1.0.0 (see its README): part of the repository, so a fresh
#: clone tests itself with nothing from outside.
FIXTURES = Path(__file__).resolve().parent / "tests" / "fixtures"

DETERMINISTIC_ENV = {
    "TZ": "UTC",
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
    "GIT_TERMINAL_PROMPT": "0",
}
_CLEARED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "JELLYML_DEBUG")


def deterministic_env(home: Path) -> dict[str, str]:
    """The environment a test's git (and jellyml subprocesses) run in."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(DETERMINISTIC_ENV)
    env["HOME"] = str(home)
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    return env


@pytest.fixture(autouse=True)
def git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate HOME, the user data dir and git config for every test."""
    home = tmp_path_factory.mktemp("home")
    for key in _CLEARED:
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


class GitRepo:
    """A real git repository in a temp folder, with helpers to build states and compare them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, check: bool = True, input: Optional[bytes] = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, check=False, input=input
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout.decode("utf-8", "surrogateescape").strip()

    def write(self, rel: str, content: Union[str, bytes], mode: Optional[int] = None) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        target.write_bytes(content)
        if mode is not None:
            target.chmod(mode)
        return target

    def commit_all(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def worktree(self) -> dict[str, tuple[str, bytes]]:
        """Every file outside .git: kind/mode and content (symlinks: their target)."""
        found: dict[str, tuple[str, bytes]] = {}
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not (root == str(self.path) and d == ".git")]
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                full = os.path.join(root, name)
                rel = os.path.relpath(full, self.path)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    found[rel] = ("link", os.readlink(full).encode())
                else:
                    kind = "exec" if st.st_mode & stat.S_IXUSR else "file"
                    found[rel] = (kind, Path(full).read_bytes())
        return found

    def git_dir_state(self) -> dict[str, str]:
        """sha256 of every file under .git (index, HEAD, refs, stash, reflogs, config, objects)."""
        state: dict[str, str] = {}
        git_dir = self.path / ".git"
        for root, _dirs, files in os.walk(git_dir):
            for name in files:
                full = os.path.join(root, name)
                rel = os.path.relpath(full, git_dir)
                state[rel] = hashlib.sha256(Path(full).read_bytes()).hexdigest()
        return state

    def state(self) -> tuple[dict[str, tuple[str, bytes]], dict[str, str]]:
        """All a user can see: the working tree and every byte of .git."""
        return self.worktree(), self.git_dir_state()


@pytest.fixture
def make_repo(tmp_path: Path) -> Iterator[object]:
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
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the JellyML 1.0.0 fixtures are missing: {FIXTURES}")
    return FIXTURES
