"""Finding and running the installers `jellyml env` drives: uv (preferred), pip, venv.

The one module of ``install/`` that starts processes: argument lists, never a shell; stdin
closed; an environment without the variables that would send an install anywhere but the
environment named on the command line (``PIP_TARGET``, ``PIP_USER``, ``PYTHONPATH``, ...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Optional

# Variables that would make pip or uv install into, or count as installed, something other
# than the environment we name explicitly.
_REDIRECTING = (
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_USER",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "UV_SYSTEM_PYTHON",
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
)


def find_uv() -> Optional[str]:
    """uv beside this interpreter (``pip install uv`` in a venv that is not activated), else
    on PATH; None when there is none."""
    name = "uv.exe" if os.name == "nt" else "uv"
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("uv")


def venv_python(folder: str) -> str:
    """The interpreter of the virtual environment in ``folder``."""
    if os.name == "nt":
        return os.path.join(folder, "Scripts", "python.exe")
    return os.path.join(folder, "bin", "python")


def install_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING}
    env["PYTHONNOUSERSITE"] = "1"  # the user's site-packages never satisfy a requirement
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run an installer; its output is captured (text, undecodable bytes replaced)."""
    return subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        env=install_env(),
        check=False,
    )


def last_error(stderr: str) -> str:
    """The line of an installer's error output that says what went wrong (uv draws boxes and
    arrows before it; pip ends with ``ERROR: ...``)."""
    lines = [line.strip(" \t│╰─▶×╭┃") for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    errors = [line for line in lines if line.lower().startswith(("error:", "because"))]
    return (errors or lines or ["no error output"])[-1]
