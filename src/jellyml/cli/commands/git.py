"""``jellyml git MODEL ARGS...``: git with ``{}`` standing for the model's bundle."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "git"
ALIASES: tuple[str, ...] = ()
HELP = "run git with {} standing for the model's git bundle"

DESCRIPTION = (
    "Pretty advanced; you probably will not need it. Runs git with ARGS, every {} replaced by "
    "the path of the git bundle extracted from model_file, and exits with git's exit code. "
    "Everything after model_file goes to git as it is (even -h)."
)
EXAMPLES = (
    "jellyml git model.pth clone {} restored      # the snapshot as a new clone",
    "jellyml git model.pth bundle list-heads {}   # which commit it holds",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description=DESCRIPTION,
        examples=EXAMPLES,
        usage="%(prog)s [-h] [-q] [--no-donut] [--debug] model_file ARGS...",
    )
    parser.add_argument("model_file", help="the model file whose bundle {} stands for")
    parser.add_argument("git_args", nargs="*", metavar="ARGS", help="arguments for git (required)")
    add_common(parser, urls=True)
    parser.set_defaults(handler=run, usage_error=parser.error)


def run(args: argparse.Namespace) -> int:
    from ...read.passthrough import run_git

    if not args.git_args:
        args.usage_error("ARGS are missing: say what git should do, with {} for the bundle")
    return run_git([args.model_file, *args.git_args])
