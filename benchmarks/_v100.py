"""JellyML 1.0.0 in a venv of its own, made on first use and cached outside the repository.

1.0.0 pins ``torch~=1.13.1``; PyPI's Linux wheels of torch 1.13.1 are CUDA builds with
nvidia-* dependencies (gigabytes), which the benchmark never downloads. So 1.0.0 is installed
with ``--no-deps`` and its other dependencies by hand, with the CPU torch 2.13.0 the project
pins. The venv is never the project's ``.venv``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional

PACKAGES = ["torch==2.13.0", "appdirs~=1.4.4", "rich~=13.2.0", "typing_extensions", "numpy"]
STAMP = ".jellyml-bench-ready"


def default_location() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "jellyml-bench", "venv-jellyml-1.0.0")


def _pip(venv: str, *args: str) -> None:
    python = os.path.join(venv, "bin", "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        check=True,
        capture_output=True,
    )


def _describe(venv: str) -> str:
    python = os.path.join(venv, "bin", "python")
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    wanted = ("jellyml", "torch", "rich", "appdirs", "typing_extensions", "numpy")
    shown = [line for line in frozen if line.lower().split("=")[0] in wanted]
    return (
        f"JellyML 1.0.0 venv {venv}: `pip install --no-deps jellyml==1.0.0`, then "
        f"`pip install {' '.join(PACKAGES)}`; installed: {', '.join(shown)}. Its pin "
        "torch~=1.13.1 is not met: PyPI's torch 1.13.1 for Linux is a CUDA build, never "
        "downloaded here."
    )


def ensure(location: Optional[str]) -> tuple[Optional[str], str]:
    """(the venv's python, a note for RESULTS.md); python is None when 1.0.0 is unavailable."""
    venv = os.path.abspath(location or default_location())
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, STAMP)):
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
            _pip(venv, "--no-deps", "jellyml==1.0.0")
            _pip(venv, *PACKAGES)
            subprocess.run(
                [os.path.join(venv, "bin", "jellyml"), "--help"], check=True, capture_output=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            why = detail.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(exc)]
            return None, f"JellyML 1.0.0 rows skipped: its venv could not be made ({why[0]})."
        with open(os.path.join(venv, STAMP), "w") as f:
            f.write("ok\n")
    return python, _describe(venv)
