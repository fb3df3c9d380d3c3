"""What a snapshot records, as one flat JSON-ready document: the engine of `jellyml show`.

The metadata comes from a file anyone could have crafted. Its sha256 only proves that it was
not damaged, not that it is sane, so every field is checked against ``METADATA_SCHEMA`` before
use: a field of the wrong type (``{"git": 5}``, integers where paths are expected) becomes
``None`` and is named in ``invalid_fields``, and the rest of the document still comes out.
The document's names are those of docs/FORMAT.md; docs/CLI.md documents it (``SCHEMA_VERSION``).
"""

from __future__ import annotations

from ..sources import storage_for
from .reader import read_snapshot

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from typing import Any, Optional

    from .reader import Snapshot

    Spec = Any

#: The version of the document `describe` returns (and `jellyml show --json` prints): 2 since
#: the environment fields (``distributions``, ``python_implementation``, ``platform_tag``,
#: ``torch_cuda``, ``torch_rocm``) were added. Renaming, removing or retyping a field raises it.
SCHEMA_VERSION = 2

# A type spec is a tuple of allowed Python types, or one of these shapes:
# ("list", spec), ("map", spec) (string keys), ("record", {field: spec}).
_STR: tuple[type, ...] = (str,)
_OPT_STR: tuple[type, ...] = (str, type(None))
_INT: tuple[type, ...] = (int,)
_BOOL: tuple[type, ...] = (bool,)

#: The `git` section (docs/FORMAT.md §4, and the fields issue 9 adds).
GIT_SCHEMA: dict[str, Spec] = {
    "commit": _STR,
    "base_commit": _OPT_STR,
    "branch": _OPT_STR,
    "dirty": _BOOL,
    "repo_name": _STR,
    "changed_files": ("list", ("record", {"status": _STR, "path": _STR})),
    "changed_files_total": _INT,
    "untracked_included": ("list", _STR),
    "untracked_included_total": _INT,
    "left_out": ("list", ("record", {"path": _STR, "reason": _STR})),
    "left_out_total": _INT,
    "submodules": ("list", ("record", {"path": _STR, "commit": _STR})),
    "submodule_contents_included": _BOOL,
    "remotes": ("map", _STR),
    "created_git_repo": _BOOL,
    "history": _STR,
    "bundle_commit": _STR,
    "snapshot_commit_object": _STR,
    "repo_chosen_by": _STR,
    "repo_path": _STR,
}

#: The top level of the metadata, `git` aside.
METADATA_SCHEMA: dict[str, Spec] = {
    "created_at": _STR,
    "hostname": _STR,
    "platform": _STR,
    "python": _STR,
    "python_executable": _STR,
    "jellyml": _STR,
    "torch": _OPT_STR,
    "argv": ("list", _STR),
    "cwd": _STR,
    "packages": ("map", _STR),
    # The environment (issue 20); each distribution record is checked on its own
    # (read/environment.py), so one bad record does not hide the others.
    "distributions": (dict,),
    "python_implementation": _STR,
    "platform_tag": _STR,
    "torch_cuda": _OPT_STR,
    "torch_rocm": _OPT_STR,
}


def describe(model: str) -> dict[str, Any]:
    """The snapshot as one flat, JSON-ready dict: every field docs/FORMAT.md defines, ``None``
    where it was not recorded (or not valid). Files from JellyML 1.0.0 carry no metadata; their
    commit is read from the bundle itself."""
    snapshot = read_snapshot(model)
    runtime, git, invalid = checked_metadata(snapshot.metadata or {})
    runtime["distributions"] = distribution_records(runtime["distributions"])
    commit = recorded_commit(snapshot)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": (snapshot.storage or storage_for(model)).absolute(model),
        "entry": snapshot.entry,
        "format_version": snapshot.format_version,
        "snapshot_size": snapshot.bundle_size,
        "sha256": snapshot.header.sha256,
        "metadata_sha256": snapshot.header.metadata_sha256,
        "has_metadata": snapshot.metadata is not None,
        "invalid_fields": invalid,
        **git,
        "commit": commit,
        **runtime,
    }


