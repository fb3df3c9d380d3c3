"""A tiny Hugging Face Trainer run with JellyMLCallback, on CPU, for test_transformers.py.

Usage: python hf_train.py REPO OUT MAX_STEPS [--resume]  (or under ``torchrun``)

Trains a GPT-2 of a few thousand parameters, built from a config (nothing is downloaded), on a
tiny in-memory data set, saving ``checkpoint-N`` every 2 steps into OUT with
``save_total_limit=2``, then ``trainer.save_model(OUT/final)``. Each rank writes
``OUT/rank<N>.json``: its global step, whether it holds a snapshot, and the snapshot's bytes'
sha256.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

import jellyml
from jellyml.integrations.transformers import JellyMLCallback

#: Every checkpoint's folder name starts with this (transformers' PREFIX_CHECKPOINT_DIR).
SAVE_STEPS = 2


def tiny_model() -> Any:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=32, n_positions=16, n_embd=8, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(config)


def tiny_dataset(n: int = 16) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 32, (n, 8), generator=generator)
    return [{"input_ids": row, "labels": row} for row in ids]


def training_args(out: Path, max_steps: int) -> Any:
    return TrainingArguments(
        output_dir=str(out),
        max_steps=max_steps,
        save_strategy="steps",
        save_steps=SAVE_STEPS,
        save_total_limit=2,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        logging_strategy="no",
        dataloader_num_workers=0,
        seed=0,
    )


def main() -> int:
    repo, out, max_steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    callback = JellyMLCallback(repo)
    trainer = Trainer(
        model=tiny_model(),
        args=training_args(out, max_steps),
        train_dataset=tiny_dataset(),
        callbacks=[callback],
    )
    trainer.train(resume_from_checkpoint="--resume" in sys.argv[4:])
    trainer.save_model(str(out / "final"))
    snapshot = callback.snapshot
    digest = None
    if snapshot is not None:
        digest = hashlib.sha256(snapshot[jellyml.SNAPSHOT_KEY].numpy().tobytes()).hexdigest()
    report = {"global_step": trainer.state.global_step, "sha256": digest}
    rank = trainer.args.process_index
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
