"""What ``jellyml status``, ``eat --worktree``, ``undo --worktree`` and ``jellyml fix
clean-undo-branches`` print (render.py's conventions: values through ``value``)."""

from __future__ import annotations

import json

from .render import _short, eat_warnings, info, plain, size, value, warning
from .text import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..restore.branches import CleanResult
    from ..restore.eat import EatResult
    from ..restore.overview import ActiveEat, MadeWorktree, Overview
    from ..restore.worktrees import UndoWorktreeResult


def eat_worktree_result(result: EatResult, *, quiet: bool) -> None:
    """``eat --worktree``: where the snapshot is, and how to remove it."""
    eat_warnings(result)
    if quiet:
        return
    on = f"on new branch [bold]{value(result.new_branch)}[/]" if result.new_branch else "detached"
    info(
        f"Checked out the snapshot in {value(result.model)}: commit "
        f"[bold]{_short(result.commit)}[/] ({on}, {plural(result.files_changed or 0, 'file')}) "
        f"in the new worktree {value(result.top)}. Your own worktree "
        f"{value(result.worktree_of or '')} was not touched."
    )
    info(f"Run [bold]jellyml undo --worktree {value(result.top)}[/] to remove it.")


def undo_worktree_result(result: UndoWorktreeResult, *, quiet: bool) -> None:
    if result.after_branch:
        warning(
            f"What {value(result.path)} held{f' ({value(result.kept)})' if result.kept else ''} "
            f"is kept on branch "
            f"{value(result.after_branch)}: `git checkout {value(result.after_branch)} -- PATH` "
            "gets a file back."
        )
    info(
        f"Removed the worktree {value(result.path)} (snapshot of {value(result.model)}, commit "
        f"{_short(result.commit)}), its lock and its ref from {value(result.top)}.",
        quiet=quiet,
    )
    if result.branch:
        info(f"Branch {value(result.branch)}, made by the eat, is left where it is.", quiet=quiet)


def status(found: Overview, *, as_json: bool) -> None:
    """``jellyml status``: the active eats, newest first, the worktrees, the undo branches, and
    the command to run next."""
    if as_json:
        plain(json.dumps(found.to_json(), indent=2, sort_keys=True, ensure_ascii=True))
        return
    top = value(found.top)
    if found.nothing:
        plain(f"Nothing of jellyml's is active in {top}.")
        return
    if found.eats:
        plain(f"Active eats in {top}, newest first ({len(found.eats)}):")
        for eaten in found.eats:
            plain(_eat_line(eaten))
    else:
        plain(f"No active eat in {top}.")
    if found.worktrees:
        plain(f"Worktrees made by `jellyml eat --worktree` ({len(found.worktrees)}):")
        for made in found.worktrees:
            plain(_worktree_line(made))
    if found.undo_branches:
        plain(f"Branches keeping work done after eating ({len(found.undo_branches)}):")
        for branch in found.undo_branches:
            plain(f"  {value(branch.name)}  {_when(branch.date)}  {_short(branch.commit)}")
    if found.next_command:
        plain(f"Next: {value(found.next_command)}")


def _when(stamp: str) -> str:
    """An ISO time of the history file or of git, to the second in UTC ("2026-12-03 14:50:19
    UTC"); as it is (neutralised) when it does not parse."""
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return value(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo else "")


def _eat_line(eaten: ActiveEat) -> str:
    was = value(eaten.previous_branch) if eaten.previous_branch else _short(eaten.previous_commit)
    aside = "nothing put aside"
    if eaten.saved_changes or eaten.put_aside:
        parts = ["changes to tracked files"] if eaten.saved_changes else []
        if eaten.put_aside:
            what = plural(eaten.put_aside, "file or folder", "files and folders")
            parts.append(f"{what} ({size(eaten.put_aside_size)})")
        aside = "put aside: " + ", ".join(parts)
    state = "" if eaten.state == "eaten" else f" [{value(eaten.state)}, interrupted]"
    on = f" on branch {value(eaten.new_branch)}" if eaten.new_branch else ""
    return (
        f"  {value(eaten.model)}  commit {_short(eaten.commit)}{on}  {_when(eaten.created_at)}"
        f"{state}\n    you were on {was}; {aside}"
    )


def _worktree_line(made: MadeWorktree) -> str:
    missing = "" if made.exists else " (folder missing)"
    state = "" if made.state == "added" else f" [{value(made.state)}, interrupted]"
    on = f" on branch {value(made.branch)}" if made.branch else ""
    return (
        f"  {value(made.path)}{missing}{state}\n    {value(made.model)}  commit "
        f"{_short(made.commit)}{on}  {_when(made.created_at)}"
    )


def cleaned(result: CleanResult, *, quiet: bool) -> None:
    """``jellyml fix clean-undo-branches``: what was (or would be) deleted, and what stays."""
    verb = "Would delete" if result.dry_run else "Deleted"
    if result.deleted:
        info(
            f"{verb} {plural(len(result.deleted), 'undo branch', 'undo branches')} whose "
            "commits are all on other branches:",
            quiet=quiet,
        )
        for branch in result.deleted:
            info(f"  {value(branch.name)}  {_when(branch.date)}", quiet=quiet)
    else:
        info(f"No undo branch to delete in {value(result.top)}.", quiet=quiet)
    if result.kept:
        info(f"Kept {plural(len(result.kept), 'undo branch', 'undo branches')}:", quiet=quiet)
        for branch, why in result.kept:
            info(f"  {value(branch.name)}  {_when(branch.date)}  ({value(why)})", quiet=quiet)
    if result.recent:
        info(
            f"Left {plural(result.recent, 'newer undo branch', 'newer undo branches')} "
            "(--older-than).",
            quiet=quiet,
        )
