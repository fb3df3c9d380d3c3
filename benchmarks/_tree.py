"""Part 6: looking inside a snapshot. `jellyml ls`, `cat` and `diff` on checkpoints of a
many-file repository, side by side with the git command each stands for, run directly in a
repository that holds the snapshot commits: `git ls-tree -r`, `git show REV:PATH`,
`git diff A B` (and `git diff A` against the working tree). The same snapshot sits in
checkpoints of two sizes: reading it must not depend on the checkpoint's size.

Target: ours within 2x of git's command plus the cost of reading each bundle once, where
"reading a bundle" is what a separate process needs to get at it: `jellyml fix extract-bundle`
(Python start-up, checkpoint lookup, bundle copy), then `git init --bare`, `git bundle
unbundle` into it (indexing its pack), and removing both again.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import time
import zipfile
from dataclasses import dataclass

import _fixtures
import _proc
from _common import Context, MiB, Table, Target, parse_size, seconds, size, size_label

_CHUNK = 8 * MiB


@dataclass(frozen=True)
class Setup:
    repo: str  # the user's repository: working tree changed since snapshot A
    git_repo: str  # a copy holding both snapshot commits, for git's own commands
    commits: tuple[str, str]
    models: dict[int, tuple[str, str]]  # checkpoint size -> (model A, model B)


def write_model(out: str, bundle: str, commit: str, meta: bytes, padding: int) -> None:
    """A checkpoint laid out as torch.save lays one out (stored zip): ``padding`` bytes of
    weights first, then the snapshot and its metadata tensors (torch-free)."""
    from jellyml import format as fmt

    with open(bundle, "rb") as f:
        payload = f.read()
    meta_sha = hashlib.sha256(meta).hexdigest()
    meta_tensor = fmt.encode_header(fmt.METADATA_MAGIC, len(meta), meta_sha) + meta
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC,
        len(payload),
        hashlib.sha256(payload).hexdigest(),
        commit=commit,
        metadata_sha256=meta_sha,
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        with z.open("model/data/0", "w", force_zip64=True) as weights:
            zeros = bytes(_CHUNK)
            left = padding
            while left > 0:
                weights.write(zeros[: min(_CHUNK, left)])
                left -= _CHUNK
        z.writestr("model/data/1", header + payload)
        z.writestr("model/data/2", meta_tensor)
        z.writestr("model/version", b"3\n")


def _change(repo: str, files: int, line: bytes) -> None:
    """Append ``line`` to 1% of the tracked files (at least 5), chosen by ``line``."""
    rng = random.Random(line)
    for i in rng.sample(range(files), min(files, max(5, files // 100))):
        with open(os.path.join(repo, _fixtures.file_path(i)), "ab") as f:
            f.write(line)


def _snapshot(ctx: Context, repo: str, bundle: str) -> tuple[str, bytes]:
    """Snapshot ``repo`` as it is (the real snapshot code, without torch)."""
    import json

    from jellyml.snapshot.build import snapshot_repo

    snap = snapshot_repo(repo, bundle_path=bundle)
    meta = json.dumps({"git": snap.git_metadata(), "packages": {}}, sort_keys=True).encode()
    return snap.commit, meta


def setup(ctx: Context, files: int, sizes: list[int]) -> Setup:
    repo = _fixtures.make_repo(ctx, os.path.join(ctx.work, "tree-repo"), files)
    bundles = [os.path.join(ctx.work, f"tree-{n}.bundle") for n in "AB"]
    _fixtures.make_dirty(ctx, repo, files)
    commit_a, meta_a = _snapshot(ctx, repo, bundles[0])
    ctx.git("add", "-A", cwd=repo)
    ctx.git("commit", "-q", "-m", "run A's changes", cwd=repo)
    _change(repo, files, b"# run B\n")  # another 1% of the files changed
    commit_b, meta_b = _snapshot(ctx, repo, bundles[1])
    # The user goes on editing: the working tree is neither A nor B (and, so that git's own
    # `git diff A` sees the same files as ours, has no untracked file).
    _change(repo, files, b"# edited after run B\n")
    _fixtures.settle(ctx, repo)
    git_repo = _fixtures.copy_repo(repo, repo + "-git")
    # A copy's files have new inodes: refresh its index, or git would re-read every file.
    ctx.git("update-index", "-q", "--refresh", cwd=git_repo)
    for bundle, ref in zip(bundles, ("refs/snap/a", "refs/snap/b")):
        ctx.git("fetch", "-q", bundle, f"HEAD:{ref}", cwd=git_repo)
    models = {}
    for total in sizes:
        pair = []
        for name, bundle, commit, meta in (
            ("A", bundles[0], commit_a, meta_a),
            ("B", bundles[1], commit_b, meta_b),
        ):
            out = os.path.join(ctx.work, f"tree-{name}-{total}.pth")
            write_model(out, bundle, commit, meta, total)
            pair.append(out)
        models[total] = (pair[0], pair[1])
    return Setup(repo, git_repo, (commit_a, commit_b), models)


def _bundle_read(ctx: Context, model: str) -> float:
    """Get at the bundle from a separate process and index it in a throwaway repository:
    `jellyml fix extract-bundle`, `git init --bare`, `git bundle unbundle`, and removing
    the repository and the bundle file again (every command of ours does all of that)."""
    store = os.path.join(ctx.work, "tree-read.git")
    bundle = os.path.join(ctx.work, "tree-read.bundle")
    extract = _proc.run([ctx.jellyml, "fix", "extract-bundle", model, "-o", bundle], env=ctx.env())
    init = _proc.run(["git", "init", "-q", "--bare", store], env=ctx.env())
    index = _proc.run(["git", "bundle", "unbundle", bundle], env=ctx.env(GIT_DIR=store))
    start = time.perf_counter()
    shutil.rmtree(store)
    os.unlink(bundle)
    return extract.wall + init.wall + index.wall + time.perf_counter() - start


def _commands(
    ctx: Context, s: Setup, a: str, b: str
) -> dict[str, tuple[list[str], list[str], int]]:
    """name -> (ours, git's, bundles read)."""
    path = _fixtures.file_path(0)
    ca, cb = s.commits
    return {
        "ls": ([ctx.jellyml, "ls", a], ["git", "ls-tree", "-r", "--name-only", ca], 1),
        "cat": ([ctx.jellyml, "cat", a, path], ["git", "show", f"{ca}:{path}"], 1),
        "diff A B": ([ctx.jellyml, "diff", a, b], ["git", "diff", ca, cb], 2),
        "diff A (working tree)": ([ctx.jellyml, "diff", a], ["git", "diff", ca], 1),
    }


def _measure(ctx: Context, s: Setup) -> dict[tuple[int, str], list[_proc.Run]]:
    """(size, what) -> runs; sizes, commands and tools all interleaved in each repetition, so
    that a busy machine's drift hits every row alike."""
    runs: dict[tuple[int, str], list[_proc.Run]] = {}
    env = ctx.env(GIT_OPTIONAL_LOCKS="0")
    for _ in range(ctx.reps):
        for total, (a, b) in s.models.items():
            read = _proc.Run(
                wall=_bundle_read(ctx, a), rchar=-1, returncode=0, stdout="", stderr=""
            )
            runs.setdefault((total, "read"), []).append(read)
            for name, (ours, theirs, _bundles) in _commands(ctx, s, a, b).items():
                runs.setdefault((total, name), []).append(_proc.run(ours, cwd=s.repo, env=env))
                direct = _proc.run(theirs, cwd=s.git_repo, env=env)
                runs.setdefault((total, name + " git"), []).append(direct)
    return runs


def run(ctx: Context, files: int, size_text: str) -> tuple[list[Table], list[Target]]:
    sizes = [parse_size(p) for p in size_text.split(",") if p]
    s = setup(ctx, files, sizes)
    table = Table(
        f"ls / cat / diff on a snapshot of a {files:,}-file repository (median of {ctx.reps})",
        [
            "checkpoint",
            "command",
            "ours",
            "git directly",
            "bundle read",
            "budget: 2x git + bundle read",
            "ours / budget",
            "ours: bytes read",
            "output same as git's",
        ],
    )
    runs = _measure(ctx, s)
    worst = 0.0
    reads: dict[int, float] = {}
    bytes_read: dict[int, int] = {}
    for total, (a, b) in s.models.items():
        reads[total] = _proc.median([r.wall for r in runs[(total, "read")]])
        for name, (_ours, _theirs, bundles) in _commands(ctx, s, a, b).items():
            mine, direct = runs[(total, name)], runs[(total, name + " git")]
            t_ours = _proc.median([r.wall for r in mine])
            t_git = _proc.median([r.wall for r in direct])
            budget = 2 * t_git + bundles * reads[total]
            worst = max(worst, t_ours / budget)
            if name == "ls":
                bytes_read[total] = int(_proc.median([r.rchar for r in mine]))
            same = all(m.stdout == d.stdout for m, d in zip(mine, direct))
            table.add(
                f"{size_label(total)}",
                f"`{name}`",
                seconds(t_ours),
                seconds(t_git),
                f"{bundles} x {seconds(reads[total])}",
                seconds(budget),
                f"{t_ours / budget:.2f}",
                size(_proc.median([r.rchar for r in mine])),
                "yes" if same else "NO",
            )
    table.notes.append(
        "ours: the whole `jellyml` process (start-up included), run in the user's repository; "
        "git directly: the same question asked of a copy of it that holds both snapshot "
        "commits (fetched from the bundles beforehand, not timed). cat reads "
        f"`{_fixtures.file_path(0)}`; both diffs print the full patch. bundle read: "
        "`jellyml fix extract-bundle` + `git init --bare` + `git bundle unbundle` there + "
        "removing that repository and the bundle file. bytes read: the jellyml process's "
        "rchar, which includes its git children's (Linux adds a reaped child's counts to its "
        "parent's: index-pack reads the bundle from the pipe again) and Python's start-up."
    )
    shutil.rmtree(s.git_repo)
    shutil.rmtree(s.repo)
    for pair in s.models.values():
        for model in pair:
            os.unlink(model)
    return [table], _targets(worst, reads, bytes_read)


def _targets(worst: float, reads: dict[int, float], bytes_read: dict[int, int]) -> list[Target]:
    small, big = min(reads), max(reads)
    grew = bytes_read[big] - bytes_read[small]
    return [
        Target(
            "ls / cat / diff within 2x of git's command + reading the bundle once",
            worst <= 1.0,
            f"worst ours / budget: {worst:.2f}",
        ),
        Target(
            "reading the bundle independent of the checkpoint's size",
            abs(grew) <= MiB if big != small else None,
            f"`jellyml ls` read {size(bytes_read[small])} at {size_label(small)}, "
            f"{size(bytes_read[big])} at {size_label(big)}; bundle read "
            f"{seconds(reads[small])} and {seconds(reads[big])}",
        ),
    ]
