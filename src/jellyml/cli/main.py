"""Entry point of the ``jellyml`` / ``jelly`` / ``jly`` commands: parse, dispatch, map errors."""

from __future__ import annotations

import argparse
import os
import sys

from .. import settings
from .._version import __version__
from .commands import cat, diff, donut, eat, fix, git, log, ls, show, undo
from .donut import plain_logo
from .options import COMMON_FLAG_NAMES, add_common, add_subcommands, formatter, styled

# Not `from typing import TYPE_CHECKING`: see options.py (start-up time).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Optional

    from _typeshed import SupportsWrite


class _MainParser(argparse.ArgumentParser):
    """The top-level parser: its help starts with the donut (unless ``--no_donut``)."""

    show_logo = True

    def print_help(self, file: Optional[SupportsWrite[str]] = None) -> None:
        if self.show_logo:
            if styled(sys.stdout):
                from . import render  # rich, only on a terminal (start-up time)

                render.logo()
            else:
                print(plain_logo(__version__), file=sys.stdout if file is None else file)
        super().print_help(file)


class _PrintVersion(argparse.Action):
    """``--version``: one plain line. argparse's own version action formats it with the help
    formatter, which on a terminal means importing rich (~40 ms) to print one line."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: Optional[str] = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        print(f"jellyml {__version__}")
        parser.exit()


def build_parser(*, show_logo: bool = True) -> argparse.ArgumentParser:
    parser = _MainParser(
        prog=_prog(),
        description="Embed a snapshot of your code in your PyTorch checkpoints, and get it back.",
        epilog="Each command has its own -h. Psst: hungry? There is a `donut` in the oven.",
        formatter_class=formatter(),
    )
    parser.show_logo = show_logo
    parser.add_argument("--version", action=_PrintVersion, help="show the version and exit")
    add_common(parser, root=True)
    subparsers = add_subcommands(
        parser, dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser
    )
    for command in (eat, undo, git, fix, show, donut, ls, cat, diff, log):
        command.register(subparsers)
    return parser


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name in ("jellyml", "jelly", "jly") else "jellyml"


def _split_git(argv: list[str]) -> tuple[list[str], Optional[list[str]]]:
    """``jellyml git MODEL ARGS...`` hands ARGS to git untouched (even ``-h`` or ``--version``),
    so they are cut off before argparse sees them."""
    for pos, token in enumerate(argv):
        if token in COMMON_FLAG_NAMES:
            continue
        if token != "git" or len(argv) <= pos + 1 or argv[pos + 1].startswith("-"):
            return argv, None
        return argv[: pos + 2], argv[pos + 2 :]
    return argv, None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args_list, git_args = _split_git(args_list)
    args_list, diff_paths = diff.split_paths(args_list)
    parser = build_parser(show_logo="--no_donut" not in args_list)
    args = parser.parse_args(args_list)
    if git_args is not None:
        args.git_args = git_args
    if diff_paths is not None:
        args.paths = diff_paths
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    return _run(handler, args, debug=args.debug or settings.debug())


def _run(
    handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, *, debug: bool
) -> int:
    """Run a command; a failure becomes one line on stderr (the traceback too with ``debug``)."""
    # Imported here, not at the top: parsing and help need neither errors nor render (rich).
    from ..errors import JellyMLError

    try:
        return int(handler(args))
    except JellyMLError as exc:
        _report(exc, debug=debug)
        return 1
    except KeyboardInterrupt:
        interrupted = JellyMLError(
            "Interrupted.",
            hint="An interrupted eat is undone at once; an interrupted undo is "
            "finished by running `jellyml undo` again.",
        )
        _report(interrupted, debug=debug)
        return 130
    except OSError as exc:
        _report(JellyMLError(f"{exc.strerror or exc}: {exc.filename or ''}".strip()), debug=debug)
        return 1


def _report(exc: BaseException, *, debug: bool) -> None:
    from . import render

    render.error(exc, debug=debug)


if __name__ == "__main__":
    raise SystemExit(main())
