"""The schema of a history item: every field read from the history file is checked before use.

The history file lives outside the repository and anything may have written it (another tool, a
hand edit, a disk error). Its fields end up in git argument lists (commits, ref names, branch
names), so a wrong one is refused with ``CorruptHistoryError`` (which names
``jellyml fix clear-history``), never passed on: a ``ref_prefix`` of ``refs/`` would make undo
delete every branch and tag.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CorruptHistoryError

#: Item states: the intent is written before the repository is touched, then completed.
EATING = "eating"  # eat started: the user's work is saved, the tree may be half changed
EATEN = "eaten"  # eat finished: the snapshot is checked out
UNDOING = "undoing"  # undo started: the tree may be half restored

#: A full object id (SHA-1 or SHA-256).
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")
#: An item id: used in ref names and branch names, so plain characters only.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
#: More files put aside by one eat than this is not a number jellyml writes.
MAX_ASIDE = 1 << 40
#: A branch name as jellyml records it (``refs/heads/...``), checked further by ``_ref_ok``.
_REF_CHARS = re.compile(r"[A-Za-z0-9._/+@-]+\Z")

#: field -> (allowed types, required)
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "state": ((str,), True),
    "model": ((str,), True),
    "snapshot_commit": ((str,), True),
    "branch": ((str, type(None)), True),
    "head": ((str, type(None)), True),
    "saved_index": ((str,), True),
    "saved_worktree": ((str,), True),
    "ref_prefix": ((str,), True),
    "created_at": ((str,), True),
    "untracked": ((list,), False),
    "after_branch": ((str, type(None)), False),
    "legacy_stash": ((str, type(None)), False),
    "aside": ((int,), False),
}


def check_item(data: Any, path: str) -> dict[str, Any]:
    """``data`` as keyword arguments of ``HistoryItem``, or ``CorruptHistoryError``."""
    if not isinstance(data, dict):
        raise CorruptHistoryError(path, "an item is not a JSON object")
    for key, (types, required) in _FIELDS.items():
        if key not in data:
            if required:
                raise CorruptHistoryError(path, f"an item has no {key}")
            continue
        if not isinstance(data[key], types):
            raise CorruptHistoryError(path, f"an item's {key} has the wrong type")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise CorruptHistoryError(path, f"an item has unknown fields ({', '.join(unknown[:3])})")
    problem = _problem(data)
    if problem:
        raise CorruptHistoryError(path, f"item {_shown(data['id'])} {problem}")
    return dict(data)


def _problem(data: dict[str, Any]) -> str:
    """What is wrong with a well-typed item ('' when nothing)."""
    item_id = data["id"]
    if not _ID.match(item_id):
        return "has an id that jellyml does not write"
    if data["state"] not in (EATING, EATEN, UNDOING):
        return "has an unknown state"
    if data["ref_prefix"] != f"refs/jellyml/{item_id}":
        return "keeps its work outside refs/jellyml/<its id>"
    for key in ("head", "saved_index", "saved_worktree", "legacy_stash"):
        if data.get(key) is not None and not _OID.match(data[key]):
            return f"has a {key} that is not a commit id"
    # 1.0.0 items may carry an empty or abbreviated snapshot commit: it is only ever shown.
    if data["snapshot_commit"] and not re.fullmatch(r"[0-9a-f]{4,64}", data["snapshot_commit"]):
        return "has a snapshot_commit that is not a commit id"
    branch = data["branch"]
    if branch is not None and not (branch.startswith("refs/heads/") and _ref_ok(branch)):
        return "has a branch that is not under refs/heads/"
    after = data.get("after_branch")
    if after is not None and (after.startswith("-") or not _ref_ok(f"refs/heads/{after}")):
        return "has an after_branch that is not a branch name"
    untracked = data.get("untracked", [])
    if not all(isinstance(p, str) for p in untracked):
        return "lists untracked files that are not strings"
    aside = data.get("aside", 0)
    if isinstance(aside, bool) or not 0 <= aside <= MAX_ASIDE:
        return "puts aside a number of files that jellyml does not write"
    return ""


def _ref_ok(ref: str) -> bool:
    """The ref-name rules of ``git check-ref-format`` that matter here, without running git."""
    parts = ref.split("/")
    return (
        bool(_REF_CHARS.match(ref))
        and ".." not in ref
        and "@{" not in ref
        and all(p and not p.startswith(".") and not p.endswith(".lock") for p in parts)
        and not ref.endswith((".", "/"))
    )


def _shown(value: str) -> str:
    """An id from the file, safe to print: no control characters, bounded."""
    clean = "".join(c if c.isprintable() else "?" for c in value[:40])
    return repr(clean)
