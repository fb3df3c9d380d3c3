"""``jellyml strip``: the same checkpoint without its snapshot, before publishing it."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "strip"
ALIASES: tuple[str, ...] = ()
HELP = "write a checkpoint without its snapshot (before publishing it)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Write the checkpoint without its JellyML snapshot: a torch.save file "
        "(every other key unchanged; loads with torch.load(weights_only=True)), a safetensors "
        "file (every other tensor byte for byte, __metadata__ kept) or a checkpoint folder "
        "(its snapshot file removed). The input is never replaced unless --in-place is given, "
        "and never written through a link; an existing output is replaced only with --force. "
        "The output is written to a temporary file, read back and checked, then renamed, so a "
        "failure leaves nothing. A checkpoint without a snapshot is nothing to strip: exit 0 "
        "(-o gets an unchanged copy), or 4 with --strict.",
        examples=(
            "jellyml strip model.pth -o public.pth",
            "jellyml strip runs/ --recursive -o release/   # every checkpoint below runs/",
        ),
    )
    parser.add_argument("model_file", help="the checkpoint file or folder to strip")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="where to write the stripped checkpoint")
    where.add_argument(
        "--in-place", action="store_true", help="replace the checkpoint itself (atomically)"
    )
    parser.add_argument("-f", "--force", action="store_true", help="replace an existing output")
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="strip every checkpoint below the folder (each atomically; a summary at the end)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 4) when there is nothing to strip, instead of succeeding",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="keep the code: replace a full-history snapshot by a shallow one (the same tree, "
        "no past versions, no old authors) instead of removing it",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...publish import strip as stripping
    from .. import render

    options = {"in_place": args.in_place, "force": args.force}
    if args.history:
        from ...publish.shallow import shorten

        render.shortened(shorten(args.model_file, args.output, **options), quiet=args.quiet)
        return 0
    if args.recursive:
        results = stripping.strip_tree(args.model_file, args.output, **options)
        render.stripped_tree(results, quiet=args.quiet)
        if args.strict and not any(r.removed for r in results):
            from ...errors import SnapshotNotFoundError

            raise SnapshotNotFoundError(args.model_file)
        return 1 if any(r.problem for r in results) else 0
    result = stripping.strip(args.model_file, args.output, strict=args.strict, **options)
    render.stripped(result, quiet=args.quiet)
    return 0
