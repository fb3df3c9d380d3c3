"""Entry point of the ``jellyml`` / ``jelly`` / ``jly`` commands: parse, dispatch, map errors.

Exit status (docs/CLI.md): 0 done; 1 failed; 2 usage error (argparse's); 3 the file is not a
checkpoint; 4 a checkpoint without a JellyML snapshot; 130 interrupted (Ctrl-C); 141 the
reader of our output went away (``jellyml ... | head``), as git does.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import settings
from .._version import __version__
from .options import (
    COMMON_FLAG_NAMES,
    JellyParser,
    add_common,
    add_subcommands,
    epilog,
    formatter,
    styled,
)

# Not `from typing import TYPE_CHECKING`: see options.py (start-up time).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable, Sequence
    from typing import Any, Optional

    from _typeshed import SupportsWrite

    from .. import progress

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_A_CHECKPOINT = 3
EXIT_NO_SNAPSHOT = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: The commands' modules (in ``commands/``), in the order of the help. Another command: one
#: module there with ``NAME``, ``ALIASES``, ``HELP`` and a ``register(subparsers)`` that sets
#: ``handler``, named here. A command line imports the module of its command only (the others
#: when it names an alias, no command or an unknown one).
COMMANDS = (
    "eat",
    "undo",
    "show",
    "ls",
    "cat",
    "diff",
    "log",
    "env",
    "git",
    "extract_bundle",
    "strip",
    "scan",
    "snapshot",
    "fix",
    "completion",
    "donut",
)


def command_module(name: str) -> Any:
    """The module ``commands/<name>.py``."""
    import importlib

    return importlib.import_module(f"{__package__}.commands.{name}")


EXAMPLES = (
    "jellyml show model.pth        # what code trained it",
    "jellyml eat model.pth && python eval.py; jellyml undo",
)


class _MainParser(JellyParser):
    """The top-level parser: its help starts with the donut on a terminal."""

    show_logo = True

    def print_help(self, file: Optional[SupportsWrite[str]] = None) -> None:
        if self.show_logo and file is None and _terminal() and not settings.no_donut():
            if styled(sys.stdout):
                from . import render  # rich, only on a terminal (start-up time)

                render.logo()
            else:
                from .donut import plain_logo

                print(plain_logo(__version__))
        super().print_help(file)


def _terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class _PrintVersion(argparse.Action):
    """``-V/--version``: one plain line. argparse's own version action formats it with the
    help formatter, which on a terminal means importing rich (~40 ms) to print one line."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: Optional[str] = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        print(f"jellyml {__version__}")
        parser.exit()


#: ``build_parser(command=ALL)`` builds every command's parser in full.
ALL = "*"


def build_parser(
    *, show_logo: bool = True, command: Optional[str] = ALL
) -> argparse.ArgumentParser:
    """The parser. A command named by its module's name (``show``, ``extract-bundle``) gets its
    parser alone: a command line costs one module and one parser, not fourteen. Any other
    ``command`` (an alias, an unknown word, None) builds every command: the one named in full,
    the others as placeholders (name, aliases, one-line help: all the main help and an error
    show); ``ALL`` builds every one in full."""
    parser = _MainParser(
        prog=_prog(),
        description="Embed a snapshot of your code in your PyTorch checkpoints, and get it back.",
        epilog="Each command has its own -h. Psst: hungry? There is a `donut` in the oven.\n\n"
        + epilog(EXAMPLES),
        formatter_class=formatter(),
    )
    parser.show_logo = show_logo
    parser.add_argument("-V", "--version", action=_PrintVersion, help="show the version and exit")
    add_common(parser, root=True)
    subparsers = add_subcommands(parser, dest="command", metavar="COMMAND")
    module_name = (command or "").replace("-", "_")
    if module_name in COMMANDS:
        command_module(module_name).register(subparsers)
        return parser
    for module in map(command_module, COMMANDS):
        if command == ALL or command in module.ALIASES:
            module.register(subparsers)
        else:
            _placeholder(subparsers, module)
    return parser


def _placeholder(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], module: Any
) -> None:
    """A command's name, aliases and help only (a hidden command gets no help, as in full)."""
    kwargs: dict[str, Any] = {"aliases": list(module.ALIASES)}
    if module.HELP is not None:
        kwargs["help"] = module.HELP
    subparsers.add_parser(module.NAME, **kwargs)


def _command(argv: list[str]) -> Optional[str]:
    """The command a command line runs: its first word that is not an option."""
    return next((token for token in argv if not token.startswith("-")), None)


