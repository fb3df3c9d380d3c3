"""Part 6: peak memory of create_snapshot with a large (~200 MB) bundle, and of extracting it.

The repository holds one small commit plus incompressible untracked files, so the bundle is
about as large as those files. The baseline is the process after importing torch and jellyml
(create) or jellyml (extract); git's own processes are not counted (see README).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import _fixtures
import _proc
from _common import Context, MiB, Table, Target, size

EACH = 8 * MiB


def run(ctx: Context, total: int) -> tuple[list[Table], list[Target]]:
    repo = _fixtures.make_big_untracked_repo(ctx, os.path.join(ctx.work, "mem-repo"), total, EACH)
    model = os.path.join(ctx.work, "mem-model.pth")
    limits = [str(EACH * 2), str(max(total * 2, 1024 * MiB))]
    env = ctx.env()
    rows: dict[str, dict[str, Any]] = {}
    try:
        create = _proc.run_child(ctx.python, "create-snapshot", repo, model, *limits, env=env)
        rows["ours: create_snapshot"] = create.report
        out = os.path.join(ctx.work, "m.bundle")
        api = _proc.run_child(ctx.python, "extract-api", model, out, env=env)
        rows["ours: read_snapshot(...).extract_bundle(...)"] = api.report
        rows.update(_v100(ctx, repo, model))
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        for leftover in ("mem-model.pth", "m.bundle", "o.bundle"):
            path = os.path.join(ctx.work, leftover)
            if os.path.exists(path):
                os.unlink(path)
    bundle = int(create.report["result"]) - 1024
    table = Table(
        f"Peak memory with a {size(bundle)} bundle",
        ["operation", "baseline RSS", "peak above baseline", "peak above / bundle", "time"],
    )
    for name, report in rows.items():
        table.add(
            name,
            size(report["baseline_rss"]),
            size(report["peak_above"]),
            f"{report['peak_above'] / bundle:.2f}",
            f"{report['op_s']:.2f} s",
        )
    table.notes.append(
        "baseline = RSS after the imports, when the peak counter is reset (/proc/self/clear_refs); "
        "peak above = VmHWM after the call minus that. 1.0.0's create_snapshot runs on a copy."
    )
    return [table], _targets(create.report["peak_above"], api.report["peak_above"], bundle)


def _v100(ctx: Context, repo: str, model: str) -> dict[str, dict[str, Any]]:
    if ctx.v100_python is None:
        return {}
    found: dict[str, dict[str, Any]] = {}
    copy = _fixtures.copy_repo(repo, os.path.join(ctx.work, "mem-copy"))
    try:
        run = _proc.run_child(
            ctx.v100_python, "create-snapshot", copy, "-", cwd=copy, env=ctx.env(), check=False
        )
        if run.report:
            found["1.0.0: create_snapshot"] = run.report
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    out = os.path.join(ctx.work, "o.bundle")
    run = _proc.run_child(ctx.v100_python, "extract-v100", model, out, env=ctx.env(), check=False)
    if run.report:
        found["1.0.0: extract_bundle(...)"] = run.report
    return found


def _targets(create_peak: int, extract_peak: int, bundle: int) -> list[Target]:
    return [
        Target(
            "create_snapshot at most about one copy of the bundle above baseline (<= 1.25x)",
            create_peak <= 1.25 * bundle,
            f"{size(create_peak)} above baseline for a {size(bundle)} bundle "
            f"({create_peak / bundle:.2f}x)",
        ),
        Target(
            "Extraction memory flat (streamed; <= 16 MiB above baseline)",
            extract_peak <= 16 * MiB,
            f"{size(extract_peak)} above baseline for a {size(bundle)} bundle",
        ),
    ]
