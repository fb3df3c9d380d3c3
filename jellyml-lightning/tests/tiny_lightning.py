"""A tiny LightningModule and fast Trainer settings, for either Lightning import name.

Imported by the tests and by ddp_train.py (a script Lightning relaunches once per rank).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

import torch

#: Lightning's two import names; every test that matters runs under both.
NAMESPACES = ("lightning.pytorch", "pytorch_lightning")


def lightning(namespace: str) -> ModuleType:
    return importlib.import_module(namespace)


@functools.cache
def model_class(namespace: str) -> type[Any]:
    pl = lightning(namespace)

    class TinyModel(pl.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

        def train_dataloader(self) -> Any:
            generator = torch.Generator().manual_seed(0)
            x = torch.randn(16, 4, generator=generator)
            data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
            return torch.utils.data.DataLoader(data, batch_size=4)

    TinyModel.__qualname__ = TinyModel.__name__ = f"TinyModel_{namespace.replace('.', '_')}"
    return TinyModel


def fast_trainer_args(root: Any) -> dict[str, Any]:
    """A few batches on CPU, no logger, no progress bar: seconds, not minutes, on 2 cores."""
    return {
        "accelerator": "cpu",
        "limit_train_batches": 2,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(root),
    }
