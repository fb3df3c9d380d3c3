"""Part 5: CLI start-up: `jellyml --help`, piped `show`, `extract-bundle` and
`fix extract-bundle` vs `python -c pass` (and 1.0.0's `jellyml --help`), wall time and CPU time
(user + sys: less sensitive to a shared machine's load). Output goes to files, as through a
pipe: the plain-text path, which never imports rich. Every command runs once first, so that
Python's bytecode cache is written, as it is for a user after the first run."""

from __future__ import annotations

import os

import _fixtures
import _proc
from _common import Context, Table, Target, ratio, seconds

#: The commands held to "within 3x of bare Python start-up".
TARGETS = (
    "`jellyml --help`",
    "`jellyml show MODEL` (piped)",
    "`jellyml extract-bundle` (piped)",
    "`jellyml fix extract-bundle` (piped)",
)


def _model(ctx: Context) -> str:
    """A small checkpoint with a snapshot of a 20-file repository with uncommitted work."""
    repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, "startup-repo"), 20)
    _fixtures.make_dirty(ctx, repo, 20)
    model = os.path.join(ctx.work, "startup-model.pth")
    _proc.run_child(ctx.python, "create-snapshot", repo, model, env=ctx.env())
    return model


def run(ctx: Context, times: int) -> tuple[list[Table], list[Target]]:
    env = ctx.env()
    model = _model(ctx)
    bundle = os.path.join(ctx.work, "startup.bundle")
    commands = {
        "`python -c pass`": [ctx.python, "-c", "pass"],
        "`jellyml --help`": [ctx.jellyml, "--help"],
        "`jellyml --version`": [ctx.jellyml, "--version"],
        TARGETS[1]: [ctx.jellyml, "show", model],
        TARGETS[2]: [ctx.jellyml, "extract-bundle", model, "-o", bundle, "--force"],
        TARGETS[3]: [ctx.jellyml, "fix", "extract-bundle", model, "-o", bundle, "--force"],
    }
    if ctx.v100_jellyml is not None:
        commands["1.0.0 `jellyml --help`"] = [ctx.v100_jellyml, "--help"]
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # once, unmeasured: the bytecode cache gets written
        _proc.run(argv, env=env)
    for _ in range(times):
        for name, argv in commands.items():  # interleaved: noise hits every command alike
            done = _proc.run(argv, env=env)
            walls[name].append(done.wall)
            cpus[name].append(done.cpu)
    bare = _proc.median(walls["`python -c pass`"])
    bare_cpu = _proc.median(cpus["`python -c pass`"])
    table = Table(
        f"CLI start-up (median of {times})",
        ["command", "wall time", "vs `python -c pass`", "CPU time", "CPU vs `python -c pass`"],
    )
    for name, values in walls.items():
        cpu = _proc.median(cpus[name])
        table.add(
            name,
            seconds(_proc.median(values)),
            ratio(_proc.median(values), bare),
            seconds(cpu),
            ratio(cpu, bare_cpu),
        )
    if ctx.v100_jellyml is None:
        table.notes.append(ctx.v100_note)
    targets = []
    for name in TARGETS:
        ours = _proc.median(walls[name])
        targets.append(
            Target(
                f"{name} within 3x of bare Python start-up",
                ours <= 3 * bare,
                f"{ours / bare:.2f}x ({seconds(ours)} vs {seconds(bare)})",
            )
        )
    return [table], targets
