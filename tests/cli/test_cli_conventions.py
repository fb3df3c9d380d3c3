"""Command-line conventions: dashed options, one name per command, suggestions, examples in
every help, the donut only where wanted, completion. Run as a user runs the CLI."""

from __future__ import annotations

import os

import pytest
from test_cli_main import COMMANDS

import jellyml as jellyml_package
from jellyml.cli.main import main
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml, needs_pty, on_a_terminal, plain_env

PRIMARY = {
    "load-snapshot-from": "eat",
    "load": "eat",
    "undonut": "undo",
    "return": "undo",
    "info": "show",
}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_help_ends_with_examples_and_shows_dashed_options_only(
    tmp_path, command, capsys, monkeypatch
):
    """One run of the CLI per command (``--help``); ``-h`` is checked in this process to give
    the very same text (a subprocess each would only repeat the start-up)."""
    proc = jellyml(*command, "--help", cwd=tmp_path)
    out = proc.stdout
    assert proc.stderr == ""
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    assert main([*command, "-h"]) == 0
    assert capsys.readouterr().out == out
    tail = out.rstrip("\n").split("\n\n")[-1].splitlines()
    assert tail[0] == "examples:" and 1 <= len(tail) - 1 <= 2, out
    assert all(line.startswith("  jellyml") or "jellyml" in line for line in tail[1:])
    assert "_dir" not in out and "no_donut" not in out and "output_path" not in out
    usage = out.splitlines()[0]
    names = " ".join(PRIMARY.get(name, name) for name in command)
    assert usage.startswith(f"usage: jellyml {names}")


def test_one_primary_name_per_command_and_aliases_listed_once(tmp_path):
    main_help = jellyml("-h", cwd=tmp_path).stdout
    for alias in ("load-snapshot-from", "undonut", "return", "info"):
        assert main_help.count(alias) == 1, alias
    assert "eat (load-snapshot-from, load)" in main_help and "undo (undonut, return)" in main_help
    for name in ("eat", "load-snapshot-from", "load"):
        out = jellyml(name, "-h", cwd=tmp_path).stdout
        assert out.startswith("usage: jellyml eat ") and out.count("load-snapshot-from") == 1
    assert jellyml("undo", "-h", cwd=tmp_path).stdout.startswith("usage: jellyml undo ")


