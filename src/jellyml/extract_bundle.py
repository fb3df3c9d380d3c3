"""``jellyml fix extract-bundle`` as a Python function (the spec's public door)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from .read.reader import Snapshot, read_snapshot


@dataclass
class ExtractBundleArgs_dataclass:
    model: str
    output_path: Optional[str] = None


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


def extract(model: str, output_path: Optional[str] = None) -> tuple[Snapshot, str]:
    """Extract the bundle; return the snapshot found and the path written."""
    snapshot = read_snapshot(model)
    return snapshot, snapshot.extract_bundle(bundle_output_path(model, output_path))


def extract_bundle(args: ExtractBundleArgs_dataclass) -> int:
    """Write the git bundle in ``args.model`` to ``args.output_path``; return 0.

    Errors arrive as ``JellyMLError`` exceptions (missing file, not a checkpoint, no snapshot,
    corrupt snapshot, ...), never as a non-zero return.
    """
    extract(args.model, args.output_path)
    return 0
