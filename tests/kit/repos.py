"""Real git repositories in temporary folders, and what a user sees of one.

The environment every test runs in is deterministic (``deterministic_env``: no system or
global git config, a fixed identity, fixed dates and ``TZ=UTC``, as git-filter-repo's tests
do), so object ids are stable and nothing of the machine's own config leaks in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional, Union

from kit.files import files_by_identity

PathLike = Union[str, Path]

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
#: Variables of the machine's environment no test's git or jellyml may see.
CLEARED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "JELLYML_DEBUG",
)


def deterministic_env(home: Path) -> dict[str, str]:
    """The environment a test's git (and jellyml subprocesses) run in."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(DETERMINISTIC_ENV)
    env["HOME"] = str(home)
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    return env


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


#: What ``make_repo`` is: ``make_repo(files={...}, commit=True, name="")`` -> a GitRepo.
MakeRepo = Callable[..., GitRepo]

# --- repositories in a given state -------------------------------------------------------------

#: What make_dirty_repo leaves ignored (by its .gitignore): never in a snapshot, never touched.
DIRTY_IGNORED = ("train.log", "ckpt/big.bin")


def make_dirty_repo(make_repo: MakeRepo) -> GitRepo:
    """A repository with one commit and every kind of uncommitted work: unstaged edits (one of a
    new size), a file staged and then edited again, a staged new file, a deletion, untracked
    files (one in a folder with a space and an accent), and ignored files (``DIRTY_IGNORED``).

    Committed: ``model.py`` (``return 1``), ``config.yaml`` (``epochs: 3``, now ``epochs: 10``),
    ``train.py`` (``lr = 0.1``, now ``lr = 0.25``). Untracked: ``notes.txt`` (``untracked``).
    The ``dirty_repo`` fixture is one.
    """
    repo = make_repo(
        {
            "model.py": "def model():\n    return 1\n",
            "config.yaml": "epochs: 3\n",
            "train.py": "lr = 0.1\n",
            "gone.txt": "to be deleted\n",
            "staged.txt": "v1\n",
            ".gitignore": "*.log\nckpt/\n",
        }
    )
    repo.write("config.yaml", "epochs: 10\n")
    repo.write("train.py", "lr = 0.25\n")
    repo.write("staged.txt", "v2 staged\n")
    repo.git("add", "staged.txt")
    repo.write("staged.txt", "v3 unstaged on top\n")  # staged and unstaged differ
    repo.write("new_staged.py", "x = 1\n")
    repo.git("add", "new_staged.py")
    (repo.path / "gone.txt").unlink()
    repo.write("notes.txt", "untracked\n")
    repo.write("untracked dir/notes é.txt", "untracked\n")
    repo.write("train.log", "ignored\n")
    repo.write("ckpt/big.bin", b"\0" * 100)
    return repo


def start_conflicting_merge(repo: GitRepo, rel: str) -> GitRepo:
    """Leave ``repo`` in the middle of a merge that stopped on a conflict: branch ``other``
    writes ``other`` to committed file ``rel``, ``main`` writes ``main``, and ``git merge other``
    leaves MERGE_HEAD, conflict markers in ``rel`` and its unmerged index entries."""
    repo.git("checkout", "-q", "-b", "other")
    repo.write(rel, "other\n")
    repo.commit_all("other")
    repo.git("checkout", "-q", "main")
    repo.write(rel, "main\n")
    repo.commit_all("main")
    repo.git("merge", "-q", "other", check=False)
    assert (repo.path / ".git" / "MERGE_HEAD").exists() and repo.git("ls-files", "-u")
    return repo


def make_conflicted_repo(make_repo: MakeRepo) -> GitRepo:
    """A repository mid-merge with ``model.py`` unmerged (``start_conflicting_merge``) beside a
    clean ``train.py``. The ``conflicted_repo`` fixture is one."""
    repo = make_repo({"model.py": "base\n", "train.py": "lr = 0.1\n"})
    return start_conflicting_merge(repo, "model.py")


def training_project(make_repo: MakeRepo, script: Path) -> GitRepo:
    """A repository holding the training ``script`` (by its name), ``model.py`` committed as
    ``layers = 2`` and now ``layers = 3``, and an untracked ``notes.txt``: a project whose
    job runs the script, to be snapshotted or copied without ``.git``."""
    repo = make_repo({"model.py": "layers = 2\n", script.name: script.read_text()})
    repo.write("model.py", "layers = 3\n")
    repo.write("notes.txt", "untracked\n")
    return repo


#: When racy_edit's files were last written, as far as git can tell (long ago: 2020-09-13).
RACY_MOMENT_NS = 1_600_000_000 * 10**9


