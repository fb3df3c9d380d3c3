"""Crash points: named moments of eat and undo where a test may kill the process.

Nothing happens at a crash point unless a hook is installed, and only the tests install one
(``tests/crash_runner.py``): the shipped command line reads no variable that could make it kill
itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

#: Every crash point, in the order eat and undo reach them.
#: ``eat:moving`` and ``undo:moving`` come after the first file of several is moved (aside, or
#: back), so that a kill there leaves some moved and some not.
POINTS = (
    "eat:saved",
    "eat:recorded",
    "eat:moving",
    "eat:untracked-removed",
    "eat:checked-out",
    "undo:saved",
    "undo:recorded",
    "undo:untracked-removed",
    "undo:worktree-restored",
    "undo:moving",
    "undo:head-restored",
)

_hook: Optional[Callable[[str], None]] = None


def install(hook: Optional[Callable[[str], None]]) -> None:
    """Call ``hook(point)`` at every crash point from now on (None removes it)."""
    global _hook
    _hook = hook


def point(name: str) -> None:
    if _hook is not None:
        _hook(name)
