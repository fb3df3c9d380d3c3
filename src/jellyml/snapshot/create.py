"""``create_snapshot``: the code as it is now, as tensors to save inside a checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from .. import format as fmt
from ..errors import OutputPathError, SnapshotTooLargeError, TorchMissingError
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

if TYPE_CHECKING:
    import torch


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

    Returns:
        ``{"jellyml_code_snapshot": uint8 tensor, "jellyml_snapshot_metadata": uint8 tensor}``.

    Raises:
        NotAGitRepoError, PathNotFoundError, BareRepoError, GitNotFoundError, GitTooOldError,
        GitCommandError, SnapshotTooLargeError, TorchMissingError, OutputPathError,
        DistributedSnapshotError, InvalidSnapshotOptionError: all ``JellyMLError``
        subclasses.
    """
    torch = _import_torch()
    world = distributed_world(torch) if distributed else None
    if world is not None:
        return share_from_rank0(
            torch,
            world,
            lambda: create_snapshot(
                git_repo_path,
                out_git_bundle_path,
                create_git_repo,
                max_untracked_file_size=max_untracked_file_size,
                secret_patterns=secret_patterns,
                max_total_size=max_total_size,
                distributed=False,
                history=history,
                exclude=exclude,
                include=include,
            ),
        )
    guards = Guards(
        max_untracked_file_size,
        tuple(secret_patterns),
        max_total_size,
        include=(include,) if isinstance(include, str) else tuple(include),
    )
    with temporary_bundle_path() as bundle:
        repo = snapshot_repo(
            git_repo_path,
            bundle_path=bundle,
            create_git_repo=create_git_repo,
            guards=guards,
            history=history,
            exclude=list(exclude),
        )
        metadata = encode_metadata(snapshot_metadata(repo))
        snapshot = _read_into_tensor(torch, bundle, repo.commit, metadata[1])
        if out_git_bundle_path is not None:
            _copy_out(bundle, out_git_bundle_path)
    return {
        fmt.SNAPSHOT_KEY: snapshot,
        fmt.METADATA_KEY: torch.frombuffer(metadata[0], dtype=torch.uint8),
    }


#: The spec's whimsical name for ``create_snapshot``.
create_jelly_filling = create_snapshot


def snapshot_metadata(repo: RepoSnapshot) -> dict[str, Any]:
    return {"git": repo.git_metadata(), **runtime_metadata()}


def encode_metadata(metadata: dict[str, Any]) -> tuple[bytearray, str]:
    """The metadata tensor's bytes (header + JSON) and the JSON's sha256."""
    body = json.dumps(metadata, sort_keys=True).encode("utf-8")
    if len(body) > fmt.MAX_METADATA_SIZE:  # readers refuse more; lists are capped well below
        raise SnapshotTooLargeError(len(body), fmt.MAX_METADATA_SIZE, "metadata")
    digest = hashlib.sha256(body).hexdigest()
    buf = bytearray(fmt.encode_header(fmt.METADATA_MAGIC, len(body), digest))
    buf += body
    return buf, digest


def _read_into_tensor(torch: Any, bundle: str, commit: str, metadata_sha256: str) -> Any:
    """Header + bundle in one buffer, read in place: about one copy of the bundle in memory."""
    size = os.path.getsize(bundle)
    buf = bytearray(fmt.HEADER_SIZE + size)
    view = memoryview(buf)
    digest = hashlib.sha256()
    with open(bundle, "rb") as f:
        pos = fmt.HEADER_SIZE
        while pos < len(buf):
            n = f.readinto(view[pos : pos + (1 << 20)])
            if not n:
                raise OSError(f"{bundle} shrank while it was read")
            digest.update(view[pos : pos + n])
            pos += n
    view[: fmt.HEADER_SIZE] = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC,
        size,
        digest.hexdigest(),
        commit=commit,
        metadata_sha256=metadata_sha256,
    )
    view.release()
    return torch.frombuffer(buf, dtype=torch.uint8)


def _copy_out(bundle: str, out_path: str) -> None:
    try:
        shutil.copyfile(bundle, out_path)
    except OSError as exc:
        raise OutputPathError(out_path, exc.strerror or str(exc)) from None


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise TorchMissingError() from None
    return torch
