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
        "(its snapshot file removed). The input is never replaced unless --in-place is given; "
        "the output is written to a temporary file and renamed, so a failure leaves nothing.",
        examples=(
            "jellyml strip model.pth -o public.pth",
            "jellyml strip checkpoint-500 --in-place   # a folder: its snapshot file goes",
        ),
    )
    parser.add_argument("model_file", help="the checkpoint file or folder to strip")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="where to write the stripped checkpoint")
    where.add_argument(
        "--in-place", action="store_true", help="replace the checkpoint itself (atomically)"
    )
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...publish.strip import strip
    from .. import render

    result = strip(args.model_file, args.output, in_place=args.in_place)
    render.stripped(result, quiet=args.quiet)
    return 0
