"""Shallow snapshots: a commit's raw object, its parentless twin, and the real commit rebuilt.

A shallow snapshot's bundle holds a *twin* of the snapshot commit: the same object text minus its
``parent`` lines (and signatures, which would no longer match), so it needs no history. The
metadata keeps the real commit's raw text. Wherever the real commit's parents exist, writing that
text back as a commit object gives the very same id: the object id is the hash of the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from ..errors import GitCommandError
from . import run

#: Commit headers dropped from the twin: its parents, and signatures that sign the real commit.
_DROPPED_HEADERS = (b"parent", b"gpgsig", b"gpgsig-sha256", b"mergetag")


def raw_commit(cwd: str, commit: str, env: Optional[Mapping[str, str]] = None) -> bytes:
    """The commit object's text, exactly as git hashes it (``git cat-file commit``)."""
    return run.run(["cat-file", "commit", commit], cwd=cwd, env=env).stdout


def _headers_and_message(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header lines (continuation lines, which start with a space, joined to theirs) and the
    rest (the blank line and the message)."""
    head, sep, message = raw.partition(b"\n\n")
    headers: list[bytes] = []
    for line in head.split(b"\n"):
        if line.startswith(b" ") and headers:
            headers[-1] += b"\n" + line
        else:
            headers.append(line)
    return headers, sep + message


def parents(raw: bytes) -> list[str]:
    """The parent ids a raw commit object names."""
    headers, _ = _headers_and_message(raw)
    # "replace": the text comes from a checkpoint; a non-ASCII id is simply one no repo has.
    return [
        h[len(b"parent ") :].decode("ascii", "replace") for h in headers if h.startswith(b"parent ")
    ]


def tree(raw: bytes) -> Optional[str]:
    headers, _ = _headers_and_message(raw)
    found = [
        h[len(b"tree ") :].decode("ascii", "replace") for h in headers if h.startswith(b"tree ")
    ]
    return found[0] if len(found) == 1 else None


def without_parents(raw: bytes) -> bytes:
    """The twin's text: the same tree, author, committer and message, and no parent."""
    headers, message = _headers_and_message(raw)
    kept = [h for h in headers if h.split(b" ", 1)[0] not in _DROPPED_HEADERS]
    return b"\n".join(kept) + message


def hash_commit(
    cwd: str, raw: bytes, *, write: bool, env: Optional[Mapping[str, str]] = None
) -> str:
    """The id of the commit object ``raw``; with ``write``, the object is stored too."""
    argv = ["hash-object", "-t", "commit", "--stdin", *(["-w"] if write else [])]
    return run.run(argv, cwd=cwd, env=env, input=raw).stdout.decode("ascii").strip()


def has_commit(cwd: str, oid: str) -> bool:
    proc = run.run(["cat-file", "-e", f"{oid}^{{commit}}"], cwd=cwd, check=False)
    return proc.returncode == 0


def rebuild(cwd: str, raw: bytes, expected: str) -> Optional[str]:
    """Write the commit ``raw`` in the repository at ``cwd`` when it gives ``expected`` and all
    it needs is there (its parents and tree); return ``expected``, or None when it cannot be
    rebuilt here (a parent is missing, or the text does not hash to ``expected``)."""
    if has_commit(cwd, expected):
        return expected
    needed = [*parents(raw), tree(raw)]
    if any(oid is None for oid in needed):
        return None
    if not all(_exists(cwd, oid) for oid in needed if oid is not None):
        return None
    try:
        if hash_commit(cwd, raw, write=False) != expected:
            return None
        return hash_commit(cwd, raw, write=True)
    except GitCommandError:  # text git refuses as a commit (it came from a checkpoint)
        return None


def _exists(cwd: str, oid: str) -> bool:
    return run.run(["cat-file", "-e", oid], cwd=cwd, check=False).returncode == 0
