"""Options and parser plumbing shared by every command.

Building the parser imports nothing but argparse: rich and rich-argparse (~30 ms together) are
imported only when help is shown on a terminal, and every command imports what it runs inside
its handler. That keeps `jellyml --help` (and every command's start) fast.

Conventions every command follows through this module: dashed long options (the spec's
underscore spellings stay accepted, hidden), no abbreviated options (an abbreviation that works
today would break when an option is added), a suggestion for a mistyped option or command, and
help that ends with examples.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from .. import settings

# Not `from typing import TYPE_CHECKING`: typing costs ~3 ms, a tenth of `jellyml --help`'s
# start-up, and only annotations use it here (type checkers take any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, NoReturn, Optional, TextIO

    from rich.text import Text

CODE_DIR_HELP = (
    "the folder of the git repository to work on (default: the current directory); "
    "a folder inside the repository works too"
)
#: Where the examples start in an epilog; the formatters keep what follows line by line.
EXAMPLES = "examples:"


def styled(stream: TextIO) -> bool:
    """Whether output to ``stream`` gets colours (rich): on a terminal, or with FORCE_COLOR set
    (as rich itself honours), and never with NO_COLOR set. Otherwise plain text, without
    importing rich at all."""
    if settings.no_color():
        return False
    if settings.force_color():
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty(), or a closed stream
        return False


def _terminal_width() -> int:
    """``shutil.get_terminal_size().columns`` (COLUMNS, else the terminal's, else 80), without
    importing shutil: with zlib, bz2 and lzma it costs ~3 ms of every command's start-up."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return _measured_width()


@functools.cache
def _measured_width() -> int:
    """The terminal's width, asked once (argparse makes a formatter per option it adds)."""
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


class _PlainFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that the examples at the end keep their lines."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: Optional[int] = None,
    ) -> None:
        width = _terminal_width() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        prose, sep, examples = text.partition(EXAMPLES)
        filled = super()._fill_text(prose, width, indent) if prose.strip() else ""
        if not sep:
            return filled
        lines = [indent + EXAMPLES, *(indent + line for line in examples.strip("\n").split("\n"))]
        return (filled + "\n\n" if filled else "") + "\n".join(lines)


def formatter() -> type[argparse.HelpFormatter]:
    """rich help on a terminal; argparse's plain one otherwise (rich-argparse would still bold
    `quoted` words with NO_COLOR, and costs start-up time for no visible difference)."""
    if not styled(sys.stdout):
        return _PlainFormatter
    from rich_argparse import RichHelpFormatter

    class _RichFormatter(RichHelpFormatter):
        def _rich_fill_text(self, text: Text, width: int, indent: Text) -> Text:
            from rich.text import Text  # only when help is shown: rich costs ~40 ms

            prose, sep, _examples = text.plain.partition(EXAMPLES)
            if not sep:
                return super()._rich_fill_text(text, width, indent)
            head = super()._rich_fill_text(text[: len(prose)], width, indent) if prose else Text()
            tail = text[len(prose) :]
            tail.rstrip()
            return head + Text("\n").join(indent + line for line in tail.split()) + "\n\n"

    return _RichFormatter


#: Commands users of other tools type, and the one they mean: W&B's ``wandb restore`` brings
#: a run's code back, which is ``eat`` here (difflib alone would say ``undo``, for ``return``).
MEANT = {"restore": "eat", "checkout": "eat", "load-snapshot": "eat", "revert": "undo"}


