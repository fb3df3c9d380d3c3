"""What may go into a snapshot: which untracked files (by name and size), and the total size.

``Guards.reason_to_leave_out`` is the per-file half of the one rule "would a snapshot carry this
untracked file"; ``stage.carried_untracked`` applies it with git's listing (the user's ignore
rules) and a look at the file itself. ``create_snapshot`` and ``jellyml eat`` share both.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

MiB = 1024 * 1024
DEFAULT_MAX_UNTRACKED_FILE_SIZE = 10 * MiB
DEFAULT_MAX_TOTAL_SIZE = 1024 * MiB
#: Untracked files whose names match these (fnmatch, on the file name, case-insensitive) are
#: left out of the snapshot: a checkpoint gets shared, and a secret in it would travel too.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*credentials*.json",
    "*secret*.json",
    "service-account*.json",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".htpasswd",
    ".envrc",
    ".git-credentials",
    "credentials",  # ~/.aws/credentials, ~/.config/gcloud/.../credentials
    "kaggle.json",
    "secrets.toml",  # streamlit's
)


#: Untracked files whose names match these are model and data files: left out of the snapshot
#: (a checkpoint saved into the project folder would otherwise carry every earlier one), unless
#: an ``include=`` pattern brings them back.
DEFAULT_MODEL_PATTERNS: tuple[str, ...] = (
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.safetensors",
    "*.bin",
    "*.gguf",
    "*.onnx",
    "*.h5",
    "*.hdf5",
    "*.keras",
    "*.tflite",
    "*.npz",
    "*.npy",
    "*.parquet",
    "*.arrow",
    "*.feather",
    "*.tfrecord",
    "*.pkl",
    "*.pickle",
    "*.joblib",
    "*.jelly",
)
#: The reason recorded for a file that holds a JellyML snapshot of its own.
CARRIES_A_SNAPSHOT = "holds a JellyML snapshot (a checkpoint)"


def first_match(name: str, patterns: Sequence[str]) -> Optional[str]:
    """The first of ``patterns`` (fnmatch, case-insensitive) that the lower-case file name
    ``name`` matches, or None. ``*.ext`` and plain names, most of them, are compared as text:
    fnmatch compiles a regular expression per pattern, a cost paid again in every process."""
    for pattern in patterns:
        low = pattern.lower()
        if not any(c in low for c in "*?["):
            found = name == low
        elif low.startswith("*") and not any(c in low[1:] for c in "*?["):
            found = name.endswith(low[1:])
        else:
            found = fnmatch.fnmatchcase(name, low)
        if found:
            return pattern
    return None


@dataclass(frozen=True)
class LeftOut:
    path: str
    reason: str


@dataclass(frozen=True)
class Guards:
    """Limits on what untracked files go into a snapshot, and on its total size."""

    max_untracked_file_size: int = DEFAULT_MAX_UNTRACKED_FILE_SIZE
    secret_patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS
    max_total_size: int = DEFAULT_MAX_TOTAL_SIZE
    model_patterns: Sequence[str] = DEFAULT_MODEL_PATTERNS
    #: Patterns of untracked model and data files to carry all the same (``include=``).
    include: Sequence[str] = ()

    def reason_to_leave_out(self, relpath: str, size: int) -> Optional[str]:
        """Why an untracked file (``dir/`` for a nested repository) of ``size`` bytes is left
        out of a snapshot, judged by its path and size alone; None when it goes in."""
        name = os.path.basename(relpath.rstrip("/")).lower()
        if relpath.endswith("/"):
            return "a nested git repository (commit it as a submodule to record it)"
        pattern = first_match(name, self.secret_patterns)
        if pattern is not None:
            return f"looks like a secret (matches {pattern!r})"
        if size > self.max_untracked_file_size:
            return f"{size:,} bytes, over the {self.max_untracked_file_size:,}-byte limit"
        pattern = first_match(name, self.model_patterns)
        if pattern is not None and not self.included(relpath):
            return f"a model or data file (matches {pattern!r}; include= brings it back)"
        return None

    def included(self, relpath: str) -> bool:
        """Whether an ``include=`` pattern names this file: a pattern with a ``/`` is matched
        against the path from the top of the repository (``dir/`` names everything under it),
        one without against the file name (fnmatch, case-insensitive, as
        ``secret_patterns``)."""
        path = relpath.lower()
        name = os.path.basename(path)
        for raw in self.include:
            pattern = raw.lower().lstrip("/")
            if pattern.endswith("/"):  # a folder: everything under it
                if path.startswith(pattern):
                    return True
            elif fnmatch.fnmatchcase(path if "/" in pattern else name, pattern):
                return True
        return False


def named_like_secret(path: str, patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS) -> bool:
    """Whether a file's name matches one of ``patterns``: the test of "named like a
    credential" that ``first_match`` makes for a snapshot, as one compiled expression, for
    ``scan --secrets`` asking it of every path of a history."""
    name = os.path.basename(path.rstrip("/")).lower()
    return _any_of(tuple(patterns)).match(name) is not None


@functools.cache
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns))
