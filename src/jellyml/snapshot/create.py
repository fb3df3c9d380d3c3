"""``create_snapshot``: the code as it is now, as tensors to save inside a checkpoint."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from ..errors import TorchMissingError
from . import from_file as from_file_module
from .build import RepoSnapshot, snapshot_repo, temporary_bundle_path
from .distributed import current_world as distributed_world
from .distributed import share_from_rank0
from .guards import (
    DEFAULT_MAX_TOTAL_SIZE,
    DEFAULT_MAX_UNTRACKED_FILE_SIZE,
    DEFAULT_SECRET_PATTERNS,
    Guards,
)
from .metadata import runtime_metadata
from .parts import SnapshotParts, as_tensors, bundle_tensor_bytes, copy_out
from .parts import encode_metadata as encode_metadata  # importable from here as before

if TYPE_CHECKING:
    import torch

PathLike = Union[str, "os.PathLike[str]"]


def create_snapshot(
    git_repo_path: Optional[str] = None,
    out_git_bundle_path: Optional[str] = None,
    create_git_repo: bool = False,
    *,
    max_untracked_file_size: int = DEFAULT_MAX_UNTRACKED_FILE_SIZE,
    secret_patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS,
    max_total_size: int = DEFAULT_MAX_TOTAL_SIZE,
    distributed: bool = True,
    history: str = "auto",
    exclude: Sequence[str] = (),
    from_file: Optional[PathLike] = None,
    include: Sequence[str] = (),
) -> dict[str, torch.Tensor]:
    """Snapshot the code in ``git_repo_path`` (default: the entry script's repository) as tensors.

    Save the result inside your checkpoint: ``torch.save({..., **snapshot}, path)``. The
    snapshot is a git bundle of HEAD (clean tree) or of a commit on top of HEAD holding the
    working tree as it is, staged, unstaged and untracked files included (``.gitignore``
    respected). The repository is only read: its working tree, index, HEAD, refs, stash, reflogs
    and config stay byte for byte as they were, however many processes snapshot it at once.

    Args:
        git_repo_path: a folder inside the repository; the whole repository is snapshotted.
            None: the repository holding the entry script (``__main__.__file__``, or
            ``sys.argv[0]`` when it is a file), whatever the current directory; the current
            directory when there is no entry script (a notebook, ``python -c``) or the script
            is not in a repository. The metadata records which repository and why.
        out_git_bundle_path: also write the bundle to this path.
        create_git_repo: snapshot a folder that is not a git repository. The repository used
            for that lives in a temporary folder and is removed: no ``.git`` is left behind.
        max_untracked_file_size: untracked files larger than this are left out (with a warning).
        secret_patterns: untracked files whose names match one of these are left out (warning).
        max_total_size: refuse (``SnapshotTooLargeError``) a bundle larger than this. With
            ``history="auto"``, a full bundle over it is first made again without history.
        distributed: in a ``torch.distributed`` job (an initialized default process group of two
            ranks or more), make the snapshot on global rank 0 only and broadcast it, so git runs
            once and every rank gets identical bytes. The call is then collective: every rank
            must make it. A failure on rank 0 is raised on every rank (same class, same message).
            ``out_git_bundle_path`` is written by rank 0 only. False: every process makes its
            own snapshot, as without a process group.
        history: ``"full"``: the bundle carries the history. ``"shallow"``: only the
            snapshot's tree (a commit with no parent); the metadata keeps the real commit, so
            eating it where the base commit exists restores the very same commit.
            ``"auto"``: full while the history stays under
            ``jellyml.snapshot.AUTO_FULL_HISTORY_LIMIT`` (16 MiB), shallow above it, with a
            warning. A shallow clone always gives a shallow snapshot.
        exclude: gitignore-style patterns of untracked paths to leave out (a ``.venv`` that is
            not ignored, data folders); recorded in the metadata's ``left_out``.
        include: patterns of untracked model and data files to carry all the same. Untracked
            files named like checkpoints and data (``jellyml.snapshot.DEFAULT_MODEL_PATTERNS``:
            ``*.pt``, ``*.pth``, ``*.ckpt``, ``*.safetensors``, ``*.npy``, ``*.parquet``...) and
            files that hold a JellyML snapshot are left out (recorded in ``left_out``); a pattern
            with a ``/`` matches the path from the top of the repository (``dir/`` everything
            under it), one without the file name: ``include=["configs/lookup.npy"]``.
        from_file: return the snapshot saved in this file instead of making one: a snapshot
            file (``jellyml snapshot -o run.jelly``, made where the repository is) or any
            checkpoint (file, folder or URL) carrying a snapshot. No git runs. Default: the
            ``JELLYML_SNAPSHOT`` environment variable, when set. The files in
            ``git_repo_path`` (default: the entry script's folder, else the current directory)
            are compared with the snapshot's, and a ``SnapshotWarning`` says how many differ;
            the other options, which shape a new snapshot, are not used. Under
            ``torch.distributed`` rank 0 reads the file and the others receive its bytes.

    Returns:
        ``{"jellyml_code_snapshot": uint8 tensor, "jellyml_snapshot_metadata": uint8 tensor}``.

    Raises:
        NotAGitRepoError, PathNotFoundError, BareRepoError, GitNotFoundError, GitTooOldError,
        GitCommandError, SnapshotTooLargeError, TorchMissingError, OutputPathError,
        DistributedSnapshotError, InvalidSnapshotOptionError, and with a snapshot file the
        reader's ``ModelFileError`` subclasses (a missing or damaged file): all
        ``JellyMLError`` subclasses.
    """
    torch = _import_torch()
    world = distributed_world(torch) if distributed else None
    options = dict(locals())
    del options["torch"], options["world"]
    if world is not None:
        return share_from_rank0(torch, world, lambda: as_tensors(torch, make_parts(options)))
    return as_tensors(torch, make_parts(options))


def make_parts(options: dict[str, Any]) -> SnapshotParts:
    """``create_snapshot``'s bytes, made in this process alone and without torch: from the
    snapshot file (``from_file``, else ``JELLYML_SNAPSHOT``) when there is one, else with git.
    ``options``: every argument of ``create_snapshot`` (``distributed`` is not used here)."""
    snapshot_file = from_file_module.chosen_file(options["from_file"])
    if snapshot_file is not None:
        return from_file_module.load(
            snapshot_file,
            code_dir=options["git_repo_path"],
            out_git_bundle_path=options["out_git_bundle_path"],
        )
    include = options.get("include", ())
    guards = Guards(
        options["max_untracked_file_size"],
        tuple(options["secret_patterns"]),
        options["max_total_size"],
        include=(include,) if isinstance(include, str) else tuple(include),
    )
    return snapshot_parts(
        options["git_repo_path"],
        options["out_git_bundle_path"],
        options["create_git_repo"],
        guards,
        options["history"],
        options["exclude"],
    )


def snapshot_for_file(**options: Any) -> Any:
    """What ``save_snapshot(folder)`` writes when it is given no snapshot: ``create_snapshot``'s
    tensors in a process that imported torch already (a training process, where the call is
    collective under ``torch.distributed``), else the same bytes, made without importing torch
    (a login node, a job that only submits, where torch may not even be installed). Takes
    ``create_snapshot``'s options (an unknown one: ``TypeError``, as there)."""
    if sys.modules.get("torch") is not None:
        return create_snapshot(**options)
    bound = inspect.signature(create_snapshot).bind(**options)
    bound.apply_defaults()
    return make_parts(dict(bound.arguments)).as_mapping()


#: The spec's whimsical name for ``create_snapshot``.
create_jelly_filling = create_snapshot


def snapshot_metadata(repo: RepoSnapshot) -> dict[str, Any]:
    return {"git": repo.git_metadata(), **runtime_metadata()}


def snapshot_parts(
    git_repo_path: Optional[str],
    out_git_bundle_path: Optional[str],
    create_git_repo: bool,
    guards: Guards,
    history: str,
    exclude: Sequence[str],
) -> SnapshotParts:
    """The snapshot's bytes, made with git here (no torch, no ``torch.distributed``)."""
    with temporary_bundle_path() as bundle:
        repo = snapshot_repo(
            git_repo_path,
            bundle_path=bundle,
            create_git_repo=create_git_repo,
            guards=guards,
            history=history,
            exclude=list(exclude),
        )
        metadata, digest = encode_metadata(snapshot_metadata(repo))
        snapshot = bundle_tensor_bytes(bundle, repo.commit, digest)
        if out_git_bundle_path is not None:
            copy_out(bundle, out_git_bundle_path)
    return SnapshotParts(snapshot, metadata)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise TorchMissingError() from None
    return torch
