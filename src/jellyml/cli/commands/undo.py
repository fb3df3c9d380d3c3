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
    "that was interrupted (killed, crashed). With --worktree DIR (or run inside DIR) it removes "
    "the worktree `jellyml eat --worktree` made there instead, with its ref and lock; it refuses "
    "when DIR holds changes, unless --force (they are then kept on a jellyml-undo-* branch)."
)
EXAMPLES = (
    "jellyml undo                # back to what you had before the last eat",
    "jellyml undo --worktree ../old  # remove a worktree eat --worktree made",
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
    parser.add_argument(
        "--worktree",
        metavar="DIR",
        default=None,
        help="remove the worktree `jellyml eat --worktree` made at DIR",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="remove that worktree even if it holds changes (kept on a jellyml-undo-* branch)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...restore.undo import UndoResult
    from ...restore.worktrees import undo_any
    from .. import render

    result = undo_any(args.code_dir, args.worktree, force=args.force)
    if isinstance(result, UndoResult):
        render.undo_result(result, quiet=args.quiet, no_donut=args.no_donut)
    else:
        from .. import render_status

        render_status.undo_worktree_result(result, quiet=args.quiet)
    return 0
