"""``JellyMLCallback``, for strategies that save without a CheckpointIO."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from . import _lightning
from ._lightning import log_info
from ._snapshot import Snapshotter
from .plugin import JellyMLLightningPlugin, is_wrapping_io

if TYPE_CHECKING:
    import torch
    from lightning.pytorch.callbacks import Callback as _CallbackBase
else:
    _CallbackBase = _lightning.new_base("_CallbackBase", _lightning.CALLBACK)

_MAX_WRAPPING_DEPTH = 16


def find_plugin(strategy: Any) -> Optional[JellyMLLightningPlugin]:
    """The JellyMLLightningPlugin in the strategy's chain of wrapping CheckpointIOs, if any."""
    io = getattr(strategy, "checkpoint_io", None)
    for _ in range(_MAX_WRAPPING_DEPTH):
        if isinstance(io, JellyMLLightningPlugin):
            return io
        if not is_wrapping_io(io):
            return None
        io = getattr(io, "checkpoint_io", None)
    return None


class JellyMLCallback(_CallbackBase):
    """Adds a snapshot of your code to the checkpoint dict in ``on_save_checkpoint``.

    Use it where the strategy saves checkpoints without going through a CheckpointIO, so that
    ``JellyMLLightningPlugin`` never sees them: FSDP and DeepSpeed sharded saves (the snapshot
    lands in the files holding the checkpoint's non-model entries, for example FSDP's
    ``<checkpoint dir>/meta.pt``). The snapshot is made at setup, on every rank at once (in a
    distributed run rank 0 runs git and the others receive its bytes); keys the checkpoint
    already has are kept. With a JellyMLLightningPlugin in the same Trainer, the callback uses the
    plugin's snapshot and its own options are unused.

    Args: as ``jellyml.create_snapshot`` (``git_repo_path`` defaults to the repository of the
    entry script, else the one holding the current directory as it is now).
    """

    def __init__(
        self,
        git_repo_path: Optional[str] = None,
        out_git_bundle_path: Optional[str] = None,
        create_git_repo: bool = False,
        **options: Any,
    ) -> None:
        self._snapshotter = Snapshotter(
            git_repo_path, out_git_bundle_path, create_git_repo, options
        )

    @property
    def snapshot(self) -> Optional[dict[str, torch.Tensor]]:
        """The snapshot added to checkpoints; None until setup."""
        return self._snapshotter.snapshot

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self._snapshotter.snapshot is not None:
            return
        # Every rank calls setup at the same point, so the snapshot can be shared here, also
        # when only rank 0's plugin holds one (it makes it when it is built).
        plugin = find_plugin(trainer.strategy)
        if plugin is not None:
            self._snapshotter.snapshot = plugin.setup_snapshot()
        else:
            self._snapshotter.take_collectively(log=log_info)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        for key, value in self._snapshotter.take_late(type(self).__name__).items():
            checkpoint.setdefault(key, value)
