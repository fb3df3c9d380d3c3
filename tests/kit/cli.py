"""The command line as a user runs it: the installed ``jellyml`` script, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import pytest

PathLike = Union[str, Path]

#: The source tree. Tests run the installed package: only a test of what a source checkout does
#: puts this on PYTHONPATH.
SRC = Path(__file__).resolve().parents[2] / "src"


def cli_command() -> list[str]:
    """The installed ``jellyml`` script beside this interpreter (what ``pip install`` put on the
    user's PATH), or ``python -m jellyml`` where there is none. Never the source tree: nothing
    is put on PYTHONPATH."""
    script = Path(sysconfig.get_path("scripts")) / "jellyml"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "jellyml"]


def jellyml(
    *args: str,
    cwd: Optional[PathLike] = None,
    env: Optional[Mapping[str, str]] = None,
    check: Optional[int] = 0,
    text: bool = True,
    timeout: Optional[float] = None,
) -> subprocess.CompletedProcess[Any]:
    """Run the installed CLI with ``args`` and assert its exit code is ``check`` (None: any).

    ``env`` is added to the test's environment (see conftest.py's deterministic one). Output is
    80 columns wide unless ``env`` says otherwise: long lines must still come out whole.
    ``text=False``: stdout and stderr as bytes.
    """
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full_env["COLUMNS"] = "80"
    full_env.update(env or {})
    proc = subprocess.run(
        [*cli_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=text,
        env=full_env,
        check=False,
        timeout=timeout,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def ok(*args: str, cwd: PathLike, env: Optional[Mapping[str, str]] = None) -> str:
    """Run the CLI, require exit 0 and an empty stderr, return stdout as text (bytes that are
    not UTF-8 kept as surrogates)."""
    proc = jellyml(*args, cwd=cwd, env=env, text=False)
    assert proc.stderr == b"", proc.stderr
    return str(proc.stdout.decode("utf-8", "surrogateescape"))


def fails(*args: str, cwd: PathLike, code: int = 1) -> str:
    """Run the CLI, require a failure that is one ``error:`` line; return that line."""
    proc = jellyml(*args, cwd=cwd, check=None, text=False)
    err = str(proc.stderr.decode())
    assert proc.returncode == code, (proc.returncode, proc.stdout, err)
    assert proc.stdout == b""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "fatal:" not in err
    return err


#: A test that needs a pseudo-terminal (``on_a_terminal``, ``read_pty``).
needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def plain_env() -> dict[str, str]:
    """The environment without anything that would turn colours on or off."""
    return {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}


def on_a_terminal(
    argv: list[str], *, cwd: PathLike, env: Mapping[str, str], columns: int = 100
) -> tuple[str, str]:
    """Run ``argv`` with stdout on a pseudo-terminal ``columns`` wide and require exit 0; return
    what it printed there and on stderr."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns)},
    )
    os.close(follower)
    output = read_pty(leader)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 0, stderr
    return output.decode(), stderr


def read_pty(leader: int) -> bytes:
    """Everything a child wrote to a pseudo-terminal until it closed it; closes ``leader``."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end (Linux)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks)
