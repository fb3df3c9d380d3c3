"""The command line itself: help on every command, the donut, quiet and plain output, no torch."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jellyml.cli.main import build_parser
from kit.checkpoints import make_model
from kit.cli import jellyml


def _all_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_commands(sub, (*prefix, name))


COMMANDS = sorted(set(_all_commands(build_parser())))


def test_the_spec_commands_and_aliases_exist():
    names = {c for c in COMMANDS}
    for command in [
        ("eat",),
        ("load-snapshot-from",),
        ("load",),
        ("undonut",),
        ("undo",),
        ("return",),
        ("git",),
        ("show",),
        ("info",),
        ("fix", "delete-last-history-item"),
        ("fix", "get-history-path"),
        ("fix", "clear-history"),
        ("fix", "extract-bundle"),
    ]:
        assert command in names


def test_main_help_piped_has_the_hint_but_no_donut(tmp_path):
    out = jellyml("-h", cwd=tmp_path).stdout
    assert out.startswith("usage: jellyml")  # not a terminal: no donut (see test_startup)
    assert "donut" in out.split("Psst", 1)[1]  # the easter egg's hint
    assert "\x1b" not in out  # not a terminal: plain text
    for flag in ("--no-donut", "--no_donut"):
        assert "~~~~" not in jellyml(flag, "-h", cwd=tmp_path).stdout
        assert "~~~~" not in jellyml("-h", flag, cwd=tmp_path).stdout


def test_no_command_prints_help(tmp_path):
    assert "usage:" in jellyml(cwd=tmp_path).stdout.lower()


def test_colours_on_a_forced_terminal_and_none_with_no_color(tmp_path):
    forced = jellyml("-h", cwd=tmp_path, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert "\x1b[" in forced.stdout
    env = {"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"}
    for command in (["-h"], ["eat", "-h"], ["fix", "clear-history", "-h"]):
        assert "\x1b" not in jellyml(*command, cwd=tmp_path, env=env).stdout


def test_easter_egg_is_fast_and_harmless(tmp_path):
    proc = jellyml("donut", cwd=tmp_path)
    assert proc.stdout.count("\n") >= 10 and "@" in proc.stdout
    assert os.listdir(tmp_path) == []


def test_version(tmp_path):
    from jellyml import __version__

    assert jellyml("--version", cwd=tmp_path).stdout.strip() == f"jellyml {__version__}"


@pytest.mark.parametrize("name", ["jellyml", "jelly", "jly"])
def test_entry_points(tmp_path, name):
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable}")
    proc = subprocess.run([str(exe), "--no_donut", "-h"], capture_output=True, text=True)
    assert proc.returncode == 0 and "undonut" in proc.stdout


def test_cli_and_import_do_not_import_torch(make_repo, tmp_path):
    # `show` must succeed: a failing one (a missing file) stops before it reads anything.
    code = (
        "import sys, contextlib, io\n"
        "import jellyml\n"
        "assert 'torch' not in sys.modules, 'import jellyml'\n"
        "from jellyml.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    assert main(['show', sys.argv[1]]) == 0, 'show failed'\n"
        "assert 'torch' not in sys.modules, 'jellyml --help / show'\n"
        "import jellyml.eat, jellyml.undo, jellyml.git, jellyml.delete_last_history_item\n"
        "assert 'torch' not in sys.modules, 'the API doors'\n"
    )
    model = tmp_path / "m.pth"
    make_model(make_repo({"a.py": "1\n"}).path, model)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr


def test_quiet_prints_nothing_but_errors(make_repo, tmp_path):
    source = make_repo({"a": "2\n"}, name="source")  # the repository's project
    source.write("a", "1\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a": "2\n"})
    for argv in (["eat", str(model), "-q"], ["-q", "undo"], ["-q", "eat", str(model)]):
        proc = jellyml(*argv, cwd=repo.path)
        assert proc.stdout == "" and proc.stderr == ""
    proc = jellyml("-q", "eat", str(tmp_path / "missing.pth"), cwd=repo.path, check=1)
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path):
    proc = jellyml("--debug", "show", "missing.pth", cwd=tmp_path, check=1)
    assert "Traceback" in proc.stderr
    proc = jellyml("show", "missing.pth", cwd=tmp_path, env={"JELLYML_DEBUG": "1"}, check=1)
    assert "Traceback" in proc.stderr


def test_show_table_and_json(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    source.write("a.py", "2\n")
    source.write("new.txt", "n\n")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    table = jellyml("show", str(model), cwd=tmp_path).stdout
    for text in (commit, "main", "new.txt", "changed files", "packages"):
        assert text in table
    data = json.loads(jellyml("info", str(model), "--json", cwd=tmp_path).stdout)
    assert data["commit"] == commit and data["branch"] == "main" and data["dirty"] is True
    assert data["untracked_included"] == ["new.txt"]
    assert data["base_commit"] == source.git("rev-parse", "HEAD")
    assert isinstance(data["packages"], dict) and data["packages"]["jellyml"]


def test_show_a_jellyml_1_0_0_file(fixtures_dir, tmp_path):
    data = json.loads(
        jellyml(
            "show", str(fixtures_dir / "jellyml-1.0.0-clean.pth"), "--json", cwd=tmp_path
        ).stdout
    )
    assert data["commit"] == "5396996905c84034095deb4dd5fde2035c40cb39"
    assert data["has_metadata"] is False and data["format_version"] == 1
    assert (
        "1.0.0"
        in jellyml("show", str(fixtures_dir / "jellyml-1.0.0-clean.pth"), cwd=tmp_path).stdout
    )


def test_git_passthrough(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    heads = jellyml("git", str(model), "bundle", "list-heads", "{}", cwd=tmp_path, env=env)
    assert heads.stdout.split() == [commit, "HEAD"]
    jellyml("git", str(model), "clone", "-q", "{}", "restored", cwd=tmp_path, env=env)
    assert (tmp_path / "restored" / "a.py").read_text() == "1\n"
    # git's own exit code comes back; options after the model go to git, not to jellyml
    bad = jellyml("git", str(model), "rev-parse", "--verify", "-q", "no", cwd=source.path, check=1)
    assert bad.stderr == ""
    outside = jellyml("git", str(model), "status", cwd=tmp_path, env=env, check=128)
    assert "not a git repository" in outside.stderr
    assert jellyml("git", str(model), "--version", cwd=tmp_path).stdout.startswith("git version")
    assert os.listdir(scratch) == []  # the temporary bundle is gone
    missing = jellyml("git", "nope.pth", "fetch", "{}", cwd=tmp_path, check=1)
    assert "does not exist" in missing.stderr


def test_fix_extract_bundle(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    out = jellyml("fix", "extract-bundle", str(model), "-o", str(tmp_path), cwd=tmp_path).stdout
    assert "Wrote" in out
    assert (tmp_path / "m.bundle").read_bytes().startswith(b"# v2 git bundle")
