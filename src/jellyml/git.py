"""``jellyml git MODEL ARGS...`` as a Python function (the spec's public door).

Every ``{}`` in the arguments becomes the path of the bundle extracted from the model file, then
git runs with them (no shell), terminal attached. The temporary bundle is always removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import MissingModelArgError
from .gitcore import run as gitrun
from .read.reader import temporary_bundle


@dataclass
class GitArgs_dataclass:
    """``args[0]`` is the path to the model file; the rest go to git.

    Example: ``GitArgs_dataclass(["model_file.pt", "fetch", "{}"])``.
    """

    args: list[str] = field(default_factory=list)


#: The spec's annotation names this type too.
GitArgs = GitArgs_dataclass


def run_git(args: list[str]) -> int:
    """Run git with ``args[1:]``, ``{}`` replaced by the bundle of ``args[0]``; git's exit code."""
    if not args:
        raise MissingModelArgError()
    gitrun.check_git()
    with temporary_bundle(args[0]) as (_snapshot, bundle):
        return gitrun.passthrough([arg.replace("{}", bundle) for arg in args[1:]])


def git(args: GitArgs_dataclass) -> int:
    """Run git on the model's bundle; return git's exit code (0 when git succeeded).

    Problems with the model file arrive as ``JellyMLError`` exceptions.
    """
    return run_git(list(args.args))
