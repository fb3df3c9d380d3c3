"""Run the jellyml CLI with a crash hook installed: only the tests can make jellyml crash.

Usage: python crash_runner.py ARGS...  (the CLI's arguments). The hook reads, from the
environment of this runner only: CRASH_KILL_AT=<point> (SIGKILL itself there),
CRASH_INTERRUPT_AT=<point> (raise KeyboardInterrupt there), CRASH_LOG=<file> (append every
point reached, one per line).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from jellyml.cli.main import main
from jellyml.restore import crash


def crashing(*args: str, cwd: Path, **hook_env: str) -> subprocess.CompletedProcess[str]:
    """The CLI run through this script, with the hook's variables ``hook_env`` set (tests)."""
    return subprocess.run(
        [sys.executable, __file__, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **hook_env},
        check=False,
    )


def hook(point: str) -> None:
    log = os.environ.get("CRASH_LOG")
    if log:
        with open(log, "a") as f:
            f.write(point + "\n")
    if os.environ.get("CRASH_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("CRASH_INTERRUPT_AT") == point:
        raise KeyboardInterrupt


if __name__ == "__main__":
    crash.install(hook)
    sys.exit(main(sys.argv[1:]))
