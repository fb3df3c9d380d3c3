"""One exception hierarchy for everything JellyML refuses or fails to do.

Every error carries the fields a caller needs (the path, the git argv and stderr, the offending
field) and subclasses a stdlib type as well, so callers can catch either. ``str(error)`` is one
clear sentence followed by what to do next; the CLI prints exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional


class JellyMLError(Exception):
    """Base of every error JellyML raises on purpose."""

    #: What the user can do about it, appended to the message.
    hint: Optional[str] = None

    def __init__(self, message: str, *, hint: Optional[str] = None) -> None:
        self.message = message
        if hint is not None:
            self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class GitNotFoundError(JellyMLError, FileNotFoundError):
    """git is not installed or not on PATH."""


class GitTooOldError(JellyMLError, RuntimeError):
    """The installed git lacks something JellyML needs."""

    def __init__(self, found: str, needed: str) -> None:
        self.found = found
        self.needed = needed
        super().__init__(
            f"git {found} is too old; JellyML needs git {needed} or newer.",
            hint="Upgrade git and try again.",
        )


class GitCommandError(JellyMLError, RuntimeError):
    """A git command exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"`{' '.join(self.argv)}` failed (exit {returncode}): {last}")


class NotAGitRepoError(JellyMLError, ValueError):
    """The path is not inside a git repository."""

    def __init__(self, path: str, *, hint: Optional[str] = None) -> None:
        self.path = path
        super().__init__(f"{path} is not inside a git repository.", hint=hint)


class SnapshotTooLargeError(JellyMLError, ValueError):
    """The snapshot would exceed the configured total size limit."""

    def __init__(self, size: int, limit: int, what: str) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"The snapshot's {what} is {size:,} bytes, over the limit of {limit:,} bytes.",
            hint="Add large files to .gitignore, or raise max_total_bytes.",
        )


class TorchMissingError(JellyMLError, ImportError):
    """torch is needed to make a snapshot tensor and is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "torch is not installed, and a snapshot is a torch tensor.",
            hint="Install it (pip install torch) in the environment that trains the model.",
        )


class ModelFileError(JellyMLError, ValueError):
    """Base for problems with a checkpoint file; carries the path."""

    def __init__(self, path: str, message: str, *, hint: Optional[str] = None) -> None:
        self.path = path
        super().__init__(message, hint=hint)


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    def __init__(self, path: str) -> None:
        super().__init__(path, f"{path} does not exist.", hint="Check the path to the model file.")


class NotACheckpointError(ModelFileError):
    """The file is not a torch.save zip archive (a directory, text, random bytes, legacy format)."""


class TruncatedCheckpointError(NotACheckpointError):
    """The archive ends early or its directory points outside the file."""


class SnapshotNotFoundError(ModelFileError, LookupError):
    """A valid checkpoint that carries no JellyML snapshot."""

    def __init__(self, path: str) -> None:
        hint = "Save it with {**jellyml.create_snapshot()} in the dict passed to torch.save."
        if path.endswith(".ckpt"):  # Lightning's extension: point at the plugin
            hint = (
                "Train with Trainer(plugins=[JellyMLLightningPlugin()]) "
                "(pip install jellyml-lightning) so that every checkpoint carries one."
            )
        super().__init__(path, f"{path} is a checkpoint but holds no JellyML snapshot.", hint=hint)


class CorruptSnapshotError(ModelFileError):
    """The snapshot's header or bundle is damaged (bad JSON, sizes out of bounds, checksum)."""

    def __init__(self, path: str, problem: str, *, field: Optional[str] = None) -> None:
        self.problem = problem
        self.field = field
        super().__init__(
            path,
            f"The snapshot in {path} is corrupt: {problem}.",
            hint="The file was damaged after saving; use another copy of the checkpoint.",
        )


class UnsupportedFormatError(ModelFileError):
    """The snapshot was written in a format version this jellyml does not know."""

    def __init__(self, path: str, found: str) -> None:
        self.found = found
        super().__init__(
            path,
            f"The snapshot in {path} was written by a newer jellyml (format {found}).",
            hint="Upgrade jellyml (pip install -U jellyml) to read it.",
        )


class OutputPathError(JellyMLError, OSError):
    """Where we were asked to write cannot be written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"Cannot write {path}: {reason}.")


class PathNotFoundError(JellyMLError, FileNotFoundError):
    """A folder we were pointed at does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} does not exist.", hint="Check the path.")


class BareRepoError(JellyMLError, ValueError):
    """The repository has no working tree to snapshot or restore into."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is a bare git repository, which has no working tree.",
            hint="Point jellyml at a folder inside a checkout.",
        )


class NotAFolderError(JellyMLError, NotADirectoryError):
    """A path that should be a folder is a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} is a file, not a folder.", hint="Pass the folder that holds it.")


class DistributedSnapshotError(JellyMLError, RuntimeError):
    """Rank 0 failed with an error that is not a ``JellyMLError``, or the broadcast failed."""
