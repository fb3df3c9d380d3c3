"""Running one measured process: wall time, bytes it read, and its peak memory.

Every measurement happens in a child process so that what the benchmark itself reads or holds
never counts. Bytes read are the child's ``rchar`` from ``/proc/<pid>/io``, read after the child
has exited but before it is reaped (``waitid(WNOWAIT)``), so nothing it did is missed.
``rchar`` counts every byte passed through ``read()`` and ``pread()`` (files, pipes, the
interpreter's own ``.pyc`` files), not pages touched through ``mmap``.

Peak memory is NOT taken from ``ru_maxrss`` here: Python starts children with vfork, and exec
records the *parent's* peak RSS into the child's ``ru_maxrss``, so it never reads below the
benchmark's own size. Peak memory is measured inside the child instead (``_child.measure``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "_child.py")


class ChildFailed(RuntimeError):
    """A measured process exited non-zero."""


@dataclass
class Run:
    """One finished child process."""

    wall: float
    rchar: int
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)
    #: user + sys CPU seconds of the process (its children included), from wait4's rusage.
    cpu: float = 0.0


def _proc_io(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def run(
    argv: Sequence[str],
    *,
    cwd: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    check: bool = True,
) -> Run:
    """Run ``argv`` to the end and measure it (output goes to temp files, never a full pipe)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        # Wait for the exit without reaping, so /proc/<pid>/io still holds the final counters.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        rchar = _proc_io(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(
            wall=wall,
            rchar=rchar,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            cpu=usage.ru_utime + usage.ru_stime,
        )
    if check and result.returncode != 0:
        raise ChildFailed(f"{' '.join(argv)} exited {result.returncode}: {tail(result.stderr)}")
    return result


def run_child(
    python: str,
    *args: str,
    cwd: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    check: bool = True,
) -> Run:
    """Run ``_child.py`` under ``python``; its last stdout line is a JSON report."""
    result = run([python, CHILD, *args], cwd=cwd, env=env, check=check)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if lines:
        result.report = json.loads(lines[-1])
    return result


def tail(text: str, lines: int = 3) -> str:
    return " / ".join(text.strip().splitlines()[-lines:])


def repeat(times: int, measure: Any) -> list[Any]:
    return [measure() for _ in range(max(1, times))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def by_median(runs: Sequence[Any], key: Any) -> Any:
    """The run whose ``key`` is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=key)
    return ordered[(len(ordered) - 1) // 2]


def python_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONHASHSEED", "0")
    if extra:
        env.update(extra)
    return env


def this_python() -> str:
    return sys.executable
