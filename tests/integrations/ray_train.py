"""A tiny Ray Train run (``TorchTrainer``, 2 workers on CPU) with JellyML's callback, for
test_ray.py: ``train_func`` runs in the workers; run as a script it is a job's driver.

Usage: python ray_train.py ADDRESS STORAGE RESULT_JSON [S3_ENDPOINT]

Connects to the cluster at ADDRESS with the current directory as ``working_dir`` (Ray uploads it
without ``.git``) and ``JELLYML_SNAPSHOT`` passed to the workers through ``runtime_env``, as
``ray job submit --working-dir . --runtime-env-json '{"env_vars": ...}'`` does; trains with
``RunConfig(storage_path=STORAGE)`` (on S3 at S3_ENDPOINT when given) and writes the result's
checkpoint paths and the workers' reports to RESULT_JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

STEPS = 4
KEEP = 3


def train_func(config: dict[str, Any]) -> None:
    """Each worker saves its own file per step; rank 0 also reports what create_snapshot()
    gave it when asked (with JELLYML_SNAPSHOT set, that is the file's snapshot, no git)."""
    import ray.train
    import torch

    rank = ray.train.get_context().get_world_rank()
    extra: dict[str, Any] = {"cwd": os.getcwd()}
    if config.get("snapshot_in_workers"):
        import jellyml

        snapshot = jellyml.create_snapshot()  # collective: Ray set up the process group
        extra["commit"] = _commit(snapshot)
    for step in range(config.get("steps", STEPS)):
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"step": step, "rank": rank}, os.path.join(folder, f"model-{rank}.pt"))
            checkpoint = ray.train.Checkpoint.from_directory(folder)
            ray.train.report({"step": step, "rank": rank, **extra}, checkpoint=checkpoint)


def _commit(snapshot: dict[str, Any]) -> str:
    raw = bytes(snapshot["jellyml_code_snapshot"][:1024].numpy().tobytes())
    return str(json.loads(raw.split(b"\0", 1)[0])["commit"])


def trainer(storage: str, callbacks: list[Any], **run: Any) -> Any:
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    return TorchTrainer(
        train_func,
        train_loop_config=run.pop("config", {}),
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(
            storage_path=storage,
            callbacks=callbacks,
            checkpoint_config=CheckpointConfig(num_to_keep=KEEP),
            **run,
        ),
    )


def main(argv: list[str]) -> None:
    import ray

    from jellyml.integrations.ray import JellyMLCallback

    address, storage, result_json = argv[:3]
    # Ray Train runs the training function in a folder of its own unless told not to; the
    # workers' create_snapshot() then finds run.jelly, and the code to compare it with, here.
    env_vars = {"JELLYML_SNAPSHOT": os.environ["JELLYML_SNAPSHOT"], "RAY_CHDIR_TO_TRIAL_DIR": "0"}
    ray.init(address=address, runtime_env={"working_dir": ".", "env_vars": env_vars})
    run: dict[str, Any] = {"name": "job", "config": {"snapshot_in_workers": True}}
    if len(argv) > 3:
        import pyarrow.fs

        endpoint = argv[3]
        run["storage_filesystem"] = pyarrow.fs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            endpoint_override=endpoint,
            scheme="http",
            region="us-east-1",
        )
    result = trainer(storage, [JellyMLCallback()], **run).fit()
    with open(result_json, "w") as f:
        json.dump({"path": result.path, "metrics": result.metrics}, f, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
