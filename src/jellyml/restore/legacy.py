"""Outstanding eats made by JellyML 1.0.0, brought into this version's history.

JellyML 1.0.0 kept ``jellyml_history_map.json`` (repository top -> file name) in the user data
directory, and per repository ``{"version": "january-07-2023", "history_stack": [...]}``. Its
eats put work aside with ``git stash --include-untracked -m jellyml_stash_at_...`` and recorded
the branch (or commit) and the stash message. Each such item becomes an item of ours: the
stash's index commit is our ``index`` commit, and its working tree plus its untracked files
become our ``working tree`` commit, so ``jellyml undo`` after an upgrade puts that work back too
(and then drops the stash entry, as 1.0.0's undo popped it).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from .. import settings
from ..gitcore import run as gitrun
from ..gitcore.index import JELLYML_IDENTITY
from ..gitcore.repo import Repo
from ..tempdirs import temporary_dir
from .common import history_transaction
from .history import EATEN, HistoryItem

#: The ``version`` of JellyML 1.0.0's history files (its checkpoint headers say "january-7-2023").
LEGACY_HISTORY_VERSION = "january-07-2023"


def legacy_history_file(top: str) -> Optional[str]:
    """JellyML 1.0.0's history file for the repository at ``top``, if it has one."""
    base = settings.legacy_data_dir()
    try:
        with open(os.path.join(base, "jellyml_history_map.json"), encoding="utf-8") as f:
            mapping = json.load(f)
    except (OSError, ValueError):
        return None
    name = mapping.get(top) if isinstance(mapping, dict) else None
    if not isinstance(name, str) or os.path.basename(name) != name:
        return None
    path = os.path.join(base, name)
    return path if os.path.isfile(path) else None


def import_legacy(repo: Repo, hist: str) -> int:
    """Move 1.0.0's outstanding eats into our (empty) history; return how many there were.
    The old file is renamed, not deleted, so nothing is lost if this goes wrong."""
    path = legacy_history_file(repo.top)
    if path is None:
        return 0
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        stack = data["history_stack"] if data.get("version") == LEGACY_HISTORY_VERSION else None
    except (OSError, ValueError, KeyError, AttributeError):
        return 0
    if not isinstance(stack, list):
        return 0
    items = [_convert(repo, n, old) for n, old in enumerate(stack) if _is_pull(old)]
    with history_transaction(repo) as h:
        if h.items:  # ours came later: import once ours are undone
            return 0
        h.items = items
    os.replace(path, path + ".imported-by-jellyml-2")
    return len(items)


def _is_pull(old: Any) -> bool:
    # "clone" items cannot be undone (1.0.0 said so too); anything else is not ours to guess.
    return isinstance(old, dict) and old.get("type") == "pull"


def _convert(repo: Repo, n: int, old: dict[str, Any]) -> HistoryItem:
    target = str(old.get("git_branch_name_or_commit_hash", ""))
    is_branch = _git_ok(repo, "show-ref", "--verify", "-q", f"refs/heads/{target}")
    stash = _find_stash(repo, old.get("git_stash_message"))
    if stash is not None:
        head = _git(repo, "rev-parse", f"{stash}^1")
        index = _git(repo, "rev-parse", f"{stash}^2")
        untracked = (
            f"{stash}^3" if _git_ok(repo, "rev-parse", "-q", "--verify", f"{stash}^3") else None
        )
        tree = _merge_untracked(repo, f"{stash}^{{tree}}", untracked)
        names = _names(repo, untracked)
    else:
        head = _git(repo, "rev-parse", f"{target}^{{commit}}")
        tree = _git(repo, "rev-parse", f"{head}^{{tree}}")
        index = _git(repo, "commit-tree", "-p", head, "-m", "jellyml 1.0.0 eat: index", tree)
        names = []
    worktree = _git(repo, "commit-tree", "-p", index, "-m", "jellyml 1.0.0 eat: working tree", tree)
    item_id = f"legacy-{n}-" + "".join(c for c in str(old.get("date", "")) if c.isalnum())[:24]
    prefix = f"refs/jellyml/{item_id}"
    _git(repo, "update-ref", f"{prefix}/saved", worktree)
    snapshot = str(old.get("model_snapshot_commit_hash", ""))
    return HistoryItem(
        id=item_id,
        state=EATEN,
        model=str(old.get("going_to_model_snapshot", "")),
        snapshot_commit=snapshot,
        branch=f"refs/heads/{target}" if is_branch else None,
        head=head,
        saved_index=index,
        saved_worktree=worktree,
        ref_prefix=prefix,
        created_at=str(old.get("date", "")),
        untracked=names,
        legacy_stash=stash,
    )


def _find_stash(repo: Repo, message: Any) -> Optional[str]:
    """The stash commit whose message is ``message`` (git shows it as "On <branch>: message")."""
    if not isinstance(message, str) or not message:
        return None
    proc = gitrun.run(
        ["log", "-g", "-z", "--format=%H %gs", "refs/stash"], cwd=repo.top, check=False
    )
    for record in gitrun.split_z(proc.stdout):
        oid, _, subject = record.decode("utf-8", "replace").partition(" ")
        if subject == message or subject.endswith(f": {message}"):
            return oid
    return None


def drop_stash(repo: Repo, commit: str) -> None:
    """Drop the stash entry holding ``commit`` (found by id, never by position alone)."""
    proc = gitrun.run(["log", "-g", "-z", "--format=%H", "refs/stash"], cwd=repo.top, check=False)
    for n, oid in enumerate(gitrun.split_z(proc.stdout)):
        if oid.decode() == commit:
            gitrun.run(["stash", "drop", "-q", f"stash@{{{n}}}"], cwd=repo.top)
            return


def _merge_untracked(repo: Repo, tree: str, untracked: Optional[str]) -> str:
    if untracked is None:
        return _git(repo, "rev-parse", tree)
    with temporary_dir("legacy") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        gitrun.run(["read-tree", tree], cwd=repo.top, env=env)
        listing = gitrun.run(["ls-tree", "-r", "-z", untracked], cwd=repo.top).stdout
        gitrun.run(["update-index", "-z", "--index-info"], cwd=repo.top, env=env, input=listing)
        return gitrun.out(["write-tree"], cwd=repo.top, env=env)


def _names(repo: Repo, untracked: Optional[str]) -> list[str]:
    if untracked is None:
        return []
    raw = gitrun.run(["ls-tree", "-r", "-z", "--name-only", untracked], cwd=repo.top).stdout
    return [os.fsdecode(p) for p in gitrun.split_z(raw)]


def _git(repo: Repo, *args: str) -> str:
    return gitrun.out(list(args), cwd=repo.top, env=JELLYML_IDENTITY)


def _git_ok(repo: Repo, *args: str) -> bool:
    return gitrun.run(list(args), cwd=repo.top, check=False).returncode == 0
