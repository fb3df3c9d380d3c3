"""Writing a snapshot's git bundle to a file or to stdout: the engine of ``jellyml extract-bundle``.

The bundle holds all of the snapshot's code, secrets a user forgot to ignore included, so the
file written is readable by its owner only (0600), whatever the umask; an existing file is
replaced only when asked (``force``); ``-`` means standard output, as for git and tar.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import BinaryIO, Optional

from ..errors import OutputExistsError, OutputPathError
from .reader import Snapshot, check_output_path, read_snapshot

#: The output path that means standard output.
STDOUT = "-"


def bundle_output_path(model: str, output_path: Optional[str]) -> str:
    """Where the bundle goes: ``output_path``, or ``<model stem>.bundle`` in it or in the cwd."""
    # rstrip: a folder (or a folder URL) given with a trailing slash still has a name
    stem = os.path.splitext(os.path.basename(model.rstrip("/\\")))[0] + ".bundle"
    if output_path is None:
        return os.path.join(os.getcwd(), stem)
    if os.path.isdir(output_path):
        return os.path.join(output_path, stem)
    return output_path


def extract(
    model: str, output_path: Optional[str] = None, *, force: bool = False
) -> tuple[Snapshot, str]:
    """Extract the bundle; return the snapshot found and the path written (``-``: stdout).

    The bundle is checked (sha256, git bundle signature) before anything reaches the output, so
    a damaged snapshot writes nothing, not even to stdout.
    """
    snapshot = read_snapshot(model)
    if output_path == STDOUT:
        with snapshot.extracted_bundle() as bundle:
            _copy_to(bundle, sys.stdout.buffer)
        return snapshot, STDOUT
    target = bundle_output_path(model, output_path)
    _check_target(model, target, force=force)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        scratch = tempfile.mkdtemp(prefix="jellyml-", dir=folder)
    except OSError as exc:
        raise OutputPathError(target, exc.strerror or str(exc)) from None
    try:
        part = snapshot.extract_bundle(os.path.join(scratch, "bundle"))
        os.chmod(part, 0o600)
        _put(part, target, force=force)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return snapshot, target


def _check_target(model: str, target: str, *, force: bool) -> None:
    check_output_path(model, target)
    if not force and os.path.lexists(target):
        raise OutputExistsError(target)


def _put(part: str, target: str, *, force: bool) -> None:
    """Move the checked bundle to ``target``: a hard link when it must not replace a file (so
    a file that appeared meanwhile is not overwritten either), else an atomic rename."""
    try:
        if force:
            os.replace(part, target)
            return
        try:
            os.link(part, target)
        except FileExistsError:
            raise OutputExistsError(target) from None
        except OSError:  # a file system without hard links: check, then rename
            if os.path.lexists(target):
                raise OutputExistsError(target) from None
            os.replace(part, target)
    except OutputPathError:
        raise
    except OSError as exc:
        raise OutputPathError(target, exc.strerror or str(exc)) from None


def _copy_to(path: str, out: BinaryIO) -> None:
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    out.flush()