def checked_metadata(
    meta: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The metadata's top-level fields and its ``git`` section, each field of the wrong type
    replaced by ``None``, and the names of those fields."""
    invalid: list[str] = []
    git_section = meta.get("git")
    if not isinstance(git_section, dict):
        if git_section is not None:
            invalid.append("git")
        git_section = {}
    git = _checked(git_section, GIT_SCHEMA, "git.", invalid)
    return _checked(meta, METADATA_SCHEMA, "", invalid), git, invalid


def _checked(
    section: dict[str, Any], schema: dict[str, Spec], prefix: str, invalid: list[str]
) -> dict[str, Any]:
    """Each field of ``schema`` from ``section`` if it has the right type, else ``None``."""
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        found = section.get(name)
        if found is not None and not conforms(found, spec):
            invalid.append(prefix + name)
            found = None
        out[name] = found
    return out


def conforms(found: Any, spec: Spec) -> bool:
    """Whether ``found`` (parsed JSON) has the shape ``spec`` describes."""
    if isinstance(spec, tuple) and spec and isinstance(spec[0], type):
        # bool is an int in Python, but not in JSON: true is not a count.
        if isinstance(found, bool) and bool not in spec:
            return False
        return isinstance(found, spec)
    kind, inner = spec
    if kind == "list":
        return isinstance(found, list) and all(conforms(item, inner) for item in found)
    if kind == "map":
        return isinstance(found, dict) and all(conforms(v, inner) for v in found.values())
    return isinstance(found, dict) and all(
        name in found and conforms(found[name], field) for name, field in inner.items()
    )


def recorded_commit(snapshot: Snapshot) -> Optional[str]:
    """The snapshot commit: from the header, else the metadata, else (JellyML 1.0.0 files,
    which recorded neither) the bundle's own head."""
    if snapshot.commit:
        return snapshot.commit
    section = (snapshot.metadata or {}).get("git")
    commit = section.get("commit") if isinstance(section, dict) else None
    return commit if isinstance(commit, str) and commit else _bundle_commit(snapshot)


def _bundle_commit(snapshot: Snapshot) -> Optional[str]:
    from ..gitcore.bundle import bundle_heads  # only for 1.0.0 files: git runs

    with snapshot.extracted_bundle() as bundle:
        heads = bundle_heads(bundle)
    return heads[0][0] if heads else None


# --- the environment's distribution records (read/environment builds on them) ------------------

#: The keys of a PEP 610 record we read, and what each of their fields may hold.
_DIRECT_URL_INFO: dict[str, dict[str, type]] = {
    "dir_info": {"editable": bool},
    "vcs_info": {"vcs": str, "commit_id": str, "requested_revision": str},
    "archive_info": {"hash": str, "hashes": dict},
}


def distribution_records(found: Optional[dict[str, Any]]) -> Optional[dict[str, dict[str, Any]]]:
    """The ``distributions`` map with every record reduced to its documented shape:
    ``version`` and ``installer`` strings or None, ``direct_url`` a PEP 610 object (known
    keys, plain values) or None, and ``problem`` when the record itself is unusable."""
    if found is None:
        return None
    return {name: _record(raw) for name, raw in found.items()}


def _record(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {"version": None, "installer": None, "direct_url": None, "problem": "not a record"}
    record: dict[str, Any] = {
        "version": raw.get("version") if isinstance(raw.get("version"), str) else None,
        "installer": raw.get("installer") if isinstance(raw.get("installer"), str) else None,
        "direct_url": None,
    }
    origin = raw.get("direct_url")
    if origin is not None:
        record["direct_url"] = _direct_url(origin)
        if record["direct_url"] is None:
            record["problem"] = "its record of where it came from (direct_url) is malformed"
    return record


def _direct_url(raw: Any) -> Optional[dict[str, Any]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        return None
    out: dict[str, Any] = {"url": raw["url"]}
    if isinstance(raw.get("subdirectory"), str):
        out["subdirectory"] = raw["subdirectory"]
    for key, fields in _DIRECT_URL_INFO.items():
        info = raw.get(key)
        if info is None:
            continue
        if not isinstance(info, dict):
            return None
        out[key] = {f: info[f] for f, kind in fields.items() if _is(info.get(f), kind)}
    return out


def _is(found: Any, kind: type) -> bool:
    if kind is dict:
        return isinstance(found, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()
        )
    return isinstance(found, kind)
