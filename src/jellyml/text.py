"""Text taken from a file or a server, made safe and short to print: ``clean`` (control
characters and bidi controls shown as escapes) and ``shorten`` (a long name or message cut, its
length said). The one neutralising function of every output path: the CLI's writers, the
engines' messages and the errors all use these.

Plain functions on strings, importing nothing, so any module may use them.
"""

from __future__ import annotations

# C0 (tab and newline included: ``clean`` keeps newlines only when asked), DEL, C1, and the
# Unicode bidi controls that reorder what a line shows (CVE-2021-42574, "Trojan Source"):
# U+202A-202E (embeddings, overrides) and U+2066-2069 (isolates).
_UNSAFE = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SHOWN = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_KEEP_NEWLINES = {c: s for c, s in _SHOWN.items() if c != 0x0A}

#: Names and values from a file are shown up to this many characters in a message.
NAME_LIMIT = 200
#: ``jellyml log`` and ``jellyml show`` show a commit subject (or a recorded value) up to this
#: many characters, unless asked for all of it (``log --full``, ``show --all``).
SUBJECT_LIMIT = 200


def clean(text: object, *, newlines: bool = False) -> str:
    """``text`` made safe to print: every control character shown as an escape (``\\x1b``,
    ``\\x07``, ``\\u202e``), newlines too unless ``newlines`` (a value from a checkpoint must
    not start a line of its own)."""
    return str(text).translate(_KEEP_NEWLINES if newlines else _SHOWN)


def shorten(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` cleaned, and cut to ``limit`` characters with its length said when longer:
    ``abc... (49,000,000 characters)``. Cut before cleaning, so a huge value costs little."""
    if len(text) <= limit:
        return clean(text)
    return f"{clean(text[:limit])}... ({len(text):,} characters)"
