"""Running git: the only module of jellyml that starts subprocesses.

git is always driven with argument lists, never a shell; output is taken as bytes and paths
are NUL separated where git offers it (``-z``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Optional, cast

from ..errors import GitCommandError, GitNotFoundError, GitTooOldError

#: Oldest git we support: ``git add --pathspec-from-file`` arrived in 2.25.
MIN_GIT_VERSION = (2, 25)

# Variables that would point git at another repository, index or object store than the one we
# name explicitly. They are dropped from the environment of every git we start.
_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
)


def base_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
    # Read-only commands (status, ls-files) must not refresh the user's index behind their back.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    # Never stop to ask for a password or an editor: nothing we run is interactive.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


@functools.lru_cache(maxsize=1)
def git_executable() -> str:
    exe = shutil.which("git")
    if exe is None:
        raise GitNotFoundError(
            "git was not found on PATH.", hint="Install git (https://git-scm.com) and try again."
        )
    return exe


@functools.lru_cache(maxsize=1)
def git_version() -> tuple[int, ...]:
    out = subprocess.run(
        [git_executable(), "--version"], capture_output=True, check=False, env=base_env()
    ).stdout.decode("utf-8", "replace")
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise GitNotFoundError(f"`git --version` printed something unexpected: {out.strip()!r}.")
    return tuple(int(p) for p in match.groups() if p is not None)


def check_git() -> None:
    """Raise a clear error when git is missing or older than we support."""
    found = git_version()
    if found[:2] < MIN_GIT_VERSION:
        raise GitTooOldError(".".join(map(str, found)), ".".join(map(str, MIN_GIT_VERSION)))


def run(
    args: Sequence[str],
    *,
    cwd: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    input: Optional[bytes] = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git *args`` and return the completed process (stdout and stderr as bytes)."""
    argv = [git_executable(), *args]
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=base_env(env),
        input=input,
        capture_output=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise GitCommandError(
            ["git", *args], proc.returncode, proc.stderr.decode("utf-8", "replace")
        )
    return proc


def out(
    args: Sequence[str], *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
) -> str:
    """Run git and return its stdout as text with the trailing newline removed."""
    proc = run(args, cwd=cwd, env=env)
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def split_z(data: bytes) -> list[bytes]:
    """Split NUL-terminated ``-z`` output into its records."""
    return [part for part in data.split(b"\0") if part]


def passthrough(args: Sequence[str], *, cwd: Optional[str] = None) -> int:
    """Run git as the user would, terminal attached, and return its exit code (``jellyml git``)."""
    return subprocess.run([git_executable(), *args], cwd=cwd, check=False).returncode


def stream_z(
    args: Sequence[str], *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
) -> Iterator[bytes]:
    """Run git and yield its NUL-terminated records as they come. A consumer that stops early
    (a limit reached on a tree that could be huge) stops git too: it is killed, not drained."""
    pending = b""
    for chunk in stream(args, cwd=cwd, env=env):
        records = (pending + chunk).split(b"\0")
        pending = records.pop()
        yield from records


def stream(
    args: Sequence[str], *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
) -> Iterator[bytes]:
    """Run git and yield its stdout in pieces as they come (memory stays at one piece), then
    raise ``GitCommandError`` if it failed. A consumer that stops early stops git too: it is
    killed, not drained."""
    proc = subprocess.Popen(
        [git_executable(), *args],
        cwd=cwd,
        env=base_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = cast("IO[bytes]", proc.stdout)  # a pipe: asked for above
    finished = False
    try:
        fd = stdout.fileno()
        yield from iter(lambda: os.read(fd, 1 << 16), b"")
        finished = True
    finally:
        if not finished:
            proc.kill()
        err = proc.stderr.read() if proc.stderr and finished else b""
        proc.wait()
        stdout.close()
        if proc.stderr:
            proc.stderr.close()
    if proc.returncode != 0:
        raise GitCommandError(["git", *args], proc.returncode, err.decode("utf-8", "replace"))


def attached(
    args: Sequence[str], *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
) -> int:
    """Run git with the terminal attached, so that its own colours and pager apply (``jellyml
    diff``), in the user's locale (a pager shows UTF-8 as such); git's exit code."""
    full = base_env(env)
    if "LC_ALL" in os.environ:
        full["LC_ALL"] = os.environ["LC_ALL"]
    else:
        del full["LC_ALL"]
    return subprocess.run([git_executable(), *args], cwd=cwd, env=full, check=False).returncode


def feed(
    args: Sequence[str],
    chunks: Iterable[bytes],
    *,
    env: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run git with ``chunks`` written to its stdin as they come (memory stays at one chunk),
    and raise ``GitCommandError`` when it fails.

    ``chunks`` is always consumed to its end, even when git stops reading early, so that a
    check it makes at the end (a checksum) runs; whatever it raises stops git and propagates.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [git_executable(), *args],
            env=base_env(env),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
        )
        stdin = cast("IO[bytes]", proc.stdin)  # a pipe: asked for above
        try:
            writing = True
            for chunk in chunks:
                if writing:
                    try:
                        stdin.write(chunk)
                    except BrokenPipeError:  # git gave up: its exit code and stderr say why
                        writing = False
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        returncode = proc.wait()
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(list(args), returncode, out.read(), err.read())
    if returncode != 0:
        raise GitCommandError(["git", *args], returncode, done.stderr.decode("utf-8", "replace"))
    return done


def cat_blobs(
    oids: Sequence[str], *, env: Optional[Mapping[str, str]] = None
) -> Iterator[tuple[str, bytes]]:
    """Each object of ``oids`` (found, in order) as ``(oid, content)``, streamed from one ``git
    cat-file --batch``: memory holds one object at a time. The ids are written from a thread,
    so that git never waits on a full pipe while we wait on it."""
    import threading

    proc = subprocess.Popen(
        [git_executable(), "cat-file", "--batch"],
        env=base_env(env),
        bufsize=1 << 20,  # small objects by the thousand: few large reads
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    stdin, stdout = cast("IO[bytes]", proc.stdin), cast("IO[bytes]", proc.stdout)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            for oid in oids:
                stdin.write(oid.encode("ascii") + b"\n")
            stdin.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for line in iter(stdout.readline, b""):
            oid, _, rest = line.rstrip(b"\n").partition(b" ")
            if rest.endswith(b"missing") or rest.endswith(b"ambiguous"):
                continue
            size = int(rest.rpartition(b" ")[2])
            data = stdout.read(size)
            stdout.read(1)  # the newline after each object
            yield oid.decode("ascii"), data
    finally:
        proc.kill()
        proc.wait()
        writer.join(timeout=5)
        stdout.close()
