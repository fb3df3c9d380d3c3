"""A hidden command. The main help drops a hint."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "donut"
ALIASES: tuple[str, ...] = ()
#: None: hidden from the list of commands and from error messages.
HELP = None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(subparsers, NAME, description="Mmm, donut.", examples=("jellyml donut",))
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import render

    render.spinning_donut()
    return 0
