"""``jellyml show --requirements``: the package list a snapshot records, as pip reads it."""

from __future__ import annotations

import re

from ..errors import NoPackageListError
from .reader import read_snapshot

# What a distribution name and a version may look like (PEP 508 names; PEP 440 versions,
# local labels included). Anything else in the (untrusted) metadata is left out, never printed.
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}$")


def requirements(model: str) -> list[str]:
    """``name==version`` for each package recorded in ``model``'s snapshot, in its order,
    then a comment counting the entries left out because they are not a name and a version."""
    snapshot = read_snapshot(model)
    packages = (snapshot.metadata or {}).get("packages")
    if not isinstance(packages, dict):
        raise NoPackageListError(model)
    lines = []
    for name, version in packages.items():
        if isinstance(version, str) and _NAME.match(name) and _VERSION.match(version):
            lines.append(f"{name}=={version}")
    skipped = len(packages) - len(lines)
    if skipped:
        lines.append(f"# {skipped} recorded entries left out: not a package name and version")
    return lines
