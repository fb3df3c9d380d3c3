"""One snapshot per run, made when asked at setup and then reused for every checkpoint."""

from __future__ import annotations

import inspect
import os
import warnings
from typing import TYPE_CHECKING, Any, Optional

import jellyml

if TYPE_CHECKING:
    import torch


class JellyMLLightningWarning(UserWarning):
    """The snapshot could not be made at setup, so it was made at the first save."""


class Snapshotter:
    """``jellyml.create_snapshot``'s options, and the snapshot once it is made."""

    def __init__(
        self,
        git_repo_path: Optional[str],
        out_git_bundle_path: Optional[str],
        create_git_repo: bool,
        options: dict[str, Any],
    ) -> None:
        # The repository is fixed now, when the Trainer is built, even if the script later
        # changes its working directory.
        path = os.path.abspath(git_repo_path if git_repo_path is not None else os.getcwd())
        # Check the option names now rather than at setup, minutes into a run.
        inspect.signature(jellyml.create_snapshot).bind(
            path, out_git_bundle_path, create_git_repo, **options
        )
        self.args = (path, out_git_bundle_path, create_git_repo)
        self.options = options
        self.snapshot: Optional[dict[str, torch.Tensor]] = None

    def take(self) -> dict[str, torch.Tensor]:
        """The snapshot, made now if it was not yet. Collective in a distributed job (unless
        ``distributed=False`` was given): every rank must call it at the same point."""
        if self.snapshot is None:
            self.snapshot = jellyml.create_snapshot(*self.args, **self.options)
        return self.snapshot

    def take_late(self, who: str) -> dict[str, torch.Tensor]:
        """At a save, when setup never made the snapshot: make it here, on this rank only
        (a save runs on rank 0 alone, so it must not wait for the others)."""
        if self.snapshot is None:
            warnings.warn(
                f"JellyML's {who} had no snapshot when Lightning saved a checkpoint, so it made "
                "one now: it holds the code as it is at this first save, not at setup. This "
                "happens when the plugin is used outside a Trainer, or when Lightning did not "
                "load jellyml-lightning's callback entry point; add "
                "jellyml_lightning.JellyMLCallback to the Trainer's callbacks to fix it.",
                JellyMLLightningWarning,
                stacklevel=3,
            )
            self.snapshot = jellyml.create_snapshot(
                *self.args, **{**self.options, "distributed": False}
            )
        return self.snapshot


def add_snapshot(checkpoint: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
    """``checkpoint`` plus the snapshot's keys, unless it already has them (from JellyMLCallback,
    or put there by the user's own code): what is there is kept."""
    return {**checkpoint, **{k: v for k, v in snapshot.items() if k not in checkpoint}}
