"""A tiny Accelerate run on CPU with ``jellyml.integrations.accelerate.attach``, for
test_accelerate.py.

Usage: python accelerate_train.py OUT SAVES [REPO] [--resume]  (or under ``torchrun``)

Trains a linear model for SAVES steps, calling ``accelerator.save_state()`` after each, with
``ProjectConfiguration(project_dir=OUT, automatic_checkpoint_naming=True, total_limit=3)``.
REPO, when given, is passed as ``git_repo_path``; without it the snapshot comes from
``JELLYML_SNAPSHOT`` (or the entry script's repository). ``--resume`` first loads the newest
checkpoint with ``load_state`` and goes on from its step. Each process writes
``OUT/rank<N>.json``: its step, whether it holds a snapshot, and the parameters' sum.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed

from jellyml.integrations.accelerate import attach


def main(argv: list[str]) -> None:
    resume = "--resume" in argv
    args = [a for a in argv if a != "--resume"]
    out, saves = Path(args[0]), int(args[1])
    options = {"git_repo_path": args[2]} if len(args) > 2 else {}
    config = ProjectConfiguration(
        project_dir=str(out), automatic_checkpoint_naming=True, total_limit=3
    )
    accelerator = Accelerator(cpu=True, project_config=config)
    set_seed(0)
    attached = attach(accelerator, **options)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    step = torch.zeros(1)
    accelerator.register_for_checkpointing(_Step(step))
    if resume:
        newest = max((out / "checkpoints").iterdir(), key=lambda p: int(p.name.split("_")[1]))
        accelerator.load_state(str(newest))
        accelerator.project_configuration.iteration = int(newest.name.split("_")[1]) + 1
    for _ in range(saves):
        loss = model(torch.ones(2, 4)).pow(2).mean()
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        accelerator.save_state()
    report = {
        "step": int(step.item()),
        "has_snapshot": attached.snapshot is not None,
        "params": float(sum(p.detach().sum() for p in model.parameters())),
    }
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))
    accelerator.end_training()


class _Step:
    """The step counter, saved by accelerate as a custom state (a tensor in a dict)."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"step": self.tensor}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.tensor.copy_(state["step"])


if __name__ == "__main__":
    main(sys.argv[1:])
