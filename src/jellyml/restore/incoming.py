"""A snapshot's objects on their way into the repository: checked before anything touches it.

The bundle is first fetched into a temporary object store that borrows the repository's objects
(``gitcore.index.temporary_store``), so a damaged bundle, a git bomb, a snapshot of another
project or one already checked out is refused with the repository's ``.git`` untouched (nothing
fetched, no ``tmp_pack_*`` left): what a failed fetch leaves is in the temporary folder, which is
removed. Only then are the new pack files moved into the repository.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import Any, Optional

from ..errors import CorruptSnapshotError, GitCommandError
from ..gitcore import run as gitrun
from ..gitcore.index import temporary_store
from ..gitcore.limits import tree_files
from ..gitcore.repo import Repo
from ..gitcore.shallow import parents
from .shallow import MAX_COMMIT_OBJECT

#: Where the snapshot commit is kept in the temporary store.
_INCOMING = "refs/jellyml/incoming"
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")
_MAX_PARENTS = 16


def fetch_to_store(repo: Repo, model: str, bundle: str, source: str, tmp: str) -> tuple[str, str]:
    """Fetch the bundle's ``source`` ref into a store in ``tmp``; return (store, commit id).
    Raises ``CorruptSnapshotError`` (naming git's reason) when git cannot unpack the bundle."""
    store = temporary_store(repo, tmp)
    env = {"GIT_DIR": store}
    # unpackLimit=1: always keep the fetched objects as one pack, to be moved in whole.
    argv = ["-c", "fetch.unpackLimit=1", "-c", "transfer.unpackLimit=1", "fetch", "-q"]
    no_fetch_head = ["--no-write-fetch-head"] if gitrun.git_version() >= (2, 29) else []
    try:
        gitrun.run(
            [*argv, "--no-tags", *no_fetch_head, bundle, f"+{source}:{_INCOMING}"], cwd=tmp, env=env
        )
        commit = gitrun.out(["rev-parse", f"{_INCOMING}^{{commit}}"], cwd=tmp, env=env)
    except GitCommandError as exc:
        last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "git failed"
        raise CorruptSnapshotError(model, f"its git bundle is damaged ({last[:200]})") from None
    return store, commit


def check_limits(model: str, store: str, commit: str) -> None:
    """Refuse a snapshot over the limits of ``settings.SNAPSHOT_LIMITS`` before a file of it is
    written (the tree streamed, stopped at the first limit passed)."""
    for _file in tree_files(model, commit, {"GIT_DIR": store}):
        pass


def is_related(repo: Repo, store: str, commit: str, metadata: Optional[dict[str, Any]]) -> bool:
    """Whether the snapshot shares history with the repository's HEAD (an unborn HEAD has
    nothing to lose), or names as its base, or as a parent of its real commit (a shallow
    snapshot carries no history to compare), a commit the repository has."""
    if repo.head is None:
        return True
    for known in (_base_commit(metadata), *_shallow_parents(metadata)):
        if known is not None and repo.ok("cat-file", "-e", f"{known}^{{commit}}"):
            return True
    proc = gitrun.run(
        ["merge-base", commit, repo.head], cwd=store, env={"GIT_DIR": store}, check=False
    )
    return proc.returncode == 0


def _shallow_parents(metadata: Optional[dict[str, Any]]) -> list[str]:
    """The parents of a shallow snapshot's real commit, as its recorded commit object names
    them (untrusted: only ids of the right shape, and only a few)."""
    git = metadata.get("git") if isinstance(metadata, dict) else None
    raw = git.get("snapshot_commit_object") if isinstance(git, dict) else None
    if not isinstance(raw, str) or len(raw) > MAX_COMMIT_OBJECT:
        return []
    found = parents(raw.encode("utf-8", "surrogateescape"))
    return [p for p in found if _OID.match(p)][:_MAX_PARENTS]


def _base_commit(metadata: Optional[dict[str, Any]]) -> Optional[str]:
    git = metadata.get("git") if isinstance(metadata, dict) else None
    base = git.get("base_commit") if isinstance(git, dict) else None
    return base if isinstance(base, str) and _OID.match(base) else None


def move_into(store: str, repo: Repo) -> None:
    """Move the store's new pack files into the repository's object store: each ``.idx`` last,
    as git looks a pack up by its index. A pack already there (same name, same content) stays."""
    source = os.path.join(store, "objects", "pack")
    if not os.path.isdir(source):  # the repository had every object already: nothing fetched
        return
    target = os.path.join(repo.objects, "pack")
    os.makedirs(target, exist_ok=True)
    names = sorted(os.listdir(source), key=lambda n: n.endswith(".idx"))
    for name in names:
        if not name.startswith("pack-"):
            continue
        dest = os.path.join(target, name)
        if not os.path.exists(dest):
            _move(os.path.join(source, name), dest)


def _move(src: str, dest: str) -> None:
    try:
        os.rename(src, dest)
        return
    except OSError:  # another file system: copy under a temporary name, then rename
        pass
    part = f"{dest}.jellyml-{os.getpid()}.part"
    try:
        shutil.copyfile(src, part)
        os.chmod(part, 0o444)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
