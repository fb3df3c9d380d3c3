"""Contains all custom errors: one hierarchy for everything JellyML refuses or fails to do.

Every error carries the fields a caller needs (the path, the git argv and stderr, the offending
field) and subclasses a stdlib type as well, so callers can catch either. ``str(error)`` is one
clear sentence followed by what to do next; the CLI prints exactly that.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Optional

#: Said after every refusal that changed nothing.
NOTHING_CHANGED = "nothing was changed."


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
        super().__init__(f"`{' '.join(self.argv)}` failed (exit {returncode}): {_said(stderr)}")


def _said(stderr: str) -> str:
    """What git said, in one line: its last line ("fatal: updating files failed"), after its
    first ``error:`` line when there is one (``error: open("a.py"): Permission denied``, which
    names the file)."""
    from .text import shorten

    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    if not lines:
        return "no error output"
    first = next((line for line in lines if line.startswith("error:")), lines[-1])
    return shorten(lines[-1]) if first == lines[-1] else f"{shorten(first)}; {shorten(lines[-1])}"


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
            hint="Add large files to .gitignore or leave them out with exclude=[...], or raise "
            "max_total_size.",
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

    def __init__(
        self, path: str, *, message: Optional[str] = None, hint: Optional[str] = None
    ) -> None:
        if hint is None and path.endswith(".ckpt"):  # Lightning's extension: the plugin
            hint = (
                "Train with Trainer(plugins=[JellyMLLightningPlugin()]) "
                "(pip install jellyml-lightning) so that every checkpoint carries one."
            )
        elif hint is None:
            hint = "Save it with {**jellyml.create_snapshot()} in the dict passed to torch.save."
        message = message or f"{path} is a checkpoint but holds no JellyML snapshot."
        super().__init__(path, message, hint=hint)


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


class OutputExistsError(OutputPathError, FileExistsError):
    """The output file exists and was not to be replaced (``--force`` / ``force=True``)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "it already exists")
        self.hint = "Pass --force to replace it, or choose another path with -o."


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


class MissingModelArgError(JellyMLError, ValueError):
    """``jellyml git`` was given no model file."""

    def __init__(self) -> None:
        super().__init__(
            "No model file given.", hint="Usage: jellyml git MODEL_FILE GIT_ARGS... ({} = bundle)"
        )


# --- restoring: eat and undo ---------------------------------------------------------------


class RepoBusyError(JellyMLError, RuntimeError):
    """Another jellyml eat or undo holds the repository's lock."""

    def __init__(self, top: str) -> None:
        self.path = top
        super().__init__(
            f"Another jellyml is changing {top} right now.",
            hint=f"Wait for it to finish and try again; {NOTHING_CHANGED}",
        )


class InterruptedOperationError(JellyMLError, RuntimeError):
    """The last eat or undo was interrupted; undo must finish it before anything else."""

    def __init__(self, top: str, state: str) -> None:
        self.path = top
        self.state = state
        what = "eat" if state == "eating" else "undo"
        super().__init__(
            f"The last jellyml {what} in {top} was interrupted before it finished.",
            hint=f"Run `jellyml undo` to put your work back first; {NOTHING_CHANGED}",
        )


class DirectoryNotEmptyError(JellyMLError, ValueError):
    """Eat was pointed at a folder that is neither a repository nor empty."""

    def __init__(self, folder: str) -> None:
        self.path = folder
        super().__init__(
            f"{folder} is not a git repository and is not empty.",
            hint=f"Eat into a git repository, an empty folder or a new one; {NOTHING_CHANGED}",
        )


class MissingFolderInRepoError(JellyMLError, FileNotFoundError):
    """Eat was pointed at a missing folder inside a repository (most likely a typo)."""

    def __init__(self, folder: str, top: str) -> None:
        self.path = folder
        self.top = top
        super().__init__(
            f"{folder} does not exist, and would be a new repository inside {top}.",
            hint=f"Pass -c {top} to eat into that repository, or a folder outside it to clone "
            f"into; {NOTHING_CHANGED}",
        )


