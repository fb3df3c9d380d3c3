"""What runs inside a measured process. Standard library only at the top: it also runs under
JellyML 1.0.0's venv. Each command prints one JSON line: the operation's own time (after the
imports), the bytes it read, and its peak memory above the baseline taken right before it.

The baseline: after the imports, the peak-RSS counter is reset (``/proc/self/clear_refs``, "5")
and the current RSS noted; ``peak_above`` is the peak during the operation minus that.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

SNAPSHOT_KEY = "jellyml_code_snapshot"


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def _rchar() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return -1


def measure(operation: Callable[[], Any]) -> dict[str, Any]:
    """Time ``operation`` and count what it read and the memory it took above the baseline."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    baseline = _status("VmRSS")
    before = _rchar()
    start = time.perf_counter()
    result = operation()
    seconds = time.perf_counter() - start
    after = _rchar()
    peak = _status("VmHWM")
    return {
        "op_s": seconds,
        "rchar": after - before,
        "baseline_rss": baseline,
        "peak_above": peak - baseline if reset else -1,
        "result": result,
    }


def _bundle_range(tensor: Any) -> tuple[int, int]:
    header = bytes(tensor[:1024].numpy()).rstrip(b"\0")
    fields = json.loads(header)
    offset = int(fields["snapshot_offset"])
    return offset, int(fields["snapshot_size"])


def extract_api(model: str, out: str) -> dict[str, Any]:
    import jellyml

    read_snapshot = jellyml.read_snapshot  # `import jellyml` is lazy: load the reader untimed

    def op() -> int:
        return int(read_snapshot(model).extract_bundle(out) is not None)

    return measure(op)


def extract_v100(model: str, out: str) -> dict[str, Any]:
    """JellyML 1.0.0's extraction through its API (run under its venv's interpreter)."""
    from jellyml.extract_bundle import ExtractBundleArgs_dataclass, extract_bundle

    return measure(lambda: extract_bundle(ExtractBundleArgs_dataclass(model, out)))


def torch_load(model: str, out: str) -> dict[str, Any]:
    import torch

    def op() -> int:
        # The same job as extraction: load the checkpoint (mmap), write the bundle's bytes out.
        state = torch.load(model, mmap=True, weights_only=True)
        tensor = state[SNAPSHOT_KEY]
        offset, size = _bundle_range(tensor)
        with open(out, "wb") as f:
            f.write(memoryview(tensor[offset : offset + size].numpy()))
        return size

    return measure(op)


def _limits(argv: list[str]) -> dict[str, int]:
    return {"max_untracked_file_size": int(argv[0]), "max_total_size": int(argv[1])} if argv else {}


def create_snapshot(repo: str, save: str, *limits: str) -> dict[str, Any]:
    """Ours (or 1.0.0's, whichever ``jellyml`` this interpreter has), torch already imported.
    The checkpoint (when ``save`` is not "-") is written after the measurement."""
    import torch

    import jellyml

    kwargs = _limits(list(limits))
    made: list[Any] = []
    create = jellyml.create_snapshot  # `import jellyml` is lazy: load the API untimed

    def op() -> int:
        made.append(create(repo, **kwargs))
        return int(made[0][SNAPSHOT_KEY].numel())

    report = measure(op)
    if save != "-":
        torch.save({"model_state_dict": {"w": torch.ones(4)}, **made[0]}, save)
    return report


def snapshot_repo(repo: str, bundle: str, *limits: str) -> dict[str, Any]:
    """Only the git work of ours: ``jellyml.snapshot.snapshot_repo``."""
    import warnings

    from jellyml.snapshot import Guards, snapshot_repo

    kwargs = _limits(list(limits))
    guards = Guards(**kwargs) if kwargs else Guards()

    def op() -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return snapshot_repo(repo, bundle_path=bundle, guards=guards).commit

    return measure(op)


def import_time(module: str) -> dict[str, Any]:
    return measure(lambda: __import__(module) and 0)


def make_checkpoint(out: str, total: str, count: str, where: str, repo: str) -> dict[str, Any]:
    """A torch.save checkpoint of ``count`` tensors adding up to ``total`` bytes, plus a
    snapshot of ``repo`` saved last (the usual ``{..., **snapshot}``) or first."""
    import torch

    import jellyml

    snapshot = jellyml.create_snapshot(repo)
    n, each = int(count), int(total) // int(count)
    # torch.empty: the content does not matter (torch stores tensors uncompressed), and not
    # writing it keeps making a 4 GiB file quick.
    model = {f"layer{i}.weight": torch.empty(each, dtype=torch.uint8) for i in range(n)}
    state = (
        {"model_state_dict": model, **snapshot}
        if where == "last"
        else {**snapshot, "model_state_dict": model}
    )
    torch.save(state, out)
    return {"bundle_size": int(snapshot[SNAPSHOT_KEY].numel()) - 1024}


def snapshot_history(repo: str, bundle: str, history: str) -> dict[str, Any]:
    """``snapshot_repo`` with ``history=`` (issue 9); the result is "HISTORY BUNDLE_COMMIT".
    ``history`` "-": the call without it (a build from before issue 9)."""
    import warnings

    from jellyml.snapshot import snapshot_repo

    kwargs = {} if history == "-" else {"history": history}

    def op() -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            made = snapshot_repo(repo, bundle_path=bundle, **kwargs)
            return f"{getattr(made, 'history', 'full')} {made.commit}"

    return measure(op)


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {
    "extract-api": extract_api,
    "extract-v100": extract_v100,
    "torch-load": torch_load,
    "create-snapshot": create_snapshot,
    "snapshot-repo": snapshot_repo,
    "snapshot-history": snapshot_history,
    "import-time": import_time,
    "make-checkpoint": make_checkpoint,
}


def main() -> None:
    report = COMMANDS[sys.argv[1]](*sys.argv[2:])
    sys.stdout.flush()
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
