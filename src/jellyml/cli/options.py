"""Options and parser plumbing shared by every command."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich_argparse import RichHelpFormatter

CODE_DIR_HELP = (
    "the folder of the git repository to work on (default: the current directory); "
    "a folder inside the repository works too"
)


def formatter() -> type[argparse.HelpFormatter]:
    """rich help, or argparse's plain one when NO_COLOR is set (rich-argparse would still bold
    `quoted` words there)."""
    return argparse.HelpFormatter if os.environ.get("NO_COLOR") else RichHelpFormatter


def add_parser(subparsers: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand parser with rich help; ``help=None`` keeps it out of the command list."""
    kwargs.setdefault("formatter_class", formatter())
    parser: argparse.ArgumentParser = subparsers.add_parser(name, **kwargs)
    return parser


def add_common(parser: argparse.ArgumentParser, *, code_dir: bool = False) -> None:
    """-q, --no_donut and --debug, accepted after the command as well as before it.

    Their defaults are SUPPRESS here so that a value given before the command (on the main
    parser, which holds the real defaults) is not overwritten by the subcommand's default.
    """
    if code_dir:
        parser.add_argument("-c", "--code_dir", default=None, help=CODE_DIR_HELP)
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only warnings and errors",
    )
    parser.add_argument(
        "--no_donut", action="store_true", default=argparse.SUPPRESS, help="suppress the donut logo"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback when something fails (or set JELLYML_DEBUG=1)",
    )
