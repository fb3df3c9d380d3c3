"""Output of ``jellyml env``: the file it writes (stdout or ``-o``), the progress of ``--venv``
on a terminal, and its summary. Names and reasons come from a snapshot: they go through
``render.value`` / ``clean`` like everything else from a model file."""

from __future__ import annotations

import contextlib
import sys

from . import render
from .options import styled

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Optional

    from ..install.venv import Progress, VenvResult
    from ..read.requirements import Requirement, RequirementsFile

_STAGES = {
    "venv": "Making the environment",
    "install": "Installing packages",
    "retry": "Installing one at a time",
}


def written(
    output: Optional[str], data: bytes, reqs: RequirementsFile, *, quiet: bool, what: str
) -> None:
    """``data`` to stdout, or all-or-nothing to ``output``; what pylock.toml lacks is said."""
    if output is None or output == "-":
        from .render_tree import write_bytes

        write_bytes(data)
    else:
        from ..outputs import replacing

        with replacing(output, ".txt") as (f, _tmp):
            f.write(data)
        if what:
            render.info(
                f"Wrote {render.value(output)}: {len(reqs.installable)} packages to install, "
                f"{len(reqs.left_out)} left out.",
                quiet=quiet,
            )
    if what == "pylock.toml" and reqs.left_out:
        _left_out_warnings(reqs.left_out, "pylock.toml")


def _left_out_warnings(left_out: list[Requirement], where: str) -> None:
    for req in left_out:
        render.warning(f"{req.name} is not in {where}: {req.reason}")


@contextlib.contextmanager
def progress(*, quiet: bool) -> Iterator[Optional[Progress]]:
    """A progress display on stderr when it is a terminal (and not ``-q``); else nothing."""
    if quiet or not styled(sys.stderr) or not _is_terminal():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=render.stderr(),  # type: ignore[arg-type]  # rich's Console on a terminal
        transient=True,
    ) as bar:
        task = bar.add_task(_STAGES["venv"], total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=_STAGES.get(stage, stage), completed=done, total=total)

        yield report


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def venv_result(result: VenvResult, *, quiet: bool) -> None:
    """What was installed, left out and why, and what failed (each with the reason)."""
    for note in result.notes:
        render.warning(note)
    render.info(
        f"Built {render.value(result.path)} (Python {render.value(result.python_version)}, "
        f"{result.tool}): {len(result.installed)} packages installed, "
        f"{len(result.left_out)} left out, {len(result.failed)} failed.",
        quiet=quiet,
    )
    _left_out_warnings(result.left_out, result.path)
    for failure in result.failed:
        req = failure.requirement
        shown = f"{req.name}=={req.version}" if req.version else req.name
        render.stderr().print(
            f"[bold red]failed:[/] {render.value(shown)}: {render.value(failure.error)}"
        )
