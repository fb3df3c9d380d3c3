"""What a snapshot records besides the code: where it came from and what ran it.

The modules these functions need (``importlib.metadata`` alone is ~20 ms) are imported when
they are called, not when this module is: ``import jellyml`` and the CLI must start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from .redact import REDACTED as REDACTED  # the redaction: importable from here as before
from .redact import redact_argv
from .redact import strip_credentials as strip_credentials


def runtime_metadata() -> dict[str, Any]:
    """Time, host, interpreter, versions, command line and installed distributions (with
    what it takes to install them again: snapshot/environment.py).

    No subprocess: distributions come from ``importlib.metadata``.
    """
    import datetime
    import platform
    import socket

    from .environment import environment_metadata

    torch = sys.modules.get("torch")
    return {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "jellyml": __version__,
        "torch": getattr(torch, "__version__", None) if torch is not None else None,
        **_argv_fields(sys.argv),
        "cwd": os.getcwd(),
        **environment_metadata(),  # packages, distributions, interpreter, platform tag
    }


def _argv_fields(argv: Sequence[str]) -> dict[str, Any]:
    redacted, count = redact_argv(argv)
    return {"argv": redacted, "argv_redacted": count}
