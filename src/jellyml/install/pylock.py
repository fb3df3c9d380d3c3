"""``jellyml env MODEL --format pylock``: the requirements as a PEP 751 ``pylock.toml``,
resolved by ``uv pip compile`` for the recorded Python version and platform."""

from __future__ import annotations

import os
import re
from typing import Optional

from ..errors import EnvironmentBuildError, UvNotFoundError
from ..read.requirements import RequirementsFile
from ..tempdirs import temporary_dir
from . import tools

# The recorded wheel platform tag -> uv's --python-platform (the targets uv 0.13 knows).
_PLATFORMS = (
    (re.compile(r"linux_x86_64"), "x86_64-unknown-linux-gnu"),
    (re.compile(r"linux_aarch64"), "aarch64-unknown-linux-gnu"),
    (re.compile(r"macosx_\d+_\d+_(arm64|universal2)"), "aarch64-apple-darwin"),
    (re.compile(r"macosx_\d+_\d+_x86_64"), "x86_64-apple-darwin"),
    (re.compile(r"win_amd64"), "x86_64-pc-windows-msvc"),
    (re.compile(r"win_arm64"), "aarch64-pc-windows-msvc"),
    (re.compile(r"win32"), "i686-pc-windows-msvc"),
)
_PYTHON_VERSION = re.compile(r"\d{1,2}\.\d{1,3}(?:\.\d{1,3})?")


def pylock(reqs: RequirementsFile, *, python: Optional[str], platform_tag: Optional[str]) -> bytes:
    """The bytes of ``pylock.toml`` for ``reqs``: every installable line, resolved without
    dependencies (the snapshot records the whole environment), for ``python`` (a version; the
    recorded one by default) and the recorded platform. Raises ``UvNotFoundError`` without
    uv, ``EnvironmentBuildError`` when uv cannot resolve it (its reason included)."""
    uv = tools.find_uv()
    if uv is None:
        raise UvNotFoundError("jellyml env --format pylock")
    argv = [uv, "pip", "compile", "--format", "pylock.toml", "--no-deps", "--no-header"]
    argv += ["--quiet", *_target(python or reqs.python, platform_tag), *reqs.uv_flags()]
    with temporary_dir("env") as tmp:
        source = os.path.join(tmp, "requirements.txt")
        out = os.path.join(tmp, "pylock.toml")
        with open(source, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in reqs.body()))
        proc = tools.run([*argv, "-o", out, source])
        if proc.returncode != 0:
            raise EnvironmentBuildError("uv pip compile", proc.args, proc.stderr)
        with open(out, "rb") as f:
            return f.read()


def _target(python: Optional[str], platform_tag: Optional[str]) -> list[str]:
    args = []
    if python and _PYTHON_VERSION.fullmatch(python):
        args += ["--python-version", python]
    for pattern, target in _PLATFORMS:
        if platform_tag and pattern.fullmatch(platform_tag):
            args += ["--python-platform", target]
            break
    return args
