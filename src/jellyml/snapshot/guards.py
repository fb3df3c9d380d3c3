"""What may go into a snapshot: limits on untracked files and on the total size."""

from __future__ import annotations

import fnmatch
import os
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

    def reason_to_leave_out(self, relpath: str, size: int) -> Optional[str]:
        name = os.path.basename(relpath.rstrip("/")).lower()
        if relpath.endswith("/"):
            return "a nested git repository (commit it as a submodule to record it)"
        pattern = secret_pattern(name, self.secret_patterns)
        if pattern is not None:
            return f"looks like a secret (matches {pattern!r})"
        if size > self.max_untracked_file_size:
            return f"{size:,} bytes, over the {self.max_untracked_file_size:,}-byte limit"
        return None


def secret_pattern(path: str, patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS) -> Optional[str]:
    """The pattern a file's name matches (case-insensitive), or None: the one test of "named
    like a credential", for what a snapshot leaves out and for what ``scan --secrets`` flags."""
    name = os.path.basename(path.rstrip("/")).lower()
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern.lower()):
            return pattern
    return None
