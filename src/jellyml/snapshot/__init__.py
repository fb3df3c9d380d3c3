"""Making a snapshot: building the bundle (``build``), what may go in (``guards``, ``stage``),
what it records (``metadata``), ``create_snapshot`` itself (``create``) and one snapshot per
``torch.distributed`` job (``distributed``).

``jellyml.snapshot.DEFAULT_SECRET_PATTERNS`` and the other names below are documented and stay
importable from here. They load on first use (PEP 562): ``jellyml eat`` applies the snapshot's
rule for untracked files (``guards``, ``stage``) without loading how a bundle is built.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see jellyml/__init__.py (start-up time)
if TYPE_CHECKING:
    from ..errors import SnapshotWarning
    from .build import (
        MAX_LISTED,
        SNAPSHOT_MESSAGE,
        RepoSnapshot,
        snapshot_repo,
        temporary_bundle_path,
    )
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

#: Each public name and the module it lives in.
_HOME = {
    "AUTO_FULL_HISTORY_LIMIT": ".bundling",
    "DEFAULT_MAX_TOTAL_SIZE": ".guards",
    "DEFAULT_MAX_UNTRACKED_FILE_SIZE": ".guards",
    "DEFAULT_MODEL_PATTERNS": ".guards",
    "DEFAULT_SECRET_PATTERNS": ".guards",
    "HISTORY_MODES": ".bundling",
    "LARGE_SNAPSHOT_WARNING": ".report",
    "MAX_LISTED": ".build",
    "SNAPSHOT_MESSAGE": ".build",
    "UNTRACKED_WARNING_SIZE": ".report",
    "Guards": ".guards",
    "LeftOut": ".guards",
    "RepoSnapshot": ".build",
    "SnapshotWarning": "..errors",
    "snapshot_repo": ".build",
    "temporary_bundle_path": ".build",
}
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

if not TYPE_CHECKING:  # type checkers see the imports above

    def __getattr__(name: str) -> object:
        if name not in _HOME:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        module = importlib.import_module(_HOME[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
