"""Part `env` (issue 20): `jellyml env` against `jellyml show` on the same checkpoint, and
`jellyml env --venv` against uv doing the same install by hand.

The checkpoint's snapshot is made *inside* a real virtual environment (uv venv) holding ten
small pure-Python packages at pinned versions, with the worktree's ``src/`` on ``sys.path``
(so the venv holds nothing else): what ``create_snapshot`` records there. A second checkpoint,
made in the project's own .venv (~150 distributions), measures writing a long file.

Rows, interleaved in each repetition:

* ``jellyml show MODEL`` and ``jellyml env MODEL`` (whole processes, output to a file);
* ``jellyml env MODEL --venv DIR`` (a new DIR each time): uv venv + uv pip install --no-deps;
* by hand, on the file ``jellyml env -o`` wrote: ``uv pip install --no-deps -r FILE`` into a
  venv made beforehand (untimed), and ``uv venv`` + that install, both timed (the same work
  as ours). ``uv venv`` is given the interpreter's path, as ours does when the recorded Python
  is the one running (through pyenv's shims a version number costs ~0.5 s more).

uv's cache lives in the run's temporary HOME and is warmed by one untimed install first:
every timed install is a warm-cache install. Needs uv and PyPI; without them the part says so.
"""

from __future__ import annotations

import os
import shutil
import sys

import _proc
import _tree
from _common import Context, Table, Target, ratio, seconds

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
PACKAGES = (
    "six==1.16.0",
    "idna==3.7",
    "certifi==2024.2.2",
    "charset-normalizer==3.3.2",
    "urllib3==2.2.1",
    "requests==2.31.0",
    "packaging==24.0",
    "pyparsing==3.1.2",
    "attrs==23.2.0",
    "tomli==2.0.1",
)
_RECORD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from jellyml.snapshot.build import snapshot_repo
from jellyml.snapshot.create import snapshot_metadata
snap = snapshot_repo(sys.argv[2], bundle_path=sys.argv[3])
with open(sys.argv[4], "w") as f:
    json.dump(snapshot_metadata(snap), f, sort_keys=True)
