"""What a snapshot records so that its Python environment can be installed again.

Per distribution: its version, the tool that installed it (``INSTALLER``) and, when it did not
come from a package index, where it came from: PEP 610's ``direct_url.json`` (an editable
folder, a VCS URL and commit, a local folder or archive), its URL without credentials. Then the
interpreter (version, implementation), the platform's wheel tag, and the CUDA / ROCm version of
torch when torch is already imported (it is never imported here). docs/FORMAT.md §4 lists the
fields; ``read/environment.py`` reads them back.

One pass over ``importlib.metadata.distributions()`` gives both this and the older
``packages`` map, so recording costs one small file read or two per distribution.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

from .redact import strip_credentials

#: ``direct_url.json`` and ``INSTALLER`` larger than this are not ours to parse (a normal one is
#: under 1 KiB); such a record is kept without them.
MAX_RECORD_FILE = 64 * 1024
#: The keys of PEP 610 that are recorded; anything else in the file is dropped.
_INFO_KEYS = {
    "dir_info": ("editable",),
    "vcs_info": ("vcs", "commit_id", "requested_revision"),
    "archive_info": ("hash", "hashes"),
}


def environment_metadata() -> dict[str, Any]:
    """The fields of the metadata that describe the Python environment (FORMAT.md §4)."""
    import platform
    import sysconfig

    packages, distributions = _scan_distributions()
    torch = sys.modules.get("torch")
    return {
        "packages": packages,
        "distributions": distributions,
        "python_implementation": platform.python_implementation(),
        # The wheel tag of this platform, as pip and uv name it (`linux_x86_64`).
        "platform_tag": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
        "torch_cuda": _torch_version_attr(torch, "cuda"),
        "torch_rocm": _torch_version_attr(torch, "hip"),
    }


def _scan_distributions() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``{name: version}`` and ``{name: record}`` of every distribution importable from this
    interpreter (the first of a name on ``sys.path``, as import finds it), sorted by name."""
    import importlib.metadata

    records: dict[str, dict[str, Any]] = {}
    for dist in importlib.metadata.distributions():
        meta = dist.metadata  # parsed once: `dist.version` would parse METADATA again
        name = meta["Name"]
        if not name or name in records:
            continue
        records[name] = {
            "version": meta["Version"],
            "installer": _installer(dist),
            "direct_url": direct_url(_small_text(dist, "direct_url.json")),
        }
    ordered = sorted(records.items(), key=lambda item: item[0].lower())
    return {name: rec["version"] for name, rec in ordered}, dict(ordered)


def _small_text(dist: Any, name: str) -> Optional[str]:
    try:
        text = dist.read_text(name)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return text if isinstance(text, str) and len(text) <= MAX_RECORD_FILE else None


def _installer(dist: Any) -> Optional[str]:
    text = _small_text(dist, "INSTALLER")
    first = text.strip().splitlines()[0] if text and text.strip() else ""
    return first[:100] or None


def direct_url(text: Optional[str]) -> Optional[dict[str, Any]]:
    """PEP 610's record, its known keys only, its URL without credentials; None when there is
    none (an index install) or it is not a JSON object with a string ``url``."""
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("url"), str):
        return None
    record: dict[str, Any] = {"url": strip_credentials(found["url"])}
    if isinstance(found.get("subdirectory"), str):
        record["subdirectory"] = found["subdirectory"]
    for key, fields in _INFO_KEYS.items():
        info = found.get(key)
        if isinstance(info, dict):
            record[key] = {f: info[f] for f in fields if _plain_json(info.get(f))}
    return record


def _plain_json(found: Any) -> bool:
    """A string, a boolean, or a map of strings (archive_info's ``hashes``)."""
    if isinstance(found, dict):
        return all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())
    return isinstance(found, (str, bool))


def _torch_version_attr(torch: Any, name: str) -> Optional[str]:
    """``torch.version.cuda`` / ``.hip`` of an already imported torch; None otherwise."""
    found = getattr(getattr(torch, "version", None), name, None) if torch is not None else None
    return found if isinstance(found, str) else None
