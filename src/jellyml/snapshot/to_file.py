"""``jellyml snapshot -o run.jelly``: a snapshot file made where the repository is, without torch.

The file is the one ``jellyml.save_snapshot`` writes into checkpoint folders (docs/FORMAT.md,
"Checkpoint folders"), so every reader reads it, and ``JELLYML_SNAPSHOT=run.jelly`` (or
``create_snapshot(from_file="run.jelly")``) hands it to workers that have no repository.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import OutputExistsError
from ..sources import storage_for
from .create import snapshot_parts
from .guards import Guards
from .parts import SnapshotParts


@dataclass(frozen=True)
class WrittenSnapshot:
    """What ``write_snapshot_file`` wrote: where, and the snapshot's bytes."""

    path: str
    parts: SnapshotParts
    #: The pattern added to ``exclude`` so that the file is not in its own snapshot (or None).
    excluded_output: Optional[str]
    #: The snapshot's warnings (files left out, ...), but for the file's own leaving out.
    warnings: list[str]


def write_snapshot_file(
    output: str,
    *,
    force: bool = False,
    storage_options: Optional[dict[str, Any]] = None,
    git_repo_path: Optional[str] = None,
    out_git_bundle_path: Optional[str] = None,
    create_git_repo: bool = False,
    guards: Optional[Guards] = None,
    history: str = "auto",
    exclude: tuple[str, ...] = (),
) -> WrittenSnapshot:
    """Snapshot the repository (git, as ``create_snapshot`` does; ``JELLYML_SNAPSHOT`` is not
    read: this makes the file it names) and write the ``.jelly`` file ``output`` atomically.

    An existing snapshot file is replaced (a submit script makes one each time); any other
    existing file only with ``force``. An output inside the repository is left out of the
    snapshot, so a second run does not put the first file into the second snapshot.
    """
    local = storage_for(output, storage_options).local_path(output)
    if local is not None:
        output = os.path.abspath(os.path.expanduser(local))
        _check_replaceable(output, force)
    own = None if local is None else _own_pattern(output, git_repo_path, create_git_repo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = snapshot_parts(
            git_repo_path,
            out_git_bundle_path,
            create_git_repo,
            guards or Guards(),
            history,
            (*exclude, own) if own else exclude,
        )
    from .save import write_jelly

    written = write_jelly(output, parts.as_mapping(), storage_options)
    said = [str(w.message) for w in caught]
    if own is not None:  # "left 1 untracked file out: run.jelly" is what was asked for
        said = [m for m in said if not (m.startswith("JellyML left 1 ") and own[1:] + ": " in m)]
    return WrittenSnapshot(written, parts, own, said)


def _check_replaceable(output: str, force: bool) -> None:
    """Refuse to replace a folder, or a file that is not a snapshot file (a checkpoint given
    as ``-o`` by mistake) unless ``force``."""
    from ..errors import OutputPathError

    if os.path.isdir(output):
        raise OutputPathError(output, "it is a directory")
    if force or not os.path.lexists(output):
        return
    if not _is_snapshot_file(output):
        raise OutputExistsError(output)


def _is_snapshot_file(path: str) -> bool:
    from .. import format as fmt
    from ..containers.sidecar import read_sidecar_tensors
    from ..errors import ModelFileError

    try:
        return set(read_sidecar_tensors(path)) == {fmt.SNAPSHOT_KEY, fmt.METADATA_KEY}
    except (ModelFileError, OSError):
        return False


def _own_pattern(output: str, git_repo_path: Optional[str], create_git_repo: bool) -> Optional[str]:
    """``/path/of/output`` relative to the snapshotted folder's top, when the output lies in
    it (a gitignore pattern anchored at the top, as ``exclude`` takes); else None."""
    from ..errors import JellyMLError
    from ..gitcore.repo import locate
    from .which import choose

    folder = choose(git_repo_path, create_git_repo=create_git_repo).folder
    try:
        found = locate(folder) if os.path.isdir(folder) else None
    except JellyMLError:
        return None  # the snapshot itself will say what is wrong with the folder
    top = os.path.realpath(found.top if found is not None else folder)
    target = os.path.realpath(output)
    if os.path.commonpath([top, target]) != top or top == target:
        return None
    rel = os.path.relpath(target, top).replace(os.sep, "/")
    # gitignore syntax: wildcards and backslashes escaped, a trailing space kept
    rel = re.sub(r"([*?\[\\])", r"\\\1", rel)
    return "/" + (rel[:-1] + "\\ " if rel.endswith(" ") else rel)
