"""``jellyml log MODEL``: the history a snapshot carries, like ``git log --oneline``."""

from __future__ import annotations

import argparse

from ...text import SUBJECT_LIMIT
from ..options import add_common, add_parser

NAME = "log"
ALIASES: tuple[str, ...] = ()
HELP = "show the history a model file's snapshot carries"


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Show the commits the snapshot's bundle carries, newest first, one a line "
        "as `git log --oneline` does. A shallow snapshot carries its files as one commit "
        "without history: then the snapshot's real commit, its base commit and the remotes to "
        "fetch the history from follow.",
        examples=("jellyml log model.pth -n 5     # the snapshot and the 4 commits before it",),
    )
    parser.add_argument("model_file", help="the model file to read")
    parser.add_argument(
        "-n", "--max-count", type=_count, default=None, metavar="N", help="show at most N commits"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"show each subject whole (default: cut at {SUBJECT_LIMIT} characters, with its "
        "length said)",
    )
    add_common(parser, code_dir=True, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...read.tree import log_snapshot
    from .. import render_tree

    log = log_snapshot(
        args.model_file, max_count=args.max_count, code_dir=args.code_dir, full=args.full
    )
    render_tree.snapshot_log(log)
    return 0
