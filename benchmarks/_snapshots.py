"""Part 3: create_snapshot on clean and dirty repositories, and one with a long history:
ours (git work alone, and the whole create_snapshot) vs `git bundle create out HEAD` vs
JellyML 1.0.0's create_snapshot (on a copy: it stashes and checks out in the repository)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import _fixtures
import _proc
from _common import Context, Table, Target, ratio, seconds, size


@dataclass
class Case:
    label: str
    files: int
    state: str
    ours_git: float
    ours_full: float
    git_bundle: float
    same_commit: float  # `git bundle create` of the snapshot's commit made in a copy
    v100: float  # -1: not measured
    bundle: int
    checked: str
    notes: list[str] = field(default_factory=list)


def repo_state(ctx: Context, repo: str, strict: bool = True) -> str:
    """A digest of everything a snapshot must leave alone (cheap: a few git reads). Not
    ``strict``: what the user sees (status, refs, stash, HEAD, branch), without the bytes of
    the index and the reflog, which any checkout rewrites."""
    env = ctx.env(GIT_OPTIONAL_LOCKS="0")
    digest = hashlib.sha256()
    for args in (
        ["status", "--porcelain=v1", "-z", "--untracked-files=all"],
        ["for-each-ref"],
        ["stash", "list"],
        ["rev-parse", "HEAD"],
        ["symbolic-ref", "-q", "HEAD"],
    ):
        digest.update(_proc.run(["git", *args], cwd=repo, env=env, check=False).stdout.encode())
    if not strict:
        return digest.hexdigest()
    git_dir = os.path.join(repo, ".git")
    for name in ("index", "HEAD", "config", os.path.join("logs", "HEAD")):
        path = os.path.join(git_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def _check_bundle(ctx: Context, repo: str, bundle: str, commit: str, dirty: bool) -> str:
    """Fetch the bundle into a scratch repository and check the commit is what it should be."""
    head = ctx.git("rev-parse", "HEAD", cwd=repo).decode().strip()
    scratch = os.path.join(ctx.work, "check.git")
    shutil.rmtree(scratch, ignore_errors=True)
    ctx.git("init", "-q", "--bare", scratch, cwd=ctx.work)
    ctx.git("fetch", "-q", bundle, "+HEAD:refs/heads/snap", cwd=scratch)
    got = ctx.git("rev-parse", "refs/heads/snap", cwd=scratch).decode().strip()
    shutil.rmtree(scratch, ignore_errors=True)
    if got != commit:
        return f"bundle holds {got[:12]}, snapshot_repo said {commit[:12]}"
    if dirty == (commit == head):
        return "dirty tree gave HEAD" if dirty else "clean tree gave a new commit"
    return "ok"


def _measure(ctx: Context, repo: str, label: str, files: int, state: str) -> Case:
    env = ctx.env()
    bundle = os.path.join(ctx.work, "ours.bundle")
    plain = os.path.join(ctx.work, "plain.bundle")
    before = repo_state(ctx, repo)
    times: dict[str, list[float]] = {"git": [], "full": [], "bundle": [], "v100": [], "same": []}
    committed = _committed_copy(ctx, repo) if state == "dirty" else repo
    commit = ""
    for _ in range(ctx.reps):
        run = _proc.run_child(ctx.python, "snapshot-repo", repo, bundle, env=env)
        times["git"].append(run.report["op_s"])
        commit = run.report["result"]
        run = _proc.run_child(ctx.python, "create-snapshot", repo, "-", env=env)
        times["full"].append(run.report["op_s"])
        if os.path.exists(plain):
            os.unlink(plain)
        run = _proc.run(["git", "bundle", "create", "-q", plain, "HEAD"], cwd=repo, env=env)
        times["bundle"].append(run.wall)
        os.unlink(plain)
        run = _proc.run(["git", "bundle", "create", "-q", plain, "HEAD"], cwd=committed, env=env)
        times["same"].append(run.wall)
        if ctx.v100_python is not None:
            times["v100"].append(_v100_once(ctx, repo))
    after = repo_state(ctx, repo)
    if committed != repo:
        shutil.rmtree(committed)
    checked = _check_bundle(ctx, repo, bundle, commit, state == "dirty")
    if before != after:
        checked = "REPO CHANGED; " + checked
    case = Case(
        label=label,
        files=files,
        state=state,
        ours_git=_proc.median(times["git"]),
        ours_full=_proc.median(times["full"]),
        git_bundle=_proc.median(times["bundle"]),
        same_commit=_proc.median(times["same"]),
        v100=_proc.median(times["v100"]) if times["v100"] else -1,
        bundle=os.path.getsize(bundle),
        checked=checked,
    )
    return case


def _committed_copy(ctx: Context, repo: str) -> str:
    """A copy of a dirty repository with its working tree committed: bundling that commit is
    the same packing job as the snapshot's (new objects included), which `HEAD` is not."""
    copy = _fixtures.copy_repo(repo, os.path.join(ctx.work, "committed-copy"))
    ctx.git("add", "-A", cwd=copy)
    ctx.git("commit", "-q", "-m", "same commit", cwd=copy)
    return copy


