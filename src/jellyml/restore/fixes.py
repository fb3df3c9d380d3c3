"""The ``jellyml fix`` commands on the history: where it is, dropping its last item, clearing it."""

from __future__ import annotations

import os
from typing import Optional

from . import aside, history
from .common import history_of, history_transaction, require_repo
from .history import HistoryItem


def delete_last_item(code_dir: Optional[str] = None) -> tuple[str, Optional[HistoryItem]]:
    """Drop the last history item (its saved work stays under its refs, the files it put
    aside in its folder); return the repo top and the item, or None when the history was
    empty."""
    repo = require_repo(code_dir)
    with history_transaction(repo) as h:
        item = h.items.pop() if h.items else None
    return repo.top, item


def history_file(code_dir: Optional[str] = None) -> tuple[str, str]:
    """The repository top and the path of its history file."""
    repo = require_repo(code_dir)
    return repo.top, history_of(repo)


def clear_history(code_dir: Optional[str] = None) -> tuple[str, bool, list[str], list[str]]:
    """Delete the history file; return its path, whether it existed, the refs under
    ``refs/jellyml/`` that still hold put-aside work and the put-aside folders that still hold
    files (both are kept, never deleted here)."""
    repo = require_repo(code_dir)
    path = history_of(repo)
    existed = history.clear(path)
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/jellyml/").split()
    parent = os.path.join(repo.git_dir, aside.ASIDE)
    folders = sorted(os.listdir(parent)) if os.path.isdir(parent) else []
    return path, existed, refs, [os.path.join(parent, name) for name in folders]
