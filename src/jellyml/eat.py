"""``jellyml eat`` (``load-snapshot-from``, ``load``) as a Python function (the spec's door).

``eat`` returns 0 and prints nothing; every failure arrives as a ``JellyMLError`` subclass
(model file problems, not a git repository, a non-empty folder that is not a repository,
another jellyml busy in the repository, ignored files in the way, ...), never as a return code.
The work is done by ``jellyml.restore.eat.eat_snapshot``, which returns what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .restore.eat import eat_snapshot


@dataclass
class EatArgsWithModel_dataclass:
    model: str
    quiet: bool = True
    code_dir: Optional[str] = None
    no_donut: bool = True
    #: Check the snapshot out even if it shares no history with the repository (``--force``).
    force: bool = False


#: The spec's annotation names these too.
EatArgsWithModel = EatArgsWithModel_dataclass


def eat(args: EatArgsWithModel_dataclass) -> int:
    """Check out the code saved in ``args.model`` into ``args.code_dir`` (default: the current
    directory), putting uncommitted work aside for ``undo``. Returns 0; raises on failure."""
    eat_snapshot(args.model, args.code_dir, force=args.force)
    return 0
