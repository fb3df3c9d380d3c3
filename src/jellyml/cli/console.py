"""The plain-text writer: what the CLI prints when output is not a terminal (or NO_COLOR is set).

It takes the same calls as the rich ``Console`` that ``render`` uses on a terminal (``print``
with rich markup, ``out``), drops the markup, and writes plain lines, so piped commands never
import rich (~40 ms of start-up). Markup is parsed the way rich parses it, so text escaped with
``escape`` (for rich) comes out here exactly as written.
"""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

# The same patterns as rich.markup (rich's escape and tag syntax).
_TAGS = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """Escape ``text`` so that rich markup shows it as it is (rich.markup.escape, without
    importing rich)."""
    text = _ESCAPE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def strip_markup(markup: str) -> str:
    """The text that rich would show for ``markup``, without its styles."""
    if "[" not in markup:
        return markup
    parts: list[str] = []
    position = 0
    for match in _TAGS.finditer(markup):
        full, escapes, _tag = match.groups()
        start, end = match.span()
        parts.append(markup[position:start])
        position = end
        backslashes, escaped = divmod(len(escapes), 2)
        parts.append("\\" * backslashes)
        if escaped:
            parts.append(full[len(escapes) :])
    parts.append(markup[position:])
    return "".join(parts)


class PlainConsole:
    """Writes to ``sys.stdout`` or ``sys.stderr`` as they are at the time of writing (so that
    ``contextlib.redirect_stdout`` works, as it does with rich)."""

    is_terminal = False

    def __init__(self, *, stderr: bool = False, clean: Callable[[str], str]) -> None:
        self._stderr = stderr
        self._clean = clean

    @property
    def file(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def width(self) -> int:
        return 10**6  # never wrapped: a file or a pipe has no width

    def print(self, *objects: Any, markup: bool = True, end: str = "\n", **_kw: Any) -> None:
        texts = [self._plain(obj, markup=markup) for obj in objects]
        self.file.write(self._clean(" ".join(texts)) + end)

    def out(self, text: str, *, end: str = "\n", **_kw: Any) -> None:
        self.file.write(self._clean(text) + end)

    @staticmethod
    def _plain(obj: Any, *, markup: bool) -> str:
        if isinstance(obj, str):
            return strip_markup(obj) if markup else obj
        # Something rich renders (a Table, a Text): only then is rich imported.
        import io

        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, color_system=None, width=100, soft_wrap=True).print(obj)
        return buffer.getvalue().rstrip("\n")
