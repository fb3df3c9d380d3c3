"""`jellyml show` for people: long lists summarised, ids and paths whole, narrow terminals,
and nothing from a checkpoint can drive the terminal (control characters neutralised)."""

from __future__ import annotations

import json

from crafted_models import model_with_metadata

from jellyml.cli.render import clean
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml, needs_pty, on_a_terminal, plain_env

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"


def _on_a_terminal(argv: list[str], *, cwd, columns: int) -> str:
    """What ``argv`` prints on a pseudo-terminal ``columns`` wide (stderr must stay empty)."""
    output, stderr = on_a_terminal(argv, cwd=cwd, env=plain_env(), columns=columns)
    assert stderr == ""
    return output.replace("\r", "")


def _many_untracked(make_repo, tmp_path, count=400):
    source = make_repo({"a.py": "1\n"}, name="source")
    deep = "very/long/folder/name/" * 4
    for i in range(count):
        source.write(f"{deep}untracked-{i:03d}.txt", "x\n")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    return model, commit, deep


def test_long_lists_are_summarised_and_all_lists_them(make_repo, tmp_path):
    model, commit, deep = _many_untracked(make_repo, tmp_path)
    out = jellyml("show", str(model), cwd=tmp_path).stdout
    assert len(out.splitlines()) < 60
    assert "400 files" in out and "... and 390 more (--all shows them all)" in out
    assert commit in out and f"{deep}untracked-000.txt" in out  # whole, not cut
    everything = jellyml("show", str(model), "--all", cwd=tmp_path).stdout
    assert all(f"{deep}untracked-{i:03d}.txt" in everything for i in range(400))
    assert "==" in everything  # packages, name==version


def test_a_capped_list_says_how_many_were_not_recorded(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    git = {"untracked_included": ["a", "b"], "untracked_included_total": 12000}
    model_with_metadata(source.path, model, {"git": git})
    out = jellyml("show", str(model), cwd=tmp_path).stdout
    assert "12,000 files" in out and "(11,998 more not recorded in the snapshot)" in out


@needs_pty
def test_a_narrow_terminal_gets_every_id_whole(make_repo, tmp_path):
    model, commit, deep = _many_untracked(make_repo, tmp_path, count=3)
    argv = [*cli_command(), "show", str(model)]
    for columns in (40, 60, 120):
        text = _on_a_terminal(argv, cwd=tmp_path, columns=columns)
        assert commit in text and "…" not in text and f"{deep}untracked-002.txt" in text
        for line in text.splitlines():
            visible = line.replace("\x1b[1m", "").replace("\x1b[0m", "")
            # a line is only longer than the terminal when one word (an id, a path) is
            assert len(visible) <= columns or max(map(len, visible.split())) > columns - 4


def test_control_characters_never_reach_the_terminal(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    source.write(f"evil{EVIL}.txt", "x\n")  # in a file name, too
    model = tmp_path / "m.pth"
    meta = {
        "hostname": f"host{EVIL}",
        "argv": [f"train.py{EVIL}"],
        "git": {"branch": f"main{EVIL}", "remotes": {f"o{EVIL}": f"https://x{EVIL}"}},
    }
    model_with_metadata(source.path, model, meta)
    plain = jellyml("show", str(model), "--all", cwd=tmp_path)
    as_json = jellyml("show", str(model), "--json", cwd=tmp_path)
    for text in (plain.stdout, plain.stderr, as_json.stdout):
        assert not any(c in text for c in "\x1b\x07\x9b\u202e"), repr(text)
    assert "host\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e" in plain.stdout
    assert json.loads(as_json.stdout)["hostname"] == f"host{EVIL}"  # exact, escaped by JSON
    forced = jellyml(
        "show", str(model), cwd=tmp_path, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    )
    assert "\x1b[1m" in forced.stdout  # rich's own styles, and nothing else
    assert "\x07" not in forced.stdout and "\x1b]" not in forced.stdout
    assert "\x1b[2J" not in forced.stdout and "\u202e" not in forced.stdout


def test_clean_leaves_text_alone_and_shows_every_control_character():
    assert clean("plain text, ünïcode, tabs\tand\nlines") == (
        "plain text, ünïcode, tabs\\x09and\\x0alines"
    )
    assert clean("a\nb", newlines=True) == "a\nb"
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]:
        assert clean(chr(code)) == f"\\x{code:02x}"


def test_an_error_naming_a_crafted_path_is_clean(tmp_path):
    name = f"model{EVIL}.pth"
    proc = jellyml("show", name, cwd=tmp_path, check=1)
    assert "\x1b" not in proc.stderr and "\\x1b" in proc.stderr
