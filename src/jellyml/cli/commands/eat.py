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
    "snapshot. With --worktree DIR the snapshot is checked out in a new linked worktree at DIR "
    "instead, beside your own work, which stays exactly as it is (`jellyml undo --worktree DIR` "
    "removes it). With -b NAME you land on a new branch NAME at the snapshot commit."
)
EXAMPLES = (
    "jellyml eat model.pth              # the code that trained model.pth, here",
    "jellyml eat model.pth --worktree ../old  # beside your code, yours untouched",
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
    parser.add_argument(
        "--worktree",
        metavar="DIR",
        default=None,
        help="check the snapshot out in a new linked worktree at DIR (a new or empty folder), "
        "leaving your own worktree untouched",
    )
    parser.add_argument(
        "-b",
        "--branch",
        dest="branch",
        metavar="NAME",
        default=None,
        help="land on a new branch NAME at the snapshot commit instead of a detached HEAD "
        "(refused if NAME exists; undo leaves it)",
    )
    parser.add_argument(
        "--recurse-submodules",
        action="store_true",
        help="with --worktree: initialise the snapshot's submodules there (git submodule "
        "update --init, which may need the network)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import render

    if args.recurse_submodules and args.worktree is None:
        from ...errors import JellyMLError

        raise JellyMLError(
            "--recurse-submodules goes with --worktree DIR.",
            hint="An eat in place leaves submodules as they are; nothing was changed.",
        )
    if args.worktree is not None:
        from ...restore.worktrees import eat_into_worktree

        result = eat_into_worktree(
            args.model_file,
            args.worktree,
            args.code_dir,
            force=args.force,
            branch=args.branch,
            recurse_submodules=args.recurse_submodules,
        )
    else:
        from ...restore.eat import eat_snapshot

        result = eat_snapshot(args.model_file, args.code_dir, force=args.force, branch=args.branch)
    if result.worktree_of is not None:
        from .. import render_status

        render_status.eat_worktree_result(result, quiet=args.quiet)
    else:
        render.eat_result(result, quiet=args.quiet, no_donut=args.no_donut)
    return 0
