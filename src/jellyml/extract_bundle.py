"""``jellyml extract-bundle`` as a Python function (the spec's public door).

The work is done by ``jellyml.read.extract.extract``: the file is readable by its owner only
(0600), an existing file is replaced only when asked (``force``), ``-`` means standard output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .read.extract import extract


@dataclass
class ExtractBundleArgs_dataclass:
    model: str
    output_path: Optional[str] = None
    #: Replace an existing output file.
    force: bool = False


#: The spec's annotation names this type too.
ExtractBundleArgs = ExtractBundleArgs_dataclass


def extract_bundle(args: ExtractBundleArgs_dataclass) -> int:
    """Write the git bundle in ``args.model`` to ``args.output_path``; return 0.

    Errors arrive as ``JellyMLError`` exceptions (missing file, not a checkpoint, no snapshot,
    corrupt snapshot, an existing output without ``force``, ...), never as a non-zero return.
    """
    extract(args.model, args.output_path, force=args.force)
    return 0
