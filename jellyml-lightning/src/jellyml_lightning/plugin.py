"""``JellyMLLightningPlugin``: a Lightning CheckpointIO that adds the code snapshot to every save.

It wraps another CheckpointIO (the strategy's default ``TorchCheckpointIO``, or the one passed
as ``checkpoint_io``), which does the actual saving, loading and removing; this one only adds
the snapshot's two tensors to the checkpoint dict on the way through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from . import _lightning
from ._lightning import log_info
from ._snapshot import Snapshotter, add_snapshot

if TYPE_CHECKING:
    import torch
    from lightning.fabric.plugins import CheckpointIO
    from lightning.pytorch.plugins.io.wrapper import _WrappingCheckpointIO as _WrappingBase
else:
    CheckpointIO = Any
    _WrappingBase = _lightning.new_base("_WrappingBase", _lightning.WRAPPING_IO)


def is_wrapping_io(io: object) -> bool:
    """True for a CheckpointIO that wraps another (ours, AsyncCheckpointIO, ...), any namespace."""
    return isinstance(io, _lightning.WRAPPING_IO)


class JellyMLLightningPlugin(_WrappingBase):
    """Adds a snapshot of your code to every checkpoint Lightning saves.

    ``Trainer(plugins=[JellyMLLightningPlugin()])``. The snapshot is made once, when the plugin
    is built (just before the Trainer that uses it): the code as it was when training started,
    even if you edit it while the run goes on. Lightning's log then says so once (commit, clean
    or not, size). It is added to every checkpoint: ModelCheckpoint's top-k and last, and
    ``trainer.save_checkpoint``. In a distributed run only the process that becomes global rank
    0, which is the one that saves, runs git (see ``Snapshotter.take_now`` for why then).

    Args:
        git_repo_path, out_git_bundle_path, create_git_repo: as for ``jellyml.create_snapshot``
            (the default repository is the entry script's, else the one holding the current
            directory as it is now).
        checkpoint_io: the CheckpointIO that saves, loads and removes files (default: the
            strategy's own, usually ``TorchCheckpointIO``).
        **options: more ``jellyml.create_snapshot`` options (``max_total_size``,
            ``secret_patterns``, ``max_untracked_file_size``, ``distributed``, and any it
            gains later), passed through unchanged; an unknown name fails here.
    """

    def __init__(
        self,
        git_repo_path: Optional[str] = None,
        out_git_bundle_path: Optional[str] = None,
        create_git_repo: bool = False,
        *,
        checkpoint_io: Optional[CheckpointIO] = None,
        **options: Any,
    ) -> None:
        # Lightning's _WrappingCheckpointIO.__init__ is not called: its isinstance checks know
        # one namespace only. This sets the same two attributes for both.
        self._snapshotter = Snapshotter(
            git_repo_path, out_git_bundle_path, create_git_repo, options
        )
        self._checkpoint_io = checkpoint_io
        self._base_checkpoint_io_configured = checkpoint_io is not None and (
            not is_wrapping_io(checkpoint_io)
            or bool(getattr(checkpoint_io, "_base_checkpoint_io_configured", False))
        )
        self._snapshotter.take_now()

    @property
    def checkpoint_io(self) -> Optional[CheckpointIO]:
        """The wrapped CheckpointIO."""
        return self._checkpoint_io

    @checkpoint_io.setter
    def checkpoint_io(self, checkpoint_io: CheckpointIO) -> None:
        # Lightning's strategy calls this with its default IO every time it reads its own
        # checkpoint_io: only the first call on an unconfigured chain counts.
        if self._checkpoint_io is None:
            self._base_checkpoint_io_configured = True
            self._checkpoint_io = checkpoint_io
        elif is_wrapping_io(self._checkpoint_io) and not self._base_checkpoint_io_configured:
            self._base_checkpoint_io_configured = True
            wrapped: Any = self._checkpoint_io
            wrapped.checkpoint_io = checkpoint_io

    @property
    def snapshot(self) -> Optional[dict[str, torch.Tensor]]:
        """The snapshot this run's checkpoints carry; None until setup."""
        return self._snapshotter.snapshot

    def setup_snapshot(self) -> dict[str, torch.Tensor]:
        """The snapshot, held by every rank once this returns (JellyMLCallback's setup calls it).

        Collective in a distributed run: global rank 0's snapshot (made when the plugin was
        built) is broadcast to the others, so call it on every rank at the same point.
        """
        return self._snapshotter.take_collectively(log=log_info)

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None
    ) -> None:
        snapshot = self._snapshotter.take_late(type(self).__name__)
        self._base().save_checkpoint(
            add_snapshot(checkpoint, snapshot), path, storage_options=storage_options
        )

    def load_checkpoint(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._base().load_checkpoint(*args, **kwargs)

    def remove_checkpoint(self, path: Any) -> None:
        self._base().remove_checkpoint(path)

    def teardown(self) -> None:
        if self._checkpoint_io is not None:
            self._checkpoint_io.teardown()

    def _base(self) -> CheckpointIO:
        if self._checkpoint_io is None:  # used outside a strategy, which would have set one
            base: CheckpointIO = _lightning.TORCH_IO[0]()
            self.checkpoint_io = base
            return base
        return self._checkpoint_io

    def __repr__(self) -> str:
        return f"{type(self).__name__}(checkpoint_io={self._checkpoint_io!r})"
