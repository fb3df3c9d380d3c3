"""``jellyml eat`` (``load-snapshot-from``, ``load``) as a Python function (the spec's door).

``eat`` returns 0 and prints nothing; every failure arrives as a ``JellyMLError`` subclass
(model file problems, not a git repository, a non-empty folder that is not a repository,
another jellyml busy in the repository, ignored files in the way, ...), never as a return code.
The work is done by ``jellyml.restore.eat.eat_snapshot`` (``eat_into_worktree`` of
``jellyml.restore.worktrees`` with a worktree), which returns what happened.
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
    #: Check the snapshot out in a new linked worktree at this folder (``--worktree DIR``),
    #: leaving the repository's own worktree as it is.
    worktree: Optional[str] = None
    #: Land on this new branch at the snapshot commit (``-b NAME``), not a detached HEAD.
    branch: Optional[str] = None
    #: With ``worktree``: initialise the submodules there (``--recurse-submodules``).
    recurse_submodules: bool = False


#: The spec's annotation names these too.
EatArgsWithModel = EatArgsWithModel_dataclass


def eat(
    args: EatArgsWithModel_dataclass,
    *,
    worktree: Optional[str] = None,
    branch: Optional[str] = None,
    recurse_submodules: Optional[bool] = None,
) -> int:
    """Check out the code saved in ``args.model`` into ``args.code_dir`` (default: the current
    directory), putting uncommitted work aside for ``undo``; with ``worktree`` (here or in
    ``args``), in a new linked worktree at that folder instead, touching nothing else. Returns
    0; raises on failure."""
    worktree = worktree if worktree is not None else args.worktree
    branch = branch if branch is not None else args.branch
    if worktree is None:
        eat_snapshot(args.model, args.code_dir, force=args.force, branch=branch)
        return 0
    from .restore.worktrees import eat_into_worktree

    recurse = args.recurse_submodules if recurse_submodules is None else recurse_submodules
    eat_into_worktree(
        args.model,
        worktree,
        args.code_dir,
        force=args.force,
        branch=branch,
        recurse_submodules=recurse,
    )
    return 0
