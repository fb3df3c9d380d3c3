"""The on-disk snapshot format (docs/FORMAT.md is its spec; keep the two in step).

A snapshot is a 1-D uint8 tensor: a JSON header padded with NUL bytes to ``HEADER_SIZE`` bytes,
then a git bundle. JellyML 1.0.0 wrote the same layout with four header fields; we add optional
ones (readers ignore fields they do not know). The metadata travels in a second tensor with the
same kind of header, so the bundle keeps filling the snapshot tensor from byte 1024 to its end,
which is what JellyML 1.0.0's reader expects.
"""

from __future__ import annotations

import json

from .errors import HeaderError as HeaderError  # re-exported: the parser raises them
from .errors import NewerFormatError as NewerFormatError
from .records import Record
from .text import shorten

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Optional, TypeVar

    V = TypeVar("V")

HEADER_SIZE = 1024
SNAPSHOT_MAGIC = "jelly_ml_snapshot"
METADATA_MAGIC = "jelly_ml_metadata"
#: The header ``version`` JellyML 1.0.0 wrote and requires; we keep writing it.
LEGACY_VERSION = "january-7-2023"
#: 1 is JellyML 1.0.0 (no ``format_version`` field); 2 is this release.
FORMAT_VERSION = 2

SNAPSHOT_KEY = "jellyml_code_snapshot"
METADATA_KEY = "jellyml_snapshot_metadata"


def without_snapshot(state_dict: Mapping[str, V]) -> dict[str, V]:
    """A copy of ``state_dict`` without the snapshot's two keys (and, when a safetensors
    file's tensors were renamed, without keys ending in them: ``model.jellyml_code_snapshot``),
    for ``model.load_state_dict(..., strict=True)`` after ``safetensors.torch.load_file`` or
    ``torch.load``. The tensors themselves are not copied."""
    return {
        key: value
        for key, value in state_dict.items()
        if not (isinstance(key, str) and key.endswith((SNAPSHOT_KEY, METADATA_KEY)))
    }


#: Readers refuse metadata larger than this before reading it.
MAX_METADATA_SIZE = 64 * 1024 * 1024

#: The lengths of a lowercase hex sha256, and of a git object id (SHA-1 or SHA-256).
_SHA256 = (64,)
_OBJECT_ID = (40, 64)


class Header(Record):
    """A parsed header (snapshot or metadata): where its payload sits inside the tensor."""

    _fields = ("magic", "offset", "size", "format_version", "sha256", "commit", "metadata_sha256")
    __slots__ = _fields

    def __init__(
        self,
        magic: str,
        offset: int,
        size: int,
        format_version: int,
        sha256: Optional[str] = None,
        commit: Optional[str] = None,
        metadata_sha256: Optional[str] = None,
    ) -> None:
        self.magic = magic
        self.offset = offset
        self.size = size
        self.format_version = format_version
        self.sha256 = sha256
        self.commit = commit
        self.metadata_sha256 = metadata_sha256


