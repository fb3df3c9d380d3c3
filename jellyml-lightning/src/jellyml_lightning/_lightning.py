"""Lightning under both of its import names.

``lightning.pytorch`` (distribution ``lightning``) and ``pytorch_lightning`` (distribution
``pytorch-lightning``) are two copies of the same code with distinct classes: a Trainer imported
from one checks ``isinstance(plugin, CheckpointIO)`` against its own copy only. Our classes
subclass the matching class of every copy that is installed, so one ``JellyMLLightningPlugin``
works with either Trainer (the spec's example imports ``pytorch_lightning``).
"""

from __future__ import annotations

import importlib
import types
from typing import Any

#: Lightning's import names, paired with the import name of its Fabric copy.
NAMESPACES = (("lightning.pytorch", "lightning.fabric"), ("pytorch_lightning", "lightning_fabric"))


def _installed() -> list[tuple[str, str]]:
    found = []
    for pytorch, fabric in NAMESPACES:
        try:
            importlib.import_module(pytorch)
        except ImportError:
            continue
        found.append((pytorch, fabric))
    if not found:
        raise ImportError(
            "jellyml-lightning needs Lightning 2.x, and it is not installed.",
            name="lightning",
        )
    return found


INSTALLED = _installed()


def classes(module: str, name: str, *, fabric: bool = False) -> tuple[type[Any], ...]:
    """``name`` from ``<namespace>.<module>`` of every installed Lightning copy."""
    return tuple(
        getattr(importlib.import_module(f"{pair[fabric]}.{module}"), name) for pair in INSTALLED
    )


#: Lightning's base for a CheckpointIO that wraps another (AsyncCheckpointIO uses it too): a
#: strategy fills in its default IO (TorchCheckpointIO, XLACheckpointIO, ...) as the wrapped one.
WRAPPING_IO = classes("plugins.io.wrapper", "_WrappingCheckpointIO")
CALLBACK = classes("callbacks", "Callback")
TORCH_IO = classes("plugins.io.torch_io", "TorchCheckpointIO", fabric=True)


def new_base(name: str, bases: tuple[type[Any], ...]) -> type[Any]:
    """One class deriving from ``bases`` (an ABC each): ours subclass it."""
    return types.new_class(name, bases, exec_body=lambda ns: ns.update(__module__=__name__))


def _rank_zero_module() -> Any:
    return importlib.import_module(f"{INSTALLED[0][0]}.utilities.rank_zero")


def rank_zero() -> bool:
    """Whether Lightning counts this process as global rank 0 (from the environment before
    setup, from the strategy after), as its ``rank_zero_only`` decorator does."""
    return getattr(_rank_zero_module().rank_zero_only, "rank", 0) == 0


def log_info(message: str) -> None:
    """``message`` through Lightning's own logging, on rank 0 only (``rank_zero_info``)."""
    _rank_zero_module().rank_zero_info(message)
