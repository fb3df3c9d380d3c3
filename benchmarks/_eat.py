"""Part 4: restoring a snapshot and undoing it. `jellyml load-snapshot-from MODEL` + `jellyml
undo` vs the raw git commands they stand for vs JellyML 1.0.0's eat + undo, each on the same
repository (user's work: one commit past the snapshot, plus uncommitted and untracked changes),
each checked to restore the snapshot's files and then to give the user's work back exactly.

Then ours again, on the same repository with and without a large amount of untracked and
ignored data in it (an untracked checkpoint, ignored runs and wandb folders: issue 17), to show
that eat + undo does not depend on it and that `.git` does not grow with it."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence

import _fixtures
import _proc
import _snapshots
from _common import Context, Table, Target, ratio, seconds, size

#: Where the data of the "with data" rows goes, as a share of the size asked for: an untracked
#: checkpoint (left in place: a model file, over the size limit) and two ignored folders.
DATA = (("outputs/model.ckpt", 0.4), ("runs/exp1/events.out", 0.3), ("wandb/run-1/model.pt", 0.3))
_DATA_TOPS = ("outputs", "runs", "wandb")


def tree_digest(repo: str, skip: Sequence[str] = ()) -> str:
    """Every file's path and bytes outside .git (and outside the top-level folders ``skip``)."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if d != ".git" and not (folder == repo and d in skip))
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


def run(ctx: Context, files: int, data: int = 0) -> tuple[list[Table], list[Target]]:
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
    tables, targets = [], []
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
    tables.append(_fill(table, results))
    targets.append(_target(results))
    if data:
        _fixtures.copy_repo(pristine, repo)
        got = _with_data(ctx, repo, model, data, files)
        tables.append(got[0])
        targets += got[1]
    shutil.rmtree(repo)
    shutil.rmtree(pristine)
    return tables, targets


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


# --- with a large amount of untracked and ignored data ---------------------------------------


def _make_data(ctx: Context, total: int) -> str:
    """The data (random bytes: incompressible, as checkpoints are), in a folder of its own."""
    store = os.path.join(ctx.work, "eat-data")
    for rel, share in DATA:
        path = os.path.join(store, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        left = int(total * share)
        with open(path, "wb") as f:
            while left > 0:
                chunk = min(left, 16 << 20)
                f.write(os.urandom(chunk))
                left -= chunk
    return store


def _identities(repo: str) -> dict[str, tuple[int, int, int]]:
    found = {}
    for rel, _share in DATA:
        st = os.lstat(os.path.join(repo, rel))
        found[rel] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def _objects(ctx: Context, repo: str) -> int:
    out = ctx.git("count-objects", "-v", cwd=repo).decode()
    fields = dict(line.split(": ") for line in out.splitlines())
    return (int(fields["size"]) + int(fields["size-pack"])) * 1024


def _data_round(
    ctx: Context, repo: str, model: str, with_data: bool
) -> tuple[float, float, str, int]:
    """One eat + undo of ours (with the data moved into the tree, or not); the times, 'ok' or
    what went wrong, and how much .git grew."""
    skip = _DATA_TOPS if with_data else ()
    user_tree = tree_digest(repo, skip)
    user_state = _snapshots.repo_state(ctx, repo, strict=False)
    kept = _identities(repo) if with_data else {}
    objects = _objects(ctx, repo)
    timed = []
    for argv in ([ctx.jellyml, "load-snapshot-from", model], [ctx.jellyml, "undo"]):
        proc = _proc.run(argv, cwd=repo, env=ctx.env(), check=False)
        if proc.returncode != 0:
            return -1, -1, f"`{' '.join(argv[-2:])}` failed: {_proc.tail(proc.stderr, 1)}", 0
        timed.append(proc.wall)
    grew = _objects(ctx, repo) - objects
    if tree_digest(repo, skip) != user_tree:
        return -1, -1, "undo did not give the user's files back", grew
    if with_data and _identities(repo) != kept:
        return -1, -1, "the data was moved or changed (inode, mtime or size)", grew
    if _snapshots.repo_state(ctx, repo, strict=False) != user_state:
        return timed[0], timed[1], "files restored; git status, refs, stash or HEAD differ", grew
    return timed[0], timed[1], "ok", grew


def _with_data(
    ctx: Context, repo: str, model: str, total: int, files: int
) -> tuple[Table, list[Target]]:
    label = size(total)
    table = Table(
        f"eat + undo with {label} of untracked and ignored files ({files:,}-file repository, "
        f"median of {ctx.reps})",
        ["ours", "eat", "undo", "eat + undo", "vs without", ".git grew", "restored"],
    )
    store = _make_data(ctx, total)
    os.sync()  # the data on disk before the clock starts, not written back during a round
    with open(os.path.join(repo, ".git", "info", "exclude"), "a") as f:
        f.write("runs/\nwandb/\n")  # the user's own rules; outputs/ stays untracked
    _data_round(ctx, repo, model, False)  # untimed: moves the snapshot's pack into .git
    rounds: dict[bool, list[tuple[float, float, str, int]]] = {False: [], True: []}
    for _ in range(ctx.reps):
        for with_data in (False, True):
            moves = [(os.path.join(store, t), os.path.join(repo, t)) for t in _DATA_TOPS]
            for source, target in moves if with_data else ():
                os.rename(source, target)
            rounds[with_data].append(_data_round(ctx, repo, model, with_data))
            for source, target in moves if with_data else ():
                os.rename(target, source)
    shutil.rmtree(store)
    without = _summary([r[:3] for r in rounds[False]])
    for with_data, name in ((False, "without the data"), (True, f"with {label}")):
        eat, undo, status = _summary([r[:3] for r in rounds[with_data]])
        grew = max((r[3] for r in rounds[with_data]), default=0)
        total_time = eat + undo if eat >= 0 else -1
        table.add(
            name,
            seconds(eat),
            seconds(undo),
            seconds(total_time),
            ratio(total_time, without[0] + without[1]),
            size(grew) if grew > 0 else "0 B",
            status,
        )
    table.notes.append(
        f"The data: an untracked {size(total * 0.4)} `outputs/model.ckpt` (left in place: a model "
        "file over the size limit) and ignored `runs/` and `wandb/` folders (`.git/info/exclude`), "
        "random bytes, synced to disk first; the same repository and checkpoint as above, "
        "after one untimed round (it moves the snapshot's pack into `.git`), rounds interleaved. "
        "`.git grew`: the largest growth of `git count-objects -v` (size + size-pack) over one "
        "eat + undo. `restored` also checks the data kept its inode, mtime and size."
    )
    return table, _data_targets(rounds, label)


def _data_targets(
    rounds: dict[bool, list[tuple[float, float, str, int]]], label: str
) -> list[Target]:
    without, with_data = (
        _summary([r[:3] for r in rounds[False]]),
        _summary([r[:3] for r in rounds[True]]),
    )
    name = f"eat + undo with {label} of untracked and ignored files within 1.2x of without"
    if without[0] < 0 or with_data[0] < 0:
        return [Target(name, False, f"{with_data[2]}; {without[2]}")]
    factor = (with_data[0] + with_data[1]) / (without[0] + without[1])
    grew = max((r[3] for r in rounds[True]), default=0)
    return [
        Target(name, factor <= 1.2 and with_data[2] == "ok", f"{factor:.2f}x; {with_data[2]}"),
        Target(
            f".git grows by at most 1 MiB over eat + undo with {label} of data",
            grew <= 1 << 20,
            f"{grew / 1024:.0f} KiB at most",
        ),
    ]
