"""``jellyml status``: what jellyml has done in this repository and not undone yet."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "status"
ALIASES: tuple[str, ...] = ()
HELP = "what jellyml has done in this repository: active eats, worktrees, undo branches"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Show what jellyml has done in this repository and not undone: the active "
        "eats, newest first (model, snapshot commit, when, what was put aside and its size), "
        "the worktrees made by `jellyml eat --worktree`, the jellyml-undo-* branches with their "
        "dates, and the one command to run next. Reads only; exits 0.",
        examples=(
            "jellyml status                 # here",
            "jellyml status -c ~/project --json  # for scripts",
        ),
    )
    add_common(parser, code_dir=True)
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...restore.overview import overview
    from .. import render_status

    render_status.status(overview(args.code_dir), as_json=args.json)
    return 0
