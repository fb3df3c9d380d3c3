"""Hugging Face Accelerate: every ``accelerator.save_state`` folder carries a snapshot of your code.

``jellyml.integrations.accelerate.attach(accelerator)``, once, after the ``Accelerator`` is
made. The snapshot is made then, collectively (under ``torchrun`` / ``accelerate launch`` the
process group is up: global rank 0 runs git, the others receive its bytes; a worker given
``JELLYML_SNAPSHOT`` runs no git at all), and a ``save_state`` pre-hook writes it as
``jellyml-snapshot.jelly`` into every folder ``save_state`` saves to, on the main process
(each node's main process with ``save_on_each_node``), atomically, as hard links of one file
where the filesystem allows (``jellyml.integrations.files``).

Checked against accelerate 1.16's ``Accelerator.save_state``: with
``ProjectConfiguration(automatic_checkpoint_naming=True, total_limit=N)`` the oldest
``checkpoints/checkpoint_<i>`` folders are deleted (on the main process) and the new folder is
made before the pre-hooks run, on every process, with the folder as their last argument; the
weights, optimizer, scheduler, sampler and RNG files are written after them. So the snapshot
file is in the folder before anything else, and ``load_state`` (which reads the files it knows
by name) is unchanged. The snapshot is never registered with ``register_for_checkpointing``,
which pickles objects (``custom_checkpoint_<i>.pkl``, loaded with ``weights_only=False``).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from . import RunSnapshot
from .files import RunFiles

__all__ = ["AttachedSnapshot", "attach"]

#: Under accelerate's own logger name space, so its log level settings apply.
logger = logging.getLogger("accelerate.jellyml")


class AttachedSnapshot:
    """What ``attach`` returns: the run's snapshot and the registered hook."""

    def __init__(self, accelerator: Any, run: RunSnapshot) -> None:
        self._accelerator = accelerator
        self._run = run
        self._files = RunFiles(run.snapshot) if run.snapshot else None
        self.handle = accelerator.register_save_state_pre_hook(self._pre_save)

    @property
    def snapshot(self) -> Optional[dict[str, Any]]:
        """The snapshot every ``save_state`` folder gets (None when there is none to be had:
        no repository and no ``JELLYML_SNAPSHOT``, which was said once)."""
        return self._run.snapshot or None

    def write_into(self, folder: str) -> Optional[str]:
        """Write the snapshot file into ``folder`` now (the pre-hook does, on the main process)."""
        if self._files is None:
            return None
        return self._files.write_into(os.fspath(folder))

    def remove(self) -> None:
        """Stop writing the snapshot into ``save_state`` folders."""
        self.handle.remove()

    def _pre_save(self, models: Any, weights: Any, output_dir: str) -> None:
        if _writes(self._accelerator):
            self.write_into(output_dir)


def attach(accelerator: Any, **options: Any) -> AttachedSnapshot:
    """Snapshot the code now (collectively: call it on every process) and write it into every
    ``save_state`` folder of ``accelerator`` from now on.

    Args:
        accelerator: the ``accelerate.Accelerator``.
        **options: ``jellyml.create_snapshot``'s options (``git_repo_path``, ``history``,
            ``exclude``, ``from_file``, ...); an unknown one raises ``TypeError`` here.
    """
    run = RunSnapshot(options)
    run.take(log=logger.info)
    return AttachedSnapshot(accelerator, run)


def _writes(accelerator: Any) -> bool:
    """Whether this process writes the file: the main process, or each node's main process
    when ``save_state`` saves on each node."""
    if getattr(accelerator, "is_main_process", True):
        return True
    config = getattr(accelerator, "project_configuration", None)
    on_each_node = bool(getattr(config, "save_on_each_node", False))
    return on_each_node and bool(getattr(accelerator, "is_local_main_process", False))
