"""``JellyMLCallback``: the Hugging Face Trainer's checkpoint folders carry a snapshot of your code.

``Trainer(..., callbacks=[JellyMLCallback()])``. The snapshot is made once, when training
begins (``on_train_begin``, on every rank at once: global rank 0 runs git, the others receive
its bytes), and written as ``jellyml-snapshot.jelly`` (see ``jellyml.save_snapshot``) into every
folder the Trainer saves a model to: each ``checkpoint-N`` and the folder of
``trainer.save_model()``. Only the process that saves (``args.should_save``) writes it,
atomically. Nothing is added to the model's weights; ``jellyml show/eat checkpoint-N`` read it.

When the file is written, checked against transformers 5.24's ``trainer.py``:

- ``Trainer._save_checkpoint`` saves the model (``save_model`` -> ``_save`` ->
  ``model.save_pretrained``), optimizer, RNG and ``trainer_state.json``, then starts the Hub
  upload (``_push_from_checkpoint``: ``output_dir``, and with ``hub_strategy`` "checkpoint"
  or "all_checkpoints" the checkpoint folder, uploaded in the background), then rotates old
  checkpoints, and only then fires ``on_save``. A file written in ``on_save`` would miss that
  step's upload.
- So, at ``on_train_begin`` the callback wraps the model's ``save_pretrained`` on that model
  object (an instance attribute; the class is untouched): the wrapper writes the snapshot
  file into the folder first, then saves the model. Every ``checkpoint-N`` therefore has the
  file before anything else is written to it, so before its upload, its rotation and
  ``on_save``; so do the folders of ``trainer.save_model(dir)``, ``trainer.push_to_hub()`` and
  your own ``model.save_pretrained(dir)`` calls after training.
- A model that is not a ``PreTrainedModel`` (the Trainer then writes its state dict itself)
  is covered by the Trainer's hooks instead: ``on_push_begin``, which fires before each
  upload, writes the file into the checkpoint folder and into ``output_dir`` (what is
  uploaded), and ``on_save`` writes it into each ``checkpoint-N`` under ``output_dir``.
  ``save_model`` has no hook: for such a model call ``jellyml.save_snapshot(folder,
  callback.snapshot)`` after ``trainer.save_model(folder)``.

Rotation (``save_total_limit``) and ``resume_from_checkpoint`` see one more small file in a
checkpoint folder, which they ignore; ``from_pretrained`` on a checkpoint folder is unchanged.
On a local filesystem the folders' files are hard links of one (``integrations.files``): ten
saves take the disk of one snapshot file. With ``JELLYML_SNAPSHOT`` set, the snapshot comes from
that file and no git runs; without it and without a repository, one warning, and training goes
on without snapshots.
"""

from __future__ import annotations

import logging
import os
import types
from typing import Any, Optional

from transformers import TrainerCallback

from ..containers.sidecar import SNAPSHOT_FILE_NAME
from . import RunSnapshot
from .files import RunFiles

__all__ = ["JellyMLCallback"]

#: Under transformers' own logger, so ``args.log_level`` / ``transformers.logging`` apply to it.
logger = logging.getLogger("transformers.integrations.jellyml")
_CHECKPOINT_PREFIX = "checkpoint"  # transformers.trainer_utils.PREFIX_CHECKPOINT_DIR


class JellyMLCallback(TrainerCallback):
    """Writes a snapshot of your code into every checkpoint folder the Trainer saves.

    One line in the training log says the snapshot was made (its commit, whether uncommitted
    work went in, its size), on global rank 0, as the Lightning plugin's does.

    Args: as ``jellyml.create_snapshot`` (``git_repo_path`` defaults to the entry script's
    repository, or the current directory as it is now; ``out_git_bundle_path``,
    ``create_git_repo``, and the keyword options such as ``history``, ``exclude``). Unknown
    options fail here, with ``TypeError``.
    """

    def __init__(
        self,
        git_repo_path: Optional[str] = None,
        out_git_bundle_path: Optional[str] = None,
        create_git_repo: bool = False,
        **options: Any,
    ) -> None:
        self._run = RunSnapshot(
            {
                "git_repo_path": git_repo_path,
                "out_git_bundle_path": out_git_bundle_path,
                "create_git_repo": create_git_repo,
                **options,
            }
        )
        self._written: set[str] = set()
        self._files: Optional[RunFiles] = None

    @property
    def snapshot(self) -> Optional[dict[str, Any]]:
        """The snapshot this run's checkpoints carry; None until training begins (and when
        there is none to be had: no repository and no ``JELLYML_SNAPSHOT``, said once)."""
        return self._run.snapshot or None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Every rank calls on_train_begin at the same point: the collective is safe here. The
        # line is a warning so that it shows at transformers' default level (the Lightning
        # plugin's shows at Lightning's): args.log_level="error" silences it.
        self._run.take(log=logger.warning)
        model = kwargs.get("model")
        if model is not None and callable(getattr(model, "save_pretrained", None)):
            _wrap_save_pretrained(model, self)

    def on_push_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Fired on the saving process before a checkpoint's upload (_push_from_checkpoint) and
        # at the start of push_to_hub, both of which upload output_dir.
        if args.should_save and self.snapshot is not None:
            self._write(_checkpoint_folder(args, state), only_if_missing=True)
            self._write(args.output_dir, only_if_missing=False)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if args.should_save and self.snapshot is not None:
            self._write(_checkpoint_folder(args, state), only_if_missing=True)

    def write_into(self, folder: str) -> Optional[str]:
        """Write the snapshot file into ``folder`` now (``save_pretrained``'s wrapper does): a
        hard link of the run's first one where the filesystem allows (``RunFiles``)."""
        if self.snapshot is None:
            return None
        if self._files is None or self._files.snapshot is not self.snapshot:
            self._files = RunFiles(self.snapshot)
        path = self._files.write_into(folder)
        self._written.add(os.path.realpath(folder))
        return path

    def _write(self, folder: str, *, only_if_missing: bool) -> None:
        if not os.path.isdir(folder) and only_if_missing:
            return  # not saved by this run (or already rotated away)
        present = os.path.isfile(os.path.join(folder, SNAPSHOT_FILE_NAME))
        if os.path.realpath(folder) in self._written and present:
            return
        if only_if_missing and present:
            return
        self.write_into(folder)


def _checkpoint_folder(args: Any, state: Any) -> str:
    return os.path.join(args.output_dir, f"{_CHECKPOINT_PREFIX}-{state.global_step}")


def _wrap_save_pretrained(model: Any, callback: JellyMLCallback) -> None:
    """Make ``model.save_pretrained`` write the snapshot file first (see the module docstring).

    A bound method stored on the instance: ``copy.deepcopy(model)`` rebinds it to the copy, and
    it calls the class's own ``save_pretrained``, so wrapping twice (a second Trainer) replaces
    the first wrapper rather than stacking on it.
    """

    def save_pretrained(self: Any, save_directory: Any, *args: Any, **kwargs: Any) -> Any:
        is_main = kwargs.get("is_main_process", args[0] if args else True)
        # A file where the folder should be: let save_pretrained refuse it in its own words.
        if is_main and not os.path.isfile(save_directory):
            callback.write_into(os.fspath(save_directory))
        return type(self).save_pretrained(self, save_directory, *args, **kwargs)

    save_pretrained.__doc__ = type(model).save_pretrained.__doc__
    save_pretrained.__wrapped__ = type(model).save_pretrained  # type: ignore[attr-defined]
    # nn.Module.__setattr__ would also do; object's avoids any framework hook on attributes.
    object.__setattr__(model, "save_pretrained", types.MethodType(save_pretrained, model))
