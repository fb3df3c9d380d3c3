"""Part 1: getting the bundle out of a checkpoint, for checkpoints of growing size and tensor
count: ours (CLI and API) vs torch.load(mmap=True) vs JellyML 1.0.0's CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import _fixtures
import _proc
from _common import Context, MiB, Table, Target, ratio, seconds, size, size_label


@dataclass
class FileResult:
    label: str
    count: int
    where: str
    bundle: int
    file_size: int
    zip64: bool
    cli: _proc.Run
    api: _proc.Run
    torch: _proc.Run
    v100: Optional[_proc.Run]
    v100_api: Optional[_proc.Run]
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    sizes: Sequence[int]
    counts: Sequence[int]
    first: tuple[int, int]  # (size, count) of the snapshot-first variant


def _sha(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _measure_file(ctx: Context, model: str, tmp: str) -> dict[str, Any]:
    outs = {
        k: os.path.join(tmp, f"{k}.bundle") for k in ("cli", "api", "torch", "v100", "v100_api")
    }
    runs: dict[str, list[_proc.Run]] = {k: [] for k in outs}
    env = ctx.env()
    for _ in range(ctx.reps):
        # Interleaved, so that a noisy moment on a shared machine hurts every tool alike.
        cli = [ctx.jellyml, "fix", "extract-bundle", model, "-o", outs["cli"], "--force"]
        runs["cli"].append(_proc.run(cli, env=env))
        runs["api"].append(_proc.run_child(ctx.python, "extract-api", model, outs["api"], env=env))
        runs["torch"].append(
            _proc.run_child(ctx.python, "torch-load", model, outs["torch"], env=env)
        )
        if ctx.v100_jellyml is not None:
            old = [ctx.v100_jellyml, "fix", "extract-bundle", model, "-o", outs["v100"]]
            runs["v100"].append(_proc.run(old, env=env, check=False))
            api = [ctx.v100_python or "", "extract-v100", model, outs["v100_api"]]
            runs["v100_api"].append(_proc.run_child(*api, env=env, check=False))
    digests = {k: _sha(p) for k, p in outs.items() if os.path.exists(p)}
    chosen: dict[str, Any] = {
        "cli": _proc.by_median(runs["cli"], lambda r: r.wall),
        "api": _proc.by_median(runs["api"], lambda r: r.report["op_s"]),
        "torch": _proc.by_median(runs["torch"], lambda r: r.report["op_s"]),
        "v100": _proc.by_median(runs["v100"], lambda r: r.wall) if runs["v100"] else None,
        "v100_api": _by_op(runs["v100_api"]),
        "digests": digests,
    }
    return chosen


def _by_op(runs: list[_proc.Run]) -> Optional[_proc.Run]:
    good = [r for r in runs if r.returncode == 0 and r.report]
    return _proc.by_median(good, lambda r: r.report["op_s"]) if good else None


def _one_file(
    ctx: Context, size_bytes: int, count: int, where: str, source: str
) -> Optional[FileResult]:
    free = shutil.disk_usage(ctx.work).free
    if free < size_bytes * 1.2 + 2 * 1024 * MiB:
        return None
    tmp = os.path.join(ctx.work, "extract")
    os.makedirs(tmp, exist_ok=True)
    model = os.path.join(tmp, "model.pth")
    try:
        made = _fixtures.make_checkpoint(ctx, model, size_bytes, count, where, source)
        got = _measure_file(ctx, model, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = FileResult(
        label=size_label(size_bytes),
        count=count,
        where=where,
        bundle=made["bundle_size"],
        file_size=made["file_size"],
        zip64=made["zip64"],
        cli=got["cli"],
        api=got["api"],
        torch=got["torch"],
        v100=got["v100"],
        v100_api=got["v100_api"],
    )
    digests = got["digests"]
    if len(set(digests.values())) != 1:
        result.notes.append(f"bundles differ between tools: {sorted(digests)}")
    if result.v100 is not None and result.v100.returncode != 0:
        result.notes.append(f"1.0.0 failed: {_proc.tail(result.v100.stderr, 1)}")
    return result


def run(ctx: Context, plan: Plan, source: str) -> tuple[list[Table], list[Target]]:
    help_run = _proc.run([ctx.jellyml, "--help"], env=ctx.env())
    cases = [(s, c, "last") for s in plan.sizes for c in plan.counts]
    cases.append((*plan.first, "first"))
    results: list[FileResult] = []
    skipped: list[str] = []
    for size_bytes, count, where in cases:
        got = _one_file(ctx, size_bytes, count, where, source)
        if got is None:
            skipped.append(f"{size_label(size_bytes)} / {count:,} ({where}): not enough disk")
        else:
            results.append(got)
    tables = [_time_table(ctx, results), _io_table(results, help_run.rchar)]
    tables[0].notes += skipped
    return tables, _targets(ctx, results, help_run.rchar, plan)


def _case(r: FileResult) -> str:
    zip64 = ", ZIP64 offsets" if r.zip64 else ""
    return f"{r.label} / {r.count:,} tensors / snapshot {r.where}{zip64}"


def _time_table(ctx: Context, results: list[FileResult]) -> Table:
    table = Table(
        f"Extraction: time (median of {ctx.reps})",
        [
            "checkpoint",
            "ours CLI",
            "ours API",
            "torch.load(mmap) op [process]",
            "1.0.0 CLI",
            "1.0.0 API",
            "1.0.0 / ours CLI",
            "1.0.0 / ours API",
            "torch.load / ours API",
            "torch.load / ours CLI (process)",
        ],
    )
    for r in results:
        v100 = r.v100.wall if r.v100 is not None and r.v100.returncode == 0 else -1
        v100_api = r.v100_api.report["op_s"] if r.v100_api is not None else -1
        table.add(
            _case(r),
            seconds(r.cli.wall),
            seconds(r.api.report["op_s"]),
            f"{seconds(r.torch.report['op_s'])} [{seconds(r.torch.wall)}]",
            seconds(v100),
            seconds(v100_api),
            ratio(v100, r.cli.wall),
            ratio(v100_api, r.api.report["op_s"]),
            ratio(r.torch.report["op_s"], r.api.report["op_s"]),
            ratio(r.torch.wall, r.cli.wall),
        )
        table.notes += [f"{_case(r)}: {n}" for n in r.notes]
    table.notes.append(
        "ours CLI and 1.0.0 CLI: whole process (start-up included); ours API and torch.load op: "
        "the call alone, imports done (`read_snapshot(p).extract_bundle(out)`; torch.load with "
        "mmap=True, weights_only=True, then the bundle's bytes written out; 1.0.0 API: its "
        "`jellyml.extract_bundle.extract_bundle(...)`)."
    )
    return table


def _io_table(results: list[FileResult], help_rchar: int) -> Table:
    table = Table(
        "Extraction: bytes read and peak memory",
        [
            "checkpoint",
            "file",
            "bundle",
            "ours API: read - bundle",
            "ours CLI: read - start-up - bundle",
            "ours API: peak above baseline",
            "torch.load: read (op) / peak above",
            "1.0.0 API: read - bundle / peak above",
        ],
    )
    for r in results:
        old = "-"
        if r.v100_api is not None:
            rep = r.v100_api.report
            old = f"{size(rep['rchar'] - r.bundle)} / {size(rep['peak_above'])}"
        table.add(
            _case(r),
            size(r.file_size),
            size(r.bundle),
            size(r.api.report["rchar"] - r.bundle),
            size(r.cli.rchar - help_rchar - r.bundle),
            size(r.api.report["peak_above"]),
            f"{size(r.torch.report['rchar'])} / {size(r.torch.report['peak_above'])}",
            old,
        )
    table.notes.append(
        f"start-up = what `jellyml --help` reads ({size(help_rchar)}: Python's and the "
        "packages' modules). torch.load maps the file (mmap), and pages read through a mapping "
        "are not in rchar: its read column is the pickle and the small records only."
    )
    return table


def _targets(ctx: Context, results: list[FileResult], help_rchar: int, plan: Plan) -> list[Target]:
    if not results:
        return [Target("extraction", None, "no checkpoint was measured")]
    extra = {_case(r): r.api.report["rchar"] - r.bundle for r in results}
    worst = max(extra, key=lambda k: extra[k])
    cli_extra = max(r.cli.rchar - help_rchar - r.bundle for r in results)
    targets = [
        Target(
            "Extraction reads within 1 MiB of the bundle (API)",
            extra[worst] <= MiB,
            f"worst API excess {size(extra[worst])} ({worst}); CLI, beyond what `--help` reads: "
            f"{size(cli_extra)} (that includes the modules only a command loads: the reader, "
            "rich)",
        )
    ]
    targets.append(_flat_target(results))
    targets.append(_v100_target(ctx, results, plan))
    api_ratios = [r.torch.report["op_s"] / r.api.report["op_s"] for r in results]
    cli_ratios = [r.torch.wall / r.cli.wall for r in results]
    targets.append(
        Target(
            "Extraction faster than torch.load(mmap) on every file",
            min(api_ratios) > 1 and min(cli_ratios) > 1,
            f"torch.load / ours: API {min(api_ratios):.1f}x to {max(api_ratios):.1f}x; "
            f"process {min(cli_ratios):.1f}x to {max(cli_ratios):.1f}x",
        )
    )
    return targets


def _flat_target(results: list[FileResult]) -> Target:
    # "Flat": the slowest snapshot-last file within 1.5x (or 20 ms) of the fastest.
    last = [r for r in results if r.where == "last"]
    api = [r.api.report["op_s"] for r in last]
    cli = [r.cli.wall for r in last]
    held = all(max(v) <= 1.5 * min(v) or max(v) - min(v) <= 0.02 for v in (api, cli))
    return Target(
        "Extraction time flat across sizes and tensor counts (snapshot last)",
        held,
        f"API {seconds(min(api))} to {seconds(max(api))}; CLI {seconds(min(cli))} to "
        f"{seconds(max(cli))} over {len(last)} files",
    )


def _v100_target(ctx: Context, results: list[FileResult], plan: Plan) -> Target:
    most = max(plan.counts)
    name = f">= 5x faster than 1.0.0 on the {most:,}-tensor files (CLI; API shown too)"
    pairs = [
        (r, r.v100.wall / r.cli.wall)
        for r in results
        if r.count == most and r.v100 is not None and r.v100.returncode == 0
    ]
    if not pairs:
        return Target(name, None, ctx.v100_note)
    low = min(pairs, key=lambda p: p[1])
    api = [
        r.v100_api.report["op_s"] / r.api.report["op_s"] for r, _ in pairs if r.v100_api is not None
    ]
    return Target(
        name,
        low[1] >= 5,
        f"CLI: lowest {low[1]:.1f}x ({_case(low[0])}), all "
        + ", ".join(f"{p[1]:.1f}x" for p in pairs)
        + "; API: "
        + ", ".join(f"{a:.1f}x" for a in api),
    )