def racy_edit(repo: GitRepo, rel: str, content: bytes) -> None:
    """Edit committed file ``rel`` so that only git's "racy git" check can tell it changed.

    The new content has the old size, and the file gets back the mtime the index caches for
    it; the index file gets that very mtime too. git then trusts the cached stat data only if
    the index is *newer* than the file, which it is not: it must compare content. A copy of the
    index with a fresh mtime (not ``shutil.copy2``) would see the file as clean. All times are
    set, never waited for; ctime cannot be set, so the repository ignores it (trustctime).
    """
    path = repo.path / rel
    assert len(path.read_bytes()) == len(content), "a racy edit keeps the size"
    repo.git("config", "core.trustctime", "false")
    os.utime(path, ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    repo.git("update-index", "-q", "--refresh")  # the index caches that mtime, not smudged
    path.write_bytes(content)
    os.utime(path, ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    os.utime(repo.path / ".git" / "index", ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    assert repo.git("diff-files", "--name-only", check=False) == rel, "git must see the edit"


# --- what a user (or a snapshot) sees ----------------------------------------------------------


def snapshot_view(repo: GitRepo) -> dict[str, tuple[str, bytes]]:
    """The working tree as a snapshot holds it: every file but the ignored ones."""
    listed = repo.git("ls-files", "-z", "--others", "--ignored", "--exclude-standard")
    ignored = set(listed.split("\0")) - {""}
    return {k: v for k, v in repo.worktree().items() if k not in ignored}


def user_state(repo: GitRepo, *, big: Optional[int] = None) -> dict[str, Any]:
    """What a user would call 'my state': every file, HEAD, and the staged/unstaged split.
    ``big``: files of that many bytes or more are compared by ``identity`` (never read)."""
    return {
        "files": repo.worktree() if big is None else files_by_identity(repo.path, big),
        "head": repo.git("rev-parse", "-q", "--verify", "HEAD", check=False),
        "branch": repo.git("symbolic-ref", "-q", "HEAD", check=False),
        "index": repo.git("ls-files", "-s"),
        "staged": repo.git("diff", "--cached", "--binary"),
        "unstaged": repo.git("diff", "--binary"),
        "status": repo.git("status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "stash": repo.git("stash", "list"),
        "branches": repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
    }


@contextlib.contextmanager
def unchanged(*repos: GitRepo) -> Iterator[None]:
    """Every file of each repository (working tree and every byte under .git) is the same
    after the block as before it, and jellyml left no temporary folder behind."""
    before = [repo.state() for repo in repos]
    temp = _jellyml_temp()
    yield
    assert [repo.state() for repo in repos] == before
    assert _jellyml_temp() == temp


def _jellyml_temp() -> list[str]:
    folder = os.environ["TMPDIR"]  # per test (conftest): other processes use /tmp too
    return sorted(n for n in os.listdir(folder) if n.startswith(("jellyml-", ".jellyml-")))


# --- plain git -----------------------------------------------------------------------------


def git(repo: PathLike, *args: str) -> str:
    """``git ARGS`` in ``repo``; its stripped output."""
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def clone(bundle: PathLike, dest: Path) -> Path:
    """``git clone`` a bundle (checking out its HEAD) the way a user would."""
    subprocess.run(["git", "clone", "-q", str(bundle), str(dest)], check=True, capture_output=True)
    return dest


def bundle_of(repo: Union[PathLike, GitRepo], out: Optional[Path] = None) -> tuple[bytes, str]:
    """``git bundle create OUT HEAD`` in a repository (a path or a GitRepo): the bundle's bytes
    (as a clean full snapshot holds them) and HEAD's commit id. Without ``out`` the bundle
    file is a temporary one."""
    path = repo.path if isinstance(repo, GitRepo) else Path(repo)
    with tempfile.TemporaryDirectory() as tmp:
        target = out or Path(tmp, "b.bundle")
        subprocess.run(
            ["git", "bundle", "create", "-q", str(target), "HEAD"],
            cwd=path,
            check=True,
            capture_output=True,
        )
        return target.read_bytes(), git(path, "rev-parse", "HEAD")


def objects_size(repo_path: PathLike) -> int:
    """Bytes of the repository's object store (``git count-objects -v``: loose and packed)."""
    out = git(repo_path, "count-objects", "-v")
    fields = dict(line.split(": ") for line in out.splitlines())
    return (int(fields["size"]) + int(fields["size-pack"])) * 1024


def git_logging_wrapper(folder: Path, what: str = "rank=${RANK:-none}") -> Path:
    """A ``git`` to put first on PATH: it logs ``what`` (shell words: by default the torchrun
    rank of whoever ran it, ``none`` outside torchrun; ``pid=$PPID`` names the process), then
    runs the real git. Returns the log file."""
    real = shutil.which("git")
    assert real is not None
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "git"
    log = folder / "calls.log"
    wrapper.write_text(f'#!/bin/sh\necho "{what}" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return log


def git_calls(log: Path) -> list[str]:
    """What ``git_logging_wrapper``'s log holds: one ``rank=...`` per git run."""
    return log.read_text().split() if log.exists() else []