def test_dashed_options_and_their_underscore_spellings(make_repo, tmp_path):
    source = make_repo({"a": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a": "1\n"})  # the same project (the same commit: fixed dates)
    repo.write("a", "2\n")
    for eat_opt, undo_opt in (("--code-dir", "--code_dir"), ("--code_dir", "-c")):
        jellyml("eat", str(model), eat_opt, str(repo.path), "--no-donut", cwd=tmp_path)
        assert (repo.path / "a").read_text() == "1\n"
        jellyml("undo", undo_opt, str(repo.path), "--no_donut", cwd=tmp_path)
        assert (repo.path / "a").read_text() == "2\n"
    for flag in ("--output-path", "--output_path"):
        out = tmp_path / f"{flag}.bundle"
        jellyml("extract-bundle", str(model), flag, str(out), cwd=tmp_path)
        assert out.read_bytes().startswith(b"# v2 git bundle")


def test_a_mistyped_option_or_command_gets_a_suggestion(tmp_path):
    proc = jellyml("eat", "m.pth", "--code-dri", "x", cwd=tmp_path, check=2)
    assert "--code-dir" in proc.stderr.splitlines()[-1]
    proc = jellyml("--no-donot", "show", "m.pth", cwd=tmp_path, check=2)
    assert "--no-donut" in proc.stderr
    proc = jellyml("shwo", "m.pth", cwd=tmp_path, check=2)
    assert "Did you mean 'show'?" in proc.stderr
    assert jellyml("eat", "m.pth", "--code", "x", cwd=tmp_path, check=2)  # no abbreviations


def test_a_command_s_usage_error_is_its_own(tmp_path):
    """An option another command has (diff's --stat, show's --json) is not suggested as
    itself; the usage line is the command's, and suggestions come from its own options."""
    for argv, bad in (
        (["show", "m.pth", "--stat"], "--stat"),
        (["log", "m.pth", "--json"], "--json"),
    ):
        proc = jellyml(*argv, cwd=tmp_path, check=2)
        usage, error = proc.stderr.splitlines()
        assert usage.startswith(f"usage: jellyml {argv[0]} "), proc.stderr
        assert error == f"jellyml {argv[0]}: error: unrecognized arguments: {bad}"
    proc = jellyml("show", "m.pth", "--jsn", cwd=tmp_path, check=2)
    assert proc.stderr.splitlines()[-1].endswith("(did you mean: --jsn -> --json?)")
    proc = jellyml("diff", "m.pth", "--stats", cwd=tmp_path, check=2)
    assert "--stats -> --stat" in proc.stderr and proc.stderr.startswith("usage: jellyml diff ")


def test_words_of_other_tools(make_repo, tmp_path):
    """W&B's `wandb restore` is `eat` here; git's `-C DIR` is `-c DIR`, before or after the
    command, and a command without a folder says so."""
    proc = jellyml("restore", "m.pth", cwd=tmp_path, check=2)
    assert "Did you mean 'eat'?" in proc.stderr and "'undo'" not in proc.stderr
    source = make_repo({"a": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a": "1\n"})
    repo.write("a", "2\n")
    jellyml("-C", str(repo.path), "eat", str(model), cwd=tmp_path)
    assert (repo.path / "a").read_text() == "1\n"
    assert jellyml("ls", "-C", str(repo.path), str(model), cwd=tmp_path).stdout == "a\n"
    jellyml("undo", "-C", str(repo.path), cwd=tmp_path)
    assert (repo.path / "a").read_text() == "2\n"
    proc = jellyml("-C", str(repo.path), "show", str(model), cwd=tmp_path, check=2)
    assert "jellyml show takes no repository folder" in proc.stderr


def test_the_hidden_donut_is_in_no_error(tmp_path):
    for argv in (["nope"], ["donutt"], ["fix", "nope"]):
        proc = jellyml(*argv, cwd=tmp_path, check=2)
        error = proc.stderr.splitlines()[-1]
        assert "donut" not in error.replace(repr(argv[-1]), ""), proc.stderr
        assert "load-snapshot-from" not in error  # aliases are not listed either


def test_common_options_work_on_every_level(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    proc = jellyml("fix", "-q", "extract-bundle", str(model), cwd=tmp_path)
    assert proc.stdout == "" and (tmp_path / "m.bundle").exists()
    assert "@" in jellyml("donut", "--no_donut", cwd=tmp_path).stdout
    assert "@" in jellyml("donut", "--no-donut", "-q", cwd=tmp_path).stdout


def test_version_short_and_long(tmp_path):
    for flag in ("-V", "--version"):
        out = jellyml(flag, cwd=tmp_path).stdout
        assert out == f"jellyml {jellyml_package.__version__}\n"


def test_git_without_args_is_a_usage_error(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    proc = jellyml("git", str(model), cwd=tmp_path, check=2)
    assert proc.stdout == ""
    assert proc.stderr.startswith("usage: jellyml git ") and "model_file ARGS..." in proc.stderr
    assert "ARGS are missing" in proc.stderr
    assert "[ARGS" not in jellyml("git", "-h", cwd=tmp_path).stdout  # ARGS are not optional


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(tmp_path, shell):
    out = jellyml("completion", shell, cwd=tmp_path).stdout
    for name in ("jellyml", "jelly", "jly"):
        assert name in out
    if shell == "bash":
        assert "complete " in out


@pytest.mark.parametrize(
    "line, expected",
    [
        ("jellyml ex", ["extract-bundle"]),
        ("jellyml do", []),  # the donut stays hidden
        ("jellyml d", ["diff"]),
        ("jellyml eat --co", ["--code-dir"]),
    ],
)
def test_completion_answers_the_shell(tmp_path, line, expected):
    """What the installed script asks the CLI on TAB (argcomplete's protocol): commands and
    dashed options, never the hidden donut or the underscore spellings."""
    answers = tmp_path / "answers"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answers),
    }
    proc = jellyml(env=env, cwd=tmp_path, check=None)
    assert proc.returncode == 0, proc.stderr
    assert answers.read_text().replace("\x0b", " ").split() == expected


@needs_pty
def test_the_donut_on_a_terminal_only_and_off_for_good_by_env(tmp_path):
    cli = [*cli_command(), "-h"]
    shown, _ = on_a_terminal(cli, cwd=tmp_path, env=plain_env())
    assert "JellyML" in shown.split("usage:")[0]
    for value in ("1", "yes", "TRUE"):
        env = {**plain_env(), "JELLYML_NO_DONUT": value}
        hidden, _ = on_a_terminal(cli, cwd=tmp_path, env=env)
        assert hidden.lstrip().startswith("usage") or "JellyML" not in hidden.split("usage")[0]
    env = {**plain_env(), "JELLYML_NO_DONUT": "0"}
    again, _ = on_a_terminal(cli, cwd=tmp_path, env=env)
    assert "JellyML" in again.split("usage")[0]
