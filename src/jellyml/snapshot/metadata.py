"""What a snapshot records besides the code: where it came from and what ran it.

The modules these functions need (``importlib.metadata`` alone is ~20 ms) are imported when
they are called, not when this module is: ``import jellyml`` and the CLI must start fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

from .._version import __version__


def runtime_metadata() -> dict[str, Any]:
    """Time, host, interpreter, versions, command line and installed distributions.

    No subprocess: distributions come from ``importlib.metadata``.
    """
    import datetime
    import platform
    import socket

    torch = sys.modules.get("torch")
    return {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "jellyml": __version__,
        "torch": getattr(torch, "__version__", None) if torch is not None else None,
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "packages": installed_distributions(),
    }


def installed_distributions() -> dict[str, str]:
    """``{name: version}`` of every distribution importable from this interpreter, sorted."""
    import importlib.metadata

    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in found:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def strip_credentials(url: str) -> str:
    """A remote URL without passwords, tokens in user names, or query strings.

    ``https://user:token@host/r.git`` becomes ``https://host/r.git``; scp-style
    ``git@host:r.git`` and ``ssh://git@host/r`` keep their (harmless) user name.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme or parts.netloc == "" or "@" not in parts.netloc:
        return url if not parts.scheme else urlunsplit(parts._replace(query="", fragment=""))
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user: Optional[str] = userinfo.split(":", 1)[0]
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        user = None
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))
