"""``jellyml extract-bundle`` as a Python function (the spec's public door).

The bundle holds all of the snapshot's code, secrets a user forgot to ignore included, so the
file written is readable by its owner only (0600), whatever the umask; an existing file is
replaced only when asked (``force``); ``-`` means standard output, as for git and tar.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Optional

from .errors import OutputExistsError, OutputPathError
from .read.reader import Snapshot, check_output_path, read_snapshot

#: The output path that means standard output.
STDOUT = "-"


@dataclass
class ExtractBundleArgs_dataclass:
    model: str
    output_path: Optional[str] = None
    #: Replace an existing output file.
    force: bool = False


#: The spec's annotation names this type too.
ExtractBundleArgs = ExtractBundleArgs_dataclass


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


def extract_bundle(args: ExtractBundleArgs_dataclass) -> int:
    """Write the git bundle in ``args.model`` to ``args.output_path``; return 0.

    Errors arrive as ``JellyMLError`` exceptions (missing file, not a checkpoint, no snapshot,
    corrupt snapshot, an existing output without ``force``, ...), never as a non-zero return.
    """
    extract(args.model, args.output_path, force=args.force)
    return 0
