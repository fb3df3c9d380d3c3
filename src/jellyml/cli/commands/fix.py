"""``jellyml fix``: commands for when something went wrong."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser, add_subcommands


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fix = add_parser(
        subparsers,
        "fix",
        help="commands to fix common problems",
        description="Again, you probably will not need these: only if something goes wrong.",
    )
    commands = add_subcommands(fix, dest="fix_command", metavar="COMMAND", required=True)
    _register_history(commands)
    extract_parser = add_parser(
        commands,
        "extract-bundle",
        help="extract the git bundle from a jelly filled model file",
        description="Extract the git bundle from a jelly filled model file.",
    )
    extract_parser.add_argument("model_file", help="the model file to extract the bundle from")
    extract_parser.add_argument(
        "-o",
        "--output_path",
        help="where to write the bundle (default: ./<model stem>.bundle; a directory means "
        "<directory>/<model stem>.bundle)",
    )
    add_common(extract_parser)
    extract_parser.set_defaults(handler=run_extract_bundle)


def _register_history(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text, handler in (
        (
            "delete-last-history-item",
            "delete the last item from this repository's jellyml history (the work it put "
            "aside stays in the repository under refs/jellyml/)",
            run_delete_last,
        ),
        (
            "get-history-path",
            "print where this repository's history file is stored",
            run_get_history_path,
        ),
        (
            "clear-history",
            "delete this repository's history file (work put aside stays under refs/jellyml/)",
            run_clear_history,
        ),
    ):
        parser = add_parser(
            commands, name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        add_common(parser, code_dir=True)
        parser.set_defaults(handler=handler)


def run_extract_bundle(args: argparse.Namespace) -> int:
    from ...extract_bundle import extract
    from .. import render

    snapshot, written = extract(args.model_file, args.output_path)
    commit = f" (commit {snapshot.commit[:12]})" if snapshot.commit else ""
    render.info(f"Wrote {written}: {snapshot.bundle_size:,} bytes{commit}.", quiet=args.quiet)
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

    path, existed, refs = fixes.clear_history(args.code_dir)
    render.cleared_history(path, existed, refs, quiet=args.quiet)
    return 0
