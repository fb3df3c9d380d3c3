"""``jellyml undo`` (``undonut``, ``return``) as a Python function (the spec's door).

``undo`` returns 0 (also when there was nothing to undo) and prints nothing; failures arrive as
``JellyMLError`` subclasses. The work is done by ``jellyml.restore.undo.undo_last``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .restore.undo import undo_last


@dataclass
class UndoArgs_dataclass:
    quiet: bool = True
    code_dir: Optional[str] = None
    no_donut: bool = True


#: The spec's annotation names this type too.
UndoArgs = UndoArgs_dataclass


def undo(args: UndoArgs_dataclass) -> int:
    """Put the repository holding ``args.code_dir`` back as it was before the last eat.
    Returns 0; raises on failure."""
    undo_last(args.code_dir)
    return 0