def _v100_once(ctx: Context, repo: str) -> float:
    copy = _fixtures.copy_repo(repo, os.path.join(ctx.work, "v100-copy"))
    try:
        run = _proc.run_child(
            ctx.v100_python or "", "create-snapshot", copy, "-", cwd=copy, env=ctx.env()
        )
        return float(run.report["op_s"])
    except _proc.ChildFailed:
        return -1
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def run(ctx: Context, sizes: Sequence[int], history: int) -> tuple[list[Table], list[Target]]:
    cases: list[Case] = []
    for files in sizes:
        repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, f"repo-{files}"), files)
        cases.append(_measure(ctx, repo, f"{files:,} files", files, "clean"))
        _fixtures.make_dirty(ctx, repo, files)
        cases.append(_measure(ctx, repo, f"{files:,} files", files, "dirty"))
        shutil.rmtree(repo)
    if history:
        repo = _fixtures.make_history_repo(ctx, os.path.join(ctx.work, "repo-history"), history)
        label = f"{history:,} commits, 500 files"
        cases.append(_measure(ctx, repo, label, 500, "clean"))
        _fixtures.make_dirty(ctx, repo, 500)
        cases.append(_measure(ctx, repo, label, 500, "dirty"))
        shutil.rmtree(repo)
    return [_table(ctx, cases), _import_table(ctx)], _targets(ctx, cases)


def _table(ctx: Context, cases: list[Case]) -> Table:
    table = Table(
        f"create_snapshot (median of {ctx.reps})",
        [
            "repository",
            "tree",
            "ours: git work",
            "ours: create_snapshot",
            "git bundle create",
            "git bundle create (same commit)",
            "1.0.0 create_snapshot",
            "ours git / git bundle",
            "ours git / same commit",
            "1.0.0 / ours create_snapshot",
            "bundle",
            "repo unchanged, bundle right",
        ],
    )
    for c in cases:
        table.add(
            c.label,
            c.state,
            seconds(c.ours_git),
            seconds(c.ours_full),
            seconds(c.git_bundle),
            seconds(c.same_commit),
            seconds(c.v100),
            ratio(c.ours_git, c.git_bundle),
            ratio(c.ours_git, c.same_commit),
            ratio(c.v100, c.ours_full),
            size(c.bundle),
            c.checked,
        )
    table.notes += [
        "ours: git work = `jellyml.snapshot.snapshot_repo(path, bundle_path=...)` in-process, "
        "its git subprocesses included; create_snapshot = the whole call (metadata, tensor), "
        "torch already imported. git bundle create = the `git bundle create -q out HEAD` "
        "process. same commit = that command in a copy of the repository where the dirty tree "
        "was committed first (untimed): the same packing work as the snapshot, new objects "
        "included (for a clean tree it is the same as git bundle create). 1.0.0 = its "
        "create_snapshot in its venv, torch imported, on a fresh copy.",
        "dirty = 1% of the tracked files modified and as many untracked files added (5 at "
        "least); files are ~1 KiB of hex text; every repository is packed (git gc).",
    ]
    return table


def _import_table(ctx: Context) -> Table:
    env = ctx.env()
    table = Table(
        f"Import time (median of {max(3, ctx.reps)})",
        ["what", "time"],
    )
    # `import jellyml` loads its API on first use (PEP 562), so the API's own load is timed too.
    api = "import jellyml; jellyml.create_snapshot; jellyml.read_snapshot"
    rows: list[tuple[str, list[float]]] = [
        ("`import jellyml` (in-process)", []),
        ("`import jellyml.snapshot.create` (in-process: what create_snapshot loads)", []),
        ("`import torch` (in-process)", []),
        ("`python -c 'import jellyml'` (process)", []),
        (f"`python -c '{api}'` (process)", []),
        ("`python -c pass` (process)", []),
    ]
    for _ in range(max(3, ctx.reps)):
        for row, module in ((0, "jellyml"), (1, "jellyml.snapshot.create"), (2, "torch")):
            rows[row][1].append(
                _proc.run_child(ctx.python, "import-time", module, env=env).report["op_s"]
            )
        rows[3][1].append(_proc.run([ctx.python, "-c", "import jellyml"], env=env).wall)
        rows[4][1].append(_proc.run([ctx.python, "-c", api], env=env).wall)
        rows[5][1].append(_proc.run([ctx.python, "-c", "pass"], env=env).wall)
    for name, values in rows:
        table.add(name, seconds(_proc.median(values)))
    return table


def _targets(ctx: Context, cases: list[Case]) -> list[Target]:
    worst = max(cases, key=lambda c: c.ours_git / c.git_bundle)
    ratios = ", ".join(f"{c.ours_git / c.git_bundle:.2f}x" for c in cases)
    same = ", ".join(f"{c.ours_git / c.same_commit:.2f}x" for c in cases)
    targets = [
        Target(
            "create_snapshot's git work within 1.3x of `git bundle create`",
            all(c.ours_git <= 1.3 * c.git_bundle for c in cases),
            f"worst {worst.ours_git / worst.git_bundle:.2f}x ({worst.label}, {worst.state}); "
            f"all: {ratios}; vs bundling the same commit: {same}",
        )
    ]
    dirty = [c for c in cases if c.state == "dirty" and c.v100 > 0]
    held: Optional[bool] = None
    detail = ctx.v100_note if ctx.v100_python is None else "1.0.0 failed on every dirty repo"
    if dirty:
        held = all(c.v100 > c.ours_full for c in dirty)
        detail = "1.0.0 / ours: " + ", ".join(
            f"{c.v100 / c.ours_full:.2f}x ({c.label})" for c in dirty
        )
    targets.append(Target("create_snapshot faster than 1.0.0 on dirty repos", held, detail))
    bad = [c for c in cases if c.checked != "ok"]
    targets.append(
        Target(
            "Repository unchanged by ours, and the bundle holds the right commit",
            not bad,
            "all cases ok"
            if not bad
            else "; ".join(f"{c.label} {c.state}: {c.checked}" for c in bad),
        )
    )
    return targets
