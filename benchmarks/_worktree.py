"""Part 4, continued: `jellyml eat MODEL --worktree DIR` (issue 18) vs the raw git commands it
stands for, `git fetch BUNDLE` + `git worktree add DIR FETCH_HEAD`, on the eat part's repository
(the user's work uncommitted in it, untouched by both). Each round checks that DIR holds exactly
the snapshot's files; the removal (`jellyml undo --worktree DIR` vs `git worktree remove`) is
timed too, in its own column."""

from __future__ import annotations

import os
from collections.abc import Sequence

import _eat  # tree_digest, at call time (_eat imports this module)
import _proc
from _common import Context, Table, Target, ratio, seconds

TARGET = "eat --worktree within 1.5x of git fetch + git worktree add"


def _steps(
    ctx: Context, tool: str, model: str, bundle: str, folder: str
) -> tuple[list[list[str]], list[list[str]]]:
    if tool == "ours":
        return [[ctx.jellyml, "eat", model, "--worktree", folder]], [
            [ctx.jellyml, "undo", "--worktree", folder]
        ]
    add = [
        ["git", "fetch", "-q", bundle],
        ["git", "worktree", "add", "-q", "--detach", folder, "FETCH_HEAD"],
    ]
    return add, [["git", "worktree", "remove", "--force", folder]]


def _round(
    ctx: Context, tool: str, repo: str, model: str, bundle: str, snap: str
) -> tuple[float, float, str]:
    """One add + remove; (add seconds, remove seconds, 'ok' or what went wrong)."""
    folder = os.path.join(ctx.work, f"worktree-{tool.replace(' ', '-')}")
    user = _eat.tree_digest(repo)
    add, remove = _steps(ctx, tool, model, bundle, folder)
    timed = []
    for steps in (add, remove):
        total, failed = _eat.run_steps(ctx, steps, repo)
        if failed:
            return -1, -1, failed
        timed.append(total)
        if steps is add and _eat.tree_digest(folder) != snap:
            return -1, -1, "the worktree does not hold the snapshot's files"
    if os.path.exists(folder) or _eat.tree_digest(repo) != user:
        return -1, -1, "the worktree was not removed, or the user's files changed"
    return timed[0], timed[1], "ok"


def run(ctx: Context, repo: str, model: str, bundle: str, snap: str) -> tuple[Table, Target]:
    table = Table(
        f"eat --worktree (the same repository, median of {ctx.reps})",
        ["tool", "add", "vs raw git", "remove", "restored"],
    )
    tools = ("raw git", "ours")
    results: dict[str, list[tuple[float, float, str]]] = {t: [] for t in tools}
    for _ in range(ctx.reps):
        for tool in tools:
            results[tool].append(_round(ctx, tool, repo, model, bundle, snap))
    raw = _median(results["raw git"])
    for tool in tools:
        add, remove, status = _median(results[tool])
        table.add(tool, seconds(add), ratio(add, raw[0]), seconds(remove), status)
    table.notes.append(
        "raw git = `git fetch -q BUNDLE` + `git worktree add -q --detach DIR FETCH_HEAD` (the "
        "bundle extracted beforehand, not timed); remove = `git worktree remove --force DIR`. "
        "ours = `jellyml eat MODEL --worktree DIR` (reads the snapshot from the checkpoint, "
        "records, locks, checks the limits) and `jellyml undo --worktree DIR`. Whole processes."
    )
    ours = _median(results["ours"])
    if ours[0] < 0 or raw[0] < 0:
        return table, Target(TARGET, False, f"ours: {ours[2]}; raw git: {raw[2]}")
    factor = ours[0] / raw[0]
    detail = f"{factor:.2f}x ({seconds(ours[0])} vs {seconds(raw[0])}); {ours[2]}"
    return table, Target(TARGET, factor <= 1.5 and ours[2] == "ok", detail)


def _median(rounds: Sequence[tuple[float, float, str]]) -> tuple[float, float, str]:
    good = [r for r in rounds if r[0] >= 0]
    bad = [r[2] for r in rounds if r[2] != "ok"]
    if not good:
        return -1, -1, bad[0] if bad else "not run"
    adds, removes = [r[0] for r in good], [r[1] for r in good]
    return _proc.median(adds), _proc.median(removes), bad[0] if bad else "ok"
