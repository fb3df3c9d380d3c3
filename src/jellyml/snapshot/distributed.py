"""One snapshot per ``torch.distributed`` job: global rank 0 runs git, every rank gets its bytes.

In a job with an initialized default process group (torchrun, DDP, Lightning's ``ddp``) every
rank calls ``create_snapshot`` at the same point of the script. Rank 0 makes the snapshot; the
others receive it by broadcast over the existing group, so git runs once and every rank holds
the same bytes. The call is collective: a rank that skips it leaves the others waiting, as any
collective would (call it on every rank, or pass ``distributed=False``).

If rank 0 fails, it broadcasts the failure instead of the snapshot and every other rank raises
the same ``JellyMLError`` subclass with the same message, instead of waiting forever.

The wire protocol: a 3-element int64 tensor ``[kind, a, b]``, then the payload as uint8
tensors. ``kind`` 0 is a snapshot (``a``, ``b``: sizes of the snapshot and metadata tensors);
1 is an error (``a``: size of its JSON description). Tensors stay on the CPU when the backend
takes CPU tensors (gloo); an accelerator-only backend (nccl) gets them on its current device
(``torch.cuda.current_device()``: set it first, as every nccl collective needs; Lightning
does), in chunks, so that the device never holds the whole bundle at once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from .. import errors
from .. import format as fmt
from ..errors import DistributedSnapshotError, JellyMLError

_SNAPSHOT, _ERROR = 0, 1
#: Bytes per broadcast; bounds the device memory a nccl broadcast needs.
CHUNK_SIZE = 64 * 1024 * 1024
_SOURCE = 0  # global rank that makes the snapshot


@dataclass(frozen=True)
class World:
    """The default process group as seen from this rank."""

    dist: Any
    rank: int
    size: int
    device: Any


def current_world(torch: Any) -> Optional[World]:
    """The initialized default process group with two ranks or more, else None."""
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    size = dist.get_world_size()
    if size < 2:
        return None
    return World(dist=dist, rank=dist.get_rank(), size=size, device=_device(torch, dist))


def _device(torch: Any, dist: Any) -> Any:
    """Where the broadcast tensors must live: CPU if the backend handles CPU tensors (gloo,
    mpi, ucc, ``cpu:gloo,cuda:nccl``), else the current device of the backend's accelerator."""
    backend = str(dist.get_backend())
    capability = getattr(dist.Backend, "backend_capability", {"nccl": ["cuda"]})
    devices: list[str] = []
    for part in backend.split(","):
        device, _, name = part.rpartition(":")
        devices += [device] if device else list(capability.get(name, ["cpu"]))
    if "cpu" in devices:
        return torch.device("cpu")
    kind = devices[0]
    return torch.device(kind, getattr(torch, kind).current_device())


