"""The ``jellyml fix`` commands on the history: where it is, dropping its last item, clearing it."""

from __future__ import annotations

from typing import Optional

from . import history
from .common import history_of, history_transaction, require_repo
from .history import HistoryItem


def delete_last_item(code_dir: Optional[str] = None) -> tuple[str, Optional[HistoryItem]]:
    """Drop the last history item (its saved work stays under its refs); return the repo top
    and the item, or None when the history was empty."""
    repo = require_repo(code_dir)
    with history_transaction(repo) as h:
        item = h.items.pop() if h.items else None
    return repo.top, item


def history_file(code_dir: Optional[str] = None) -> tuple[str, str]:
    """The repository top and the path of its history file."""
    repo = require_repo(code_dir)
    return repo.top, history_of(repo)


def clear_history(code_dir: Optional[str] = None) -> tuple[str, bool, list[str]]:
    """Delete the history file; return its path, whether it existed, and the refs under
    ``refs/jellyml/`` that still hold put-aside work (they are kept, never deleted here)."""
    repo = require_repo(code_dir)
    path = history_of(repo)
    existed = history.clear(path)
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/").split()
    return path, existed, refs
