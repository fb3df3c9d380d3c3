"""JellyML for PyTorch Lightning: a snapshot of your code in every checkpoint.

``Trainer(plugins=[JellyMLLightningPlugin()])``; for strategies that save without a
CheckpointIO (FSDP, DeepSpeed sharded checkpoints), ``Trainer(callbacks=[JellyMLCallback()])``.
Works with ``lightning.pytorch`` and ``pytorch_lightning`` alike.
"""

from __future__ import annotations

from ._snapshot import JellyMLLightningWarning
from ._version import __version__
from .callback import JellyMLCallback
from .plugin import JellyMLLightningPlugin

__all__ = ["JellyMLCallback", "JellyMLLightningPlugin", "JellyMLLightningWarning", "__version__"]
