"""Which repository a snapshot is of, when the caller does not say.

Launchers (SLURM scripts, hydra, torchrun wrappers) change the working directory all the time,
so the current directory says little about where the training code lives. The entry script
does: ``git_repo_path=None`` means the repository holding it, and the current directory only
when there is no entry script (a notebook, ``python -c``) or it is not in a repository.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from dataclasses import dataclass
from typing import Optional

from ..errors import JellyMLError
from ..gitcore.repo import locate
from ..warn import warn

#: Values of the metadata's ``repo_chosen_by``.
BY_ARGUMENT, BY_ENTRY_SCRIPT, BY_CWD = "git_repo_path", "entry_script", "cwd"

# (snapshotted repository, current directory's repository) pairs already warned about.
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Choice:
    """The folder to snapshot, why it was chosen, and the entry script (if any)."""

    folder: str
    chosen_by: str
    entry_script: Optional[str] = None

    def not_a_repo_hint(self) -> str:
        where = (
            f"Neither your script's folder ({os.path.dirname(self.entry_script)}) nor the "
            "current directory is in a git repository. "
            if self.entry_script and self.chosen_by == BY_CWD
            else ""
        )
        return (
            f"{where}Two ways out: point at the repository (git_repo_path=os.path.dirname("
            "__file__) from your training script), or, where the code runs from a copy without "
            ".git (a cluster worker), give it a snapshot file made where the repository is: "
            "`jellyml snapshot -o run.jelly`, then JELLYML_SNAPSHOT=run.jelly in the "
            'environment (or create_snapshot(from_file="run.jelly")). create_git_repo=True '
            "snapshots a folder that is in no repository."
        )


def choose(path: Optional[str], *, create_git_repo: bool = False) -> Choice:
    """The folder to snapshot: ``path`` when given, else the entry script's repository, else
    the current directory (or, with ``create_git_repo``, the entry script's folder)."""
    if path is not None:
        return Choice(os.path.abspath(os.path.expanduser(path)), BY_ARGUMENT)
    cwd = os.getcwd()
    script = entry_script()
    if script is None:
        return Choice(cwd, BY_CWD)
    folder = os.path.dirname(script)
    if _in_repo(folder):
        return Choice(folder, BY_ENTRY_SCRIPT, script)
    if create_git_repo and not _in_repo(cwd):
        # Nothing is in a repository: the code that runs is what is worth keeping.
        return Choice(folder, BY_ENTRY_SCRIPT, script)
    return Choice(cwd, BY_CWD, script)


def entry_script() -> Optional[str]:
    """The user's script this process runs (``__main__.__file__``, or ``sys.argv[0]`` when it
    is a file), resolved; None for a notebook, ``python -c``, or a tool's own entry point
    installed with Python (pytest, ipykernel's launcher), which says nothing about the code."""
    main = sys.modules.get("__main__")
    candidate = getattr(main, "__file__", None)
    if not isinstance(candidate, str) or not candidate:
        arg0 = sys.argv[0] if sys.argv else ""
        candidate = arg0 if arg0 and os.path.isfile(arg0) else None
    if candidate is None:
        return None
    path = os.path.realpath(candidate)
    if not os.path.isfile(path) or _installed(path):
        return None
    return path


def _installed(path: str) -> bool:
    """Whether ``path`` belongs to the Python installation or an installed package."""
    # Not sys.prefix as a whole: with a system Python it is /usr, and /usr/src/app is code.
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
        roots.add(sysconfig.get_path(key))
        with contextlib.suppress(KeyError):  # pip install --user
            roots.add(sysconfig.get_path(key, f"{os.name}_user"))
    for root in roots:
        real = os.path.realpath(root)
        if path == real or path.startswith(real.rstrip(os.sep) + os.sep):
            return True
    parts = path.split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def _in_repo(folder: str) -> bool:
    try:
        return locate(folder) is not None
    except JellyMLError:  # bare or refused ("dubious ownership"): not a working tree to use
        return False


def warn_if_cwd_elsewhere(choice: Choice, top: str) -> None:
    """Warn (once per pair) when the current directory lies in another repository than the
    automatically chosen one ``top``: the user may have expected that one."""
    if choice.chosen_by == BY_ARGUMENT:
        return
    cwd = os.getcwd()
    try:
        found = locate(cwd)
    except JellyMLError:
        return
    if found is None or os.path.realpath(found.top) == os.path.realpath(top):
        return
    key = (os.path.realpath(top), os.path.realpath(found.top))
    if key in _warned:
        return
    _warned.add(key)
    warn(
        f"JellyML snapshotted {top}, the repository of your script {choice.entry_script}, "
        f"not {found.top}, the repository of the current directory. Pass "
        "git_repo_path=... to create_snapshot to choose."
    )
