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


# --- bounded runs (issue 23): memory capped, ended within a generous bound ---------------------

#: A capped command's address space, at most: a read that is not bounded runs out of it at once.
MEMORY_CAP = 1536 << 20
#: "Ended" means within this many seconds (generous: the machine is shared).
ENDED = 150


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def jellyml_capped(
    *args: str, cwd: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """The installed CLI under ``MEMORY_CAP`` (``RLIMIT_AS``, git's processes included), output
    piped; it must end within ``ENDED`` seconds."""
    return subprocess.run(
        [*cli_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "JELLYML_DISABLE_PROGRESS_BARS": "1", **(env or {})},
        preexec_fn=_limit_memory,
        timeout=ENDED,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """``proc`` failed with one ``error:`` line on stderr holding each of ``phrases``."""
    err = proc.stderr
    assert proc.returncode != 0, (proc.returncode, proc.stdout[:2000], err[:2000])
    assert err.startswith("error: ") and err.count("\n") == 1, err[:2000]
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err[:2000]
    return err


def peak_rss_of_cli(*args: str, cwd: PathLike, stdout: Any) -> tuple[int, int]:
    """Run the CLI's ``main`` in a fresh interpreter (a real process, as the script runs it)
    and return (exit code, that process's peak RSS in bytes; its git children not counted).
    The peak is the kernel's ``VmHWM``: ``ru_maxrss`` would carry over the parent's (this test
    process's) peak, which Linux keeps across fork and exec."""
    code = (
        "import sys\n"
        "from jellyml.cli.main import main\n"
        "rc = main(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "sys.stderr.write(f'PEAK {int(status) * 1024}\\n')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=ENDED,
        check=False,
    )
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK ")]
    assert peak, proc.stderr
    return proc.returncode, int(peak[-1].split()[1])
