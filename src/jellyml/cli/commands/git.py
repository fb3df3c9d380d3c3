"""``jellyml git MODEL ARGS...``: git with ``{}`` standing for the model's bundle."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

DESCRIPTION = (
    "Pretty advanced; you probably will not need it. Runs git with ARGS, every {} replaced by "
    "the path of the git bundle extracted from MODEL_FILE, and exits with git's exit code. "
    "Examples: `jellyml git model.pth clone {} restored`, `jellyml git model.pth fetch {}`, "
    "`jellyml git model.pth bundle list-heads {}`."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        "git",
        help="run git with {} standing for the model's git bundle",
        description=DESCRIPTION,
    )
    parser.add_argument("model_file", help="the model file whose bundle {} stands for")
    parser.add_argument("git_args", nargs="*", metavar="ARGS", help="arguments for git")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...git import run_git

    return run_git([args.model_file, *args.git_args])