print(snap.commit)
"""


def _uv() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "uv")
    found = beside if os.path.isfile(beside) else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is not installed (pip install uv)")
    return found


def _model(ctx: Context, python: str, name: str) -> str:
    """A checkpoint whose snapshot ``python`` made (its environment recorded)."""
    repo = os.path.join(ctx.work, "env-repo")
    if not os.path.isdir(repo):
        os.makedirs(repo)
        with open(os.path.join(repo, "train.py"), "w") as f:
            f.write("print('train')\n")
        ctx.git("init", "-q", "-b", "main", cwd=repo)
        ctx.git("add", "-A", cwd=repo)
        ctx.git("commit", "-q", "-m", "train", cwd=repo)
    bundle, meta = (os.path.join(ctx.work, f"env-{name}.{ext}") for ext in ("bundle", "json"))
    made = _proc.run([python, "-c", _RECORD, SRC, repo, bundle, meta], env=ctx.env())
    out = os.path.join(ctx.work, f"env-{name}.pth")
    with open(meta, "rb") as f:
        _tree.write_model(out, bundle, made.stdout.strip(), f.read(), 1 << 20)
    os.unlink(bundle)
    os.unlink(meta)
    return out


def _setup(ctx: Context) -> tuple[str, str, str]:
    """(the ten-package venv's model, the project venv's model, its requirements file)."""
    uv, venv = _uv(), os.path.join(ctx.work, "env-recorded")
    python = os.path.realpath(sys.executable)
    _proc.run([uv, "venv", "-q", venv, "--python", python], env=ctx.env())
    install = [uv, "pip", "install", "-q", "--python", os.path.join(venv, "bin", "python")]
    _proc.run([*install, *PACKAGES], env=ctx.env())  # also warms uv's cache
    small = _model(ctx, os.path.join(venv, "bin", "python"), "ten")
    large = _model(ctx, sys.executable, "project")
    requirements = os.path.join(ctx.work, "env-requirements.txt")
    _proc.run([ctx.jellyml, "env", small, "-o", requirements], cwd=ctx.work, env=ctx.env())
    return small, large, requirements


def _by_hand(ctx: Context, requirements: str, folder: str, *, with_venv: bool) -> float:
    uv, python = _uv(), os.path.realpath(sys.executable)
    made = _proc.run([uv, "venv", "-q", folder, "--python", python], env=ctx.env())
    target = os.path.join(folder, "bin", "python")
    install = [uv, "pip", "install", "-q", "--python", target, "--no-deps", "-r", requirements]
    done = _proc.run(install, env=ctx.env())
    shutil.rmtree(folder)
    return done.wall + (made.wall if with_venv else 0.0)


def _measure(ctx: Context, small: str, large: str, requirements: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for rep in range(max(1, ctx.reps)):
        for name, model in (("ten", small), ("project", large)):
            for command in ("show", "env"):
                argv = [ctx.jellyml, command, model]
                run = _proc.run(argv, cwd=ctx.work, env=ctx.env())
                times.setdefault(f"{command} {name}", []).append(run.wall)
        folder = os.path.join(ctx.work, f"env-venv-{rep}")
        ours = _proc.run([ctx.jellyml, "env", small, "--venv", folder], env=ctx.env())
        if "10 packages installed, 0 left out, 0 failed" not in ours.stdout:
            raise RuntimeError(f"jellyml env --venv did not install all ten: {ours.stdout}")
        shutil.rmtree(folder)
        times.setdefault("venv ours", []).append(ours.wall)
        times.setdefault("install", []).append(_by_hand(ctx, requirements, folder, with_venv=False))
        times.setdefault("venv + install", []).append(
            _by_hand(ctx, requirements, folder, with_venv=True)
        )
    return times


def run(ctx: Context) -> tuple[list[Table], list[Target]]:
    try:
        small, large, requirements = _setup(ctx)
    except (RuntimeError, _proc.ChildFailed) as exc:
        return [], [Target("part env", None, f"not measured: {exc}")]
    times = {k: _proc.median(v) for k, v in _measure(ctx, small, large, requirements).items()}
    files = Table(
        f"`jellyml env` and `jellyml show` (median of {ctx.reps})",
        ["snapshot made in", "show", "env", "env / show"],
    )
    for name, label in (("ten", "a 10-package venv"), ("project", "the project's .venv")):
        show, env = times[f"show {name}"], times[f"env {name}"]
        files.add(label, seconds(show), seconds(env), ratio(env, show))
    files.notes.append("Whole processes, start-up included, output to a file.")
    build = Table(
        f"`jellyml env --venv` on the 10-package environment, uv cache warm (median of {ctx.reps})",
        [
            "ours: env --venv",
            "uv pip install --no-deps -r",
            "uv venv + that install",
            "ours / install",
            "ours / venv + install",
            "ours - `jellyml show`",
            "(ours - show) / install",
        ],
    )
    ours, install, both = times["venv ours"], times["install"], times["venv + install"]
    beyond = ours - times["show ten"]
    build.add(
        seconds(ours),
        seconds(install),
        seconds(both),
        ratio(ours, install),
        ratio(ours, both),
        seconds(beyond),
        ratio(beyond, install),
    )
    build.notes.append(
        "ours - `jellyml show`: what building costs beyond starting jellyml and reading the "
        "snapshot, which `jellyml show` of the same file also does (and uv alone does not)."
    )
    worst = max(times["env ten"] / times["show ten"], times["env project"] / times["show project"])
    return [files, build], [
        Target("`jellyml env` within 2x of `jellyml show`", worst <= 2.0, f"worst {worst:.2f}x"),
        Target(
            "`env --venv` within 1.5x of `uv pip install --no-deps -r` (warm cache, 10 packages)",
            ours <= 1.5 * install,
            f"{ours / install:.2f}x the install alone; {ours / both:.2f}x uv venv + install",
        ),
    ]