class OperationInProgressError(JellyMLError, RuntimeError):
    """The repository is in the middle of a merge, rebase, cherry-pick, revert or bisect."""

    def __init__(self, top: str, operation: str) -> None:
        self.path = top
        self.operation = operation
        super().__init__(
            f"{top} is in the middle of a {operation}.",
            hint=f"Finish or abort the {operation} first; {NOTHING_CHANGED}",
        )


class UnmergedIndexError(JellyMLError, RuntimeError):
    """The index has unresolved merge conflicts, which cannot be saved as a tree."""

    def __init__(self, top: str) -> None:
        self.path = top
        super().__init__(
            f"{top} has unresolved merge conflicts.",
            hint=f"Resolve them (or `git merge --abort`) and try again; {NOTHING_CHANGED}",
        )


class WouldOverwriteIgnoredError(JellyMLError, RuntimeError):
    """Something undo can neither put aside nor keep on a branch (a nested repository made
    after the eat) stands where the user's work goes back."""

    def __init__(self, top: str, paths: list[str]) -> None:
        self.path = top
        self.paths = paths
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(
            f"Putting your work back would overwrite what git does not track in {top}: {shown}.",
            hint=f"Move them away and try again; {NOTHING_CHANGED}",
        )


class CannotPutAsideError(JellyMLError, OSError):
    """Something eat would put aside (an untracked file a snapshot would carry, or what stands
    in the snapshot's way) cannot be moved: a mount point, a folder that cannot be written, a
    special file on another file system."""

    def __init__(self, top: str, path: str, reason: str) -> None:
        self.top = top
        self.path = path
        self.reason = reason
        super().__init__(
            f"Cannot move {path} aside in {top}: {reason}.",
            hint=f"Move it away yourself and try again; {NOTHING_CHANGED}",
        )


class PutAsideMissingError(JellyMLError, FileNotFoundError):
    """Files that eat put aside are gone from its folder under ``.git/jellyml/``."""

    def __init__(self, top: str, folder: str, missing: list[str], total: int) -> None:
        self.top = top
        self.path = folder
        self.missing = missing
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        super().__init__(
            f"What eat put aside in {top} is missing from {folder}: {shown} "
            f"({total} put aside in all).",
            hint="Put it back there and run `jellyml undo` again; `jellyml fix "
            "delete-last-history-item` forgets this eat instead (its saved commits stay under "
            f"refs/jellyml/). {NOTHING_CHANGED[0].upper()}{NOTHING_CHANGED[1:]}",
        )


# --- worktrees and branches (issue 18) ------------------------------------------------------


