"""``jellyml cat MODEL PATH``: a file of the snapshot, byte for byte, on stdout."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "cat"
ALIASES: tuple[str, ...] = ()
HELP = "print a file of a model file's snapshot"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description="Write the bytes of one file of the snapshot to stdout, exactly (binary "
        "files too; a symbolic link gives its target, as `git show` does). Nothing is checked "
        "out and no repository is changed.",
        examples=("jellyml cat model.pth train.py > train_then.py",),
    )
    parser.add_argument("model_file", help="the model file to read")
    parser.add_argument("path", help="the file, from the repository's top (as `jellyml ls`)")
    add_common(parser, code_dir=True, urls=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ...read.tree import cat_snapshot_chunks
    from .. import render_tree

    render_tree.write_chunks(
        cat_snapshot_chunks(args.model_file, args.path, code_dir=args.code_dir)
    )
    return 0
