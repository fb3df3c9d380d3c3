"""Lightning DDP on CPU, run by test_ddp.py; Lightning relaunches this script for rank 1.

Usage: python ddp_train.py NAMESPACE REPO OUT_DIR [--plugin | --callback | --both]

Trains the tiny model with ``strategy="ddp", devices=2`` and JellyMLLightningPlugin(REPO) (or,
with --callback, JellyMLCallback(REPO) instead; --both: the two), checkpoints in OUT_DIR/ckpts.
Each rank writes to OUT_DIR: ``rank<N>.snapshot`` (the bytes its plugin or callback holds, empty
if it holds none) or ``rank<N>.error`` (``<class name>: <message>``), and ``rank<N>.git_calls``.
If building the plugin fails, the process writes ``built.error`` and no rank starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jellyml
from jellyml.gitcore import run as gitcmd
from jellyml_lightning import JellyMLCallback, JellyMLLightningPlugin
from tiny_lightning import fast_trainer_args, lightning, model_class


def main() -> int:
    namespace, repo, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    pl = lightning(namespace)
    calls = []
    real_run = gitcmd.run

    def counting_run(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    gitcmd.run = counting_run
    checkpoints = pl.callbacks.ModelCheckpoint(dirpath=out / "ckpts", save_last=True)
    wiring = sys.argv[4] if len(sys.argv) > 4 else "--plugin"
    try:
        plugin = JellyMLLightningPlugin(repo) if wiring in ("--plugin", "--both") else None
    except jellyml.JellyMLError as exc:
        (out / "built.error").write_text(f"{type(exc).__name__}: {exc}")
        return 3
    callback = JellyMLCallback(repo) if wiring in ("--callback", "--both") else None
    jelly: Any = callback if callback is not None else plugin
    wiring_args = {
        "plugins": [plugin] if plugin is not None else [],
        "callbacks": [c for c in (callback, checkpoints) if c is not None],
    }
    trainer = pl.Trainer(
        strategy="ddp", devices=2, max_epochs=1, **wiring_args, **fast_trainer_args(out)
    )
    rank = int(trainer.global_rank)
    status = 0
    try:
        trainer.fit(model_class(namespace)())
        trainer.save_checkpoint(out / "ckpts" / "manual.ckpt")
    except jellyml.JellyMLError as exc:
        (out / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
        status = 3
    else:
        held = jelly.snapshot
        (out / f"rank{rank}.snapshot").write_bytes(
            held[jellyml.SNAPSHOT_KEY].numpy().tobytes() if held is not None else b""
        )
    (out / f"rank{rank}.git_calls").write_text(str(len(calls)))
    # Rank 0 launched rank 1 (Lightning's subprocess launcher): wait for it, so that the test
    # finds every rank's files once this process exits.
    for child in getattr(trainer.strategy.launcher, "procs", []):
        child.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