class BranchNameError(JellyMLError, ValueError):
    """``eat -b NAME``: NAME is not a valid branch name, or that branch exists."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(
            f"Branch {name} {reason}.",
            hint=f"Choose another name for -b; {NOTHING_CHANGED}",
        )


class WorktreePlaceError(JellyMLError, ValueError):
    """``eat --worktree DIR``: DIR cannot hold a new worktree (not empty, inside the user's
    tree and not ignored there, inside .git, registered with git already, ...)."""

    def __init__(self, folder: str, reason: str, *, hint: str = "") -> None:
        self.path = folder
        self.reason = reason
        super().__init__(
            f"Cannot make a worktree at {folder}: {reason}.",
            hint=f"{hint + '; ' if hint else 'Choose another folder; '}{NOTHING_CHANGED}",
        )


class WorktreeChangesError(JellyMLError, RuntimeError):
    """``undo --worktree DIR``: DIR holds work that removing it would lose."""

    def __init__(self, folder: str, what: str, *, forceable: bool = True) -> None:
        self.path = folder
        self.what = what
        self.forceable = forceable
        how = (
            "Keep what you want elsewhere, or pass --force to remove it anyway (changes and "
            "untracked files are then kept on a jellyml-undo-* branch; ignored files are deleted)"
            if forceable
            else "Move it out of the worktree first"
        )
        super().__init__(f"{folder} holds {what}.", hint=f"{how}; {NOTHING_CHANGED}")


class NotAJellyWorktreeError(JellyMLError, LookupError):
    """``undo --worktree DIR``: no worktree made by ``eat --worktree`` is recorded at DIR."""

    def __init__(self, folder: str, top: str) -> None:
        self.path = folder
        self.top = top
        super().__init__(
            f"{folder} is not a worktree made by `jellyml eat --worktree` in {top}.",
            hint="`jellyml status` lists those; run it from (or -c) the repository it was "
            f"made from; `git worktree remove` removes any other worktree; {NOTHING_CHANGED}",
        )


# --- the history file ----------------------------------------------------------------------


class HistoryError(JellyMLError, ValueError):
    """The history file cannot be used; carries its path."""

    def __init__(self, path: str, message: str, *, hint: Optional[str] = None) -> None:
        self.path = path
        super().__init__(message, hint=hint)


class CorruptHistoryError(HistoryError):
    """The history file is not what this jellyml writes (bad JSON, wrong types, bad refs)."""

    def __init__(self, path: str, problem: str) -> None:
        self.problem = problem
        super().__init__(
            path,
            f"The jellyml history file {path} is corrupt: {problem}.",
            hint="Run `jellyml fix clear-history` to start a new one (work that jellyml put "
            "aside stays in the repository under refs/jellyml/).",
        )


class NewerHistoryError(HistoryError):
    """The history file was written by a newer jellyml."""

    def __init__(self, path: str, found: int) -> None:
        self.found = found
        super().__init__(
            path,
            f"The jellyml history file {path} was written by a newer jellyml (version {found}).",
            hint="Upgrade jellyml (pip install -U jellyml) to use it.",
        )


class InvalidSnapshotOptionError(JellyMLError, ValueError):
    """An argument of create_snapshot has a value it does not take."""

    def __init__(self, option: str, value: object, allowed: tuple[str, ...]) -> None:
        self.option = option
        self.value = value
        self.allowed = allowed
        choices = ", ".join(repr(a) for a in allowed)
        super().__init__(f"create_snapshot got {option}={value!r}.", hint=f"Pass one of {choices}.")


# --- warnings ------------------------------------------------------------------------------


class SnapshotWarning(UserWarning):
    """Something about a snapshot the user should know: files left out (large, secret-looking,
    excluded, unreadable), a shallow snapshot made instead of a full one, a large snapshot, or
    another repository than the current directory's snapshotted."""


# --- checkpoints in other formats and places (safetensors, folders, URLs), strip ------------


class RemoteSupportMissingError(JellyMLError, ImportError):
    """A URL was given and fsspec (or the backend its protocol needs) is not installed."""

    def __init__(self, url: str, package: str, *, extra: bool = False) -> None:
        self.url = url
        self.package = package
        how = "pip install 'jellyml[remote]'" if extra else f"pip install {package}"
        super().__init__(
            f"Reading {url} needs {package}, which is not installed.", hint=f"Run {how}."
        )


class RemoteAccessError(ModelFileError, OSError):
    """A URL could not be opened: no such bucket, no permission, no credentials, no network."""

    def __init__(self, url: str, problem: str) -> None:
        self.problem = problem
        super().__init__(
            url,
            f"Cannot open {url}: {problem}.",
            hint="Check the URL and the credentials: --storage-option KEY=VALUE (e.g. "
            "client_kwargs.endpoint_url=http://host:9000, or token=hf_...), "
            "JELLYML_STORAGE_OPTIONS='{...}' (JSON), storage_options= in Python, or the "
            "backend's environment variables.",
        )


class RemoteReadError(ModelFileError, OSError):
    """A transfer failed part way, or a reply was not the length asked for."""

    def __init__(self, url: str, problem: str) -> None:
        self.problem = problem
        super().__init__(
            url, f"Reading {url} failed: {problem}.", hint="Try again; nothing was written."
        )


class RangeNotSupportedError(RemoteReadError):
    """The server answered a ranged request with the whole file."""

    def __init__(self, url: str) -> None:
        ModelFileError.__init__(
            self,
            url,
            f"The server of {url} ignores Range requests, so reading the snapshot would "
            "download the whole file.",
            hint="Download the file first and pass the local path.",
        )
        self.problem = "the server ignores Range requests"