def share_from_rank0(
    torch: Any, world: World, make: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``make()`` on rank 0, its result broadcast to every rank; its failure raised on every rank.

    Every rank must call this, in the same order relative to other collectives.
    """
    if world.rank != _SOURCE:
        return _receive(torch, world)
    try:
        snapshot = make()
    except BaseException as exc:
        _send_error(torch, world, exc)
        raise
    data, meta = snapshot[fmt.SNAPSHOT_KEY], snapshot[fmt.METADATA_KEY]
    _broadcast(world, torch.tensor([_SNAPSHOT, data.numel(), meta.numel()]))
    _broadcast_bytes(world, data)
    _broadcast_bytes(world, meta)
    return snapshot


def _receive(torch: Any, world: World) -> dict[str, Any]:
    head = torch.zeros(3, dtype=torch.int64)
    _broadcast(world, head)
    kind, a, b = (int(v) for v in head.tolist())
    if kind == _ERROR:
        raw = torch.empty(a, dtype=torch.uint8)
        _broadcast_bytes(world, raw)
        raise error_from_json(bytes(raw.tolist()).decode("utf-8"))  # no numpy needed
    data = torch.empty(a, dtype=torch.uint8)
    meta = torch.empty(b, dtype=torch.uint8)
    _broadcast_bytes(world, data)
    _broadcast_bytes(world, meta)
    # Two separate tensors, never views of one buffer: torch.save writes a view's whole storage.
    return {fmt.SNAPSHOT_KEY: data, fmt.METADATA_KEY: meta}


def _send_error(torch: Any, world: World, exc: BaseException) -> None:
    """Tell the other ranks rank 0 failed. A failure to tell them is dropped: the caller
    re-raises the original error, which says more."""
    raw = error_to_json(exc).encode("utf-8")
    with contextlib.suppress(Exception):
        _broadcast(world, torch.tensor([_ERROR, len(raw), 0]))
        _broadcast_bytes(world, torch.frombuffer(bytearray(raw), dtype=torch.uint8))


def _broadcast(world: World, tensor: Any) -> None:
    try:
        if world.device.type == "cpu":
            world.dist.broadcast(tensor, src=_SOURCE)
            return
        on_device = tensor.to(world.device)
        world.dist.broadcast(on_device, src=_SOURCE)
        if world.rank != _SOURCE:
            tensor.copy_(on_device.cpu())
    except RuntimeError as exc:  # timeouts and lost peers arrive as RuntimeError subclasses
        raise DistributedSnapshotError(
            f"Sharing the code snapshot between ranks failed: {exc}",
            hint="Every rank must call create_snapshot (or JellyML's Lightning plugin setup) at "
            "the same point; to make one per process instead, pass distributed=False.",
        ) from exc


def _broadcast_bytes(world: World, data: Any) -> None:
    """Broadcast a 1-D uint8 CPU tensor in place (rank 0 sends, the others receive)."""
    for start in range(0, data.numel(), CHUNK_SIZE):
        _broadcast(world, data[start : start + CHUNK_SIZE])


def error_to_json(exc: BaseException) -> str:
    """A failure as JSON: a JellyMLError's class name, message, hint and plain fields."""
    if isinstance(exc, JellyMLError):
        fields = {k: v for k, v in vars(exc).items() if k not in ("message", "hint")}
        return json.dumps(
            {
                "type": type(exc).__name__,
                "message": exc.message,
                "hint": exc.hint,
                "fields": json.loads(json.dumps(fields, default=lambda _: None)),
            }
        )
    message = f"Rank 0 failed to make the code snapshot: {type(exc).__name__}: {exc}"
    return json.dumps(
        {"type": DistributedSnapshotError.__name__, "message": message, "hint": None, "fields": {}}
    )


def error_from_json(text: str) -> JellyMLError:
    """The error rank 0 raised, rebuilt: same class (from jellyml.errors), same str()."""
    payload = json.loads(text)
    cls = getattr(errors, payload["type"], None)
    if payload["type"] == DistributedSnapshotError.__name__:
        cls = DistributedSnapshotError
    if not (isinstance(cls, type) and issubclass(cls, JellyMLError)):
        cls = DistributedSnapshotError
    # Built without calling the subclass __init__ (each has its own signature): the message,
    # hint and fields are rank 0's, so str() and the attributes match.
    error = _blank(cls)
    Exception.__init__(error, payload["message"])
    error.__dict__.update(payload["fields"])
    error.message = payload["message"]
    if payload["hint"] is not None:
        error.hint = payload["hint"]
    return error


def _blank(cls: type[JellyMLError]) -> JellyMLError:
    """An instance of ``cls`` without its ``__init__``. ``cls.__new__`` is refused for a class
    with two built-in bases of their own layout (``ModelFileNotFoundError``: ``ValueError`` and
    ``FileNotFoundError``); the base whose ``__new__`` Python accepts is found in the MRO."""
    for base in cls.__mro__:
        try:
            return base.__new__(cls)  # type: ignore[call-overload,no-any-return]
        except TypeError:
            continue
    raise TypeError(f"cannot rebuild {cls.__name__}")
