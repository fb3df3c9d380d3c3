"""``jellyml scan``: which checkpoints still carry a snapshot (a gate before uploading)."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "scan"
ALIASES: tuple[str, ...] = ()
HELP = "list the checkpoints under some paths and whether each carries a snapshot"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Look at every checkpoint under the given files, folders (recursively) "
        "and URLs, and say whether each carries a JellyML snapshot, its commit, whether its "
        "code was dirty, and its size. Reads without torch and without loading any model.",
        examples=(
            "jellyml scan checkpoints/                 # what is under a folder",
            "jellyml scan release/ --check && upload   # refuse to publish code by mistake",
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or URLs")
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 when any checkpoint still carries a snapshot (or could not "
        "be read): a gate before uploading",
    )
    add_common(parser, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...publish.scan import scan
    from .. import render

    entries = scan(args.paths)
    render.scan_results(entries, as_json=args.json, quiet=args.quiet)
    if args.check and any(e.snapshot or e.problem for e in entries):
        return 1
    return 0