class AmbiguousFolderError(NotACheckpointError):
    """A checkpoint folder holds several files that could carry its snapshot."""

    def __init__(self, path: str, candidates: Sequence[str]) -> None:
        self.candidates = list(candidates)
        from .text import shorten  # names from a listing are untrusted: short in a message

        names = ", ".join(shorten(name) for name in self.candidates[:5])
        super().__init__(
            path,
            f"{path} holds several files that could carry a snapshot ({names}).",
            hint="Pass the file itself.",
        )


class StorageOptionsError(JellyMLError, ValueError):
    """``--storage-option`` or ``JELLYML_STORAGE_OPTIONS`` could not be understood."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(
            f"{where}: {problem}.",
            hint="Give --storage-option KEY=VALUE (dotted keys nest: "
            "client_kwargs.endpoint_url=URL) and JELLYML_STORAGE_OPTIONS as a JSON object.",
        )


class StripError(JellyMLError, ValueError):
    """A checkpoint cannot be stripped (nothing to strip, or not safely); nothing was written."""

    def __init__(self, path: str, reason: str, *, hint: Optional[str] = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Cannot strip {path}: {reason}; {NOTHING_CHANGED}", hint=hint)


# --- eat and undo: refusals added for hostile inputs and unusual repositories (issue 10) ------


class CurrentFolderGoneError(JellyMLError, FileNotFoundError):
    """The current folder was deleted (a snapshot without it was eaten) and $PWD is unknown."""

    def __init__(self) -> None:
        self.path = None
        super().__init__(
            "The current folder no longer exists (the snapshot you ate does not have it).",
            hint="`cd` into the repository and run the command again.",
        )


class UnrelatedSnapshotError(JellyMLError, ValueError):
    """The snapshot shares no history with the repository: most likely another project."""

    def __init__(self, model: str, top: str) -> None:
        self.path = model
        self.top = top
        super().__init__(
            f"The snapshot in {model} shares no history with the repository {top}: it looks "
            "like another project.",
            hint="Eat it into a new folder with `-c NEWDIR`, or pass --force to check it out "
            f"here anyway; {NOTHING_CHANGED}",
        )


class SnapshotLimitError(JellyMLError, ValueError):
    """The snapshot's files are over a limit (count, total size, largest file, depth)."""

    def __init__(self, model: str, what: str, found: int, limit: int, variable: str) -> None:
        self.path = model
        self.what = what
        self.found = found
        self.limit = limit
        self.variable = variable
        super().__init__(
            f"The snapshot in {model} has {found:,} {what}, over the limit of {limit:,}.",
            hint=f"If you trust this file, raise the limit ({variable}=N, or 0 for none) and try "
            f"again; {NOTHING_CHANGED}",
        )


class ReadOnlyRepoError(JellyMLError, PermissionError):
    """The repository (its .git or its working tree) cannot be written."""

    def __init__(self, top: str, path: str, reason: str) -> None:
        self.path = path
        self.top = top
        self.reason = reason
        super().__init__(
            f"Cannot eat into {top}: {path} is not writable ({reason}).",
            hint=f"Eat into a copy you can write (`-c NEWDIR` clones one); {NOTHING_CHANGED}",
        )


class GitLockedError(JellyMLError, RuntimeError):
    """git's own lock file is present: another git command runs, or one crashed."""

    def __init__(self, top: str, lock: str) -> None:
        self.path = lock
        self.top = top
        super().__init__(
            f"{lock} exists: another git command is running in {top}, or one crashed.",
            hint=f"Wait for it to finish; if none is running, delete {lock} and try again; "
            f"{NOTHING_CHANGED}",
        )


