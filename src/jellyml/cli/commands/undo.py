"""``jellyml undo`` (aliases ``undonut``, ``return``)."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "undo"
ALIASES: tuple[str, ...] = ("undonut", "return")
HELP = "put back your code as it was before the last eat"

DESCRIPTION = (
    "Undo the last `jellyml eat`: back to the same branch (or detached commit), with the same "
    "staged and unstaged changes and untracked files. Eats stack: each undo undoes one. Files "
    "written while the snapshot was checked out stay where they are; edits and commits made "
    "after eating are kept on a new branch, named in the output. Also finishes an eat or undo "
    "that was interrupted (killed, crashed)."
)
EXAMPLES = (
    "jellyml undo                # back to what you had before the last eat",
    "jellyml undo -c ~/project   # in another checkout",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        aliases=list(ALIASES),
        help=HELP,
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    add_common(parser, code_dir=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...restore.undo import undo_last
    from .. import render

    result = undo_last(args.code_dir)
    render.undo_result(result, quiet=args.quiet, no_donut=args.no_donut)
    return 0
