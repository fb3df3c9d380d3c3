"""``jellyml eat`` (aliases ``load-snapshot-from``, ``load``)."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "eat"
ALIASES: tuple[str, ...] = ("load-snapshot-from", "load")
HELP = "check out the code saved in a model file"

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:
    from typing import Optional

    from ...restore.eat import EatResult

DESCRIPTION = (
    "Extract the snapshot of your code from a model file into your working directory (eat the "
    "jelly-filled donut). In a git repository your uncommitted work (staged, unstaged and "
    "untracked files; ignored files are never touched) is put aside first, and the snapshot's "
    "commit is checked out on a detached HEAD: `jellyml undo` puts everything back. An empty or "
    "missing folder gets a clone of the snapshot."
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
    listed = args.quiet or result.cloned or result.already
    changed = None if listed else changed_files(result)
    render.eat_result(result, quiet=args.quiet, no_donut=args.no_donut, changed=changed)
    return 0


def changed_files(result: EatResult) -> Optional[list[str]]:
    """ "STATUS path" for each file that differs between what the user had (their saved work,
    else the commit they were on, else nothing) and the snapshot, as eat counted them; None
    when git refuses to say (the snapshot is checked out all the same: eat succeeded)."""
    from ...errors import GitCommandError
    from ...gitcore import run as gitrun

    old = result.saved or result.previous_commit
    if old is None:  # no commits and nothing saved: every file of the snapshot is new
        made = gitrun.run(["hash-object", "-t", "tree", "--stdin"], cwd=result.top, input=b"")
        old = made.stdout.decode().strip()
    argv = ["diff-tree", "-r", "-z", "--no-renames", "--name-status", old, result.commit]
    try:
        fields = gitrun.split_z(gitrun.run(argv, cwd=result.top).stdout)
    except GitCommandError:  # a snapshot's .gitmodules with `update = !cmd` upsets diff-tree
        return None
    return [
        f"{status.decode()} {path.decode('utf-8', 'replace')}"
        for status, path in zip(fields[::2], fields[1::2])
    ]
