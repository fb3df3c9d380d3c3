"""Kept so that older imports keep working: every helper lives in ``jellyml_testkit`` now.

New tests import from ``jellyml_testkit``. ``run_cli`` is the kit's ``jellyml`` runner (the
installed CLI, not the source tree) without the exit-code check; ``write_torch_like_zip`` is
the kit's ``write_checkpoint``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Optional, Union

from jellyml_testkit import (
    bundle_of,
    clone,
    dirty_repo,
    git,
    jellyml,
    legacy_reader,
    patch_snapshot_header,
    sha256_file,
    snapshot_tensor,
    write_checkpoint,
)

__all__ = [
    "SRC",
    "bundle_of",
    "clone",
    "dirty_repo",
    "git",
    "legacy_reader",
    "patch_snapshot_header",
    "run_cli",
    "sha256_file",
    "snapshot_tensor",
    "write_torch_like_zip",
]

write_torch_like_zip = write_checkpoint
#: The source tree. Tests run the installed package: do not put this on PYTHONPATH.
SRC = Path(__file__).resolve().parent.parent / "src"


def run_cli(
    *args: str,
    cwd: Union[str, Path, None] = None,
    env_extra: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    """The installed CLI with ``args``; any exit code (the caller checks it)."""
    return jellyml(*args, cwd=cwd, env=env_extra, check=None)
