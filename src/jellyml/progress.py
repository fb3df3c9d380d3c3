"""Progress of long transfers: the library reports it, and never draws it.

A long read (a bundle downloaded from a URL) reports through the one reporter installed here,
if any; by default there is none, so the library prints nothing. The command line installs one
(``jellyml.cli.render.progress_bar``) on a terminal, unless ``-q`` or
``JELLYML_DISABLE_PROGRESS_BARS`` say no. A program using the library can install its own::

    with jellyml.progress.reporting(lambda what, done, total, finished: ...):
        jellyml.read_snapshot("s3://bucket/model.pth").extract_bundle("code.bundle")

The reporter is called ``(what, done, total, finished)``: ``done`` bytes of ``total`` so far,
``finished`` True once, last, whether the transfer completed or stopped on an error.
"""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Optional

    Reporter = Callable[[str, int, int, bool], None]

_reporter: Optional[Reporter] = None


@contextlib.contextmanager
def reporting(reporter: Optional[Reporter]) -> Iterator[None]:
    """Report progress to ``reporter`` (None: to nobody) inside the block."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


def _ignore(done: int) -> None:
    pass


@contextlib.contextmanager
def task(what: str, total: int, *, shown: bool = True) -> Iterator[Callable[[int], None]]:
    """A transfer of ``total`` bytes: yields ``advance(done)``; the reporter hears of it only
    when ``shown`` (a long, slow transfer) and one is installed."""
    reporter = _reporter if shown else None
    if reporter is None:
        yield _ignore
        return
    last = [0]

    def advance(done: int) -> None:
        last[0] = done
        reporter(what, done, total, False)

    reporter(what, 0, total, False)
    try:
        yield advance
    finally:
        reporter(what, last[0], total, True)
