"""The one place that decides how the CLI's output looks.

rich on a terminal; plain text (no colour, no escape codes) when output is not a terminal or
``NO_COLOR`` is set (rich checks both). Info goes to stdout and is silenced by ``-q``; warnings
and errors go to stderr and are never silenced.
"""

from __future__ import annotations

import functools
import json
import time
import traceback
from typing import TYPE_CHECKING, Any, Optional

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from .. import settings
from .._version import __version__
from ..errors import JellyMLError
from . import donut

if TYPE_CHECKING:  # only for annotations: restore (and git, history) load when a command runs
    from ..restore.eat import EatResult
    from ..restore.history import HistoryItem
    from ..restore.undo import UndoResult


@functools.cache
def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True, **_plain_if_no_color())


@functools.cache
def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, **_plain_if_no_color())


def _plain_if_no_color() -> dict[str, Any]:
    # rich drops colours for NO_COLOR but keeps bold and the like; https://no-color.org asks
    # for no colour, and plain text is what a user who sets it wants from us.
    return {"color_system": None} if settings.no_color() else {}


def info(message: str, *, quiet: bool = False) -> None:
    """An informational line on stdout (rich markup allowed), suppressed by ``-q``."""
    if not quiet:
        stdout().print(message)


def plain(text: str) -> None:
    """Text for scripts (a path, JSON): never styled, never silenced."""
    stdout().out(text, highlight=False)


def warning(message: str) -> None:
    stderr().print(f"[bold yellow]warning:[/] {escape(message)}")


def error(exc: BaseException, *, debug: bool = False) -> None:
    """One clear line on stderr; the traceback too with ``--debug``."""
    if debug:
        stderr().print(traceback.format_exc(), markup=False)
    text = str(exc) if isinstance(exc, JellyMLError) else f"Unexpected error: {exc!r}"
    stderr().print(f"[bold red]error:[/] {escape(text)}")


def logo(*, terminal_only: bool = False) -> None:
    if terminal_only and not stdout().is_terminal:
        return
    stdout().print(logo_text(), highlight=False)


def logo_text() -> Text:
    """The donut: dough brown, frosting pink, sprinkles of all colours."""
    sprinkles = {"*": "bold yellow", "~": "bold cyan", "'": "bold green"}
    text = Text()
    for art, words in zip(donut.LOGO_ART, donut.LOGO_TEXT):
        frosted = False
        for char in art:
            if char in "{}":
                frosted = char == "{"
                text.append(" ")
            elif frosted:
                text.append(char, style=sprinkles.get(char, "bold #ff69b4"))
            else:
                text.append(char, style="#d2691e")
        if words:
            text.append(f"   {words.format(version=__version__)}", style="bold #ff69b4")
        text.append("\n")
    text.rstrip()
    return text


def spinning_donut() -> None:
    """The easter egg: a donut that spins for about a second (one still frame when piped)."""
    console = stdout()
    if not console.is_terminal:
        console.out(donut.frame(1.0, 1.0), highlight=False)
        return
    for k, picture in enumerate(donut.frames(45)):
        rows = picture.split("\n")
        rows += [""] * (donut.HEIGHT - len(rows))
        move_up = f"\x1b[{donut.HEIGHT}A" if k else ""
        console.file.write(move_up + "".join(f"{row:<{donut.WIDTH}}\n" for row in rows))
        console.file.flush()
        time.sleep(0.025)
    console.print("[bold #ff69b4]Mmm, donut.[/] Now go train something.")


def _short(commit: Optional[str]) -> str:
    return commit[:12] if commit else "(no commit yet)"


def _head(branch: Optional[str], commit: Optional[str]) -> str:
    if branch is not None:
        return f"branch [bold]{escape(branch)}[/]"
    return f"commit {_short(commit)} (detached HEAD)"


def eat_result(result: EatResult, *, quiet: bool, no_donut: bool) -> None:
    if quiet:
        return
    if not no_donut:
        logo(terminal_only=True)
    model, top = escape(result.model), escape(result.top)
    if result.cloned:
        info(
            f"Cloned the snapshot in {model} (commit [bold]{_short(result.commit)}[/], "
            f"{result.files_changed} files) into {top}.\nThat folder was empty or new, so "
            "there is nothing to undo: delete the folder to undo it."
        )
        if result.origin:
            info(f"Its remote origin is {escape(result.origin)}, as recorded in the snapshot.")
        return
    if eat_notes(result):
        return
    changed = (
        f"{result.files_changed} file(s) differ from what you had"
        if result.files_changed is not None
        else "git could not count the files that changed"
    )
    info(
        f"Checked out the snapshot in {model}: commit [bold]{_short(result.commit)}[/] "
        f"(detached HEAD) in {top}; {changed}."
    )
    where = _head(result.previous_branch, result.previous_commit)
    if result.saved:
        extra = (
            f" ({result.untracked_saved} untracked file(s) included)"
            if (result.untracked_saved)
            else ""
        )
        info(
            f"You were on {where}. Your uncommitted work{extra} is put aside in commit "
            f"{_short(result.saved)} (kept by {escape(result.saved_ref or '')})."
        )
    else:
        info(f"You were on {where}, with no uncommitted work.")
    depth = f" ({result.depth} eats to undo)" if result.depth > 1 else ""
    info(f"Run [bold]jellyml undo[/] to get back to it{depth}.")
    if result.gone_cwd:
        warning(
            f"{escape(result.gone_cwd)}, where you ran this, is not in the snapshot, so it no "
            f"longer exists: `cd {escape(result.top)}` (undo brings it back)."
        )


