"""``jellyml fix``: commands for when something went wrong."""

from __future__ import annotations

import argparse

from ...extract_bundle import extract
from .. import render


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fix = subparsers.add_parser(
        "fix",
        help="commands to fix common problems",
        description="Commands to fix common problems. You probably will not need these.",
    )
    commands = fix.add_subparsers(dest="fix_command", metavar="COMMAND", required=True)
    extract_parser = commands.add_parser(
        "extract-bundle",
        help="extract the git bundle from a jelly filled model file",
        description="Extract the git bundle from a jelly filled model file.",
    )
    extract_parser.add_argument("model", help="the model file to extract the bundle from")
    extract_parser.add_argument(
        "-o",
        "--output_path",
        help="where to write the bundle (default: ./<model stem>.bundle; a directory means "
        "<directory>/<model stem>.bundle)",
    )
    # Also accepted after the command (`jellyml fix extract-bundle m.pth --debug`); SUPPRESS
    # keeps the subparser from overwriting a value given before the command.
    extract_parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    extract_parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    extract_parser.set_defaults(handler=run_extract_bundle)


def run_extract_bundle(args: argparse.Namespace) -> int:
    snapshot, written = extract(args.model, args.output_path)
    commit = f" (commit {snapshot.commit[:12]})" if snapshot.commit else ""
    render.info(f"Wrote {written}: {snapshot.bundle_size:,} bytes{commit}.", quiet=args.quiet)
    return 0
