"""Part 10: a snapshot made once and used everywhere (issue 19).

- ``create_snapshot()`` with git in a dirty repository vs ``create_snapshot(from_file=...)`` in
  a copy of it without ``.git`` (what a cluster worker does: read the file and compare every
  file the snapshot lists with the copy, by git's blob id computed in Python), and the
  comparison alone; timed inside one process each (torch's import is not counted).
- One copy per run: 10 saves of a run, 3 folders kept (as ``save_total_limit=3``), the
  snapshot file written into each by ``integrations.files.RunFiles`` (hard links) vs written in
  full each time; disk use as ``du`` counts it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import _fixtures
import _proc
from _common import Context, Table, Target, ratio, seconds, size

_TIMED = r"""
import json, sys, time, warnings
import torch  # imported before the clock starts: not what is compared
import jellyml
from jellyml.snapshot import from_file
repo, copy, jelly = sys.argv[1:4]
warnings.simplefilter("ignore")
t = time.perf_counter(); jellyml.create_snapshot(repo, distributed=False)
git = time.perf_counter() - t
t = time.perf_counter()
s = jellyml.create_snapshot(copy, from_file=jelly, distributed=False)
loaded = time.perf_counter() - t
raw = s["jellyml_code_snapshot"].numpy().tobytes()[1024:]
t = time.perf_counter(); from_file.warn_if_different(jelly, raw, copy)
compare = time.perf_counter() - t
print(json.dumps({"git": git, "from_file": loaded, "compare": compare}))
"""

_LINKS = r"""
import json, os, shutil, sys
import jellyml
from jellyml.integrations.files import RunFiles
out, jelly, linked = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
snapshot = jellyml.create_snapshot(from_file=jelly, distributed=False)
files = RunFiles(snapshot)
for step in range(10):
    folder = os.path.join(out, f"checkpoint-{step}")
    if linked:
        files.write_into(folder)
    else:
        jellyml.save_snapshot(folder, snapshot)
    if step >= 3:
        shutil.rmtree(os.path.join(out, f"checkpoint-{step - 3}"))
print(json.dumps({"kept": sorted(os.listdir(out))}))
"""


def run(ctx: Context, repo_sizes: list[int]) -> tuple[list[Table], list[Target]]:
    table = Table(
        f"create_snapshot from a snapshot file vs with git (dirty repository, median of "
        f"{ctx.reps})",
        ["files", "with git", "from_file (compare included)", "ratio", "compare alone"],
    )
    targets = []
    for files in repo_sizes:
        repo, copy, jelly = _prepare(ctx, files)
        runs = [_timed(ctx, repo, copy, jelly) for _ in range(max(1, ctx.reps))]
        git = _proc.median([r["git"] for r in runs])
        loaded = _proc.median([r["from_file"] for r in runs])
        compare = _proc.median([r["compare"] for r in runs])
        table.add(f"{files:,}", seconds(git), seconds(loaded), ratio(git, loaded), seconds(compare))
        targets.append(
            Target(
                f"from_file faster than git ({files:,} files)",
                loaded < git,
                f"{seconds(loaded)} vs {seconds(git)}",
            )
        )
    links, link_target = _links(ctx, jelly)
    return [table, links], [*targets, link_target]


def _prepare(ctx: Context, files: int) -> tuple[str, str, str]:
    repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, f"engines-{files}"), files)
    _fixtures.make_dirty(ctx, repo, files)
    jelly = os.path.join(ctx.work, f"engines-{files}.jelly")
    _proc.run([ctx.jellyml, "snapshot", "-c", repo, "-o", jelly, "-q"], env=ctx.env())
    copy = os.path.join(ctx.work, f"engines-{files}-copy")
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    return repo, copy, jelly


def _timed(ctx: Context, repo: str, copy: str, jelly: str) -> dict[str, float]:
    done = _proc.run([ctx.python, "-c", _TIMED, repo, copy, jelly], env=ctx.env())
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _links(ctx: Context, jelly: str) -> tuple[Table, Target]:
    table = Table(
        "One copy per run: 10 saves, 3 folders kept",
        ["written as", "disk used (du)", "vs one file"],
    )
    one = _du([jelly])
    used = {}
    for label, linked in (("hard links of one file (RunFiles)", "1"), ("full copies", "0")):
        out = os.path.join(ctx.work, f"run-{linked}")
        os.makedirs(out)
        _proc.run([ctx.python, "-c", _LINKS, out, jelly, linked], env=ctx.env())
        used[linked] = _du(
            [os.path.join(out, d, "jellyml-snapshot.jelly") for d in os.listdir(out)]
        )
        table.add(label, size(used[linked]), ratio(used[linked], one))
    table.notes.append(f"one snapshot file: {size(one)} on disk")
    target = Target(
        "10 saves, save_total_limit=3: du <= 1.05x one snapshot file",
        used["1"] <= 1.05 * one,
        f"{used['1'] / one:.2f}x (full copies: {used['0'] / one:.2f}x)",
    )
    return table, target


def _du(paths: list[str]) -> int:
    out = subprocess.run(["du", "-c", "-B1", *paths], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0])
