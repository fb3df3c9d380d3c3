"""Start-up stays light: `jellyml --help` and `import jellyml` load only what they use.

Issue 5 wants `jellyml --help` within 3x of bare Python. No test here times anything: they check
what a fresh interpreter has imported, which is what the start-up time comes from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_main import COMMANDS

import jellyml
from jellyml.cli import donut, render
from kit.checkpoints import make_model
from kit.cli import cli_command, needs_pty, on_a_terminal, plain_env

# Heavy, and none of them needed to parse a command line or print help when output is piped.
HEAVY = (
    "torch",
    "rich",
    "rich_argparse",
    "importlib.metadata",
    "jellyml.snapshot",
    "jellyml.read",
    "jellyml.restore",
    "jellyml.gitcore",
    "jellyml.containers",
)

_HELP_OF_EVERY_COMMAND = """
import json, sys
from jellyml.cli.main import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = json.loads(sys.argv[2])
loaded = [name for name in heavy if any(m == name or m.startswith(name + ".") for m in sys.modules)]
print(json.dumps(loaded), file=sys.stderr)
"""


def _python(code: str, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, its arguments as JSON, output piped (plain text)."""
    argv = [sys.executable, "-c", code, *(json.dumps(a) for a in args)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=plain_env())


def test_help_of_every_command_imports_nothing_heavy_when_piped(tmp_path):
    argvs = [[], ["--version"], ["--no_donut", "-h"]] + [[*c, "--help"] for c in COMMANDS]
    proc = _python(_HELP_OF_EVERY_COMMAND, argvs, HEAVY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stderr) == []
    # every help was printed (plain: the pipe is not a terminal)
    assert proc.stdout.count("usage: ") == len(argvs) - 1
    assert "jellyml " + jellyml.__version__ in proc.stdout and "\x1b" not in proc.stdout


def test_import_jellyml_loads_the_public_names_on_first_use(tmp_path):
    code = (
        "import json, sys, jellyml\n"
        "heavy = json.loads(sys.argv[1])\n"
        "print(json.dumps([n for n in heavy if n in sys.modules]))\n"
        "jellyml.read_snapshot\n"
        "print(json.dumps('jellyml.read.reader' in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.splitlines()
    assert json.loads(before) == [] and json.loads(after) is True


def test_every_public_name_is_there_and_is_the_real_one():
    import importlib

    # Every module _HOME names (each helper's new exports included), and errors.
    modules = set(jellyml._HOME.values()) | {"errors"}
    homes = [importlib.import_module(f"jellyml.{module}") for module in sorted(modules)]
    for name in jellyml.__all__:
        value = getattr(jellyml, name)
        if name != "__version__":
            assert any(getattr(home, name, None) is value for home in homes), name
        assert name in dir(jellyml)
    namespace: dict[str, object] = {}
    exec("from jellyml import *", namespace)
    assert set(jellyml.__all__) <= set(namespace)
    assert issubclass(jellyml.SnapshotNotFoundError, jellyml.JellyMLError)
    with pytest.raises(AttributeError, match="no attribute 'create_snapshots'"):
        jellyml.create_snapshots  # noqa: B018


def test_piped_help_shows_the_same_donut_as_the_terminal():
    assert render.logo_text().plain == donut.plain_logo(jellyml.__version__)


@needs_pty
def test_help_on_a_terminal_is_rich_and_no_color_makes_it_plain(tmp_path):
    cli = cli_command()
    styled, _ = on_a_terminal([*cli, "-h"], cwd=tmp_path, env=plain_env())
    assert "\x1b[" in styled and "~" in styled and "COMMAND" in styled
    plain, _ = on_a_terminal([*cli, "-h"], cwd=tmp_path, env={**plain_env(), "NO_COLOR": "1"})
    assert "\x1b" not in plain and "~~~~" in plain and "usage: " in plain
    version, _ = on_a_terminal([*cli, "--version"], cwd=tmp_path, env=plain_env())
    assert version.strip() == f"jellyml {jellyml.__version__}"


@needs_pty
def test_on_a_terminal_only_help_imports_rich(tmp_path):
    code = (
        "import json, sys\n"
        "from jellyml.cli.main import build_parser, main\n"
        "build_parser().parse_args(['eat', 'model.pth'])\n"
        "build_parser().parse_args(['fix', 'extract-bundle', 'model.pth'])\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps('rich' in sys.modules), file=sys.stderr)\n"
        "try:\n"
        "    main(['-h'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps('rich' in sys.modules), file=sys.stderr)\n"
    )
    out, err = on_a_terminal([sys.executable, "-c", code], cwd=tmp_path, env=plain_env())
    assert [json.loads(line) for line in err.splitlines()] == [False, True]
    assert "\x1b[" in out


#: What a piped `show` or `extract-bundle` must not load (issue 22, "Speed": within 3x of bare
#: Python): each costs milliseconds of start-up and none is needed to read a snapshot.
NOT_FOR_READING = (
    "dataclasses",  # with inspect, ast, dis, tokenize
    "typing",
    "tempfile",  # with random
    "shutil",  # with zlib, bz2, lzma
    "hashlib",  # OpenSSL, for a small payload
    "jellyml.sources.remote",
    "jellyml.cli.commands.eat",  # another command's module
    "jellyml.cli.commands.diff",
)

_READ_AND_LIST = """
import contextlib, io, json, sys
from jellyml.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
print(json.dumps([code, [name for name in json.loads(sys.argv[2]) if name in sys.modules]]))
"""


@pytest.mark.parametrize("command", [["show"], ["extract-bundle"], ["fix", "extract-bundle"]])
def test_a_piped_read_loads_one_command_and_no_heavy_module(make_repo, tmp_path, command):

    model = tmp_path / "m.pth"
    make_model(make_repo({"a.py": "1\n"}).path, model)
    argv = [*command, str(model)]
    if "extract-bundle" in command:
        argv += ["-o", str(tmp_path / "out.bundle")]
    proc = _python(_READ_AND_LIST, argv, NOT_FOR_READING, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [0, []]
