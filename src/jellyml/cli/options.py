"""Options and parser plumbing shared by every command.

Building the parser imports nothing but argparse: rich and rich-argparse (~30 ms together) are
imported only when help is shown on a terminal, and every command imports what it runs inside
its handler. That keeps `jellyml --help` (and every command's start) fast.
"""

from __future__ import annotations

import argparse
import sys

from .. import settings

# Not `from typing import TYPE_CHECKING`: typing costs ~3 ms, a tenth of `jellyml --help`'s
# start-up, and only annotations use it here (type checkers take any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

CODE_DIR_HELP = (
    "the folder of the git repository to work on (default: the current directory); "
    "a folder inside the repository works too"
)


def styled(stream: TextIO) -> bool:
    """Whether output to ``stream`` gets colours (rich): on a terminal, or with FORCE_COLOR set
    (as rich itself honours), and never with NO_COLOR set. Otherwise plain text, without
    importing rich at all."""
    if settings.no_color():
        return False
    if settings.force_color():
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty(), or a closed stream
        return False


def formatter() -> type[argparse.HelpFormatter]:
    """rich help on a terminal; argparse's plain one otherwise (rich-argparse would still bold
    `quoted` words with NO_COLOR, and costs start-up time for no visible difference)."""
    if not styled(sys.stdout):
        return argparse.HelpFormatter
    from rich_argparse import RichHelpFormatter

    return RichHelpFormatter


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand parser with rich help; ``help=None`` keeps it out of the command list."""
    kwargs.setdefault("formatter_class", formatter())
    return subparsers.add_parser(name, **kwargs)


def add_subcommands(
    parser: argparse.ArgumentParser, **kwargs: Any
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``parser.add_subparsers(...)`` with the subcommands' ``prog`` prefix given (our parsers
    take no positionals before the command, so it is the parser's own prog). Without it
    argparse formats the parser's usage to find that prefix, which with rich-argparse
    imports rich (~40 ms) for every command line parsed on a terminal."""
    return parser.add_subparsers(prog=parser.prog, **kwargs)


#: The options every command takes, before the command or after it: (flags, help).
COMMON_FLAGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("-q", "--quiet"), "print only warnings and errors"),
    (("--no_donut",), "suppress the donut logo"),
    (("--debug",), "show the full traceback when something fails (or set JELLYML_DEBUG=1)"),
)
#: Every spelling of them, for scanning a command line before it is parsed.
COMMON_FLAG_NAMES = frozenset(flag for flags, _help in COMMON_FLAGS for flag in flags)


def add_common(
    parser: argparse.ArgumentParser, *, code_dir: bool = False, root: bool = False
) -> None:
    """-q, --no_donut and --debug, accepted after the command as well as before it.

    On a subcommand (``root=False``) their defaults are SUPPRESS, so that a value given before
    the command (on the main parser, which holds the real defaults) is not overwritten by the
    subcommand's default.
    """
    if code_dir:
        parser.add_argument("-c", "--code_dir", default=None, help=CODE_DIR_HELP)
    default = False if root else argparse.SUPPRESS
    for flags, help_text in COMMON_FLAGS:
        parser.add_argument(*flags, action="store_true", default=default, help=help_text)
