"""``jellyml fix``: commands for when something went wrong."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser, add_subcommands
from . import extract_bundle

NAME = "fix"
ALIASES: tuple[str, ...] = ()
HELP = "commands to fix common problems"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fix = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Again, you probably will not need these: only if something goes wrong.",
        examples=(
            "jellyml fix get-history-path",
            "jellyml fix delete-last-history-item -c ~/project",
        ),
    )
    add_common(fix)
    commands = add_subcommands(fix, dest="fix_command", metavar="COMMAND", required=True)
    _register_history(commands)
    _register_clean(commands)
    extract_bundle.register(commands)  # also a command of its own: `jellyml extract-bundle`


def _register_history(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text, handler, example in (
        (
            "delete-last-history-item",
            "delete the last item from this repository's jellyml history (the work it put "
            "aside stays in the repository under refs/jellyml/)",
            run_delete_last,
            "jellyml fix delete-last-history-item -c ~/project",
        ),
        (
            "get-history-path",
            "print where this repository's history file is stored",
            run_get_history_path,
            'cat "$(jellyml fix get-history-path)"',
        ),
        (
            "clear-history",
            "delete this repository's history file (work put aside stays under refs/jellyml/)",
            run_clear_history,
            "jellyml fix clear-history -c ~/project",
        ),
    ):
        parser = add_parser(
            commands,
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            examples=(example,),
        )
        add_common(parser, code_dir=True)
        parser.set_defaults(handler=handler)


def _register_clean(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        commands,
        "clean-undo-branches",
        help="delete the jellyml-undo-* branches whose commits are all on other branches",
        description="Delete the jellyml-undo-* branches that undo made and that hold nothing "
        "not reachable from another branch (so deleting them loses nothing); list the others, "
        "which are never deleted.",
        examples=(
            "jellyml fix clean-undo-branches --dry-run",
            "jellyml fix clean-undo-branches --older-than 30",
        ),
    )
    add_common(parser, code_dir=True)
    parser.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        default=None,
        help="only branches whose last commit is more than DAYS days old",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    parser.set_defaults(handler=run_clean)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 <= days < 1e6:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}")
    return days


def run_clean(args: argparse.Namespace) -> int:
    from ...restore.branches import clean_undo_branches
    from .. import render_status

    result = clean_undo_branches(args.code_dir, older_than=args.older_than, dry_run=args.dry_run)
    render_status.cleaned(result, quiet=args.quiet)
    return 0


def run_delete_last(args: argparse.Namespace) -> int:
    from ...restore import fixes
    from .. import render

    top, item = fixes.delete_last_item(args.code_dir)
    render.deleted_history_item(top, item, quiet=args.quiet)
    return 0


def run_get_history_path(args: argparse.Namespace) -> int:
    from ...restore import fixes
    from .. import render

    _top, path = fixes.history_file(args.code_dir)
    render.plain(path)
    return 0


def run_clear_history(args: argparse.Namespace) -> int:
    from ...restore import fixes
    from .. import render

    path, existed, refs, folders = fixes.clear_history(args.code_dir)
    render.cleared_history(path, existed, refs, folders, quiet=args.quiet)
    return 0
