"""Every environment variable jellyml reads, and every place on disk it writes its own files.

One truthiness rule for our flags (``is_true``: ``1``, ``true``, ``yes``, ``on``, any case;
anything else, ``0`` included, is off), as huggingface_hub does. ``JELLYML_HOME`` moves all of
jellyml's own files (the history, its locks), as ``PIPX_HOME`` does for pipx; without it they
live in the platform's user data folder.

Read at call time, not import time: tests and long-lived processes may change the environment.
"""

from __future__ import annotations

import os

# Not `from typing import ...`: the CLI reads settings at start-up, and typing costs ~3 ms;
# annotations are strings here (type checkers take any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

#: Names of the variables, in one place.
DEBUG_ENV = "JELLYML_DEBUG"
HOME_ENV = "JELLYML_HOME"
NO_DONUT_ENV = "JELLYML_NO_DONUT"
NO_PROGRESS_ENV = "JELLYML_DISABLE_PROGRESS_BARS"
#: A snapshot file (``jellyml snapshot -o run.jelly``) that ``create_snapshot`` returns
#: instead of running git: how workers without the repository get the code (issue 19).
SNAPSHOT_ENV = "JELLYML_SNAPSHOT"

_TRUE = frozenset({"1", "true", "yes", "on"})


def is_true(value: Optional[str]) -> bool:
    """The one truthiness rule for JellyML's flags."""
    return value is not None and value.strip().lower() in _TRUE


def flag(name: str) -> bool:
    return is_true(os.environ.get(name))


def debug() -> bool:
    """``JELLYML_DEBUG``: show the full traceback when something fails."""
    return flag(DEBUG_ENV)


def no_donut() -> bool:
    """``JELLYML_NO_DONUT``: never show the donut logo (as ``--no-donut`` on every call)."""
    return flag(NO_DONUT_ENV)


def no_progress_bars() -> bool:
    """``JELLYML_DISABLE_PROGRESS_BARS``: the command line draws no progress bar (as
    ``HF_HUB_DISABLE_PROGRESS_BARS`` does for huggingface_hub)."""
    return flag(NO_PROGRESS_ENV)


def no_color() -> bool:
    """``NO_COLOR`` (https://no-color.org): set and not empty means no colour, whatever its
    value, by that convention's own rule."""
    return bool(os.environ.get("NO_COLOR"))


def force_color() -> bool:
    """``FORCE_COLOR``, as rich reads it: set and not empty."""
    return bool(os.environ.get("FORCE_COLOR"))


def snapshot_file() -> Optional[str]:
    """``JELLYML_SNAPSHOT``: the snapshot file to use instead of git; None when unset or empty."""
    value = os.environ.get(SNAPSHOT_ENV, "").strip()
    return value or None


def home() -> str:
    """Where jellyml keeps its own files: ``JELLYML_HOME``, else the user data folder."""
    override = os.environ.get(HOME_ENV)
    if override:
        return os.path.abspath(os.path.expanduser(override))
    from platformdirs import user_data_dir

    return user_data_dir("jellyml", appauthor=False)


def history_dir() -> str:
    """The folder of the per-repository history files (and their lock files)."""
    return os.path.join(home(), "history")


def legacy_data_dir() -> str:
    """Where JellyML 1.0.0 kept its history (platformdirs with its author, as 1.0.0 called it)."""
    from platformdirs import user_data_dir

    return user_data_dir("jellyml", "jellyml")


# --- limits on a snapshot's files, checked before eat writes any of them (issue 10) ----------

#: variable -> (default, what it bounds). 0 (or any value below 1) means no limit.
SNAPSHOT_LIMITS = {
    "JELLYML_MAX_FILES": (100_000, "files"),
    "JELLYML_MAX_SIZE": (1 << 30, "bytes or more in all"),
    "JELLYML_MAX_FILE_SIZE": (100 << 20, "bytes in its largest file"),
    "JELLYML_MAX_DEPTH": (64, "folder levels"),
}


def snapshot_limit(name: str) -> int:
    """The limit ``name`` (a key of ``SNAPSHOT_LIMITS``): its variable if set (a whole number,
    with an optional K, M or G suffix, binary), else its default; 0 means none."""
    default = SNAPSHOT_LIMITS[name][0]
    size = parse_size(os.environ.get(name, ""))
    return default if size is None else size


def parse_size(text: str) -> Optional[int]:
    """A whole number of bytes with an optional K, M or G suffix (binary); None if not one."""
    raw = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(raw[-1:], 1)
    digits = raw[:-1] if scale != 1 else raw
    return int(digits) * scale if digits.isdigit() else None


# --- `jellyml env` (issue 20) ------------------------------------------------------------------

PYTORCH_INDEX_ENV = "JELLYML_PYTORCH_INDEX"
#: Where PyTorch publishes its builds, one index per local label (``.../whl/cu121``).
PYTORCH_INDEX = "https://download.pytorch.org/whl/"


def pytorch_index() -> str:
    """The base URL of the PyTorch indexes `jellyml env` writes (``<base>/<label>``):
    ``JELLYML_PYTORCH_INDEX`` (a mirror of download.pytorch.org/whl/), else PyTorch's own.
    A value that is not one plain http(s) or file URL (white space, quotes) is not used."""
    base = os.environ.get(PYTORCH_INDEX_ENV, "").strip().rstrip("/")
    plain = all(c.isascii() and c.isprintable() and c not in " \"'`$;#\\" for c in base)
    if base and plain and base.split(":", 1)[0].lower() in ("https", "http", "file"):
        return base + "/"
    return PYTORCH_INDEX


# --- remote reads: how long a server may take (issue 23) ---------------------------------------

#: variable -> (default, what it bounds). Seconds, except the rate (bytes a second).
REMOTE_TIMEOUTS = {
    # 8 s: Linux sends a connection's SYN again at 1, 3 and 7 s; a server that answers none of
    # them is gone, and an endpoint that does not answer fails within 10 s.
    "JELLYML_CONNECT_TIMEOUT": (8.0, "seconds to connect to the server"),
    "JELLYML_FIRST_BYTE_TIMEOUT": (
        30.0,
        "seconds from a request to the whole of its reply's headers",
    ),
    "JELLYML_IDLE_TIMEOUT": (30.0, "seconds without a byte of a reply's body"),
    "JELLYML_MIN_RATE": (1024.0, "bytes a second at least, over every idle-timeout span"),
}


def remote_timeout(name: str) -> float:
    """The value of ``name`` (a key of ``REMOTE_TIMEOUTS``): its variable if set to a positive
    number, else its default."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return REMOTE_TIMEOUTS[name][0]
    return (
        value
        if value > 0 and value == value and value != float("inf")
        else (REMOTE_TIMEOUTS[name][0])
    )


STORAGE_OPTIONS_ENV = "JELLYML_STORAGE_OPTIONS"


def storage_options_text() -> str:
    """``JELLYML_STORAGE_OPTIONS``: a JSON object of storage options for every URL
    (``sources.options`` parses it, with the CLI's ``--storage-option`` over it)."""
    return os.environ.get(STORAGE_OPTIONS_ENV, "").strip()
