"""Part 4: restoring a snapshot and undoing it. `jellyml load-snapshot-from MODEL` + `jellyml
undo` vs the raw git commands they stand for vs JellyML 1.0.0's eat + undo, each on the same
repository (user's work: one commit past the snapshot, plus uncommitted and untracked changes),
each checked to restore the snapshot's files and then to give the user's work back exactly."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence

import _fixtures
import _proc
import _snapshots
from _common import Context, Table, Target, ratio, seconds


def tree_digest(repo: str) -> str:
    """Every file's path and bytes outside .git."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, repo).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def available(ctx: Context) -> bool:
    env = ctx.env()
    probes = (["load-snapshot-from", "--help"], ["undo", "--help"])
    return all(_proc.run([ctx.jellyml, *p], env=env, check=False).returncode == 0 for p in probes)


def _setup(ctx: Context, files: int) -> tuple[str, str, str, str]:
    """The repository (user's state), the checkpoint, its bundle, and the snapshot's digest."""
    repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, "eat-repo"), files)
    _fixtures.make_dirty(ctx, repo, files)
    snap_digest = tree_digest(repo)
    model = os.path.join(ctx.work, "eat-model.pth")
    _proc.run_child(ctx.python, "create-snapshot", repo, model, env=ctx.env())
    bundle = os.path.join(ctx.work, "eat.bundle")
    _proc.run([ctx.jellyml, "fix", "extract-bundle", model, "-o", bundle], env=ctx.env())
    # The user moves on: commits that work, then changes more, uncommitted and untracked.
    ctx.git("add", "-A", cwd=repo)
    ctx.git("commit", "-q", "-m", "later work", cwd=repo)
    with open(os.path.join(repo, _fixtures.file_path(0)), "ab") as f:
        f.write(b"# user's uncommitted change\n")
    with open(os.path.join(repo, "notes.txt"), "w") as f:
        f.write("user's untracked file\n")
    return repo, model, bundle, snap_digest


def _steps(
    ctx: Context, tool: str, model: str, bundle: str
) -> tuple[list[list[str]], list[list[str]]]:
    if tool == "ours":
        return [[ctx.jellyml, "load-snapshot-from", model]], [[ctx.jellyml, "undo"]]
    if tool == "1.0.0":
        old = ctx.v100_jellyml or ""
        return [[old, "eat", model, "-q", "--no_donut"]], [[old, "undo", "-q", "--no_donut"]]
    eat = [
        ["git", "fetch", "-q", bundle],
        ["git", "stash", "push", "-q", "-u"],
        ["git", "checkout", "-q", "FETCH_HEAD"],
    ]
    return eat, [["git", "checkout", "-q", "-"], ["git", "stash", "pop", "-q"]]


def _round(
    ctx: Context, tool: str, repo: str, model: str, bundle: str, snap: str
) -> tuple[float, float, str]:
    """One eat + undo; (eat seconds, undo seconds, 'ok' or what went wrong)."""
    user_tree, user_state = tree_digest(repo), _snapshots.repo_state(ctx, repo, strict=False)
    eat, undo = _steps(ctx, tool, model, bundle)
    timed = []
    for steps in (eat, undo):
        total = 0.0
        for argv in steps:
            run = _proc.run(argv, cwd=repo, env=ctx.env(), check=False)
            total += run.wall
            if run.returncode != 0:
                return -1, -1, f"`{' '.join(argv[-3:])}` failed: {_proc.tail(run.stderr, 1)}"
        timed.append(total)
        if steps is eat and tree_digest(repo) != snap:
            return -1, -1, "the snapshot's files were not restored"
    if tree_digest(repo) != user_tree:
        return -1, -1, "undo did not give the user's files back"
    if _snapshots.repo_state(ctx, repo, strict=False) != user_state:
        return timed[0], timed[1], "files restored; git status, refs, stash or HEAD differ"
    return timed[0], timed[1], "ok"


def run(ctx: Context, files: int) -> tuple[list[Table], list[Target]]:
    table = Table(
        f"eat + undo ({files:,}-file repository, median of {ctx.reps})",
        ["tool", "eat", "undo", "eat + undo", "vs raw git", "restored"],
    )
    if not available(ctx):
        table.add("ours", "not available", "-", "-", "-", "-")
        table.notes.append(
            "`jellyml load-snapshot-from` / `jellyml undo` do not exist in this build yet; "
            "this part runs once they are merged."
        )
        return [table], [Target("eat + undo within 2x of raw git", None, "not available")]
    repo, model, bundle, snap = _setup(ctx, files)
    tools = ["raw git", "ours"] + (["1.0.0"] if ctx.v100_jellyml else [])
    results: dict[str, list[tuple[float, float, str]]] = {t: [] for t in tools}
    pristine = _fixtures.copy_repo(repo, repo + "-pristine")
    for _ in range(ctx.reps):
        for tool in tools:
            if all(r[0] >= 0 for r in results[tool]):
                results[tool].append(_round(ctx, tool, repo, model, bundle, snap))
                if results[tool][-1][0] < 0:
                    # A failed tool may leave the repository anywhere: start the others afresh.
                    _fixtures.copy_repo(pristine, repo)
    shutil.rmtree(repo)
    shutil.rmtree(pristine)
    return [_fill(table, results)], [_target(results)]


def _summary(rounds: Sequence[tuple[float, float, str]]) -> tuple[float, float, str]:
    good = [r for r in rounds if r[0] >= 0]
    if not good:
        return -1, -1, rounds[-1][2] if rounds else "not run"
    eat = _proc.median([r[0] for r in good])
    undo = _proc.median([r[1] for r in good])
    bad = [r[2] for r in rounds if r[2] != "ok"]
    return eat, undo, bad[0] if bad else "ok"


def _fill(table: Table, results: dict[str, list[tuple[float, float, str]]]) -> Table:
    raw = _summary(results["raw git"])
    for tool, rounds in results.items():
        eat, undo, status = _summary(rounds)
        total = eat + undo if eat >= 0 else -1
        table.add(
            tool, seconds(eat), seconds(undo), seconds(total), ratio(total, raw[0] + raw[1]), status
        )
    table.notes.append(
        "raw git = `git fetch -q BUNDLE`, `git stash push -q -u`, `git checkout -q FETCH_HEAD`; "
        "then `git checkout -q -`, `git stash pop -q` (the bundle extracted beforehand, not "
        "timed). Every time is whole processes, start-up included."
    )
    return table


def _target(results: dict[str, list[tuple[float, float, str]]]) -> Target:
    ours, raw = _summary(results["ours"]), _summary(results["raw git"])
    if ours[0] < 0 or raw[0] < 0:
        return Target("eat + undo within 2x of raw git", False, f"ours: {ours[2]}")
    factor = (ours[0] + ours[1]) / (raw[0] + raw[1])
    return Target(
        "eat + undo within 2x of raw git",
        factor <= 2.0 and ours[2] == "ok",
        f"{factor:.2f}x ({seconds(ours[0] + ours[1])} vs {seconds(raw[0] + raw[1])}); {ours[2]}",
    )
