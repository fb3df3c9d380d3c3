"""``jellyml ls MODEL [PATH...]``: the files in a snapshot, like ``git ls-files``."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "ls"
ALIASES: tuple[str, ...] = ()
HELP = "list the files in a model file's snapshot"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="List the files in the snapshot, one per line, as `git ls-files` does "
        "(paths from the repository's top; unusual names quoted as git quotes them). Nothing "
        "is checked out and no repository is changed.",
        examples=("jellyml ls model.pth src/     # the snapshot's files under src/",),
    )
    parser.add_argument("model_file", help="the model file to read")
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="list only this file, or the files in this folder (from the repository's top)",
    )
    parser.add_argument(
        "-z", dest="nul", action="store_true", help="end each path with NUL, unquoted (scripts)"
    )
    add_common(parser, code_dir=True, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...read.tree import ls_listing
    from .. import render_tree

    render_tree.listing(
        ls_listing(args.model_file, args.paths, nul=args.nul, code_dir=args.code_dir)
    )
    return 0
