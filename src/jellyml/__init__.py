"""JellyML: keep the exact code that produced a checkpoint inside the checkpoint.

``import jellyml`` never imports torch; only ``create_snapshot`` does, when called. The public
names below are loaded on first use (PEP 562), so that ``import jellyml`` and the CLI's
start-up (``jellyml --help``) do not pay for the reader, the snapshot code and
``importlib.metadata`` they do not need.
"""

from __future__ import annotations

from ._version import __version__

# Not `from typing import TYPE_CHECKING`: importing typing is a measurable part of the CLI's
# start-up, and type checkers treat any `TYPE_CHECKING` name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .errors import (
        AmbiguousFolderError,
        BareRepoError,
        BaseCommitUnknownError,
        CorruptHistoryError,
        CorruptSnapshotError,
        DirectoryNotEmptyError,
        DistributedSnapshotError,
        GitCommandError,
        GitNotFoundError,
        GitTooOldError,
        HistoryError,
        InterruptedOperationError,
        InvalidSnapshotOptionError,
        JellyMLError,
        MissingCommitError,
        MissingFolderInRepoError,
        MissingModelArgError,
        ModelFileError,
        ModelFileNotFoundError,
        NewerHistoryError,
        NoPackageListError,
        NotACheckpointError,
        NotAFileInSnapshotError,
        NotAFolderError,
        NotAGitRepoError,
        OperationInProgressError,
        OutputExistsError,
        OutputPathError,
        PathNotFoundError,
        PathNotInSnapshotError,
        RangeNotSupportedError,
        RemoteAccessError,
        RemoteReadError,
        RemoteSupportMissingError,
        RepoBusyError,
        RevisionNotFoundError,
        SnapshotNotFoundError,
        SnapshotTooLargeError,
        SnapshotWarning,
        StripError,
        TorchMissingError,
        TruncatedCheckpointError,
        UnmergedIndexError,
        UnsupportedFormatError,
        WouldOverwriteIgnoredError,
    )
    from .format import METADATA_KEY, SNAPSHOT_KEY
    from .read.reader import Snapshot, read_snapshot
    from .read.tree import cat_snapshot, log_snapshot, ls_snapshot
    from .read.tree_diff import diff_snapshot
    from .snapshot.create import create_jelly_filling, create_snapshot
    from .snapshot.save import save_snapshot

__all__ = [
    "METADATA_KEY",
    "SNAPSHOT_KEY",
    "AmbiguousFolderError",
    "BareRepoError",
    "BaseCommitUnknownError",
    "CorruptHistoryError",
    "CorruptSnapshotError",
    "DirectoryNotEmptyError",
    "DistributedSnapshotError",
    "GitCommandError",
    "GitNotFoundError",
    "GitTooOldError",
    "HistoryError",
    "InterruptedOperationError",
    "InvalidSnapshotOptionError",
    "JellyMLError",
    "MissingCommitError",
    "MissingFolderInRepoError",
    "MissingModelArgError",
    "ModelFileError",
    "ModelFileNotFoundError",
    "NewerHistoryError",
    "NoPackageListError",
    "NotACheckpointError",
    "NotAFileInSnapshotError",
    "NotAFolderError",
    "NotAGitRepoError",
    "OperationInProgressError",
    "OutputExistsError",
    "OutputPathError",
    "PathNotFoundError",
    "PathNotInSnapshotError",
    "RangeNotSupportedError",
    "RemoteAccessError",
    "RemoteReadError",
    "RemoteSupportMissingError",
    "RepoBusyError",
    "RevisionNotFoundError",
    "Snapshot",
    "SnapshotNotFoundError",
    "SnapshotTooLargeError",
    "SnapshotWarning",
    "StripError",
    "TorchMissingError",
    "TruncatedCheckpointError",
    "UnmergedIndexError",
    "UnsupportedFormatError",
    "WouldOverwriteIgnoredError",
    "__version__",
    "cat_snapshot",
    "create_jelly_filling",
    "create_snapshot",
    "diff_snapshot",
    "log_snapshot",
    "ls_snapshot",
    "read_snapshot",
    "save_snapshot",
]

# Errors of eat and undo's refusals (issue 10), kept apart so parallel additions merge cleanly.
if TYPE_CHECKING:
    from .errors import (
        CurrentFolderGoneError,
        DubiousOwnershipError,
        GitLockedError,
        ReadOnlyRepoError,
        SnapshotLimitError,
        UnrelatedSnapshotError,
    )
__all__ += [
    "CurrentFolderGoneError",
    "DubiousOwnershipError",
    "GitLockedError",
    "ReadOnlyRepoError",
    "SnapshotLimitError",
    "UnrelatedSnapshotError",
]

# Errors of eat and undo's put-aside folder (issue 17).
if TYPE_CHECKING:
    from .errors import CannotPutAsideError, PutAsideMissingError
__all__ += ["CannotPutAsideError", "PutAsideMissingError"]

# Errors of worktrees and branches (issue 18).
if TYPE_CHECKING:
    from .errors import (
        BranchNameError,
        NotAJellyWorktreeError,
        WorktreeChangesError,
        WorktreePlaceError,
    )
__all__ += [
    "BranchNameError",
    "NotAJellyWorktreeError",
    "WorktreeChangesError",
    "WorktreePlaceError",
]

# Errors of `jellyml env` (issue 20), kept apart so parallel additions merge cleanly.
if TYPE_CHECKING:
    from .errors import (
        EnvironmentBuildError,
        SnapshotDateUnknownError,
        UvNotFoundError,
        VenvExistsError,
    )
__all__ += [
    "EnvironmentBuildError",
    "SnapshotDateUnknownError",
    "UvNotFoundError",
    "VenvExistsError",
]

# A snapshot of a sha256 repository met a sha1 one, or the other way round (issue 22).
if TYPE_CHECKING:
    from .errors import ObjectFormatMismatchError
__all__ += ["ObjectFormatMismatchError"]

# Every read bounded (issue 23).
if TYPE_CHECKING:
    from .errors import GitUnusableError, ReadLimitError, RemoteTooSlowError
__all__ += ["GitUnusableError", "ReadLimitError", "RemoteTooSlowError"]

# Publishing (issue 21): a state dict without the snapshot's two keys, bad storage options.
if TYPE_CHECKING:
    from .errors import StorageOptionsError
    from .format import without_snapshot
__all__ += ["StorageOptionsError", "without_snapshot"]

# Raised by the parsers and turned into one of the errors above before a user sees them;
# exported all the same, as every exception class of jellyml is.
if TYPE_CHECKING:
    from .errors import (
        BundleFormatError,
        HeaderError,
        NewerFormatError,
        PackError,
        PickleStripError,
    )
__all__ += ["BundleFormatError", "HeaderError", "NewerFormatError", "PackError", "PickleStripError"]

# The module each lazily loaded public name lives in (every error class lives in errors).
_HOME = {
    "create_jelly_filling": "snapshot.create",
    "create_snapshot": "snapshot.create",
    "METADATA_KEY": "format",
    "SNAPSHOT_KEY": "format",
    "without_snapshot": "format",
    "Snapshot": "read.reader",
    "read_snapshot": "read.reader",
    "save_snapshot": "snapshot.save",
    "ls_snapshot": "read.tree",
    "cat_snapshot": "read.tree",
    "log_snapshot": "read.tree",
    "diff_snapshot": "read.tree_diff",
}


if not TYPE_CHECKING:  # type checkers see the imports above, so they still catch a typo

    def __getattr__(name: str) -> object:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        module = importlib.import_module(f"{__name__}.{_HOME.get(name, 'errors')}")
        value = getattr(module, name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
