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