def _git_style_code_dir(argv: list[str]) -> list[str]:
    """``jellyml -C DIR eat MODEL`` (git's habit) is ``jellyml eat -C DIR MODEL``: ``-C DIR``
    before the command moves to just after it (after ``fix``'s subcommand), where the commands
    that work on a repository take it as ``-c DIR``, and the others say they take no folder."""
    if "-C" not in argv or _command(argv) is None:
        return argv
    at = argv.index("-C")
    if at > argv.index(_command(argv) or "") or at + 1 >= len(argv):
        return argv
    rest = argv[:at] + argv[at + 2 :]
    words = [i for i, token in enumerate(rest) if not token.startswith("-")]
    end = words[1] if rest[words[0]] == "fix" and len(words) > 1 else words[0]
    return [*rest[: end + 1], f"-C={argv[at + 1]}", *rest[end + 1 :]]


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
    """Run the command line; return the exit status (never raises, not even SystemExit)."""
    try:
        try:
            code = _main(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:  # argparse: help, --version, usage errors
            code = exc.code if isinstance(exc.code, int) else EXIT_FAILURE
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # before a command started (parsing): nothing to undo
        return EXIT_INTERRUPTED


def _main(args_list: list[str]) -> int:
    args_list = _git_style_code_dir(args_list)
    args_list, git_args = _split_git(args_list)
    args_list, diff_paths = _split_paths(args_list)
    completing = "_ARGCOMPLETE" in os.environ  # a shell asking (see commands/completion)
    parser = build_parser(
        show_logo=not _NO_DONUT.intersection(args_list),
        command=ALL if completing else _command(args_list),
    )
    if completing:
        import argcomplete

        argcomplete.autocomplete(parser, exclude=["donut"])  # the easter egg stays hidden
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


_NO_DONUT = frozenset({"--no-donut", "--no_donut"})


def _split_paths(argv: list[str]) -> tuple[list[str], Optional[list[str]]]:
    """``jellyml diff ... -- PATH...``: see ``commands/diff.split_paths``."""
    if _command(argv) != "diff":
        return argv, None
    split: tuple[list[str], Optional[list[str]]] = command_module("diff").split_paths(argv)
    return split


def _silence_stdout() -> None:
    """After the reader went away: point stdout at /dev/null, so that Python's own flush at
    exit does not print "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (tests): nothing to flush
        pass


def _run(
    handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, *, debug: bool
) -> int:
    """Run a command; a failure becomes one line on stderr (the traceback too with ``debug``)."""
    # Imported here, not at the top: parsing and help need neither errors nor render.
    from .. import progress
    from ..errors import JellyMLError, NotACheckpointError, SnapshotNotFoundError

    try:
        with progress.reporting(_progress_reporter(args)), _storage_options(args):
            return int(handler(args))
    except JellyMLError as exc:
        _report(exc, debug=debug)
        if isinstance(exc, NotACheckpointError):
            return EXIT_NOT_A_CHECKPOINT
        return EXIT_NO_SNAPSHOT if isinstance(exc, SnapshotNotFoundError) else EXIT_FAILURE
    except KeyboardInterrupt:
        interrupted = JellyMLError(
            "Interrupted.",
            hint="An interrupted eat is undone at once; an interrupted undo is "
            "finished by running `jellyml undo` again.",
        )
        _report(interrupted, debug=debug)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away: main() ends quietly
    except OSError as exc:
        _report(JellyMLError(f"{exc.strerror or exc}: {exc.filename or ''}".strip()), debug=debug)
        return EXIT_FAILURE


def _storage_options(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    """The command's ``--storage-option``s (over ``JELLYML_STORAGE_OPTIONS``) for every URL it
    opens; a command that takes none reads the variable where it opens a URL."""
    import contextlib  # here: parsing and help do not need it (start-up time)

    pairs = getattr(args, "storage_option", None)
    if not pairs:
        return contextlib.nullcontext()
    from ..sources import default_storage_options
    from ..sources.options import storage_options

    return default_storage_options(storage_options(pairs))


def _progress_reporter(args: argparse.Namespace) -> Optional[progress.Reporter]:
    """The CLI's progress bar, on a terminal only, unless -q or JELLYML_DISABLE_PROGRESS_BARS."""
    if getattr(args, "quiet", False) or settings.no_progress_bars():
        return None
    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    from . import render

    return render.progress_bar


def _report(exc: BaseException, *, debug: bool) -> None:
    from . import render

    render.error(exc, debug=debug)


if __name__ == "__main__":
    raise SystemExit(main())
