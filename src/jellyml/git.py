"""``jellyml git MODEL ARGS...`` as a Python function (the spec's public door).

Every ``{}`` in the arguments becomes the path of the model's git bundle, then git runs with
them; the work is done by ``jellyml.read.passthrough.run_git``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .read.passthrough import run_git


@dataclass
class GitArgs_dataclass:
    """``args[0]`` is the path to the model file; the rest go to git.

    Example: ``GitArgs_dataclass(["model_file.pt", "fetch", "{}"])``.
    """

    args: list[str] = field(default_factory=list)


#: The spec's annotation names this type too.
GitArgs = GitArgs_dataclass


def git(args: GitArgs_dataclass) -> int:
    """Run git on the model's bundle; return git's exit code (0 when git succeeded).

    Problems with the model file arrive as ``JellyMLError`` exceptions.
    """
    return run_git(list(args.args))
