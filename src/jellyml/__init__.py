"""JellyML: keep the exact code that produced a checkpoint inside the checkpoint.

``import jellyml`` never imports torch; only ``create_snapshot`` does, when called.
"""

from __future__ import annotations

from ._version import __version__
from .create import create_jelly_filling, create_snapshot
from .errors import (
    BareRepoError,
    CorruptSnapshotError,
    DistributedSnapshotError,
    GitCommandError,
    GitNotFoundError,
    GitTooOldError,
    JellyMLError,
    ModelFileError,
    ModelFileNotFoundError,
    NotACheckpointError,
    NotAFolderError,
    NotAGitRepoError,
    PathNotFoundError,
    SnapshotNotFoundError,
    SnapshotTooLargeError,
    TorchMissingError,
    TruncatedCheckpointError,
    UnsupportedFormatError,
)
from .format import METADATA_KEY, SNAPSHOT_KEY
from .reader import Snapshot, read_snapshot
from .snapshot import SnapshotWarning

__all__ = [
    "METADATA_KEY",
    "SNAPSHOT_KEY",
    "BareRepoError",
    "CorruptSnapshotError",
    "DistributedSnapshotError",
    "GitCommandError",
    "GitNotFoundError",
    "GitTooOldError",
    "JellyMLError",
    "ModelFileError",
    "ModelFileNotFoundError",
    "NotACheckpointError",
    "NotAFolderError",
    "NotAGitRepoError",
    "PathNotFoundError",
    "Snapshot",
    "SnapshotNotFoundError",
    "SnapshotTooLargeError",
    "SnapshotWarning",
    "TorchMissingError",
    "TruncatedCheckpointError",
    "UnsupportedFormatError",
    "__version__",
    "create_jelly_filling",
    "create_snapshot",
    "read_snapshot",
]
