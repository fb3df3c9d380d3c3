"""Git bundles: reading their refs, and writing one from a temporary store."""

from __future__ import annotations

import contextlib
import os

from ..errors import GitCommandError, ObjectFormatMismatchError
from . import run
from .repo import Repo


def bundle_heads(bundle: str) -> list[tuple[str, str]]:
    """A bundle's refs as ``(object id, ref name)``, the snapshot's tip first (``HEAD`` when
    the bundle has it, as every JellyML bundle does); empty when git cannot read the bundle.

    Run outside any repository: inside one, git reads the bundle with that repository's hash,
    and a sha1 bundle in a sha256 repository would look unreadable."""
    folder = os.path.dirname(os.path.abspath(bundle))
    proc = run.run(
        ["bundle", "list-heads", bundle],
        cwd=folder,
        env={"GIT_CEILING_DIRECTORIES": os.path.dirname(folder)},
        check=False,
    )
    if proc.returncode != 0:
        return []
    heads = []
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        oid, _, name = line.partition(" ")
        if name:
            heads.append((oid, name))
    return sorted(heads, key=lambda head: head[1] != "HEAD")


def require_object_format(found: str, repo: Repo, *, model: str) -> None:
    """Refuse, in one line, a bundle whose objects are named by another hash (``found``, from
    its header) than ``repo``'s (git's own message would be "bad revision" or a failed
    index-pack)."""
    if found != repo.object_format:
        raise ObjectFormatMismatchError(model, found, repo.object_format, repo.top)


def create_bundle(
    store: str, commit: str, bundle_path: str, *, extra: tuple[str, ...] = ()
) -> None:
    """Bundle ``commit`` (and what it reaches, minus ``extra`` revision arguments such as
    ``--not X``) from the bare repository ``store`` as its only ref, ``HEAD``."""
    # HEAD of the temporary store names the commit: the bundle's one ref is HEAD, as JellyML
    # 1.0.0's was, and no ref is ever created in the user's repository.
    with open(os.path.join(store, "HEAD"), "w") as f:
        f.write(commit + "\n")
    try:
        run.run(
            # No delta search for the snapshot's new objects (deltas already in packs are reused):
            # on a dirty 20,000-file repo it halves the bundle step, for a bundle ~3% larger.
            [
                "-c",
                "pack.window=0",
                "bundle",
                "create",
                os.path.abspath(bundle_path),
                "HEAD",
                *extra,
            ],
            env={"GIT_DIR": store},
        )
    except GitCommandError:
        with contextlib.suppress(OSError):
            os.unlink(bundle_path)
        raise
