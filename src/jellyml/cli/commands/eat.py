"""``jellyml eat`` (aliases ``load-snapshot-from``, ``load``)."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "eat"
ALIASES: tuple[str, ...] = ("load-snapshot-from", "load")
HELP = "check out the code saved in a model file"

DESCRIPTION = (
    "Extract the snapshot of your code from a model file into your working directory (eat the "
    "jelly-filled donut). In a git repository eat puts aside exactly what a snapshot would "
    "carry (changes to tracked files, saved as commits; untracked files that are not ignored, "
    "secret-looking, large, or model and data files, moved into .git/jellyml/) and leaves "
    "everything else where it is; the snapshot's commit is checked out on a detached HEAD: "
    "`jellyml undo` puts everything back. An empty or missing folder gets a clone of the "
    "snapshot."
)
EXAMPLES = (
    "jellyml eat model.pth              # the code that trained model.pth, here",
    "jellyml eat model.pth -c ~/project # into another checkout",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        aliases=list(ALIASES),
        help=HELP,
        description=DESCRIPTION,
        examples=EXAMPLES,
        # The spec's usage line; the options are listed below it (and it fits 80 columns).
        usage="%(prog)s [options] model_file",
    )
    parser.add_argument("model_file", help="the model file to extract the code from")
    add_common(parser, code_dir=True, urls=True)
    parser.add_argument(
        "--force",
        action="store_true",
        help="check the snapshot out even if it shares no history with the repository",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...restore.eat import eat_snapshot
    from .. import render

    result = eat_snapshot(args.model_file, args.code_dir, force=args.force)
    render.eat_result(result, quiet=args.quiet, no_donut=args.no_donut)
    return 0
