"""Text helpers every output path of the CLI uses, whichever writer prints it: ``clean`` (what
came from a checkpoint made safe to print), ``summary`` (a long list cut short) and ``plural``
(``1 file``, ``2 files``: never ``file(s)``).

Plain functions on strings: ``render`` and the modules beside it build on them, so they sit
below all of those. ``clean`` and ``shorten`` live in ``jellyml.text`` (the engines use them
too) and are re-exported here.
"""

from __future__ import annotations

from ..text import clean, shorten

__all__ = ["SHOWN", "clean", "plural", "shorten", "summary"]


#: How many items of a list are shown before "... and N more".
SHOWN = 10


def summary(items: list[str], *, limit: int = SHOWN, more: str = "") -> list[str]:
    """``items`` as lines, the first ``limit`` of them and a count of the rest."""
    if len(items) <= limit:
        return items
    return [*items[:limit], f"... and {len(items) - limit:,} more{more}"]


def plural(count: int, noun: str, many: str = "") -> str:
    """``count`` and ``noun``, in the plural when ``count`` is not 1 (``many``, else ``noun``
    with an ``s``): ``1 file``, ``0 files``, ``2 eats``, ``1,234 files``."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
