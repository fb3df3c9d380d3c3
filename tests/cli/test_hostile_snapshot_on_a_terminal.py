"""Every command on one hostile snapshot, on a pseudo-terminal (issue 23, point 5): names,
subjects, branch and remote carry bidi controls (U+202E, U+2066), escape sequences and a bell;
none of them reaches the terminal raw, whichever command prints them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import make_model
from kit.cli import cli_command, read_pty

#: What must never reach the terminal as such (the markers the hostile values carry).
RAW = ("\u202e", "\u2066", "\u2069", "\x07", "\x1b[31mEVIL", "\x1b]0;PWNED")
#: Each command's exit code: the two that name a missing path fail, as they must.
EXPECTED_CODES = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
HOSTILE = "x\u202etxt.py\u2066\u2069 \x1b[31mEVIL\x1b]0;PWNED\x07"


def hostile_repo(make_repo: Any) -> Any:
    repo = make_repo({"plain.py": "print(1)\n"})
    repo.write(f"{HOSTILE}.py", "a = 1\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", f"subject {HOSTILE}")
    repo.git("checkout", "-q", "-b", "br\u202eanch\u2066")
    repo.git("remote", "add", "origin", "https://example.com/\u202erepo\u2066.git")
    repo.write("plain.py", "print(2)\n")  # a change, and an untracked hostile name
    repo.write(f"new {HOSTILE}", "b = 2\n")
    return repo


def both_on_one_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """``argv`` with stdout and stderr on one pseudo-terminal: its exit code and all it
    printed there."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "120", "GIT_PAGER": "cat"},
    )
    os.close(follower)
    output = read_pty(leader)
    return proc.wait(timeout=120), output.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_command_prints_a_control_character_from_the_snapshot(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = hostile_repo(make_repo)
    model = str(tmp_path / "hostile.pth")
    make_model(repo.path, model)
    other = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(other)], check=True)
    # on a plain branch: eat's history refuses a branch name with bidi controls (its own issue)
    subprocess.run(["git", "-C", str(other), "checkout", "-q", "-b", "plain"], check=True)
    commands = [
        ["show", model],
        ["show", "--all", model],
        ["show", "--json", model],
        ["ls", model],
        ["log", model],
        ["log", "--full", model],
        ["diff", "--stat", model],
        ["diff", "--name-status", model, model],
        ["diff", model],
        ["cat", model, "plain.py"],
        ["cat", model, f"missing {HOSTILE}"],
        ["ls", model, f"missing {HOSTILE}"],
        ["env", model],
        ["scan", str(tmp_path)],
        ["git", model, "bundle", "list-heads", "{}"],
        ["eat", model, "-c", str(other)],
        ["undo", "-c", str(other)],
    ]
    seen = []
    for args in commands:
        code, output = both_on_one_terminal([*cli_command(), "--no-donut", *args], repo.path)
        seen.append((args[0], code))
        leaked = [marker for marker in RAW if marker in output]
        assert not leaked, (args, leaked, output[-3000:])
    # the commands ran (a command that fails at once would prove nothing)
    assert [code for _name, code in seen] == EXPECTED_CODES, seen
