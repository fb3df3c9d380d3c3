"""Text helpers every output path of the CLI uses, whichever writer prints it: ``clean`` (what
came from a checkpoint made safe to print), ``summary`` (a long list cut short) and ``plural``
(``1 file``, ``2 files``: never ``file(s)``).

Plain functions on strings, importing nothing: ``render`` and the modules beside it build on
them, so they sit below all of those.
"""

from __future__ import annotations

# C0 (tab and newline included: ``clean`` keeps newlines only when asked), DEL, C1, and the
# Unicode bidi controls that reorder what a line shows (CVE-2021-42574, "Trojan Source").
_UNSAFE = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SHOWN = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_KEEP_NEWLINES = {c: s for c, s in _SHOWN.items() if c != 0x0A}


def clean(text: object, *, newlines: bool = False) -> str:
    """``text`` made safe to print: every control character shown as an escape (``\\x1b``,
    ``\\x07``, ``\\u202e``), newlines too unless ``newlines`` (a value from a checkpoint must
    not start a line of its own). The one function every output path uses."""
    return str(text).translate(_KEEP_NEWLINES if newlines else _SHOWN)


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
