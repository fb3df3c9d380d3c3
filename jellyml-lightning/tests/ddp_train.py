"""Lightning DDP on CPU, run by test_ddp.py; Lightning relaunches this script for rank 1.

Usage: python ddp_train.py NAMESPACE REPO OUT_DIR [--plugin | --callback]

Trains the tiny model with ``strategy="ddp", devices=2`` and JellyMLLightningPlugin(REPO) (or,
with --callback, JellyMLCallback(REPO) instead), checkpoints in OUT_DIR/ckpts. Each rank writes
to OUT_DIR: ``rank<N>.snapshot`` (the bytes its plugin or callback holds) or ``rank<N>.error``
(``<class name>: <message>``), and ``rank<N>.git_calls``.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
    if "--callback" in sys.argv[4:]:
        jelly = JellyMLCallback(repo)
        wiring = {"callbacks": [jelly, checkpoints]}
    else:
        jelly = JellyMLLightningPlugin(repo)
        wiring = {"plugins": [jelly], "callbacks": [checkpoints]}
    trainer = pl.Trainer(
        strategy="ddp", devices=2, max_epochs=1, **wiring, **fast_trainer_args(out)
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
        (out / f"rank{rank}.snapshot").write_bytes(
            jelly.snapshot[jellyml.SNAPSHOT_KEY].numpy().tobytes()
        )
    (out / f"rank{rank}.git_calls").write_text(str(len(calls)))
    # Rank 0 launched rank 1 (Lightning's subprocess launcher): wait for it, so that the test
    # finds every rank's files once this process exits.
    for child in getattr(trainer.strategy.launcher, "procs", []):
        child.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
