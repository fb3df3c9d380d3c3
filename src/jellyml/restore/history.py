"""The history of eats, one JSON file per repository in the user data directory.

Each ``jellyml eat`` pushes an item (what the user had: branch or commit, and the commits that
hold their put-aside work); ``jellyml undo`` pops it. The file is versioned, written atomically
(a temporary file in the same folder, flushed, then ``os.replace``d) and only ever changed under
an exclusive lock, so two jellyml processes at once cannot corrupt it or lose an item.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .. import settings
from ..errors import CorruptHistoryError, HistoryError, NewerHistoryError
from ..outputs import replacing
from .history_schema import EATEN as EATEN  # the item states: re-exported, with the schema
from .history_schema import EATING as EATING
from .history_schema import UNDOING as UNDOING
from .history_schema import check_item
from .lock import locked

#: Version written by this jellyml. Older files are upgraded on read; newer ones refused.
#: 2: items may have put files aside in ``<git dir>/jellyml/<id>/`` (``aside``).
HISTORY_VERSION = 2


@dataclass
class HistoryItem:
    """One eat: enough to put the repository back exactly as it was before it."""

    id: str
    state: str
    model: str
    snapshot_commit: str
    #: The branch HEAD was on (``refs/heads/...``), None when detached.
    branch: Optional[str]
    #: The commit HEAD pointed at, None in a repository without commits.
    head: Optional[str]
    #: Commit whose tree is the user's index (parent: ``head``).
    saved_index: str
    #: Commit whose tree is the working tree with untracked files (parent: ``saved_index``).
    saved_worktree: str
    #: The ref keeping the saved commits and the snapshot from ``git gc``.
    ref_prefix: str
    created_at: str
    untracked: list[str] = field(default_factory=list)
    #: Set by an undo that found work done after the eat and kept it on a branch.
    after_branch: Optional[str] = None
    #: For an eat made by JellyML 1.0.0: its stash commit, dropped once the undo is done.
    legacy_stash: Optional[str] = None
    #: How many files and folders this eat moved into its put-aside folder
    #: (``<git dir>/jellyml/<id>/``, listed in its journal); 0: none (and no folder).
    aside: int = 0

    @classmethod
    def from_json(cls, data: Any, path: str) -> HistoryItem:
        """An item read from the file, every field checked (``history_schema``) before use."""
        return cls(**check_item(data, path))


@dataclass
class History:
    path: str
    repo: str
    items: list[HistoryItem] = field(default_factory=list)
    #: The repository's identity (``identity.repo_id``), written into the file; None: unknown.
    identity: Optional[str] = None
    #: Items dropped on reading because they belong to another repository that was at this path.
    dropped: int = 0

    def last(self) -> Optional[HistoryItem]:
        return self.items[-1] if self.items else None


def history_path(git_dir: str) -> str:
    """The history file of the repository (or worktree) whose git dir is ``git_dir``."""
    real = os.path.realpath(git_dir)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    top = os.path.dirname(real) if os.path.basename(real) == ".git" else real
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(top))
    return os.path.join(settings.history_dir(), f"{name or 'repo'}-{digest}.json")


#: A history file larger than this is not one of ours (an item is well under 4 KiB).
MAX_FILE_SIZE = 16 << 20


def load(path: str, repo: str, identity: Optional[str] = None) -> History:
    """Read the history at ``path`` (an empty one if there is none). Call under ``locked``.

    With ``identity``, a file written for another repository that was at the same path (deleted
    and made again) is not this repository's: its items are dropped (counted in ``dropped``).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return History(path, repo, identity=identity)
    except OSError as exc:
        raise HistoryError(path, f"Cannot read the jellyml history file {path}: {exc}.") from None
    if len(raw) > MAX_FILE_SIZE:
        raise CorruptHistoryError(path, f"it is larger than {MAX_FILE_SIZE >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptHistoryError(path, "it is not UTF-8 text") from None
    except (ValueError, RecursionError):  # bad JSON, nested too deep, too many digits
        raise CorruptHistoryError(path, "it is not valid JSON") from None
    data = _upgrade(data, path)
    items = data.get("items")
    if not isinstance(items, list):
        raise CorruptHistoryError(path, "its items are not a list")
    parsed = [HistoryItem.from_json(i, path) for i in items]
    recorded = data.get("repo_id")
    if recorded is not None and not isinstance(recorded, str):
        raise CorruptHistoryError(path, "its repo_id is not a string")
    if identity is not None and recorded is not None and recorded != identity:
        return History(path, repo, identity=identity, dropped=len(parsed))
    return History(path, repo, parsed, identity=identity or recorded)


def _upgrade(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CorruptHistoryError(path, "it is not a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CorruptHistoryError(path, "it has no valid version number")
    if version > HISTORY_VERSION:
        raise NewerHistoryError(path, version)
    # Version 2 added the optional ``aside`` field to items: a version 1 file reads as it is.
    # An upgrade from version n to n + 1 goes here when one needs more. JellyML 1.0.0's files
    # (another layout, elsewhere) are read by ``legacy``.
    return data


def save(history: History) -> None:
    """Write the history atomically: a crash leaves the old file or the new one, never half."""
    body: dict[str, Any] = {
        "version": HISTORY_VERSION,
        "repo": history.repo,
        "items": [asdict(item) for item in history.items],
    }
    if history.identity is not None:
        body["repo_id"] = history.identity
    os.makedirs(os.path.dirname(history.path), exist_ok=True)
    with replacing(history.path, ".history.tmp", durable=True) as (out, _tmp):
        text = io.TextIOWrapper(out, encoding="utf-8")
        json.dump(body, text, indent=1)
        text.flush()
        text.detach()  # ``replacing`` flushes, syncs and closes the file itself


@contextlib.contextmanager
def transaction(path: str, repo: str, identity: Optional[str] = None) -> Iterator[History]:
    """Load under the lock, let the caller change it, save it when the block ends without error."""
    with locked(path):
        history = load(path, repo, identity)
        yield history
        save(history)


def read(path: str, repo: str, identity: Optional[str] = None) -> History:
    with locked(path):
        return load(path, repo, identity)


def clear(path: str) -> bool:
    """Delete the history file; True if there was one."""
    with locked(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
