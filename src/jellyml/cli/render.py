"""The one place that decides how the CLI's output looks (rich on a terminal, plain otherwise)."""

from __future__ import annotations

import functools
import traceback

from rich.console import Console

from ..errors import JellyMLError


@functools.cache
def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


@functools.cache
def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def info(message: str, *, quiet: bool = False) -> None:
    """An informational line on stdout, suppressed by ``-q``."""
    if not quiet:
        stdout().print(message)


def error(exc: BaseException, *, debug: bool = False) -> None:
    """One clear line on stderr; the traceback too with ``--debug``."""
    if debug:
        stderr().print(traceback.format_exc(), markup=False)
    text = str(exc) if isinstance(exc, JellyMLError) else f"Unexpected error: {exc!r}"
    stderr().print(f"[bold red]error:[/] {_escape(text)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
