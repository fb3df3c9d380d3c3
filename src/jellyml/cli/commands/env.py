"""``jellyml env``: the Python environment a snapshot records, as a requirements file that
installs (or a pylock.toml, or a new virtual environment built from it)."""

from __future__ import annotations

import argparse

from ..options import add_common, add_parser

NAME = "env"
ALIASES: tuple[str, ...] = ()
HELP = "write the snapshot's Python environment as requirements, or build it"

TYPE_CHECKING = False  # not typing's: see options.py (start-up time)
if TYPE_CHECKING:
    from ...read.environment import Environment
    from ...read.requirements import RequirementsFile

DESCRIPTION = (
    "Write the Python environment recorded in the snapshot as a requirements file that pip and "
    "uv install: index packages pinned, torch builds with their PyTorch index, the snapshot's "
    "own project as -e of the folder its code is restored into, git installs at their commit; "
    "anything only on someone's disk is a comment saying why. With --venv, build that "
    "environment (uv, else pip). Reads the file without torch and without loading the model."
)
EXAMPLES = (
    "jellyml env model.pth -o requirements.txt",
    "jellyml env model.pth --venv .venv-model     # build it (uv venv + uv pip install)",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_parser(
        subparsers,
        NAME,
        help=HELP,
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    add_arguments(parser)
    add_common(parser, urls=True)
    parser.set_defaults(handler=run, usage_error=parser.error)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_file", help="the model file to read")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    parser.add_argument(
        "-c",
        "--code-dir",
        dest="code_dir",
        metavar="DIR",
        help="the folder the snapshot's code is restored into, which the -e line installs "
        "(default: the current repository)",
    )
    parser.add_argument("--code_dir", dest="code_dir", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-local-labels",
        action="store_true",
        help="pin torch builds without their local label (torch==2.4.0, not 2.4.0+cu121) and "
        "without the PyTorch index",
    )
    parser.add_argument(
        "--format",
        choices=("requirements", "pylock"),
        default="requirements",
        help="requirements (default), or pylock: a PEP 751 pylock.toml made by uv",
    )
    parser.add_argument(
        "--exclude-newer",
        action="store_true",
        help="have uv resolve anything unpinned as of the snapshot's date",
    )
    parser.add_argument(
        "--venv", metavar="DIR", help="build the environment in DIR, a new folder (uv, else pip)"
    )
    parser.add_argument(
        "--python",
        metavar="X",
        help="the interpreter, a version or a path (default: the recorded version)",
    )


def run(args: argparse.Namespace) -> int:
    if args.venv and args.format == "pylock":
        args.usage_error("--venv builds from requirements: leave out --format pylock")
    env, reqs = requirements_of(args)
    if (args.venv or args.format == "pylock") and env.packages is None:
        from ...errors import NoPackageListError

        raise NoPackageListError(args.model_file)  # nothing to build a lock or a venv from
    if args.venv:
        return _build(args, reqs)
    from .. import render_env

    if args.format == "pylock":
        from ...install.pylock import pylock

        data = pylock(reqs, python=args.python, platform_tag=env.platform_tag)
        render_env.written(args.output, data, reqs, quiet=args.quiet, what="pylock.toml")
    else:
        data = reqs.text().encode("utf-8")
        render_env.written(args.output, data, reqs, quiet=args.quiet, what="requirements")
    return 0


def requirements_of(args: argparse.Namespace) -> tuple[Environment, RequirementsFile]:
    """The recorded environment and the requirements file the options ask for."""
    import functools

    from ...read.environment import read_environment
    from ...read.requirements import Options, code_dir, requirements_file

    env = read_environment(args.model_file)
    output = getattr(args, "output", None)
    options = Options(
        # Found (one git call) only when a line installs the snapshot's own code.
        code_dir=functools.cache(functools.partial(code_dir, getattr(args, "code_dir", None))),
        local_labels=not getattr(args, "no_local_labels", False),
        exclude_newer=getattr(args, "exclude_newer", False),
        file_name=output if output and output != "-" else "requirements.txt",
        python=getattr(args, "python", None),
    )
    return env, requirements_file(env, options)


def _build(args: argparse.Namespace, reqs: RequirementsFile) -> int:
    from ...install.venv import build_venv
    from .. import render_env

    if args.output:
        render_env.written(args.output, reqs.text().encode(), reqs, quiet=True, what="")
    with render_env.progress(quiet=args.quiet) as report:
        result = build_venv(reqs, args.venv, python=args.python, progress=report)
    render_env.venv_result(result, quiet=args.quiet)
    return 1 if result.failed else 0
