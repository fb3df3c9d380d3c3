"""`jellyml show` for people: a label and its values per row, long lists summarised.

Ids and paths are never cut (only a value over ``VALUE_LIMIT`` characters is, without
``--all``: no real id or path is that long): values go under their labels on a narrow
terminal, and a long value wraps at its spaces only (an id or a path is one word), never with
an ellipsis. Values are built as plain text (``clean``ed) and escaped for markup only once
wrapped.
"""

from __future__ import annotations

from .console import escape
from .text import SHOWN, clean, shorten, summary

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:
    from typing import Any, Optional

#: Below this many columns for the values, they go under their label instead of beside it.
_MIN_VALUE_COLUMNS = 40
_ALL_HINT = " (--all shows them all)"
#: A single value longer than this (a crafted command line, host name...) is cut, its length
#: said, unless ``--all``; ids and real paths are far shorter.
VALUE_LIMIT = 1000


def show_lines(doc: dict[str, Any], *, width: int, everything: bool) -> list[str]:
    """The lines (rich markup) that describe ``doc``, fitted to ``width`` columns."""
    rows = [(label, lines) for label, lines in _rows(doc, everything) if lines]
    label_width = max(len(label) for label, _lines in rows)
    room = width - label_width - 2
    # Beside the labels only when every word fits there: an id or a path is never cut.
    longest = max((len(word) for _label, lines in rows for line in lines for word in line.split()))
    beside = room >= _MIN_VALUE_COLUMNS and longest <= room
    indent = label_width + 2 if beside else 2
    out = [f"[bold]snapshot in {escape(clean(doc['model']))}[/]"]
    for label, lines in rows:
        wrapped = [escape(part) for line in lines for part in _wrap(line, width - indent)]
        if beside:
            pad = " " * (label_width - len(label))
            out.append(f"[bold]{label}[/]{pad}  {wrapped[0]}")
            out += [" " * indent + line for line in wrapped[1:]]
        else:
            out.append(f"[bold]{label}[/]")
            out += [" " * indent + line for line in wrapped]
    if doc.get("format_version") == 1:
        out.append("(written by JellyML 1.0.0, which recorded no metadata)")
    elif not doc.get("has_metadata"):
        out.append("(this snapshot carries no metadata)")
    return out


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    import textwrap  # only on a terminal narrower than a value

    parts = textwrap.wrap(
        line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )
    return parts or [line]


def _rows(doc: dict[str, Any], everything: bool) -> list[tuple[str, list[str]]]:
    limit = 10**12 if everything else SHOWN  # (lines here are plain text, cleaned)

    def one(found: Any, *, none: Any = None) -> list[str]:
        return _one(found, none=none, whole=everything)

    return [
        ("commit", one(doc.get("commit"))),
        ("base commit", one(doc.get("base_commit"))),
        ("branch", one(doc.get("branch"), none=_detached(doc))),
        ("uncommitted work", _yes_no(doc.get("dirty"))),
        ("changed files", _files(doc, "changed_files", limit, _change)),
        ("untracked included", _files(doc, "untracked_included", limit, clean)),
        ("untracked left out", _files(doc, "left_out", limit, _left_out)),
        ("submodules", _files(doc, "submodules", limit, _submodule)),
        ("remotes", [f"{clean(k)} {clean(v)}" for k, v in (doc.get("remotes") or {}).items()]),
        ("repository", _repository(doc)),
        ("history", one(doc.get("history"))),
        ("created at", one(doc.get("created_at"))),
        ("host", one(doc.get("hostname"))),
        ("platform", one(doc.get("platform"))),
        ("Python", _python(doc)),
        ("torch", one(doc.get("torch"), none=_recorded_none(doc, "torch", "(not imported)"))),
        ("jellyml", one(doc.get("jellyml"))),
        ("command line", one(_argv(doc.get("argv")))),
        ("working folder", one(doc.get("cwd"))),
        ("packages", _packages(doc.get("packages"), everything)),
        ("bundle", [f"{doc['snapshot_size']:,} bytes, format {doc['format_version']}"]),
    ]


def _one(found: Any, *, none: Any = None, whole: bool = False) -> list[str]:
    """One value; cut at ``VALUE_LIMIT`` characters (its length said) unless ``whole``."""
    if found is None:
        return [none] if none else []
    return [clean(found) if whole else shorten(str(found), VALUE_LIMIT)]


def _detached(doc: dict[str, Any]) -> Optional[str]:
    # No branch means a detached HEAD only where the git section was recorded (and valid).
    if doc.get("dirty") is None:
        return None
    return _recorded_none(doc, "git.branch", "(detached HEAD)")


def _recorded_none(doc: dict[str, Any], field: str, meaning: str) -> Optional[str]:
    """What a null ``field`` means, when the snapshot recorded it as null (not when the file
    has no metadata, or had a value of the wrong type there)."""
    if not doc.get("has_metadata") or field in (doc.get("invalid_fields") or ()):
        return None
    return meaning


def _yes_no(found: Any) -> list[str]:
    return [] if found is None else ["yes" if found else "no"]


def _files(doc: dict[str, Any], field: str, limit: int, fmt: Any) -> list[str]:
    items = doc.get(field)
    if items is None:
        return []
    total = doc.get(f"{field}_total")
    recorded = len(items)
    count = total if isinstance(total, int) and total > recorded else recorded
    if count == 0:
        return ["none"]
    lines = summary([fmt(item) for item in items], limit=limit, more=_ALL_HINT)
    if count > recorded:
        lines.append(f"({count - recorded:,} more not recorded in the snapshot)")
    noun = "" if field == "submodules" else (" file" if count == 1 else " files")
    return [f"{count:,}{noun}", *lines]


def _change(item: dict[str, str]) -> str:
    return f"{clean(item['status'])} {clean(item['path'])}"


def _left_out(item: dict[str, str]) -> str:
    return f"{clean(item['path'])} ({clean(item['reason'])})"


def _submodule(item: dict[str, str]) -> str:
    return f"{clean(item['path'])} at {clean(item['commit'])}"


def _repository(doc: dict[str, Any]) -> list[str]:
    lines = _one(doc.get("repo_path") or doc.get("repo_name"))
    if lines and doc.get("repo_chosen_by"):
        lines[0] += f" (chosen by {clean(doc['repo_chosen_by'])})"
    if doc.get("created_git_repo"):
        lines.append("(made a new repository: the folder was not one)")
    return lines


def _python(doc: dict[str, Any]) -> list[str]:
    lines = _one(doc.get("python"))
    if doc.get("python_executable"):
        lines.append(clean(doc["python_executable"]))
    return lines


def _argv(argv: Any) -> Any:
    return None if argv is None else " ".join(argv)


def _packages(packages: Any, everything: bool) -> list[str]:
    if packages is None:
        return []
    if not everything:
        return [f"{len(packages):,} installed{_ALL_HINT if packages else ''}"]
    return [f"{clean(name)}=={clean(version)}" for name, version in packages.items()]