class DubiousOwnershipError(JellyMLError, PermissionError):
    """git refuses a repository owned by another user ("dubious ownership")."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"git refuses to use the repository at {path}: {reason}.",
            hint="If you trust it, allow it with "
            f"`git config --global --add safe.directory {path}` and try again.",
        )


# --- looking inside a snapshot: ls, cat, diff, log -----------------------------------------


class PathNotInSnapshotError(JellyMLError, LookupError):
    """A path asked for (ls, cat, diff -- PATH) is not in the snapshot."""

    def __init__(self, model: str, path: str) -> None:
        self.model = model
        self.path = path
        super().__init__(
            f"{path} is not in the snapshot in {model}.",
            hint=f"`jellyml ls {model}` lists its files (paths start at the repository's top).",
        )


class NotAFileInSnapshotError(JellyMLError, IsADirectoryError):
    """``cat`` was given a folder or a submodule of the snapshot, which has no bytes to print."""

    def __init__(self, model: str, path: str, kind: str) -> None:
        self.model = model
        self.path = path
        self.kind = kind
        hint = (
            f"`jellyml ls {model} {path}` lists the files in it."
            if kind == "folder"
            else "A snapshot records a submodule's commit, not its files."
        )
        super().__init__(f"{path} is a {kind} in the snapshot in {model}, not a file.", hint=hint)


class RevisionNotFoundError(JellyMLError, LookupError):
    """``diff MODEL OTHER``: OTHER is neither a model file nor a revision of the repository."""

    def __init__(self, revision: str, top: Optional[str]) -> None:
        self.revision = revision
        self.top = top
        if top is None:
            super().__init__(
                f"{revision} is not a model file, and there is no git repository here to look "
                "it up in as a revision.",
                hint="Check the path, or run it inside the repository (or pass -c DIR).",
            )
            return
        super().__init__(
            f"{revision} is neither a model file nor a revision (commit, branch, tag) of {top}.",
            hint="Check the name; `git fetch` it first if it is on a remote.",
        )


class MissingCommitError(JellyMLError, LookupError):
    """A commit the snapshot builds on (its base commit) is not in the bundle nor the repository."""

    def __init__(self, commit: str, top: Optional[str], remotes: dict[str, str]) -> None:
        self.commit = commit
        self.top = top
        self.remotes = dict(remotes)
        where = top if top is not None else "the snapshot, and there is no repository here"
        name, url = next(iter(sorted(self.remotes.items())), ("", ""))
        if top is None:
            hint = "Run it inside a clone of the project"
            hint += f" ({url})." if url else "."
        elif name:
            hint = f"Fetch it first: `git fetch {name} {commit}` ({name} is {url})."
        else:
            hint = "Fetch it first from the repository the snapshot was made in."
        super().__init__(f"The snapshot's base commit {commit} is not in {where}.", hint=hint)


class BaseCommitUnknownError(JellyMLError, LookupError):
    """``diff --base``: the snapshot does not record the commit it was made on (JellyML 1.0.0)."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"The snapshot in {model} does not record the commit it was made on "
            "(JellyML 1.0.0 did not).",
            hint=f"Compare it with a revision instead: `jellyml diff {model} REVISION`.",
        )


class NoPackageListError(JellyMLError, LookupError):
    """``show --requirements``: the snapshot records no package list."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"The snapshot in {model} records no package list.",
            hint=f"Snapshots from JellyML 1.0.0 have none; `jellyml show {model}` shows what "
            "it records.",
        )


# --- `jellyml env` (issue 20): reproducing a snapshot's Python environment


class SnapshotDateUnknownError(JellyMLError, LookupError):
    """``env --exclude-newer``: the snapshot records no date (or not a valid one)."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"The snapshot in {model} records no valid date, which --exclude-newer needs.",
            hint="Run it without --exclude-newer.",
        )


class UvNotFoundError(JellyMLError, FileNotFoundError):
    """uv is needed (``env --format pylock``) and is not installed."""

    def __init__(self, needed_for: str) -> None:
        self.needed_for = needed_for
        super().__init__(
            f"{needed_for} needs uv, which is not installed here.",
            hint="Install it with `pip install uv` (or see https://docs.astral.sh/uv/).",
        )


