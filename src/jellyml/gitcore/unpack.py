"""Unpacking a bundle where git can read it, without writing to any repository.

``ls``, ``cat``, ``log`` and ``diff`` need the bundle's objects in an object store git can
read. They go to a *scratch store* (``store.scratch_store``), which borrows the
user's objects (read-only, as alternates) only when something needs them: the working tree's
tree, a revision, a base commit the bundle does not carry. The user's repository gets no
object, ref, index change or lock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Optional

from ..errors import BundleFormatError as BundleFormatError  # re-exported
from . import run
from .index import add_paths, list_untracked, temporary_index
from .repo import Repo, object_types

#: A bundle's header (signature, capabilities, prerequisites, refs) is read up to this size:
#: JellyML writes one ref; a header this large is not a bundle we wrote.
MAX_HEADER = 1 << 20
_OID = re.compile(rb"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SIGNATURES = (b"# v2 git bundle\n", b"# v3 git bundle\n")


@dataclass(frozen=True)
class BundleHeader:
    """What a bundle says before its pack: the commits it needs and the refs it carries."""

    object_format: str = "sha1"
    prerequisites: list[str] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tip(self) -> str:
        """The commit the bundle is about: its ``HEAD`` (every JellyML bundle has one), else
        its first ref."""
        for oid, name in self.refs:
            if name == "HEAD":
                return oid
        return self.refs[0][0]


def parse_bundle_header(raw: bytes) -> tuple[BundleHeader, int]:
    """Parse the header at the start of ``raw`` (untrusted); return it and its length in
    bytes (the blank line included): the pack starts there."""
    if not raw.startswith(_SIGNATURES):
        raise BundleFormatError("it does not start with a git bundle signature")
    end = raw.find(b"\n\n", 0, MAX_HEADER)
    if end < 0:
        raise BundleFormatError("its header does not end")
    header = BundleHeader()
    object_format = "sha1"
    for line in raw[: end + 1].split(b"\n")[1:-1]:
        if line.startswith(b"@object-format="):
            object_format = line.partition(b"=")[2].decode("ascii", "replace")
        elif line.startswith(b"@"):
            continue  # another capability (filter): nothing we read depends on it
        elif line.startswith(b"-"):
            header.prerequisites.append(_oid(line[1:].partition(b" ")[0]))
        else:
            oid, _, name = line.partition(b" ")
            header.refs.append((_oid(oid), name.decode("utf-8", "replace")))
    if object_format not in ("sha1", "sha256"):
        raise BundleFormatError(f"its object format {object_format!r} is unknown")
    if not header.refs:
        raise BundleFormatError("it carries no ref")
    return BundleHeader(object_format, header.prerequisites, header.refs), end + 2


def _oid(raw: bytes) -> str:
    if not _OID.match(raw):
        raise BundleFormatError("a line of its header is not an object id")
    return raw.decode("ascii")


def index_pack(store: str, pack: Iterable[bytes], *, thin: bool) -> None:
    """Index the pack that ``pack`` yields into ``store`` as it streams in: the bundle is read
    once, never copied to a file (``git bundle unbundle`` needs one, and reads it again)."""
    # Before alternates are added when it can: index-pack compares every object it already
    # has with the new copy, which doubles its time when the user's repository has them all.
    fix = ["--fix-thin"] if thin else []
    run.feed(["index-pack", "--stdin", *fix], pack, env={"GIT_DIR": store})


def missing(store: str, oids: list[str]) -> list[str]:
    """Which of ``oids`` the store (alternates included) does not have."""
    found = object_types(oids, env={"GIT_DIR": store})
    return [oid for oid, (_name, kind) in zip(oids, found) if kind == "missing"]


def resolve(store: str, revision: str, *, cwd: Optional[str] = None) -> Optional[str]:
    """The commit ``revision`` names in ``store`` (or the repository at ``cwd`` read through
    the store); None when it names none. Never reads ``revision`` as an option."""
    if not revision or revision.startswith("-"):
        return None
    env = {"GIT_OBJECT_DIRECTORY": os.path.join(store, "objects")} if cwd else {"GIT_DIR": store}
    proc = run.run(
        ["rev-parse", "-q", "--verify", f"{revision}^{{commit}}"],
        cwd=cwd,
        env=env,
        check=False,
    )
    found = proc.stdout.decode("ascii", "replace").strip()
    return found if proc.returncode == 0 and found else None


def worktree_index(
    repo: Repo, store: str, tmp: str, keep: Optional[Callable[[bytes], bool]] = None
) -> dict[str, str]:
    """The environment in which ``git diff REV`` (run in ``repo.top``) compares REV with the
    working tree as ``git add -A`` would stage it: a temporary copy of the index in which the
    untracked files (``.gitignore`` respected; those ``keep`` accepts, given the path from the
    top) are intent-to-add entries. git hashes changed files in memory: unlike staging a
    tree, nothing is written per changed file (a loose object each, seconds for hundreds)."""
    env = {
        "GIT_DIR": repo.git_dir,
        "GIT_WORK_TREE": repo.top,
        # Nothing should be written, but if git writes an object, it goes to the store.
        "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
        **temporary_index(repo, tmp),
    }
    untracked = list_untracked(repo, env).paths
    kept = [path for path in untracked if keep is None or keep(path)]
    add_paths(repo, env, kept, intent_to_add=True)
    return env
