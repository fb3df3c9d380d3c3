"""Writing a snapshot's git bundle to a file or to stdout: the engine of ``jellyml extract-bundle``.

The bundle holds all of the snapshot's code, secrets a user forgot to ignore included, so the
file written is readable by its owner only (0600), whatever the umask; an existing file is
replaced only when asked (``force``); ``-`` means standard output, as for git and tar.
"""

from __future__ import annotations

import os
import sys

from ..errors import OutputExistsError
from .reader import check_output_path, read_snapshot

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Optional

    from .reader import Snapshot

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
    a damaged snapshot writes nothing, not even to stdout. A file is written once, beside its
    target, and put in place whole (``jellyml.outputs``); without ``force`` it never replaces
    a file, not even one that appeared while the bundle was being read.
    """
    snapshot = read_snapshot(model)
    if output_path == STDOUT:
        with snapshot.extracted_bundle() as bundle:
            _copy_to(bundle, sys.stdout.buffer)
        return snapshot, STDOUT
    target = bundle_output_path(model, output_path)
    check_output_path(model, target)
    if not force and os.path.lexists(target):  # said before anything is read
        raise OutputExistsError(target)
    snapshot.extract_bundle(target, replace=force)
    return snapshot, target


def _copy_to(path: str, out: BinaryIO) -> None:
    import shutil

    with open(path, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    out.flush()
