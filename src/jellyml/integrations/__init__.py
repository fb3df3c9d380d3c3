"""Training frameworks that save checkpoints for you: one module per framework.

``jellyml.integrations.transformers`` holds the Hugging Face Trainer callback; the Lightning
plugin is the ``jellyml-lightning`` distribution. What both need lives here: the
``create_snapshot`` options checked when the integration is built, the snapshot made once per
run (collectively under ``torch.distributed``), and the one line that says it was made.

Importing this package imports neither torch nor any framework.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .. import format as fmt

__all__ = ["RunSnapshot", "describe"]


class RunSnapshot:
    """``jellyml.create_snapshot``'s options, and the snapshot once it is made.

    The options are checked when this is built (a misspelt option fails when the Trainer is
    set up, not minutes into the run), and the repository is fixed then: without
    ``git_repo_path``, the entry script's repository (as ``create_snapshot`` chooses it), or the
    current directory as it is now when that is the choice, even if the script changes
    directory later.
    Unknown names are refused with ``TypeError`` by ``create_snapshot``'s own signature, so
    options added to it later (``history``, ``exclude``, ...) pass through unnamed here.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        from ..snapshot.create import create_snapshot
        from ..snapshot.from_file import chosen_file
        from ..snapshot.which import BY_CWD, choose

        options = dict(options)
        path = options.get("git_repo_path")
        #: A folder the user named: that it is no repository is an error, not a warning.
        self.named_folder = path is not None
        if path is not None:
            options["git_repo_path"] = os.path.abspath(path)
        elif chosen_file(options.get("from_file")) is not None:
            pass  # a snapshot file: no repository to choose, and no git to run (a worker)
        elif choose(None, create_git_repo=bool(options.get("create_git_repo"))).chosen_by == BY_CWD:
            # The entry script's choice does not move; a choice of the current directory would.
            options["git_repo_path"] = os.getcwd()
        inspect.signature(create_snapshot).bind(**options)
        self.options = options
        #: The snapshot once made; ``{}`` when there is none to be had (see ``unavailable``).
        self.snapshot: Optional[dict[str, Any]] = None
        #: Neither a repository nor a snapshot file: checkpoints are saved without a snapshot.
        self.unavailable = False

    def take(self, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
        """The snapshot, made now if it was not yet, and ``log``'s one line about it.

        Collective in a ``torch.distributed`` job (unless ``distributed=False`` was given):
        every rank must call it at the same point; global rank 0 runs git, the others receive
        its bytes. The line is logged once, on global rank 0 (every process, without a process
        group), when the snapshot is made.
        """
        if self.snapshot is None:
            self.snapshot = self._guarded(lambda: self._make(self.options))
            if log is not None and self.snapshot and _is_global_rank_zero():
                log(describe(self.snapshot))
        return self.snapshot

    def take_alone(self, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
        """As ``take``, but never collective: for a process that saves while the others don't."""
        if self.snapshot is None:
            alone = {**self.options, "distributed": False}
            self.snapshot = self._guarded(lambda: self._make(alone))
            if log is not None and self.snapshot:
                log(describe(self.snapshot))
        return self.snapshot

    def take_collectively(self, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
        """As ``take``, for ranks that may disagree on whether they hold the snapshot already
        (a plugin that made it on rank 0 only): global rank 0's snapshot, made now if it holds
        none, is broadcast to every rank. Every rank must call it at the same point."""
        world = self._world()
        if world is None:
            return self.take(log)
        from ..snapshot.distributed import share_from_rank0

        made_here = self.snapshot is None
        self.snapshot = self._guarded(
            lambda: share_from_rank0(
                _torch(),
                world,
                lambda: self.snapshot or self._make({**self.options, "distributed": False}),
            )
        )
        if log is not None and made_here and self.snapshot and world.rank == 0:
            log(describe(self.snapshot))
        return self.snapshot

    def _guarded(self, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``make()``, or ``{}`` and one warning (on global rank 0) where there is neither a
        repository nor a snapshot file (a cluster worker running a copy of the code): the
        training run goes on, its checkpoints without a snapshot. Every rank gets the same
        answer (rank 0's error is broadcast to all). A ``git_repo_path`` the user named that is
        no repository stays an error: it is a mistake to fix, not a place without the code."""
        from ..errors import NotAGitRepoError

        if self.unavailable:
            return {}
        try:
            return make()
        except NotAGitRepoError as exc:
            if self.named_folder:
                raise
            self.unavailable = True
            if _is_global_rank_zero():
                from ..warn import warn

                warn(f"JellyML: this run's checkpoints get no code snapshot. {exc}")
            return {}

    def _world(self) -> Any:
        if self.options.get("distributed", True) is False:
            return None
        from ..snapshot.distributed import current_world

        return current_world(_torch())

    @staticmethod
    def _make(options: dict[str, Any]) -> dict[str, Any]:
        # Through the package, as a user's code calls it (and as a test can count it).
        from .. import create_snapshot

        return create_snapshot(**options)


def describe(snapshot: Mapping[str, Any]) -> str:
    """One line for a training log: the commit, whether uncommitted work was included, size."""
    code = snapshot[fmt.SNAPSHOT_KEY]
    header = fmt.decode_header(_tensor_bytes(code, fmt.HEADER_SIZE), int(code.numel()))
    dirty: Any = None
    try:
        metadata = json.loads(_tensor_bytes(snapshot[fmt.METADATA_KEY])[fmt.HEADER_SIZE :])
        dirty = metadata["git"]["dirty"]
    except (KeyError, TypeError, ValueError):
        pass  # a snapshot without metadata still gets its line
    state = {True: "with uncommitted changes", False: "clean"}.get(dirty, "")
    commit = (header.commit or "unknown")[:12]
    return (
        f"JellyML: code snapshot made (commit {commit}{', ' + state if state else ''}, "
        f"{_size(header.size)}); every checkpoint of this run carries it."
    )


def _tensor_bytes(tensor: Any, limit: Optional[int] = None) -> bytes:
    part = tensor if limit is None else tensor[:limit]
    return bytes(part.numpy().tobytes())


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    return f"{n / 1000:.1f} KB" if n < 1_000_000 else f"{n / 1_000_000:.1f} MB"


def _torch() -> Any:
    from ..snapshot.create import _import_torch  # raises TorchMissingError, as create_snapshot does

    return _import_torch()


def _is_global_rank_zero() -> bool:
    import sys

    torch = sys.modules.get("torch")  # loaded by create_snapshot already
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return True
    return bool(dist.get_rank() == 0)