def encode_header(
    magic: str,
    size: int,
    sha256: str,
    *,
    commit: Optional[str] = None,
    metadata_sha256: Optional[str] = None,
) -> bytes:
    """The exact ``HEADER_SIZE`` bytes that precede a payload of ``size`` bytes."""
    if magic not in (SNAPSHOT_MAGIC, METADATA_MAGIC):
        raise ValueError(f"unknown magic_number {magic!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"size {size!r} is not a non-negative integer")
    prefix = "snapshot" if magic == SNAPSHOT_MAGIC else "metadata"
    fields: dict[str, Any] = {
        "magic_number": magic,
        f"{prefix}_offset": HEADER_SIZE,
        f"{prefix}_size": size,
        "version": LEGACY_VERSION,
        "format_version": FORMAT_VERSION,
        "sha256": sha256,
    }
    if commit is not None:
        fields["commit"] = commit
    if metadata_sha256 is not None:
        fields["metadata_sha256"] = metadata_sha256
    raw = json.dumps(fields).encode("utf-8")
    if len(raw) > HEADER_SIZE:  # cannot happen with the fields above; guards future edits
        raise ValueError(f"header is {len(raw)} bytes, over {HEADER_SIZE}")
    return raw + b"\0" * (HEADER_SIZE - len(raw))


#: Payloads up to this size are hashed by Python's built-in sha256: loading OpenSSL's (hashlib)
#: costs more start-up than it saves on a small payload (``show`` hashes only the metadata).
_SMALL_PAYLOAD = 4 << 20


def sha256(size: int) -> Any:
    """A new sha256 hash object for a payload of ``size`` bytes (``update``, ``hexdigest``)."""
    if size <= _SMALL_PAYLOAD:
        for name in ("_sha2", "_sha256"):  # CPython 3.12 and newer; up to 3.11
            try:
                return __import__(name).sha256()
            except (ImportError, AttributeError):
                continue
    import hashlib

    return hashlib.sha256()


def looks_like_header(block: bytes) -> bool:
    """True when ``block`` claims to be a JellyML header, even if it then fails to parse."""
    return block.lstrip()[:1] == b"{" and (
        SNAPSHOT_MAGIC.encode() in block or METADATA_MAGIC.encode() in block
    )


def decode_header(block: bytes, entry_size: int) -> Header:
    """Parse and bound-check the header at the start of a tensor of ``entry_size`` bytes.

    Raises ``HeaderError`` for a header that claims to be ours but is malformed, and
    ``NewerFormatError`` for one from a future incompatible format.
    """
    text = block[:HEADER_SIZE].split(b"\0", 1)[0]
    try:
        fields = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeaderError(f"its header is not valid JSON ({exc})") from None
    except RecursionError:
        # 1 KiB of "[[[[..." exhausts the recursion limit when the caller's stack is deep.
        raise HeaderError("its header is not valid JSON (nested too deeply)") from None
    if not isinstance(fields, dict):
        raise HeaderError("its header is not a JSON object")
    magic = fields.get("magic_number")
    if magic not in (SNAPSHOT_MAGIC, METADATA_MAGIC):
        raise HeaderError(f"its header has magic_number {magic!r}", "magic_number")
    version = _format_version(fields)
    prefix = "snapshot" if magic == SNAPSHOT_MAGIC else "metadata"
    offset = _int_field(fields, f"{prefix}_offset")
    size = _int_field(fields, f"{prefix}_size")
    if offset < HEADER_SIZE or offset > entry_size:
        raise HeaderError(
            f"{prefix}_offset {offset} lies outside the {entry_size}-byte tensor",
            f"{prefix}_offset",
        )
    if size > entry_size - offset:
        raise HeaderError(
            f"{prefix}_size {size} runs past the end of the {entry_size}-byte tensor",
            f"{prefix}_size",
        )
    if magic == METADATA_MAGIC and size > MAX_METADATA_SIZE:
        raise HeaderError(f"metadata_size {size} is over the {MAX_METADATA_SIZE}-byte limit")
    sha256 = _hex_field(fields, "sha256", _SHA256)
    if sha256 is None and version >= 2:
        # Every header we write carries it; a damaged key must not switch the check off.
        raise HeaderError("its header has no sha256", "sha256")
    return Header(
        magic=magic,
        offset=offset,
        size=size,
        format_version=version,
        sha256=sha256,
        commit=_hex_field(fields, "commit", _OBJECT_ID),
        metadata_sha256=_hex_field(fields, "metadata_sha256", _SHA256),
    )


def _format_version(fields: dict[str, Any]) -> int:
    version = fields.get("format_version")
    if version is None:
        # JellyML 1.0.0 wrote no format_version; its files carry the legacy version string.
        legacy = fields.get("version")
        if isinstance(legacy, str) and legacy and legacy != LEGACY_VERSION:
            raise NewerFormatError(shorten(legacy, 40))  # a later version string of 1.0.0's kind
        if legacy != LEGACY_VERSION:  # no version at all, or not a string: a damaged header
            said = "no version" if legacy is None else f"version {shorten(repr(legacy), 40)}"
            raise HeaderError(f"it has no format_version and {said}", "format_version")
        return 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HeaderError(f"format_version {version!r} is not a positive integer", "format_version")
    if version > FORMAT_VERSION:
        raise NewerFormatError(str(version))
    return version


def _int_field(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise HeaderError(f"{name} is {value!r}, not a non-negative integer", name)
    return value


def _hex_field(fields: dict[str, Any], name: str, lengths: tuple[int, ...]) -> Optional[str]:
    value = fields.get(name)
    if value is None:
        return None
    # strip, not a regular expression: compiling one costs start-up time
    if not isinstance(value, str) or len(value) not in lengths or value.strip("0123456789abcdef"):
        raise HeaderError(f"{name} is {value!r}, not a lowercase hex digest", name)
    return value
