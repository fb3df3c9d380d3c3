"""Whether git itself works in a repository, asked before eat touches anything (issue 23).

A repository's own configuration can make git die half way through what eat runs: with
``submodule.recurse`` set, ``git checkout`` reads ``.gitmodules``, and a ``update = !command``
there is refused ("fatal: invalid value for 'submodule.x.update'"), after eat saved the work and
removed the untracked files. Only read-only commands run here; no submodule command ever runs.
"""

from __future__ import annotations

import os
from typing import Optional

from ..text import shorten
from . import run as gitrun

_UPDATE_KEYS = r"^submodule\..*\.update$"


def git_failure(top: str) -> Optional[tuple[str, str]]:
    """(the command, what git says) when git would fail in the working tree ``top``; None when
    the commands eat runs can work."""
    status = gitrun.run(["status", "--porcelain", "-uno"], cwd=top, check=False)
    if status.returncode != 0:
        return "git status", _last_line(status.stderr)
    recurse = gitrun.run(["config", "--type=bool", "submodule.recurse"], cwd=top, check=False)
    if recurse.stdout.strip() != b"true":
        return None
    sources = [["--blob", "HEAD:.gitmodules"]]
    if os.path.isfile(os.path.join(top, ".gitmodules")):
        sources.append(["--file", ".gitmodules"])
    for source in sources:
        argv = ["config", *source, "--get-regexp", _UPDATE_KEYS]
        listed = gitrun.run(argv, cwd=top, check=False).stdout.decode("utf-8", "replace")
        for line in listed.splitlines():
            key, _, value = line.partition(" ")
            if value.startswith("!"):
                return "git checkout", (
                    f"fatal: invalid value for '{shorten(key)}' (submodule.recurse is true, and "
                    f".gitmodules sets {shorten(key)} = {shorten(value, 80)}, a command git "
                    "refuses from there)"
                )
    return None


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return shorten(lines[-1]) if lines else "it failed"
