"""Temporary object stores: bare repositories in a temporary folder, where jellyml writes or
unpacks objects without writing to the user's repository.

One builder (``scratch_store``) makes every one of them: the snapshot's staging store, eat's
incoming store, and the stores ``ls``/``cat``/``diff``/``log`` index bundles into. A store reads
other object stores' objects as *alternates* (git only ever reads those, never writes them);
``write_alternates`` is the one place that writes that list.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Optional

from .repo import Repo


def scratch_store(
    tmp: str,
    object_format: str = "sha1",
    *,
    lenders: Sequence[str] = (),
    shallow: Optional[str] = None,
) -> str:
    """A new bare repository ``tmp/store.git`` (no hooks); it reads the object stores
    ``lenders`` as alternates, and takes the shallow boundary in the file ``shallow`` (so that
    walking history there stops where the lending repository's does).

    Written by hand rather than by ``git init``: a process costs more than the four files.
    """
    store = os.path.join(tmp, "store.git")
    for folder in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        os.makedirs(os.path.join(store, folder))
    version, extension = (0, "") if object_format == "sha1" else (1, object_format)
    config = f"[core]\n\trepositoryformatversion = {version}\n\tbare = true\n"
    if extension:
        config += f"[extensions]\n\tobjectformat = {extension}\n"
    with open(os.path.join(store, "config"), "w") as f:
        f.write(config)
    with open(os.path.join(store, "HEAD"), "w") as f:
        f.write("ref: refs/heads/main\n")
    if lenders:
        write_alternates(store, lenders)
    if shallow is not None:
        shutil.copyfile(shallow, os.path.join(store, "shallow"))
    return store


def repo_store(repo: Repo, tmp: str, *, shallow: bool = True) -> str:
    """A scratch store that borrows ``repo``'s objects (and, with ``shallow``, its shallow
    boundary, when it is a shallow clone)."""
    boundary = repo.shallow if shallow and repo.is_shallow else None
    lenders = [os.path.abspath(repo.objects)]
    return scratch_store(tmp, repo.object_format, lenders=lenders, shallow=boundary)


def write_alternates(store: str, lenders: Sequence[str]) -> None:
    """Let ``store`` read the object stores (``objects`` folders) ``lenders``, in that order."""
    with open(os.path.join(store, "objects", "info", "alternates"), "w") as f:
        f.write("".join(f"{os.path.abspath(path)}\n" for path in lenders))
