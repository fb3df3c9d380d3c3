"""``jellyml completion SHELL``: the tab-completion script for bash, zsh or fish.

The script (argcomplete's) asks the CLI itself what can follow on each TAB, so completion knows
every command, alias and option, and file names for the model. The CLI only loads argcomplete
when a shell asks (``_ARGCOMPLETE`` in the environment): nothing else pays for it.
"""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "completion"
ALIASES: tuple[str, ...] = ()
HELP = "print the tab-completion script for bash, zsh or fish"

SHELLS = ("bash", "zsh", "fish")
DESCRIPTION = (
    "Print the shell code that makes TAB complete jellyml's commands, options and files. "
    "Install it once with the line for your shell, below; for zsh, the bash line with zsh and "
    "~/.zshrc. It covers jellyml, jelly and jly."
)
EXAMPLES = (
    "echo 'eval \"$(jellyml completion bash)\"' >> ~/.bashrc",
    "jellyml completion fish > ~/.config/fish/completions/jellyml.fish",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    parser.add_argument("shell", choices=SHELLS, help="your shell")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from argcomplete.shell_integration import shellcode

    # Our own text, not a checkpoint's: written as it is (render would escape its tabs).
    # argcomplete 3.7.0 (the newest for Python 3.9) leaves shellcode untyped; 3.7.2 types it.
    code = shellcode(["jellyml", "jelly", "jly"], shell=args.shell)  # type: ignore[no-untyped-call,unused-ignore]
    sys.stdout.write(code)
    return 0
