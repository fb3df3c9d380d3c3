"""``jellyml show`` (alias ``info``): what a snapshot records."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "show"
ALIASES: tuple[str, ...] = ("info",)
HELP = "show what a model file's snapshot records"

EXAMPLES = (
    "jellyml show model.pth --json | jq -r .commit",
    "jellyml show model.pth --requirements > requirements.txt",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        aliases=list(ALIASES),
        help=HELP,
        description="Show the snapshot's metadata: commit, branch, changed and untracked files, "
        "remotes, when and where it was made, and with which versions. Reads the file without "
        "torch and without loading the model. Long lists show their first 10 entries.",
        examples=EXAMPLES,
    )
    parser.add_argument("model_file", help="the model file to read")
    parser.add_argument("--json", action="store_true", help="print everything as JSON, for scripts")
    parser.add_argument(
        "-a", "--all", action="store_true", help="list every file and package, not the first 10"
    )
    parser.add_argument(
        "--requirements",
        action="store_true",
        help="print the recorded environment as a requirements file that installs: the same "
        "output as `jellyml env MODEL`",
    )
    add_common(parser, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.requirements:  # an alias of `jellyml env MODEL`: one list, and it installs
        from . import env

        fields = {"output": None, "format": "requirements", "venv": None, **vars(args)}
        return env.run(argparse.Namespace(**fields))
    from ...read.describe import describe
    from .. import render

    render.show(describe(args.model_file), as_json=args.json, everything=args.all)
    return 0
