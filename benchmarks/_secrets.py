"""Part 12: `jellyml scan --secrets` on a snapshot of a many-file repository, side by side with
the same rules run over the extracted tree by `git grep -P` (one process, PCRE, every rule as an
`-e`), and with detect-secrets (Yelp's scanner, when installed) over the same tree.

The snapshot holds the tree and its history (two commits, a key deleted in the second), so
ours searches every blob of the history, metadata and pickle too; `git grep` searches the
working tree's files only. A third row does by hand what ours does: the bundle out of the
checkpoint (`jellyml fix extract-bundle`), a clone of it, and `git grep -P` over each of its
commits. Target (issue 21): ours within 2x of `git grep`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import _fixtures
import _proc
from _common import Context, Table, Target, seconds
from _tree import _snapshot, write_model

AWS = "AKIA" + "QX7ZK3J5MPLW2R4T"
HF = "hf_" + "aZ3kQ9mXp2LrT7vBn4Yc8Wd1Ej6Hs5Gu0Fo"


def _setup(ctx: Context, files: int) -> tuple[str, str]:
    repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, "secrets-repo"), files)
    with open(os.path.join(repo, "old_config.py"), "w") as f:
        f.write(f"AWS_ID = '{AWS}'\n")
    ctx.git("add", "-A", cwd=repo)
    ctx.git("commit", "-q", "-m", "config", cwd=repo)
    os.unlink(os.path.join(repo, "old_config.py"))
    with open(os.path.join(repo, "deploy.py"), "w") as f:
        f.write(f"import os\n\nHF = '{HF}'\n")
    ctx.git("add", "-A", cwd=repo)
    ctx.git("commit", "-q", "-m", "deploy", cwd=repo)
    _fixtures.settle(ctx, repo)
    bundle = os.path.join(ctx.work, "secrets.bundle")
    commit, meta = _snapshot(ctx, repo, bundle)
    model = os.path.join(ctx.work, "secrets-model.pth")
    write_model(model, bundle, commit, meta, 16 * 1024 * 1024)
    return repo, model


def _grep_argv() -> list[str]:
    from jellyml.publish.rules import RULES

    argv = ["git", "grep", "-P", "-I", "-n", "--no-color", "--untracked"]
    for rule in RULES:
        argv += ["-e", rule.pattern.pattern.decode()]
    return argv


#: detect-secrets takes about 20 ms a file here: it is stopped after this long.
DETECT_SECRETS_LIMIT = 120.0


def _detect_secrets(ctx: Context, detect: str, repo: str, t_grep: float) -> list[object]:
    """One run of detect-secrets over the tree (stopped at ``DETECT_SECRETS_LIMIT``)."""
    argv = [detect, "scan", "--all-files", "."]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv, cwd=repo, env=ctx.env(), capture_output=True, timeout=DETECT_SECRETS_LIMIT
        )
    except subprocess.TimeoutExpired:
        late = f"> {DETECT_SECRETS_LIMIT:.0f} s (stopped)"
        return ["`detect-secrets scan --all-files`", "the extracted tree", late, "-", "-"]
    wall = time.perf_counter() - start
    results = json.loads(done.stdout or b"{}").get("results", {})
    found = sum(len(v) for v in results.values())
    where = "the extracted tree (its own rules)"
    return [
        "`detect-secrets scan --all-files`",
        where,
        seconds(wall),
        f"{wall / t_grep:.2f}x",
        found,
    ]


def _extract_and_grep(ctx: Context, model: str) -> float:
    """What a user without ``scan --secrets`` would run to search the same history: the
    bundle out of the checkpoint, a clone of it, git grep over each of its commits."""
    folder = os.path.join(ctx.work, "secrets-by-hand")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    bundle = os.path.join(folder, "b.bundle")
    start = time.perf_counter()
    _proc.run([ctx.jellyml, "fix", "extract-bundle", model, "-o", bundle], env=ctx.env())
    _proc.run(["git", "clone", "-q", bundle, os.path.join(folder, "c")], env=ctx.env())
    clone = os.path.join(folder, "c")
    commits = ctx.git("rev-list", "--all", cwd=clone).decode().split()
    argv = _grep_argv()
    argv.remove("--untracked")
    _proc.run([*argv, *commits], cwd=clone, env=ctx.env(), check=False)
    wall = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    return wall


def run(ctx: Context, files: int) -> tuple[list[Table], list[Target]]:
    repo, model = _setup(ctx, files)
    ours_argv = [ctx.jellyml, "scan", "--secrets", "--json", model]
    ours = _proc.repeat(ctx.reps, lambda: _proc.run(ours_argv, env=ctx.env()))
    grep = _proc.repeat(
        ctx.reps, lambda: _proc.run(_grep_argv(), cwd=repo, env=ctx.env(), check=False)
    )
    t_ours = _proc.median([r.wall for r in ours])
    t_grep = _proc.median([r.wall for r in grep])
    t_flow = _proc.median(_proc.repeat(ctx.reps, lambda: _extract_and_grep(ctx, model)))
    found = json.loads(ours[0].stdout)
    table = Table(
        f"scan --secrets on a snapshot of a {files:,}-file repository (median of {ctx.reps})",
        ["scanner", "what it searches", "time", "ratio to git grep", "findings"],
    )
    table.add(
        "`jellyml scan --secrets`",
        "the checkpoint: tree + every history blob + metadata + pickle",
        seconds(t_ours),
        f"{t_ours / t_grep:.2f}x",
        len(found),
    )
    table.add(
        "`git grep -P` (same rules)",
        "the extracted tree (working tree)",
        seconds(t_grep),
        "1.00x",
        len(grep[0].stdout.splitlines()),
    )
    table.add(
        "extract-bundle + clone + `git grep -P` over every commit",
        "the same history, by hand",
        seconds(t_flow),
        f"{t_flow / t_grep:.2f}x",
        "-",
    )
    detect = shutil.which("detect-secrets", path=os.path.dirname(ctx.python))
    if detect:
        table.add(*_detect_secrets(ctx, detect, repo, t_grep))
    else:
        table.notes.append("detect-secrets is not installed: `pip install detect-secrets`.")
    table.notes.append(
        "gitleaks was not measured: it is not a PyPI or Debian package here (apt-cache has "
        "none); git grep with our rules and detect-secrets stand in for it."
    )
    held = t_ours <= 2 * t_grep
    target = Target(
        f"scan --secrets within 2x of git grep ({files:,} files)",
        held,
        f"{seconds(t_ours)} vs {seconds(t_grep)}: {t_ours / t_grep:.2f}x",
    )
    return [table], [target]
