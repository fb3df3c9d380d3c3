"""git run on a snapshot's bundle: the engine of ``jellyml git MODEL ARGS...``.

Every ``{}`` in the arguments becomes the path of the bundle extracted from the model file, then
git runs with them (no shell), terminal attached. The temporary bundle is always removed.
"""

from __future__ import annotations

from ..errors import MissingModelArgError
from ..gitcore import run as gitrun
from .reader import temporary_bundle


def run_git(args: list[str]) -> int:
    """Run git with ``args[1:]``, ``{}`` replaced by the bundle of ``args[0]``; git's exit code."""
    if not args:
        raise MissingModelArgError()
    gitrun.check_git()
    with temporary_bundle(args[0]) as (_snapshot, bundle):
        return gitrun.passthrough([arg.replace("{}", bundle) for arg in args[1:]])
