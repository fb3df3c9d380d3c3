"""Run under torchrun (gloo, CPU) by tests/test_distributed.py; not a test module itself.

Usage: torchrun ... torchrun_snapshot.py REPO OUT_DIR [--no-distributed | --rank0-only]

Every rank calls ``jellyml.create_snapshot(REPO)`` and writes what it got to OUT_DIR:
``rank<N>.snapshot`` / ``rank<N>.metadata`` (the tensors' bytes) or ``rank<N>.error``
(``<class name>: <message>``), and ``rank<N>.git_calls`` (how many git commands it ran).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import jellyml
from jellyml.gitcore import run as gitcmd


def main() -> int:
    repo, out = sys.argv[1], Path(sys.argv[2])
    distributed = "--no-distributed" not in sys.argv[3:]
    rank0_only = "--rank0-only" in sys.argv[3:]
    # A short timeout for the --rank0-only misuse, so that it fails in seconds, not 30 minutes.
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=10 if rank0_only else 300))
    rank = dist.get_rank()
    if rank0_only and rank != 0:
        (out / f"rank{rank}.git_calls").write_text("0")
        dist.destroy_process_group()
        return 0
    calls = []
    real_run = gitcmd.run

    def counting_run(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real_run(*args, **kwargs)  # type: ignore[arg-type]

    gitcmd.run = counting_run  # type: ignore[assignment]
    status = 0
    try:
        snapshot = jellyml.create_snapshot(repo, distributed=distributed)
    except jellyml.JellyMLError as exc:
        (out / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
        print(f"rank {rank}: {exc}", file=sys.stderr)
        status = 3
    else:
        for key, name in ((jellyml.SNAPSHOT_KEY, "snapshot"), (jellyml.METADATA_KEY, "metadata")):
            tensor = snapshot[key]
            assert tensor.dtype == torch.uint8 and tensor.device.type == "cpu"
            (out / f"rank{rank}.{name}").write_bytes(tensor.numpy().tobytes())
    (out / f"rank{rank}.git_calls").write_text(str(len(calls)))
    dist.destroy_process_group()
    return status


if __name__ == "__main__":
    sys.exit(main())
