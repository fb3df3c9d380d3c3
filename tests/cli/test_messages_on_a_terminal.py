"""How eat and undo speak on a terminal: wrapped at its width between words, real plurals,
the donut (symmetric) once per eat and never on undo."""

from __future__ import annotations

import re
from pathlib import Path

from jellyml.cli import donut
from jellyml.cli.text import plural
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml, needs_pty, on_a_terminal, plain_env

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MIRRORED = {("/", "\\"), ("\\", "/"), ("(", ")"), (")", "("), ("`", "'")}


def test_the_donut_is_symmetric() -> None:
    rows = [row.rstrip() for row in donut.plain_logo("1").splitlines()]
    art = [row[: donut.LOGO_WIDTH].rstrip() for row in rows]
    middles = set()
    for row in art:
        left = len(row) - len(row.lstrip())
        right = len(row) - 1
        middles.add(left + right)
        for i in range((right - left) // 2 + 1):
            a, b = row[left + i], row[right - i]
            assert a == b or (a, b) in _MIRRORED, (row, a, b)
    assert len(middles) == 1, art  # every row centred on the same column
    words = [row[donut.LOGO_WIDTH :] for row in rows if len(row) > donut.LOGO_WIDTH]
    assert len({len(row) - len(row.lstrip()) for row in words}) == 1  # the words line up


def test_plurals() -> None:
    assert plural(1, "file") == "1 file"
    assert plural(0, "file") == "0 files"
    assert plural(2, "earlier eat") == "2 earlier eats"
    assert plural(1234, "history item") == "1,234 history items"


def _text(output: str) -> str:
    return _ESCAPES.sub("", output).replace("\r", "")


def _words(lines: list[str]) -> str:
    # the ids of what was put aside differ from one eat to the next
    text = " ".join(" ".join(lines).split())
    return re.sub(r"(refs|\.git)/jellyml/[^/\s,]+", r"\1/jellyml/ID", text)


def _without_logo(text: str) -> list[str]:
    logo = tuple(art.replace("{", " ").replace("}", " ").rstrip() for art in donut.LOGO_ART)
    return [line for line in text.splitlines() if line.strip() and not line.startswith(logo)]


@needs_pty
def test_eat_and_undo_wrap_between_words_with_real_plurals_and_one_donut(
    make_repo, tmp_path: Path
) -> None:
    source = make_repo({"train.py": "lr = 1\n", "data.py": "x = 1\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"train.py": "lr = 2\n", "data.py": "x = 1\n"})
    repo.write("notes.txt", "mine\n")  # one untracked file: "1 untracked file"
    piped = jellyml("eat", str(model), "--force", cwd=repo.path).stdout
    jellyml("undo", cwd=repo.path)
    env = plain_env()  # a terminal 100 columns wide (see on_a_terminal)
    shown, _ = on_a_terminal([*cli_command(), "eat", str(model), "--force"], cwd=repo.path, env=env)
    text = _text(shown)
    assert text.count("~~~~~") == 1  # the donut, once
    lines = _without_logo(text)
    assert all(len(line) <= 100 for line in lines), lines
    assert any(len(" ".join(line.split())) > 100 for line in _without_logo(piped))
    # wrapped only between words: the same words as the unwrapped (piped) message (whose ref
    # of the work put aside has another name)
    assert _words(lines) == _words(_without_logo(piped))
    assert "Put aside 1 untracked file (5 bytes)" in " ".join(" ".join(lines).split())
    assert "(s)" not in text
    undone, _ = on_a_terminal([*cli_command(), "undo"], cwd=repo.path, env=env)
    assert "~~~~~" not in _text(undone) and "(s)" not in undone  # no donut on undo


def test_undo_counts_the_eats_left_in_words(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "0\n"})
    models = []
    for i in (1, 2, 3):
        repo.write("a.py", f"{i}\n")
        models.append(tmp_path / f"m{i}.pth")
        make_model(repo.path, models[-1])
    for model in models:
        jellyml("eat", str(model), cwd=repo.path)
    assert "2 earlier eats left to undo." in jellyml("undo", cwd=repo.path).stdout
    assert "1 earlier eat left to undo." in jellyml("undo", cwd=repo.path).stdout
