"""Making a snapshot: building the bundle (``build``), what may go in (``guards``), what it
records (``metadata``), ``create_snapshot`` itself (``create``) and one snapshot per
``torch.distributed`` job (``distributed``).

``jellyml.snapshot.DEFAULT_SECRET_PATTERNS`` and the other names below are documented and stay
importable from here.
"""

from __future__ import annotations

from ..errors import SnapshotWarning
from .build import MAX_LISTED, SNAPSHOT_MESSAGE, RepoSnapshot, snapshot_repo, temporary_bundle_path
from .bundling import AUTO_FULL_HISTORY_LIMIT, HISTORY_MODES
from .guards import (
    DEFAULT_MAX_TOTAL_SIZE,
    DEFAULT_MAX_UNTRACKED_FILE_SIZE,
    DEFAULT_MODEL_PATTERNS,
    DEFAULT_SECRET_PATTERNS,
    Guards,
    LeftOut,
)
from .report import LARGE_SNAPSHOT_WARNING, UNTRACKED_WARNING_SIZE

__all__ = [
    "AUTO_FULL_HISTORY_LIMIT",
    "DEFAULT_MAX_TOTAL_SIZE",
    "DEFAULT_MAX_UNTRACKED_FILE_SIZE",
    "DEFAULT_MODEL_PATTERNS",
    "DEFAULT_SECRET_PATTERNS",
    "HISTORY_MODES",
    "LARGE_SNAPSHOT_WARNING",
    "MAX_LISTED",
    "SNAPSHOT_MESSAGE",
    "UNTRACKED_WARNING_SIZE",
    "Guards",
    "LeftOut",
    "RepoSnapshot",
    "SnapshotWarning",
    "snapshot_repo",
    "temporary_bundle_path",
]
