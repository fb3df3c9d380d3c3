"""Part 5: CLI start-up: `jellyml --help` vs `python -c pass` vs 1.0.0's `jellyml --help`."""

from __future__ import annotations

import _proc
from _common import Context, Table, Target, ratio, seconds


def run(ctx: Context, times: int) -> tuple[list[Table], list[Target]]:
    env = ctx.env()
    commands = {
        "`python -c pass`": [ctx.python, "-c", "pass"],
        "`jellyml --help`": [ctx.jellyml, "--help"],
        "`jellyml --version`": [ctx.jellyml, "--version"],
    }
    if ctx.v100_jellyml is not None:
        commands["1.0.0 `jellyml --help`"] = [ctx.v100_jellyml, "--help"]
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(times):
        for name, argv in commands.items():  # interleaved: noise hits every command alike
            walls[name].append(_proc.run(argv, env=env).wall)
    bare = _proc.median(walls["`python -c pass`"])
    table = Table(
        f"CLI start-up (median of {times})", ["command", "wall time", "vs `python -c pass`"]
    )
    for name, values in walls.items():
        table.add(name, seconds(_proc.median(values)), ratio(_proc.median(values), bare))
    if ctx.v100_jellyml is None:
        table.notes.append(ctx.v100_note)
    ours = _proc.median(walls["`jellyml --help`"])
    target = Target(
        "`jellyml --help` within 3x of bare Python start-up",
        ours <= 3 * bare,
        f"{ours / bare:.2f}x ({seconds(ours)} vs {seconds(bare)})",
    )
    return [table], [target]
