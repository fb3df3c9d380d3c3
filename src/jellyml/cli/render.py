"""The one place that decides how the CLI's output looks.

Two writers, chosen by where output goes: rich on a terminal (colours, bold), and a plain one
(``console.PlainConsole``) when output is not a terminal or ``NO_COLOR`` is set, which never
imports rich. Both take rich markup; values go in through ``value`` (or ``clean``). Info goes to
stdout and is silenced by ``-q``; warnings and errors go to stderr and are never silenced.

Everything printed that came from a checkpoint, a history file or a file name passes through
``clean``: its control characters (escape sequences, bell, C1 codes, bidi overrides) are shown
as ``\\x1b``-style text, so a crafted checkpoint cannot drive the terminal.
"""

from __future__ import annotations

import functools
import json
import sys
import time

from .. import settings
from .._version import __version__
from .console import PlainConsole, escape
from .options import styled
from .text import SHOWN, clean, plural, shorten, summary

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:  # only for annotations: rich and restore load when a command needs them
    from collections.abc import Sequence
    from typing import Any, Optional, Union

    from rich.console import Console
    from rich.text import Text

    from ..publish.scan import ScanEntry
    from ..publish.shallow import ShortenResult
    from ..publish.strip import StripResult
    from ..restore.eat import EatResult
    from ..restore.history import HistoryItem
    from ..restore.undo import UndoResult

    AnyConsole = Union[Console, PlainConsole]

#: An error line is cut at this many characters, its length said (names in it are shorter).
MESSAGE_LIMIT = 4000

__all__ = ["SHOWN", "clean", "escape", "summary", "value"]


def value(text: object) -> str:
    """Untrusted ``text`` for a markup string: cleaned, and escaped so it is not markup."""
    return escape(clean(text))


def _clean_lines(text: str) -> str:
    return clean(text, newlines=True)


@functools.cache
def stdout() -> AnyConsole:
    return _console(stderr=False)


@functools.cache
def stderr() -> AnyConsole:
    return _console(stderr=True)


def _console(*, stderr: bool) -> AnyConsole:
    if not styled(sys.stderr if stderr else sys.stdout):
        return PlainConsole(stderr=stderr, clean=_clean_lines)
    from rich.console import Console

    # emoji=False: ":smile:" in a file name stays text. soft_wrap=False: rich wraps lines at
    # the terminal's width between words (the terminal itself would cut words in two).
    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)


def info(message: str, *, quiet: bool = False) -> None:
    """An informational line on stdout (rich markup allowed), suppressed by ``-q``."""
    if not quiet:
        stdout().print(_clean_lines(message))


def plain(text: str) -> None:
    """Text for scripts (a path, JSON): never styled, never silenced."""
    stdout().out(_clean_lines(text), highlight=False)


def warning(message: str) -> None:
    stderr().print(f"[bold yellow]warning:[/] {escape(_clean_lines(message))}")


def error(exc: BaseException, *, debug: bool = False) -> None:
    """One clear line on stderr; the traceback too with ``--debug``."""
    from ..errors import JellyMLError  # only on failure

    if debug:
        import traceback

        stderr().print(_clean_lines(traceback.format_exc()), markup=False)
    text = str(exc) if isinstance(exc, JellyMLError) else f"Unexpected error: {exc!r}"
    # the last guard: a value from a file that slipped into a message unshortened
    stderr().print(f"[bold red]error:[/] {value(shorten(text, MESSAGE_LIMIT))}")


def logo(*, terminal_only: bool = False) -> None:
    """The donut logo: coloured on a terminal, plain with NO_COLOR; with ``terminal_only``,
    never when output is not a terminal, and never with JELLYML_NO_DONUT set."""
    from . import donut  # the logo and the easter egg only

    if settings.no_donut() or (terminal_only and not _on_terminal()):
        return
    console = stdout()
    if isinstance(console, PlainConsole):
        console.out(donut.plain_logo(__version__))
    else:
        console.print(logo_text(), highlight=False)


