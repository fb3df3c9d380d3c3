"""The Python environment a snapshot records, read back and checked (the input of `jellyml env`).

Everything here comes from a file anyone could have crafted. Each field is type-checked (a
field of the wrong type is as good as absent); each distribution record is checked on its
own, so one malformed record leaves the others usable. What the strings say (is this a valid
name, version, URL?) is judged where they are written: ``read/requirements.py``.

Three generations of snapshots are read: JellyML 1.0.0 files (no metadata: no package list),
this project's earlier format 2 metadata (``packages``: versions only), and the current one
(``distributions``: versions, installers and PEP 610 origins; docs/FORMAT.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .describe import checked_metadata, distribution_records
from .reader import read_snapshot


@dataclass(frozen=True)
class Package:
    """One recorded distribution, its strings as recorded (not yet judged)."""

    name: str
    version: Optional[str]
    installer: Optional[str] = None
    #: PEP 610's record (known keys only) when it was not installed from an index.
    direct_url: Optional[dict[str, Any]] = None
    #: Why the record cannot be used, when it is malformed (a direct_url that is not an object).
    problem: Optional[str] = None


@dataclass(frozen=True)
class Environment:
    """What a snapshot says about the environment it was made in."""

    model: str
    commit: Optional[str]
    created_at: Optional[str]
    python: Optional[str]
    python_implementation: Optional[str]
    platform: Optional[str]
    platform_tag: Optional[str]
    torch: Optional[str]
    torch_cuda: Optional[str]
    torch_rocm: Optional[str]
    #: The snapshot's repository as it was on disk, and its folder's name.
    repo_path: Optional[str]
    repo_name: Optional[str]
    #: None: no package list at all (JellyML 1.0.0, or metadata without one).
    packages: Optional[tuple[Package, ...]]
    #: Whether the snapshot records where packages came from (else versions only).
    origins_recorded: bool


def read_environment(model: str) -> Environment:
    """Read ``model``'s snapshot (its metadata only: no bundle, no git) as an ``Environment``."""
    snapshot = read_snapshot(model)
    runtime, git, _invalid = checked_metadata(snapshot.metadata or {})
    records = distribution_records(runtime["distributions"])
    if records is not None:
        packages: Optional[tuple[Package, ...]] = tuple(
            _package(name, record) for name, record in records.items()
        )
    elif runtime["packages"] is not None:
        packages = tuple(Package(name, version) for name, version in runtime["packages"].items())
    else:
        packages = None
    return Environment(
        model=model,
        commit=snapshot.commit or git["commit"],
        created_at=runtime["created_at"],
        python=runtime["python"],
        python_implementation=runtime["python_implementation"],
        platform=runtime["platform"],
        platform_tag=runtime["platform_tag"],
        torch=runtime["torch"],
        torch_cuda=runtime["torch_cuda"],
        torch_rocm=runtime["torch_rocm"],
        repo_path=git["repo_path"],
        repo_name=git["repo_name"],
        packages=packages,
        origins_recorded=records is not None,
    )


def _package(name: str, record: dict[str, Any]) -> Package:
    return Package(
        name=name,
        version=record["version"],
        installer=record["installer"],
        direct_url=record["direct_url"],
        problem=record.get("problem"),
    )