def undo_result(result: UndoResult, *, quiet: bool, no_donut: bool) -> None:
    removed_locks(result)
    if result.after_branch:
        warning(
            f"Work done after eating (edits or commits) is kept on branch {result.after_branch}."
        )
    if result.moved_branch:
        warning(
            f"Branch {result.moved_branch} moved since the eat; it was left where it is, "
            f"and HEAD is detached at {_short(result.restored_commit)}."
        )
    if quiet:
        return
    if result.nothing_to_undo:
        info(f"Nothing to undo in {escape(result.top)}.")
        return
    if not no_donut:
        logo(terminal_only=True)
    work = (
        " with your uncommitted work (staged, unstaged and untracked) as it was"
        if (result.restored_dirty)
        else ""
    )
    fixed = " (an interrupted jellyml run was finished)" if result.was_interrupted else ""
    where = _head(result.restored_branch, result.restored_commit)
    info(f"Back on {where}{work} in {escape(result.top)}{fixed}.")
    if result.remaining:
        info(f"{result.remaining} earlier eat(s) left to undo.")


_SHOW_ROWS = (
    ("commit", "commit"),
    ("base_commit", "base commit"),
    ("branch", "branch"),
    ("dirty", "uncommitted work"),
    ("changed_files", "changed files"),
    ("untracked_included", "untracked files included"),
    ("left_out", "untracked files left out"),
    ("remotes", "remotes"),
    ("created_at", "created at"),
    ("hostname", "host"),
    ("python", "Python"),
    ("torch", "torch"),
    ("jellyml", "jellyml"),
    ("argv", "command line"),
    ("packages", "packages installed"),
    ("bundle_size", "bundle size"),
    ("format_version", "format version"),
)


def show(described: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        plain(json.dumps(described, indent=2, sort_keys=True))
        return
    from rich.table import Table  # only here: the logo and the help do without it (start-up)

    table = Table(title=escape(described["model"]), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, label in _SHOW_ROWS:
        table.add_row(label, escape(_cell(key, described.get(key))))
    stdout().print(table)
    if described.get("format_version") == 1:
        info("(written by JellyML 1.0.0, which recorded no metadata)")
    elif not described.get("has_metadata"):
        info("(this snapshot carries no metadata)")


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "changed_files" and isinstance(value, list):
        return "\n".join(f"{c.get('status', '?')} {c.get('path', '?')}" for c in value) or "none"
    if key == "left_out" and isinstance(value, list):
        return "\n".join(f"{c.get('path')}: {c.get('reason')}" for c in value) or "none"
    if key == "remotes" and isinstance(value, dict):
        return "\n".join(f"{k} {v}" for k, v in value.items()) or "none"
    if key == "dirty":
        return "yes" if value else "no"
    if key == "bundle_size":
        return f"{value:,} bytes"
    if key == "argv" and isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, list):
        return "\n".join(str(v) for v in value) or "none"
    return str(value)


def deleted_history_item(top: str, item: Optional[HistoryItem], *, quiet: bool) -> None:
    if item is None:
        info(f"The jellyml history of {escape(top)} is empty; nothing deleted.", quiet=quiet)
        return
    info(
        f"Deleted the last history item of {escape(top)} (eat of {escape(item.model)}, "
        f"{escape(item.created_at)}).",
        quiet=quiet,
    )
    info(
        f"The work it had put aside stays in commit {_short(item.saved_worktree)}, kept by "
        f"{escape(item.ref_prefix)}/saved: `git checkout {_short(item.saved_worktree)} -- .` "
        f"gets its files; `git update-ref -d {escape(item.ref_prefix)}/saved` drops it.",
        quiet=quiet,
    )


def cleared_history(path: str, existed: bool, refs: list[str], *, quiet: bool) -> None:
    what = "Deleted" if existed else "There was no history file at"
    info(f"{what} {escape(path)}.", quiet=quiet)
    if refs:
        info(
            f"{len(refs)} ref(s) under refs/jellyml/ still keep work jellyml put aside "
            "(see `git for-each-ref refs/jellyml/`); delete them with `git update-ref -d` "
            "when you no longer need them.",
            quiet=quiet,
        )


def eat_notes(result: EatResult) -> bool:
    """What eat says besides its result: True when that is all it has to say."""
    if result.dropped_history:
        warning(
            f"Dropped {result.dropped_history} history item(s) of an earlier repository that "
            f"was at {escape(result.top)} (it was deleted and made again)."
        )
    if result.already:
        info(
            f"The snapshot in {escape(result.model)} (commit {_short(result.commit)}) is "
            f"already checked out in {escape(result.top)}, with nothing changed since; "
            "nothing was done."
        )
        return True
    return False


def removed_locks(result: UndoResult) -> None:
    for path in result.removed_locks:
        warning(
            f"Removed {escape(path)}, left by the interrupted jellyml run (its git was killed)."
        )
