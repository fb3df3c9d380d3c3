"""Entry point of the ``jellyml`` / ``jelly`` / ``jly`` commands: parse, dispatch, map errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

from .._version import __version__
from ..errors import JellyMLError
from . import render
from .commands import fix


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "jellyml",
        description="Embed a snapshot of your code in your PyTorch checkpoints, and get it back.",
    )
    parser.add_argument("--version", action="version", version=f"jellyml {__version__}")
    _add_common(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    fix.register(subparsers)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    debug = args.debug or bool(os.environ.get("JELLYML_DEBUG"))
    try:
        return int(handler(args))
    except JellyMLError as exc:
        render.error(exc, debug=debug)
        return 1
    except KeyboardInterrupt:
        render.error(JellyMLError("Interrupted."), debug=debug)
        return 130
    except OSError as exc:
        render.error(
            JellyMLError(f"{exc.strerror or exc}: {exc.filename or ''}".strip()), debug=debug
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
