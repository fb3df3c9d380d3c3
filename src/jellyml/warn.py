"""Warnings that point at the user's line, however deep inside jellyml they are raised.

A fixed ``stacklevel`` is right for one call path only: ``create_snapshot`` called by the user,
by ``save_snapshot``, by an integration's callback, or by rank 0 of a distributed job reach the
same warning through different depths. ``warn`` counts the frames up to the first one outside
the ``jellyml`` package instead, so the warning names the user's file and line (where
``warnings`` filters by module, and where the user can act).
"""

from __future__ import annotations

import os
import sys
import warnings

from .errors import SnapshotWarning

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type[Warning] = SnapshotWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the nearest caller outside jellyml."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)
