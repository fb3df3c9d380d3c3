"""``jellyml extract-bundle`` (also ``jellyml fix extract-bundle``): the model's git bundle."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "extract-bundle"
ALIASES: tuple[str, ...] = ()
HELP = "write the git bundle in a model file to a file (or to stdout)"
DESCRIPTION = (
    "Write the git bundle of the snapshot in model_file to a file: git can clone, fetch from and "
    "list it. The file is readable by you only (mode 0600), and an existing file is replaced "
    "only with --force. The bundle is checked (sha256) before anything is written."
)
EXAMPLES = (
    "jellyml extract-bundle model.pth -o code.bundle && git clone code.bundle code",
    "jellyml extract-bundle model.pth -o - | ssh host 'cat > code.bundle'",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(subparsers, NAME, help=HELP, description=DESCRIPTION, examples=EXAMPLES)
    parser.add_argument("model_file", help="the model file to extract the bundle from")
    parser.add_argument(
        "-o",
        "--output-path",
        dest="output_path",
        metavar="PATH",
        help="where to write the bundle: a file, a folder (<folder>/<model stem>.bundle), or - "
        "for stdout (default: ./<model stem>.bundle)",
    )
    parser.add_argument("--output_path", dest="output_path", help=argparse.SUPPRESS)
    parser.add_argument("-f", "--force", action="store_true", help="replace an existing file")
    add_common(parser, urls=True)
    parser.set_defaults(handler=run, usage_error=parser.error)


def run(args: argparse.Namespace) -> int:
    from ...read.extract import STDOUT, extract
    from .. import render

    if args.output_path == STDOUT and _terminal():
        # As tar does: binary on a terminal garbles it, and is never what was meant.
        args.usage_error("refusing to write the bundle to a terminal: redirect it (> FILE)")
    snapshot, written = extract(args.model_file, args.output_path, force=args.force)
    if written == STDOUT:
        return 0  # stdout holds the bundle: nothing else may go there
    commit = f" (commit {snapshot.commit})" if snapshot.commit else ""
    render.info(
        f"Wrote {render.value(written)}: {snapshot.bundle_size:,} bytes{commit}.",
        quiet=args.quiet,
    )
    return 0


def _terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
