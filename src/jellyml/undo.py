"""``jellyml undo`` (``undonut``, ``return``) as a Python function (the spec's door).

``undo`` returns 0 (also when there was nothing to undo) and prints nothing; failures arrive as
``JellyMLError`` subclasses. The work is done by ``jellyml.restore.undo.undo_last``, or for a
worktree made by ``eat --worktree`` by ``jellyml.restore.worktrees.undo_worktree``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .restore.worktrees import undo_any


@dataclass
class UndoArgs_dataclass:
    quiet: bool = True
    code_dir: Optional[str] = None
    no_donut: bool = True
    #: Remove the worktree ``eat --worktree`` made at this folder (``--worktree DIR``).
    worktree: Optional[str] = None
    #: Remove that worktree even though it holds changes (kept on a ``jellyml-undo-*`` branch).
    force: bool = False


#: The spec's annotation names this type too.
UndoArgs = UndoArgs_dataclass


def undo(args: UndoArgs_dataclass, *, worktree: Optional[str] = None) -> int:
    """Put the repository holding ``args.code_dir`` back as it was before the last eat; with
    ``worktree`` (or run inside a worktree ``eat --worktree`` made), remove that worktree.
    Returns 0; raises on failure."""
    undo_any(args.code_dir, worktree if worktree is not None else args.worktree, force=args.force)
    return 0