class VenvExistsError(JellyMLError, FileExistsError):
    """``env --venv DIR``: DIR exists already (it is never replaced or added to)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} already exists; jellyml env --venv makes a new environment only.",
            hint=f"Choose a new folder, or remove {path} first; {NOTHING_CHANGED}",
        )


class EnvironmentBuildError(JellyMLError, RuntimeError):
    """An installer (uv, pip, venv) failed where nothing could be done about one package:
    making the environment, or resolving a pylock.toml. ``argv`` and ``stderr`` are its own."""

    def __init__(self, what: str, argv: Sequence[str], stderr: str) -> None:
        self.argv = list(argv)
        self.stderr = stderr
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        if len(lines) > 3:  # uv: what failed first, then its causes; the last is the root
            lines = [*lines[:2], "...", lines[-1]]
        said = "; ".join(lines) if lines else "no error output"
        super().__init__(f"{what} failed: {said}", hint=f"The command was: {' '.join(argv)}")


# --- internal: raised by parsers and turned into one of the errors above before a user sees it


class HeaderError(ValueError):
    """A header that claims to be ours is malformed; ``field`` names the culprit."""

    def __init__(self, problem: str, field: Optional[str] = None) -> None:
        self.problem = problem
        self.field = field
        super().__init__(problem)


class NewerFormatError(ValueError):
    """The header is from a format version this reader does not know."""

    def __init__(self, found: str) -> None:
        self.found = found
        super().__init__(found)


class BundleFormatError(ValueError):
    """The bundle's header is not what git writes (the caller names the checkpoint)."""


class PackError(ValueError):
    """A bundle's pack cannot be read in Python (damaged, or of a shape ``gitcore.pack`` does
    not follow); the comparison of a worker's files that needed it is skipped."""


class PickleStripError(ValueError):
    """The pickle cannot be rewritten safely; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ObjectFormatMismatchError(JellyMLError, ValueError):
    """The snapshot's commits are named by one hash (sha1, sha256), the repository's by the
    other: git cannot put one's objects in the other."""

    def __init__(
        self, model: str, snapshot_format: str, repo_format: str, where: Optional[str]
    ) -> None:
        self.path = model
        self.snapshot_format = snapshot_format
        self.repo_format = repo_format
        self.top = where
        there = f"the repository {where}" if where else "the other snapshot"
        super().__init__(
            f"The snapshot in {model} is a {snapshot_format} repository's, and {there} uses "
            f"{repo_format}: git cannot mix the two object formats.",
            hint=f"Use a {snapshot_format} repository for it: `jellyml eat {model} -c NEWDIR` "
            "makes one; nothing was changed.",
        )


# --- every read bounded (issue 23) -------------------------------------------------------------


class RemoteTooSlowError(RemoteReadError):
    """A server did not answer, or sent too slowly: a timeout or the transfer-rate floor."""

    def __init__(self, url: str, problem: str, variable: str) -> None:
        ModelFileError.__init__(
            self,
            url,
            f"The server of {url} was too slow: {problem}.",
            hint=f"Try again later, or allow more time ({variable}).",
        )
        self.problem = problem
        self.variable = variable


class ReadLimitError(SnapshotLimitError):
    """A command reading a snapshot (``ls``, ``diff``, ``log``) stopped at one of the
    ``JELLYML_MAX_*`` limits eat applies."""

    def __init__(self, model: str, what: str, found: int, limit: int, variable: str) -> None:
        super().__init__(model, what, found, limit, variable)
        self.message = (
            f"Stopped reading the snapshot in {model}: it is over the limit of {limit:,} "
            f"{what} ({variable})."
        )
        self.hint = f"If you trust this file, raise the limit ({variable}=N, or 0 for none)."
        self.args = (self.message,)


class GitUnusableError(JellyMLError, RuntimeError):
    """git itself fails in the repository (its configuration), so eat would fail half way."""

    def __init__(self, top: str, command: str, message: str) -> None:
        self.top = top
        self.command = command
        super().__init__(
            f"git fails in {top}, so nothing was changed: `{command}` says: {message}",
            hint="Fix the repository's git configuration (see `git config --show-origin "
            "--list`) and try again.",
        )
