"""JellyML benchmarks: one command, one table, ratios measured side by side in the same run.

    .venv/bin/python benchmarks/run.py              # everything (~7-10 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick      # small sizes, one repetition (~1 minute)
    .venv/bin/python benchmarks/run.py --only extraction --sizes 100M,1G --tensors 10,10000
    .venv/bin/python benchmarks/run.py --output benchmarks/RESULTS.md

See benchmarks/README.md for what each row means and how bytes and memory are measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _big_history
import _common
import _eat
import _engines
import _env
import _extraction
import _memory
import _remote
import _secrets
import _snapshots
import _startup
import _tree
import _v100
from _common import Context, Table, Target, parse_size

PARTS = (
    "extraction",
    "snapshot",
    "eat",
    "startup",
    "memory",
    "history",
    "remote",
    "safetensors",
    "tree",
    "env",
    "engines",
    "secrets",
)
FULL = {
    "sizes": "100M,1G,4G",
    "tensors": "10,1000,10000",
    "first": "1G:10000",
    "repo_sizes": "100,2000,20000",
    "history": 2000,
    "eat_files": 2000,
    "eat_data": "1G",
    "startup_runs": 10,
    "memory_size": "200M",
    "reps": 3,
    "big_history": "full",
    "remote_sizes": "100M,1G",
    "remote_tensors": 1000,
    "tree_files": 20000,
    "tree_sizes": "100M,1G",
    "engine_files": "2000,20000",
    "secret_files": 20000,
}
QUICK = {
    "sizes": "8M",
    "tensors": "10,1000",
    "first": "8M:1000",
    "repo_sizes": "100,500",
    "history": 100,
    "eat_files": 100,
    "eat_data": "16M",
    "startup_runs": 3,
    "memory_size": "16M",
    "reps": 1,
    "big_history": "quick",
    "remote_sizes": "8M",
    "remote_tensors": 1000,
    "tree_files": 500,
    "tree_sizes": "8M,32M",
    "engine_files": "500",
    "secret_files": 500,
}


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--only", help=f"comma-separated parts to run: {', '.join(PARTS)}")
    parser.add_argument("--sizes", help="checkpoint sizes, e.g. 100M,1G,4G (4G forces ZIP64)")
    parser.add_argument("--tensors", help="tensor counts per checkpoint, e.g. 10,1000,10000")
    parser.add_argument("--first", help="SIZE:COUNT of the snapshot-first checkpoint")
    parser.add_argument("--repo-sizes", help="files per repository, e.g. 100,2000,20000")
    parser.add_argument("--history", type=int, help="commits in the long-history repo (0: none)")
    parser.add_argument("--eat-files", type=int, help="files in the eat + undo repository")
    parser.add_argument(
        "--eat-data", help="untracked and ignored data for the second eat + undo table (0: none)"
    )
    parser.add_argument("--startup-runs", type=int, help="runs of each start-up command")
    parser.add_argument("--memory-size", help="untracked bytes for the memory part, e.g. 200M")
    parser.add_argument(
        "--big-history", choices=("full", "quick"), help="shape of the big-history repository"
    )
    parser.add_argument("--reps", type=int, help="repetitions of each measurement (median)")
    parser.add_argument("--remote-sizes", help="checkpoint sizes for remote and safetensors")
    parser.add_argument("--remote-tensors", type=int, help="tensors per remote checkpoint")
    parser.add_argument("--tree-files", type=int, help="files in the ls/cat/diff repository")
    parser.add_argument("--tree-sizes", help="checkpoint sizes for ls/cat/diff, e.g. 100M,1G")
    parser.add_argument("--engine-files", help="files per repository for the engines part")
    parser.add_argument("--secret-files", type=int, help="files in the scan --secrets repository")
    parser.add_argument("--no-v100", action="store_true", help="skip JellyML 1.0.0")
    parser.add_argument(
        "--v100-venv", help=f"JellyML 1.0.0's venv (made if missing; {_v100.default_location()})"
    )
    parser.add_argument("--workdir", help="where the temporary files go (default: $TMPDIR)")
    parser.add_argument("--output", help="also write what is printed to this file")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _venv_bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except OSError as exc:
        return f"unavailable ({exc})"
    return (
        (out.stdout or out.stderr).strip().splitlines()[-1] if (out.stdout or out.stderr) else "?"
    )


def machine(ctx: Context) -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    root = _common.REPO_ROOT
    head = _version(["git", "-C", root, "log", "-1", "--format=%h %s"])
    dirty = _version(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"])
    torch_version = _version([ctx.python, "-c", "import torch; print(torch.__version__)"])
    lines = [
        "## Machine",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- nproc: {len(os.sched_getaffinity(0))}; memory: {mem_kib / 1024 / 1024:.1f} GiB; "
        f"CPU: {cpu}",
        f"- kernel: {platform.release()}; Python {platform.python_version()}; "
        f"{_version(['git', '--version'])}; torch {torch_version}",
        f"- jellyml: {_version([ctx.jellyml, '--version'])}, commit {head}"
        + (" (uncommitted changes)" if dirty not in ("", "?") else ""),
        f"- {ctx.v100_note}",
        f"- disk free in the work folder at start: "
        f"{_common.size(shutil.disk_usage(ctx.work).free)}",
        "",
    ]
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def _sizes(text: str) -> list[int]:
    return [parse_size(part) for part in text.split(",") if part]


def run_parts(ctx: Context, args: argparse.Namespace, parts: Sequence[str]) -> str:
    tables: list[Table] = []
    targets: list[Target] = []
    for part in parts:
        start = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {part} ...", file=sys.stderr, flush=True)
        if part == "extraction":
            size, count = args.first.split(":")
            plan = _extraction.Plan(
                _sizes(args.sizes), _ints(args.tensors), (parse_size(size), int(count))
            )
            source = _fixtures_source(ctx)
            got = _extraction.run(ctx, plan, source)
        elif part == "snapshot":
            got = _snapshots.run(ctx, _ints(args.repo_sizes), args.history)
        elif part == "eat":
            got = _eat.run(ctx, args.eat_files, parse_size(args.eat_data))
        elif part == "history":
            got = _big_history.run(ctx, args.big_history)
        elif part == "startup":
            got = _startup.run(ctx, args.startup_runs)
        elif part in ("remote", "safetensors"):
            got = _run_formats(ctx, args, part)
        elif part == "tree":
            got = _tree.run(ctx, args.tree_files, args.tree_sizes)
        elif part == "env":
            got = _env.run(ctx)
        elif part == "engines":
            got = _engines.run(ctx, _ints(args.engine_files))
        elif part == "secrets":
            got = _secrets.run(ctx, args.secret_files)
        else:
            got = _memory.run(ctx, parse_size(args.memory_size))
        tables += got[0]
        targets += got[1]
        print(f"  done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    out = ["## Results", ""] + [t.render() for t in tables]
    out += ["## Targets", "", "| target | result | numbers |", "| --- | --- | --- |"]
    out += [t.render() for t in targets]
    return "\n".join(out) + "\n"


def _run_formats(
    ctx: Context, args: argparse.Namespace, part: str
) -> tuple[list[Table], list[Target]]:
    sizes, source = _sizes(args.remote_sizes), _fixtures_source(ctx)
    try:
        if part == "remote":
            return _remote.run(ctx, sizes, args.remote_tensors, source)
        return _remote.run_safetensors(ctx, sizes, _ints(args.tensors), source)
    except BaseException as exc:  # a missing server (nginx, moto) skips the part, says why
        if type(exc).__name__ not in ("Skipped", "Failed", "ImportError", "ModuleNotFoundError"):
            raise
        return [], [Target(f"part {part}", None, f"not measured: {exc}")]


def _fixtures_source(ctx: Context) -> str:
    """The repository whose snapshot goes into every synthetic checkpoint (~0.5 MB bundle)."""
    import _fixtures

    path = os.path.join(ctx.work, "source-repo")
    if not os.path.exists(path):
        _fixtures.make_repo(ctx, path, 300, file_size=4096)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    parts = [p.strip() for p in args.only.split(",")] if args.only else list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"Unknown part(s) {unknown}; choose from {', '.join(PARTS)}.", file=sys.stderr)
        return 2
    if args.no_v100:
        v100_python, note = None, "JellyML 1.0.0 rows skipped (--no-v100)."
    else:
        v100_python, note = _v100.ensure(args.v100_venv)
    work = tempfile.mkdtemp(prefix="jellyml-bench-", dir=args.workdir)
    ctx = Context(
        work=work,
        python=sys.executable,
        jellyml=_venv_bin("jellyml"),
        v100_python=v100_python,
        v100_note=note,
        quick=args.quick,
        reps=args.reps,
        home=os.path.join(work, "home"),
    )
    os.makedirs(ctx.home)
    try:
        header = "# JellyML benchmarks\n\n" + f"Command: `{' '.join(sys.argv)}`\n\n" + machine(ctx)
        text = header + "\n" + run_parts(ctx, args, parts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
