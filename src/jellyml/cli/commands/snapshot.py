"""``jellyml snapshot -o run.jelly``: a snapshot file, made once where the repository is."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

# Not `from typing import TYPE_CHECKING`: see options.py (start-up time).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...snapshot.guards import Guards
    from ...snapshot.to_file import WrittenSnapshot

NAME = "snapshot"
ALIASES: tuple[str, ...] = ()
HELP = "write a snapshot of your code to a file, for workers that have no repository"
DESCRIPTION = (
    "Snapshot the repository (the working tree as it is, uncommitted and untracked work "
    "included) into a snapshot file, as create_snapshot() would, without torch. Give the file "
    "to the jobs that train from a copy of the code without .git (ray job submit, SLURM, "
    "Kubernetes): with JELLYML_SNAPSHOT=run.jelly in their environment, create_snapshot() and "
    "every JellyML integration use it and run no git. The file is replaced atomically; an "
    "existing file that is not a snapshot file is replaced only with --force. An output inside "
    "the repository is left out of the snapshot."
)
EXAMPLES = (
    "jellyml snapshot -o run.jelly   # then JELLYML_SNAPSHOT=run.jelly where the jobs run",
    "jellyml snapshot -c ~/project -o s3://bucket/runs/42.jelly --exclude data/",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(subparsers, NAME, help=HELP, description=DESCRIPTION, examples=EXAMPLES)
    parser.add_argument(
        "-o",
        "--output-path",
        dest="output_path",
        metavar="PATH",
        required=True,
        help="the snapshot file to write (a path, or an fsspec URL)",
    )
    parser.add_argument("--output_path", dest="output_path", help=argparse.SUPPRESS)
    parser.add_argument(
        "--history",
        choices=("auto", "full", "shallow"),
        default="auto",
        help="how much history the bundle carries (default: auto)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a gitignore-style pattern of untracked paths to leave out (repeat it)",
    )
    parser.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="an untracked model or data file to carry all the same (*.pt, data/*.csv, ...; "
        "repeat it)",
    )
    _add_options(parser)
    add_common(parser, code_dir=True, urls=True)
    parser.set_defaults(handler=run, usage_error=parser.error)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-untracked-file-size",
        metavar="SIZE",
        help="leave out untracked files larger than this (default 10M; K, M, G suffixes)",
    )
    parser.add_argument(
        "--max-total-size",
        metavar="SIZE",
        help="refuse a bundle larger than this (default 1G; K, M, G suffixes)",
    )
    parser.add_argument(
        "--secret-pattern",
        action="append",
        metavar="PATTERN",
        help="an untracked file name that looks like a secret, left out (repeat it; given, "
        "these replace the default list: .env, *.pem, id_rsa*, ...)",
    )
    parser.add_argument(
        "--create-git-repo",
        action="store_true",
        help="snapshot a folder that is not in a git repository (no .git is left behind)",
    )
    parser.add_argument(
        "--out-git-bundle-path", metavar="PATH", help="also write the git bundle to this file"
    )
    parser.add_argument(
        "-f", "--force", action="store_true", help="replace an existing file that is not a snapshot"
    )


def run(args: argparse.Namespace) -> int:
    from ...errors import NotAGitRepoError
    from ...snapshot.guards import (
        DEFAULT_MAX_TOTAL_SIZE,
        DEFAULT_MAX_UNTRACKED_FILE_SIZE,
        DEFAULT_SECRET_PATTERNS,
        Guards,
    )
    from .. import render

    guards = Guards(
        _size(args, "max_untracked_file_size", DEFAULT_MAX_UNTRACKED_FILE_SIZE),
        tuple(args.secret_pattern) if args.secret_pattern else DEFAULT_SECRET_PATTERNS,
        _size(args, "max_total_size", DEFAULT_MAX_TOTAL_SIZE),
        include=tuple(args.include),
    )
    try:
        written = _write(args, guards)
    except NotAGitRepoError as exc:  # the API's hint speaks of git_repo_path=; say it in flags
        exc.hint = "Run it inside the repository, or name it with -c DIR; --create-git-repo "
        exc.hint += "snapshots a folder that is in no repository."
        raise
    for message in written.warnings:
        render.warning(message)
    render.info(_summary(written), quiet=args.quiet)
    return 0


def _write(args: argparse.Namespace, guards: Guards) -> WrittenSnapshot:
    from ...snapshot.to_file import write_snapshot_file

    return write_snapshot_file(
        args.output_path,
        force=args.force,
        git_repo_path=args.code_dir,
        out_git_bundle_path=args.out_git_bundle_path,
        create_git_repo=args.create_git_repo,
        guards=guards,
        history=args.history,
        exclude=tuple(args.exclude),
    )


def _size(args: argparse.Namespace, name: str, default: int) -> int:
    from ... import settings

    raw = getattr(args, name)
    if raw is None:
        return default
    size = settings.parse_size(raw)
    if size is None:
        args.usage_error(f"--{name.replace('_', '-')}: {raw!r} is not a size (10M, 512K, 2G, 1000)")
        raise AssertionError("usage_error exits")
    return size


def _summary(written: WrittenSnapshot) -> str:
    import json

    from ... import format as fmt
    from .. import render

    parts = written.parts
    header = fmt.decode_header(bytes(parts.snapshot[: fmt.HEADER_SIZE]), len(parts.snapshot))
    git = json.loads(bytes(parts.metadata[fmt.HEADER_SIZE :])).get("git", {})
    state = "with uncommitted changes" if git.get("dirty") else "clean"
    return (
        f"Wrote {render.value(written.path)}: commit {header.commit}, {state}, "
        f"{len(parts.snapshot) + len(parts.metadata):,} bytes. Give it to the workers with "
        f"JELLYML_SNAPSHOT={render.value(written.path)}."
    )