def _on_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def logo_text() -> Text:
    """The donut: dough brown, frosting pink, sprinkles of all colours."""
    from rich.text import Text

    from . import donut  # the logo and the easter egg only

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
            text.append(" " * (donut.LOGO_WIDTH - len(art)))
            text.append(f"   {words.format(version=__version__)}", style="bold #ff69b4")
        text.append("\n")
    text.rstrip()
    return text


def spinning_donut() -> None:
    """The easter egg: a donut that spins for about a second (one still frame when piped)."""
    from . import donut  # the logo and the easter egg only

    console = stdout()
    if not _on_terminal() or settings.no_donut():
        console.out(donut.frame(1.0, 1.0))
        return
    for k, picture in enumerate(donut.frames(45)):
        rows = picture.split("\n")
        rows += [""] * (donut.HEIGHT - len(rows))
        move_up = f"\x1b[{donut.HEIGHT}A" if k else ""
        console.file.write(move_up + "".join(f"{row:<{donut.WIDTH}}\n" for row in rows))
        console.file.flush()
        time.sleep(0.025)
    console.print("[bold #ff69b4]Mmm, donut.[/] Now go train something.")


#: The progress bar's width, in characters.
_BAR = 30


def progress_bar(what: str, done: int, total: int, finished: bool) -> None:
    """A ``jellyml.progress`` reporter: one line on stderr (a terminal), redrawn in place."""
    out = sys.stderr
    if finished:
        out.write("\n")
    else:
        filled = "#" * (_BAR * done // total if total else _BAR)
        out.write(f"\r{what} [{filled:<{_BAR}}] {done / 1e6:,.1f}/{total / 1e6:,.1f} MB")
    out.flush()


def _short(commit: Optional[str]) -> str:
    return value(commit[:12]) if commit else "(no commit yet)"


def _head(branch: Optional[str], commit: Optional[str]) -> str:
    if branch is not None:
        return f"branch [bold]{value(branch)}[/]"
    return f"commit {_short(commit)} (detached HEAD)"


def size(n: int) -> str:
    """Bytes for people: ``812 bytes``, ``3.4 KiB``, ``1.2 GiB``."""
    if n < 1024:
        return f"{n} byte{'' if n == 1 else 's'}"
    amount, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{amount:.1f} {unit}"


def names(items: Sequence[str], total: int) -> str:
    """The first of ``total`` names, and how many more."""
    shown = ", ".join(value(i) for i in items)
    return shown + (f" and {total - len(items):,} more" if total > len(items) else "")


def eat_result(result: EatResult, *, quiet: bool, no_donut: bool) -> None:
    """What eat did: the files that differ, what was saved and put aside, what stayed."""
    eat_warnings(result)
    if quiet:
        return
    if not no_donut:
        logo(terminal_only=True)
    model, top = value(result.model), value(result.top)
    on = f" on new branch [bold]{value(result.new_branch)}[/]" if result.new_branch else ""
    if result.cloned:
        info(
            f"Cloned the snapshot in {model} (commit [bold]{_short(result.commit)}[/], "
            f"{plural(result.files_changed or 0, 'file')}) into {top}{on}.\nThat folder was "
            "empty or new, so there is nothing to undo: delete the folder to undo it."
        )
        if result.origin:
            info(f"Its remote origin is {value(result.origin)}, as recorded in the snapshot.")
        return
    if result.already:
        info(
            f"The snapshot in {model} (commit {_short(result.commit)}) is already checked out "
            f"in {top}, with nothing changed since; nothing was done."
        )
        return
    if result.files_changed is None:
        differ = "git could not count the files that differ from what you had"
    else:
        verb = "differs" if result.files_changed == 1 else "differ"
        differ = f"{plural(result.files_changed, 'file')} {verb} from what you had"
    head = f"on new branch [bold]{value(result.new_branch)}[/]" if on else "detached HEAD"
    info(
        f"Checked out the snapshot in {model}: commit [bold]{_short(result.commit)}[/] "
        f"({head}) in {top}; {differ}{':' if result.changed else '.'}"
    )
    for line in summary([f"  {value(letter)} {value(path)}" for letter, path in result.changed]):
        info(line)
    _eat_put_aside(result)
    depth = f" ({result.depth} eats to undo)" if result.depth > 1 else ""
    info(f"Run [bold]jellyml undo[/] to get back to it{depth}.")


def _eat_put_aside(result: EatResult) -> None:
    where = _head(result.previous_branch, result.previous_commit)
    if result.saved:
        info(
            f"You were on {where}. Your changes to tracked files are put aside in commit "
            f"{_short(result.saved)} (kept by {value(result.saved_ref or '')})."
        )
    elif not result.put_aside:
        info(f"You were on {where}, with no uncommitted work.")
    else:
        info(f"You were on {where}, with no changes to tracked files.")
    if result.put_aside:
        what = _files_and_folders(result.put_aside, result.put_aside_folders)
        how = "copied there" if result.copied else "moved, not copied into git"
        info(
            f"Put aside {what} ({size(result.put_aside_size)}) in "
            f"{value(_near(result.aside_folder or ''))}, {how}."
        )
    if result.left_in_place:
        info(
            f"Left in place {plural(result.left_in_place, 'file or folder', 'files and folders')} "
            "the snapshot does not need (ignored, large, secret, model or data files): "
            f"{names(result.left_in_place_names, result.left_in_place)}."
        )


def _near(path: str) -> str:
    """``path`` relative to the current folder when it lies below it (``.git/jellyml/...``:
    short enough to read and to wrap between words), else as it is."""
    import os

    try:
        relative = os.path.relpath(path)
    except (ValueError, OSError):  # another drive (Windows); the current folder is gone
        return path
    return path if relative.startswith(os.pardir) else relative


def _files_and_folders(total: int, folders: int) -> str:
    """``3 untracked files``, ``2 untracked files and 1 folder``."""
    if not folders:
        return plural(total, "untracked file")
    if folders == total:
        return plural(total, "untracked folder")
    return f"{plural(total - folders, 'untracked file')} and {plural(folders, 'folder')}"


def undo_result(result: UndoResult, *, quiet: bool, no_donut: bool) -> None:
    removed_locks(result)
    _undo_warnings(result)
    if quiet:
        return
    if result.nothing_to_undo:
        info(f"Nothing to undo in {value(result.top)}.")
        if result.worktrees:
            made = names(result.worktrees[:3], len(result.worktrees))
            info(
                f"Worktrees made by `jellyml eat --worktree`: {made}; "
                f"`jellyml undo --worktree {value(result.worktrees[0])}` removes one."
            )
        return
    work = (
        " with your uncommitted work (staged, unstaged and untracked) as it was"
        if (result.restored_dirty)
        else ""
    )
    fixed = " (an interrupted jellyml run was finished)" if result.was_interrupted else ""
    where = _head(result.restored_branch, result.restored_commit)
    info(f"Back on {where}{work} in {value(result.top)}{fixed}.")
    if result.came_back:
        what = _files_and_folders(result.came_back, result.came_back_folders)
        info(f"Put back {what} ({size(result.came_back_size)}) that eat had put aside.")
    if result.written:
        what = plural(result.written, "file or folder", "files and folders")
        info(
            f"Kept where they are: {what} written while the snapshot was checked out "
            f"({names(result.written_names, result.written)})."
        )
    if result.new_branch:
        info(f"Branch {value(result.new_branch)}, made by the eat, is left where it is.")
    if result.remaining:
        info(f"{plural(result.remaining, 'earlier eat')} left to undo.")
    from ..restore.branches import FEW  # the restore modules are loaded already

    if result.undo_branches > FEW:
        info(
            f"This repository has {result.undo_branches} jellyml-undo-* branches; "
            "`jellyml fix clean-undo-branches` deletes those that hold nothing of their own."
        )


def _undo_warnings(result: UndoResult) -> None:
    """Where work done after eating went (warnings: said even with ``-q``)."""
    branch = result.after_branch
    if branch and result.in_the_way:
        listed = ", ".join(value(p) for p in result.in_the_way[:5])
        more = f" and {len(result.in_the_way) - 5} more" if len(result.in_the_way) > 5 else ""
        warning(
            f"Written after eating where your own files go back, so kept on branch {branch}, "
            f"not on disk: {listed}{more}. Get one back with "
            f"`git checkout {branch} -- {result.in_the_way[0]}`."
        )
    if branch:
        changed = ", ".join(f"{value(letter)} {value(path)}" for letter, path in result.after_files)
        listed = f": {changed}" if changed else ""
        first = result.after_files[0][1] if result.after_files else "PATH"
        warning(
            f"Work done after eating (edits or commits) is kept on branch {branch}{listed}. "
            f"Get a file back with `git checkout {branch} -- {first}`."
        )
    if result.moved_branch:
        warning(
            f"Branch {result.moved_branch} moved since the eat; it was left where it is, "
            f"and HEAD is detached at {_short(result.restored_commit)}."
        )


def show(described: dict[str, Any], *, as_json: bool, everything: bool = False) -> None:
    """``jellyml show``: the JSON document as it is, or a summary for people."""
    if as_json:
        # ensure_ascii: every control character in a value is a \\u escape, safe on a terminal.
        plain(json.dumps(described, indent=2, sort_keys=True, ensure_ascii=True))
        return
    from .render_show import show_lines

    width = stdout().width
    for line in show_lines(described, width=width, everything=everything):
        # Fitted to the width already; only an id or a path longer than the line is left
        # longer, and it must stay whole (soft_wrap: not folded into pieces by rich).
        stdout().print(line, soft_wrap=True)
    for field in described.get("invalid_fields") or ():
        warning(f"the snapshot's metadata field {field} has the wrong type; it is not shown.")


def deleted_history_item(top: str, item: Optional[HistoryItem], *, quiet: bool) -> None:
    if item is None:
        info(f"The jellyml history of {value(top)} is empty; nothing deleted.", quiet=quiet)
        return
    info(
        f"Deleted the last history item of {value(top)} (eat of {value(item.model)}, "
        f"{value(item.created_at)}).",
        quiet=quiet,
    )
    info(
        f"The work it had put aside stays in commit {_short(item.saved_worktree)}, kept by "
        f"{value(item.ref_prefix)}/saved: `git checkout {_short(item.saved_worktree)} -- .` "
        f"gets its files; `git update-ref -d {value(item.ref_prefix)}/saved` drops it.",
        quiet=quiet,
    )
    if item.aside:
        info(
            f"The {plural(item.aside, 'untracked file or folder', 'untracked files and folders')} "
            "it had moved aside stay, under their own paths, in the folder "
            f"`git rev-parse --git-path jellyml/{value(item.id)}/files` names.",
            quiet=quiet,
        )


def cleared_history(
    path: str, existed: bool, refs: list[str], folders: Sequence[str] = (), *, quiet: bool
) -> None:
    what = "Deleted" if existed else "There was no history file at"
    info(f"{what} {value(path)}.", quiet=quiet)
    if refs:
        info(
            f"{plural(len(refs), 'ref')} under refs/jellyml/ still "
            f"{'keeps' if len(refs) == 1 else 'keep'} work jellyml put aside "
            "(see `git for-each-ref refs/jellyml/`); delete them with `git update-ref -d` "
            "when you no longer need them.",
            quiet=quiet,
        )
    if folders:
        info(
            f"Untracked files that eat moved aside stay, under their own paths, in "
            f"{names([f + '/files' for f in folders], len(folders))}: move them back to your "
            "working tree, then delete those folders.",
            quiet=quiet,
        )


def stripped(result: StripResult, *, quiet: bool) -> None:
    if result.nothing:
        copied = "" if result.output == result.path else f" ({value(result.output)} is a copy)"
        what = f"Nothing to strip: {value(result.path)} holds no JellyML snapshot{copied}."
        info(what, quiet=quiet)
        return
    removed = ", ".join(clean(r) for r in result.removed)
    info(
        f"Wrote {value(result.output)} without its snapshot ({removed} removed): "
        f"{result.size_before:,} -> {result.size_after:,} bytes.",
        quiet=quiet,
    )


def stripped_tree(results: list[StripResult], *, quiet: bool) -> None:
    """``strip --recursive``: a line per checkpoint, a warning per failure, then a summary."""
    for result in results:
        if result.problem:
            warning(f"{clean(result.path)}: {clean(result.problem)}")
        elif result.removed:
            stripped(result, quiet=quiet)
    failed = sum(1 for r in results if r.problem)
    done = len(results) - failed
    tail = f", {failed} failed" if failed else ""
    info(f"Stripped {plural(done, 'checkpoint')}{tail}.", quiet=quiet and not failed)


def shortened(result: ShortenResult, *, quiet: bool) -> None:
    info(
        f"Wrote {value(result.output)} with a shallow snapshot of {value(result.commit[:12])} "
        f"({plural(result.commits_before, 'commit')} of history -> 1): "
        f"{result.size_before:,} -> {result.size_after:,} bytes.",
        quiet=quiet,
    )


def scan_results(entries: list[ScanEntry], *, as_json: bool, quiet: bool) -> None:
    """``jellyml scan``: JSON, or a table with a header row, a checkpoint a row."""
    if as_json:
        plain(json.dumps([e.to_json() for e in entries], indent=2, sort_keys=True))
        return
    header = ("snapshot", "commit", "state", "created", "branch", "size", "checkpoint")
    rows = [header, *(_scan_row(e) for e in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [
            cell.rjust(width) if name == "size" else cell.ljust(width)
            for name, cell, width in zip(header, row, widths)
        ]
        plain("  ".join([*cells, row[-1]]))
    for e in entries:
        if e.problem:
            warning(f"{clean(e.path)}: {clean(e.problem)}")
    carrying = sum(1 for e in entries if e.snapshot)
    info(f"{plural(len(entries), 'checkpoint')}, {carrying} carrying a snapshot.", quiet=quiet)


#: A branch name longer than this is cut in the table (``jellyml show`` shows it whole).
_BRANCH_SHOWN = 24


def _scan_row(e: ScanEntry) -> tuple[str, ...]:
    if not e.snapshot:
        return (
            "unreadable" if e.problem else "no",
            "-",
            "-",
            "-",
            "-",
            f"{e.size:,}",
            _scan_path(e),
        )
    state = "dirty" if e.dirty else ("clean" if e.dirty is False else "-")
    created = e.created_at[:16].replace("T", " ") if e.created_at else "-"
    branch = clean(e.branch) if e.branch else "-"
    if len(branch) > _BRANCH_SHOWN:
        branch = branch[: _BRANCH_SHOWN - 1] + "~"
    commit = clean(e.commit[:12]) if e.commit else "-"
    return ("yes", commit, state, clean(created), branch, f"{e.size:,}", _scan_path(e))


def _scan_path(e: ScanEntry) -> str:
    return clean(e.path) + ("/" if e.kind == "folder" else "")


def eat_warnings(result: EatResult) -> None:
    """What eat must say even with ``-q`` (warnings are never silenced)."""
    if result.history_note:  # a shallow snapshot without its base commit here
        warning(result.history_note)
    if result.submodule_note:  # eat --worktree --recurse-submodules could not fetch them
        warning(result.submodule_note)
    if result.dropped_history:
        warning(
            f"Dropped {plural(result.dropped_history, 'history item')} of an earlier "
            f"repository that was at {result.top} (it was deleted and made again)."
        )
    if result.copied:
        warning(
            f"Copied {size(result.copied)} to put it aside: {result.aside_folder} is on another "
            "file system than the files it holds, so they could not simply be moved (undo "
            "copies them back)."
        )
    if result.gone_cwd:
        warning(
            f"{result.gone_cwd}, where you ran this, is not in the snapshot, so it no longer "
            f"exists: `cd {result.top}` (undo brings it back)."
        )


def removed_locks(result: UndoResult) -> None:
    for path in result.removed_locks:
        warning(f"Removed {path}, left by the interrupted jellyml run (its git was killed).")