class JellyParser(argparse.ArgumentParser):
    """argparse with suggestions: a mistyped option or command names the closest real one, and
    the list of commands in an error is the visible one (no hidden command, no alias)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", formatter())
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if not isinstance(action, argparse._SubParsersAction) or value in action.choices:
            super()._check_value(action, value)
            return
        visible = {choice.dest: choice.help for choice in action._choices_actions}
        primary = {id(action.choices[name]): name for name in visible}
        # An alias may match, and its command's name is suggested; a hidden command never is.
        names = {
            name: primary[id(sub)] for name, sub in action.choices.items() if id(sub) in primary
        }
        meant = MEANT.get(str(value))
        close = meant if meant in visible else _closest(str(value), list(names))
        hint = ""
        if close:
            command = names.get(close, close)
            hint = f" Did you mean {command!r}?"
            if meant:  # another tool's word: say what the command does
                hint += f" ({command}: {visible[command]}.)"
        raise argparse.ArgumentError(
            None, f"unknown command {value!r}.{hint} Commands: {', '.join(visible)}."
        )

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            message += _option_hints(message[len(prefix) :].split(), self)
        super().error(message)


class CommandParser(JellyParser):
    """A command's own parser. What it does not know is its own usage error (with its usage
    line, and suggestions from its own options), not the top-level parser's; its usage line is
    short (``jellyml show [options] model_file``): the options are listed in its help."""

    def parse_known_args(  # type: ignore[override]
        self, args: Optional[Sequence[str]] = None, namespace: Optional[argparse.Namespace] = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return parsed, extras

    def format_usage(self) -> str:
        self._compact_usage()
        return super().format_usage()

    def format_help(self) -> str:
        self._compact_usage()
        return super().format_help()

    def _compact_usage(self) -> None:
        if self.usage is None:
            positionals = [_usage_word(a) for a in self._actions if not a.option_strings]
            self.usage = " ".join(["%(prog)s", "[options]", *positionals])


def _usage_word(action: argparse.Action) -> str:
    if isinstance(action, argparse._SubParsersAction):
        return "COMMAND ..."
    name = str(action.metavar or action.dest)
    return {"?": f"[{name}]", "*": f"[{name} ...]", "+": f"{name} [{name} ...]"}.get(
        str(action.nargs), name
    )


def _closest(word: str, candidates: Sequence[str]) -> Optional[str]:
    import difflib  # only on an error

    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def _every_option(parser: argparse.ArgumentParser) -> list[str]:
    """The visible long options of ``parser`` itself (a command's, not its neighbours')."""
    names = [
        name
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for name in action.option_strings
        if name.startswith("--")
    ]
    return sorted(set(names))


def _option_hints(tokens: list[str], parser: argparse.ArgumentParser) -> str:
    """Suggestions for unknown ``tokens`` from ``parser``'s own options (never the token
    itself), and git's ``-C DIR`` explained where the command takes no folder."""
    options = _every_option(parser)
    hints = []
    for token in tokens:
        if token.startswith("--"):
            close = _closest(token.split("=", 1)[0].replace("_", "-"), options)
            if close and close != token:
                hints.append(f"{token} -> {close}")
    text = f" (did you mean: {'; '.join(hints)}?)" if hints else ""
    if any(token == "-C" or token.startswith("-C=") for token in tokens):
        text += f". {parser.prog} takes no repository folder (-c/-C DIR)"
    return text


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    examples: Sequence[str] = (),
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A subcommand parser; ``help=None`` keeps it out of the command list (and out of error
    messages). ``examples`` (command lines, with a ``  # why`` comment if useful) end its help,
    after its aliases."""
    kwargs.setdefault("formatter_class", formatter())
    aliases = kwargs.get("aliases") or ()
    if examples or aliases:
        kwargs.setdefault("epilog", epilog(examples, aliases=aliases))
    return subparsers.add_parser(name, **kwargs)


def epilog(examples: Sequence[str], *, aliases: Sequence[str] = ()) -> str:
    """The end of a help text: the aliases, once, then the examples."""
    text = f"aliases: {', '.join(aliases)}\n\n" if aliases else ""
    return text + EXAMPLES + "\n" + "\n".join(f"  {line}" for line in examples)


def add_subcommands(
    parser: argparse.ArgumentParser, **kwargs: Any
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``parser.add_subparsers(...)`` with the subcommands' ``prog`` prefix given (our parsers
    take no positionals before the command, so it is the parser's own prog). Without it
    argparse formats the parser's usage to find that prefix, which with rich-argparse
    imports rich (~40 ms) for every command line parsed on a terminal."""
    kwargs.setdefault("parser_class", CommandParser)
    return parser.add_subparsers(prog=parser.prog, **kwargs)


#: The options every command takes, before the command or after it:
#: (short flag or None, long flag, hidden spellings, help).
COMMON_FLAGS: tuple[tuple[Optional[str], str, tuple[str, ...], str], ...] = (
    ("-q", "--quiet", (), "print only warnings and errors"),
    (
        None,
        "--no-donut",
        ("--no_donut",),
        "no donut logo (for good: JELLYML_NO_DONUT=1; never when output is not a terminal)",
    ),
    (None, "--debug", (), "show the full traceback when something fails (or JELLYML_DEBUG=1)"),
)


def _common_spellings() -> Iterator[str]:
    for short, long, hidden, _help in COMMON_FLAGS:
        yield from ((short,) if short else ())
        yield long
        yield from hidden


#: Every spelling of them, for scanning a command line before it is parsed.
COMMON_FLAG_NAMES = frozenset(_common_spellings())


STORAGE_OPTION_HELP = (
    "an option for the storage of a URL (s3://, gs://, hf://, https://...), as fsspec's "
    "storage_options: VALUE is JSON where it parses, a dotted KEY nests "
    "(client_kwargs.endpoint_url=http://host:9000, token=hf_..., anon=true); repeatable; "
    "set over JELLYML_STORAGE_OPTIONS (a JSON object)"
)


def add_common(
    parser: argparse.ArgumentParser,
    *,
    code_dir: bool = False,
    root: bool = False,
    urls: bool = False,
) -> None:
    """-q, --no-donut and --debug, accepted after the command as well as before it (and
    ``-c/--code-dir`` with ``code_dir``; ``--storage-option KEY=VALUE`` with ``urls``, for a
    command that reads or writes URLs). The spec's underscore spellings (``--no_donut``,
    ``--code_dir``) work too, hidden from the help.

    On a subcommand (``root=False``) their defaults are SUPPRESS, so that a value given before
    the command (on the main parser, which holds the real defaults) is not overwritten by the
    subcommand's default.
    """
    if code_dir:
        parser.add_argument(
            "-c", "--code-dir", dest="code_dir", metavar="DIR", default=None, help=CODE_DIR_HELP
        )
        # The spec's spelling, and git's habit (git -C DIR): the same option, hidden.
        for spelling in ("--code_dir", "-C"):
            parser.add_argument(spelling, dest="code_dir", help=argparse.SUPPRESS)
    if urls:
        parser.add_argument(
            "--storage-option",
            dest="storage_option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=STORAGE_OPTION_HELP,
        )
    default = False if root else argparse.SUPPRESS
    for short, long, hidden, help_text in COMMON_FLAGS:
        flags = (short, long) if short else (long,)
        dest = long.lstrip("-").replace("-", "_")
        parser.add_argument(*flags, dest=dest, action="store_true", default=default, help=help_text)
        for spelling in hidden:
            parser.add_argument(
                spelling, dest=dest, action="store_true", default=default, help=argparse.SUPPRESS
            )
