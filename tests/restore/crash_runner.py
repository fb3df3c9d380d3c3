"""Run the jellyml CLI with a crash hook installed: only the tests can make jellyml crash.

Usage: python crash_runner.py ARGS...  (the CLI's arguments). The hook reads, from the
environment of this runner only: CRASH_KILL_AT=<point> (SIGKILL itself there),
CRASH_INTERRUPT_AT=<point> (raise KeyboardInterrupt there), CRASH_LOG=<file> (append every
point reached, one per line).
"""

from __future__ import annotations

import os
import signal
import sys

from jellyml.cli.main import main
from jellyml.restore import crash


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
