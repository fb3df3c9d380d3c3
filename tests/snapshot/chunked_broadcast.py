"""One rank of a two-process gloo group, run by test_distributed_chunks.py; not a test module.

Usage: python chunked_broadcast.py REPO NOT_A_REPO OUT_DIR RANK RENDEZVOUS_FILE

``distributed.CHUNK_SIZE`` is made tiny, so that the snapshot, its metadata and a rank 0
failure all travel in many chunks. Every rank calls ``jellyml.create_snapshot(REPO)``, then
``create_snapshot(NOT_A_REPO)``, and writes to OUT_DIR: ``rank<N>.snapshot`` /
``rank<N>.metadata`` (the tensors' bytes), ``rank<N>.error`` (``<class name>: <message>``) and
``rank<N>.chunks.json`` (the size of every broadcast, per call).
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import torch.distributed as dist

import jellyml
from jellyml.snapshot import distributed

SNAPSHOT_CHUNK = 997  # prime: the last chunk of anything is a short one
ERROR_CHUNK = 7


def main() -> int:
    repo, not_a_repo, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    rank = int(sys.argv[4])
    dist.init_process_group(
        "gloo",
        init_method=f"file://{sys.argv[5]}",
        rank=rank,
        world_size=2,
        timeout=datetime.timedelta(seconds=120),
    )
    sizes: dict[str, list[int]] = {"snapshot": [], "error": []}
    real_broadcast = dist.broadcast

    def recording_broadcast(tensor, *args, **kwargs):  # type: ignore[no-untyped-def]
        current.append(tensor.numel())
        return real_broadcast(tensor, *args, **kwargs)

    dist.broadcast = recording_broadcast
    current = sizes["snapshot"]
    distributed.CHUNK_SIZE = SNAPSHOT_CHUNK
    snapshot = jellyml.create_snapshot(repo)
    for key, name in ((jellyml.SNAPSHOT_KEY, "snapshot"), (jellyml.METADATA_KEY, "metadata")):
        (out / f"rank{rank}.{name}").write_bytes(snapshot[key].numpy().tobytes())

    current = sizes["error"]
    distributed.CHUNK_SIZE = ERROR_CHUNK
    try:
        jellyml.create_snapshot(not_a_repo)
    except jellyml.JellyMLError as exc:
        (out / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
    (out / f"rank{rank}.chunks.json").write_text(json.dumps(sizes))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
