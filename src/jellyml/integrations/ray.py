"""Ray Train: every checkpoint a run reports carries a snapshot of your code.

``TorchTrainer(..., run_config=RunConfig(storage_path=..., callbacks=[JellyMLCallback()]))``:
one call, nothing to change in the training function. The snapshot is taken once per run,
when the callback is made, in the driver: from ``JELLYML_SNAPSHOT`` when it is set (how a job
submitted with ``ray job submit`` gets it: Ray uploads the working directory without ``.git``,
and the job's ``runtime_env`` ``env_vars`` reach the entrypoint), else with git from the
repository the driver runs in. Neither: one warning, and the run trains on without snapshots.

After every ``ray.train.report(..., checkpoint=...)``, once all workers have reported and
Ray has persisted the checkpoint to the run's storage (``RunConfig(storage_path=...)``: a
local folder, S3, GCS, ...), the callback writes ``jellyml-snapshot.jelly`` into that persisted
``checkpoint_*`` folder: one process writes it (Ray Train's controller), whatever the number of
workers, and the workers run no git. On a local filesystem each folder's file is a hard link of
one (``jellyml.integrations.files``), so ``num_to_keep`` rotation works as before; elsewhere
it is written through the checkpoint's own ``pyarrow`` filesystem (Ray's credentials, one PUT
on S3 for a small file).

Checked against Ray 2.60's Train V2 (the default since Ray 2.51; ``RAY_TRAIN_V2_ENABLED=0``
selects the old Tune-based trainer, whose callbacks are Tune callbacks, which this is not):
``RunConfig.callbacks`` takes ``ray.train.v2.api.callback.UserCallback`` objects, run in the
controller process; ``after_report(run_context, metrics, checkpoint)`` receives the checkpoint
"persisted to storage" (``checkpoint.path`` in ``checkpoint.filesystem``), or None when no
worker reported one.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from ray.train.v2.api.callback import UserCallback

from ..containers.sidecar import SNAPSHOT_FILE_NAME, file_pieces
from . import RunSnapshot
from .files import RunFiles

__all__ = ["JellyMLCallback"]

#: Under Ray Train's logger name space.
logger = logging.getLogger("ray.train.jellyml")


class JellyMLCallback(UserCallback):
    """Writes a snapshot of your code into every checkpoint folder a Ray Train run persists.

    Args: as ``jellyml.create_snapshot`` (``git_repo_path`` defaults to the driver script's
    repository, or the current directory; ``from_file``; ``history``, ``exclude``, ...).
    Unknown options fail here, with ``TypeError``.
    """

    def __init__(
        self,
        git_repo_path: Optional[str] = None,
        out_git_bundle_path: Optional[str] = None,
        create_git_repo: bool = False,
        **options: Any,
    ) -> None:
        run = RunSnapshot(
            {
                "git_repo_path": git_repo_path,
                "out_git_bundle_path": out_git_bundle_path,
                "create_git_repo": create_git_repo,
                # The driver is one process of its own, not a rank of a process group.
                "distributed": False,
                **options,
            }
        )
        self.snapshot: Optional[dict[str, Any]] = run.take(log=logger.info) or None
        self._files: Optional[RunFiles] = None

    def after_report(self, run_context: Any, metrics: Any, checkpoint: Any) -> None:
        if checkpoint is None or self.snapshot is None:
            return
        self.write_into(checkpoint.path, checkpoint.filesystem)

    def write_into(self, folder: str, filesystem: Any = None) -> Optional[str]:
        """Write the snapshot file into ``folder`` of ``filesystem`` (a ``pyarrow.fs``
        filesystem; None or a local one: the local folder, as a hard link where possible)."""
        if self.snapshot is None:
            return None
        if filesystem is None or getattr(filesystem, "type_name", "local") == "local":
            if self._files is None:
                self._files = RunFiles(self.snapshot)
            return self._files.write_into(folder)
        target = f"{folder.rstrip('/')}/{SNAPSHOT_FILE_NAME}"
        # pyarrow's S3 stream sends a file smaller than a part in one PutObject, on close;
        # an object store shows an object whole or not at all.
        with filesystem.open_output_stream(target) as out:
            for piece in file_pieces(self.snapshot):
                out.write(memoryview(piece).cast("B"))
        return target

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into Ray's controller: the snapshot's bytes go (no torch needed to hold
        # them), the link bookkeeping starts anew there.
        snapshot = None
        if self.snapshot is not None:
            snapshot = {key: bytes(_buffer(value)) for key, value in self.snapshot.items()}
        return {"snapshot": snapshot, "_files": None}


def _buffer(value: Any) -> Any:
    return value if isinstance(value, (bytes, bytearray)) else value.numpy()
