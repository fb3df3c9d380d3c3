"""Part 6: peak memory of create_snapshot with a large (~200 MB) bundle, and of extracting it.

The repository holds one small commit plus incompressible untracked files, so the bundle is
about as large as those files. The baseline is the process after importing torch and jellyml.
"""

from __future__ import annotations

import os
import shutil

import _fixtures
import _proc
from _common import Context, MiB, Table, Target, size

EACH = 8 * MiB


def run(ctx: Context, total: int) -> tuple[list[Table], list[Target]]:
    repo = _fixtures.make_big_untracked_repo(ctx, os.path.join(ctx.work, "mem-repo"), total, EACH)
    model = os.path.join(ctx.work, "mem-model.pth")
    limits = [str(EACH * 2), str(max(total * 2, 1024 * MiB))]
    env = ctx.env()
    try:
        create = _proc.run_child(ctx.python, "create-snapshot", repo, model, *limits, env=env)
        bundle = int(create.report["result"]) - 1024
        api = _proc.run_child(
            ctx.python, "extract-api", model, os.path.join(ctx.work, "m.bundle"), env=env
        )
        cli = _proc.run(
            [ctx.jellyml, "fix", "extract-bundle", model, "-o", os.path.join(ctx.work, "c.bundle")],
            env=env,
        )
        help_run = _proc.run([ctx.jellyml, "--help"], env=env)
        old = _v100(ctx, repo, model)
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        for leftover in ("mem-model.pth", "m.bundle", "c.bundle", "o.bundle"):
            path = os.path.join(ctx.work, leftover)
            if os.path.exists(path):
                os.unlink(path)
    table = Table(
        f"Peak memory with a {size(bundle)} bundle",
        ["operation", "baseline RSS", "peak above baseline", "peak / bundle", "git's peak RSS"],
    )
    peak = create.report["peak_above"]
    table.add(
        "ours: create_snapshot",
        size(create.report["baseline_rss"]),
        size(peak),
        f"{peak / bundle:.2f}",
        size(create.report["children_maxrss"]),
    )
    table.add(
        "ours: read_snapshot().extract_bundle()",
        size(api.report["baseline_rss"]),
        size(api.report["peak_above"]),
        f"{api.report['peak_above'] / bundle:.2f}",
        "-",
    )
    table.add(
        "ours: `jellyml fix extract-bundle` (max RSS, whole process)",
        f"{size(help_run.maxrss)} (`jellyml --help`)",
        size(cli.maxrss - help_run.maxrss),
        f"{(cli.maxrss - help_run.maxrss) / bundle:.2f}",
        "-",
    )
    for name, report in old.items():
        table.add(
            name,
            size(report["baseline_rss"]),
            size(report["peak_above"]),
            f"{report['peak_above'] / bundle:.2f}",
            size(report.get("children_maxrss", -1)),
        )
    table.notes.append(
        "baseline = RSS after importing torch and jellyml (create) or jellyml (extract), when "
        "the peak counter is reset; peak above = VmHWM at the end minus that. git's peak is "
        "the largest ru_maxrss among the git processes it started."
    )
    return [table], _targets(peak, api.report["peak_above"], bundle)


def _v100(ctx: Context, repo: str, model: str) -> dict[str, dict[str, int]]:
    if ctx.v100_python is None:
        return {}
    copy = _fixtures.copy_repo(repo, os.path.join(ctx.work, "mem-copy"))
    found: dict[str, dict[str, int]] = {}
    try:
        run = _proc.run_child(
            ctx.v100_python, "create-snapshot", copy, "-", cwd=copy, env=ctx.env(), check=False
        )
        if run.report:
            found["1.0.0: create_snapshot"] = run.report
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    out = os.path.join(ctx.work, "o.bundle")
    old = _proc.run(
        [ctx.v100_jellyml or "", "fix", "extract-bundle", model, "-o", out], env=ctx.env()
    )
    base = _proc.run([ctx.v100_jellyml or "", "--help"], env=ctx.env())
    found["1.0.0: `jellyml fix extract-bundle` (max RSS vs its --help)"] = {
        "baseline_rss": base.maxrss,
        "peak_above": old.maxrss - base.maxrss,
    }
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
