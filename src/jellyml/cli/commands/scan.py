"""``jellyml scan``: which checkpoints still carry a snapshot (a gate before uploading), and
with ``--secrets`` which credentials their snapshots and pickles would publish."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "scan"
ALIASES: tuple[str, ...] = ()
HELP = "list the checkpoints under some paths and whether each carries a snapshot (or secrets)"

#: ``scan --secrets --check`` when something was found (docs/CLI.md).
EXIT_FOUND = 5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Look at every checkpoint under the given files, folders (recursively) "
        "and URLs, and say whether each carries a JellyML snapshot, its commit, whether its "
        "code was dirty, and its size. With --secrets, search inside each snapshot (every "
        "file of its tree, every blob of its history, its metadata) for credentials, and "
        "list the globals each pickle imports that are not known safe. Reads without torch "
        "and without loading (or unpickling) anything.",
        examples=(
            "jellyml scan release/ --check && upload   # refuse to publish code by mistake",
            "jellyml scan --secrets --check model.pth  # keys, tokens, dangerous pickles",
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or URLs")
    parser.add_argument(
        "--secrets",
        action="store_true",
        help="search the snapshots (tree, history, metadata) for credentials, and the pickles "
        "for dangerous globals",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument(
        "--format",
        choices=("table", "json", "sarif"),
        default=None,
        help="how to print the findings of --secrets: a table (default), JSON, or SARIF 2.1.0 "
        "(GitHub code scanning); implies --secrets when sarif",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="a gate before uploading: exit with status 1 when any checkpoint still carries a "
        f"snapshot (or could not be read); with --secrets, with status {EXIT_FOUND} when "
        "anything but a note was found",
    )
    parser.add_argument(
        "--ignore-file",
        metavar="FILE",
        default=None,
        help="an allow-list of finding fingerprints, one a line (default: "
        ".jellyml-scan-ignore in the current folder, if there is one)",
    )
    add_common(parser, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.secrets or args.format == "sarif":
        return _secrets(args)
    from ...publish.scan import scan
    from .. import render

    entries = scan(args.paths)
    render.scan_results(entries, as_json=args.json or args.format == "json", quiet=args.quiet)
    if args.check and any(e.snapshot or e.problem for e in entries):
        return 1
    return 0


def _secrets(args: argparse.Namespace) -> int:
    import os

    from ...errors import JellyMLError
    from ...publish.secrets import IGNORE_FILE, read_ignore_file, scan_secrets
    from ..render_secrets import secret_results

    ignore_file = args.ignore_file or (IGNORE_FILE if os.path.isfile(IGNORE_FILE) else None)
    try:
        ignore = read_ignore_file(ignore_file) if ignore_file else []
    except OSError as exc:
        raise JellyMLError(f"Cannot read {ignore_file}: {exc.strerror or exc}.") from None
    result = scan_secrets(args.paths, ignore=ignore)
    form = args.format or ("json" if args.json else "table")
    secret_results(result, form=form, quiet=args.quiet)
    return EXIT_FOUND if args.check and result.failed else 0
