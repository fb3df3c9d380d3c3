"""``jellyml diff``: a snapshot against the working tree, another checkpoint, a revision, or
its base commit, shown by git itself (the user's colours, pager and diff settings apply)."""

from __future__ import annotations

import argparse

from ..options import COMMON_FLAG_NAMES, add_common, add_parser

NAME = "diff"
ALIASES: tuple[str, ...] = ()
HELP = "compare a model file's code with your files, another model file or a revision"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DESCRIPTION = (
    "Show what differs between the code in MODEL_FILE (the old side) and OTHER (the new "
    "side), as `git diff` shows it. Without OTHER: the working tree of the repository here "
    "(or -c DIR), untracked files included, ignored files not. OTHER is a second model file, "
    "or a revision of the repository (a commit, a branch, a tag). With --base: what was "
    "uncommitted when the snapshot was made (its base commit against the snapshot; nothing "
    "for a clean snapshot). Paths after -- are literal, from the repository's top. Colour "
    "and pager follow git's settings (never when output is not a terminal, or with "
    "NO_COLOR). Nothing is checked out and no repository is changed."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description=DESCRIPTION,
        usage="%(prog)s [options] MODEL_FILE [OTHER] [-- PATH ...]",
        examples=(
            "jellyml diff model.pth                 # what changed since the snapshot",
            "jellyml diff run1.pth run2.pth --stat  # two runs' code",
        ),
    )
    parser.add_argument("model_file", help="the model file whose code is the old side")
    sides = parser.add_mutually_exclusive_group()
    sides.add_argument(
        "other",
        nargs="?",
        default=None,
        help="the new side: a model file or a revision (default: the working tree)",
    )
    sides.add_argument(
        "--base", action="store_true", help="the snapshot's base commit against the snapshot"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--stat", action="store_true", help="a summary of changes per file")
    shown.add_argument("--name-only", action="store_true", help="only the changed paths")
    shown.add_argument(
        "--name-status", action="store_true", help="the changed paths and how (A, M, D, R)"
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when there are differences, as git (-q: that, and print nothing)",
    )
    parser.add_argument("--no-pager", action="store_true", help="do not use git's pager")
    add_common(parser, code_dir=True, urls=True)
    parser.set_defaults(handler=run, paths=[])


def split_paths(argv: list[str]) -> tuple[list[str], Optional[list[str]]]:
    """``jellyml diff ... -- PATH...``: the paths are cut off before argparse sees them (it
    would give the first of them to OTHER)."""
    for pos, token in enumerate(argv):
        if token in COMMON_FLAG_NAMES:
            continue
        if token != "diff" or "--" not in argv[pos + 1 :]:
            return argv, None
        cut = argv.index("--", pos + 1)
        return argv[:cut], argv[cut + 1 :]
    return argv, None


def git_options(args: argparse.Namespace) -> list[str]:
    from ... import settings

    options = [flag for flag in ("stat", "name_only", "name_status") if getattr(args, flag)]
    argv = ["--" + flag.replace("_", "-") for flag in options]
    if args.exit_code:
        argv.append("--exit-code")
    if args.quiet:
        argv.append("--quiet")  # as git diff's own -q: no output, exit 1 on differences
    if settings.no_color():
        argv.append("--no-color")  # git itself does not read NO_COLOR
    elif settings.force_color():
        argv.append("--color=always")
    return argv


def run(args: argparse.Namespace) -> int:
    from ...read.tree_diff import planned_diff

    with planned_diff(
        args.model_file, args.other, base=args.base, paths=args.paths, code_dir=args.code_dir
    ) as plan:
        return plan.run(git_options(args), args.paths, pager=not args.no_pager)
