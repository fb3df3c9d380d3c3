"""Storage options from outside the code: ``JELLYML_STORAGE_OPTIONS`` (a JSON object) and the
CLI's ``--storage-option KEY=VALUE`` over it, parsed into the mapping fsspec takes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from .. import settings
from ..errors import StorageOptionsError


def storage_options(pairs: Sequence[str] = ()) -> Optional[dict[str, Any]]:
    """The storage options for URLs: ``JELLYML_STORAGE_OPTIONS`` (a JSON object), with each
    ``KEY=VALUE`` of ``pairs`` (``--storage-option``) set over it; None when neither says
    anything. A VALUE is JSON where it parses (``true``, ``5``, ``{"a": 1}``), else the string;
    a dotted KEY nests (``client_kwargs.endpoint_url=URL``). Raises ``StorageOptionsError``."""
    import json

    options: dict[str, Any] = {}
    raw = settings.storage_options_text()
    if raw:
        try:
            options = json.loads(raw)
        except ValueError as exc:
            raise StorageOptionsError(settings.STORAGE_OPTIONS_ENV, f"not JSON ({exc})") from None
        if not isinstance(options, dict):
            raise StorageOptionsError(settings.STORAGE_OPTIONS_ENV, "not a JSON object")
    for pair in pairs:
        key, eq, text = pair.partition("=")
        parts = key.strip().split(".")
        if not eq or not all(parts):
            raise StorageOptionsError(f"--storage-option {pair!r}", "not KEY=VALUE")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        _set_nested(options, parts, value, pair)
    return options or None


def _set_nested(options: dict[str, Any], parts: list[str], value: Any, pair: str) -> None:
    for part in parts[:-1]:
        inner = options.setdefault(part, {})
        if not isinstance(inner, dict):
            raise StorageOptionsError(f"--storage-option {pair!r}", f"{part} is not an object")
        options = inner
    options[parts[-1]] = value
