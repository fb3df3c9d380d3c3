"""One snapshot per run, made once and then reused for every checkpoint.

The options, the collective making and the one log line are ``jellyml.integrations.RunSnapshot``
(shared with the Hugging Face callback); this adds Lightning's logging and rank.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

from jellyml.integrations import RunSnapshot

from . import _lightning


class JellyMLLightningWarning(UserWarning):
    """The snapshot was not made before Lightning saved a checkpoint, so it was made then."""


class Snapshotter(RunSnapshot):
    """``jellyml.create_snapshot``'s options, and the snapshot once it is made."""

    def __init__(
        self,
        git_repo_path: Optional[str],
        out_git_bundle_path: Optional[str],
        create_git_repo: bool,
        options: dict[str, Any],
    ) -> None:
        super().__init__(
            {
                "git_repo_path": git_repo_path,
                "out_git_bundle_path": out_git_bundle_path,
                "create_git_repo": create_git_repo,
                **options,
            }
        )

    def take_now(self) -> Optional[dict[str, Any]]:
        """Make the snapshot in the process that will save checkpoints, before any rank starts.

        A CheckpointIO has no setup hook (Lightning 2.6: the accelerator connector hands it to
        the strategy, which only calls save/load/remove/teardown on it, the saves on global
        rank 0 alone), so the plugin makes its snapshot when it is built, which every training
        script does before ``fit``. Collective if a process group is up already (every rank
        builds the plugin at the same point); otherwise only in the process Lightning deems
        rank 0 (``RANK``/``LOCAL_RANK``/``SLURM_PROCID``, as its ``rank_zero_only``): the ranks
        it launches itself, or torchrun's others, save nothing and run no git.
        """
        if self.options.get("distributed", True) is not False and self._world() is not None:
            return self.take(log=_lightning.log_info)
        if _lightning.rank_zero():
            return self.take_alone(log=_lightning.log_info)
        return None

    def take_late(self, who: str) -> dict[str, Any]:
        """At a save, when no snapshot was made: make it here, on this rank only (a save runs
        on rank 0 alone, so it must not wait for the others)."""
        if self.snapshot is None:
            warnings.warn(
                f"JellyML's {who} had no snapshot when Lightning saved a checkpoint on this "
                "process, so it made one now: it holds the code as it is at this save, not when "
                "the run started. This happens on a process that Lightning did not count as "
                "rank 0 when the plugin was built; add jellyml_lightning.JellyMLCallback to the "
                "Trainer's callbacks so that every rank holds the snapshot from setup on.",
                JellyMLLightningWarning,
                stacklevel=3,
            )
            return self.take_alone(log=_lightning.log_info)
        return self.snapshot


def add_snapshot(checkpoint: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
    """``checkpoint`` plus the snapshot's keys, unless it already has them (from JellyMLCallback,
    or put there by the user's own code): what is there is kept."""
    return {**checkpoint, **{k: v for k, v in snapshot.items() if k not in checkpoint}}
