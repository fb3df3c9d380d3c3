"""Issue 10, item 13: a FIFO (or any file that is not a regular file) given as MODEL is refused at
once by every command that reads a model, instead of hanging forever in ``open()``."""

from __future__ import annotations

import os

import pytest

from kit.cli import jellyml

COMMANDS = (
    ["eat"],
    ["load-snapshot-from"],
    ["load"],
    ["show"],
    ["info"],
    ["fix", "extract-bundle"],
    ["git", "{}", "log"],
)


def _with_model(command: list[str], model: str) -> list[str]:
    if command[0] == "git":
        return ["git", model, *command[1:]]
    if command == ["fix", "extract-bundle"]:
        return [*command, model, "-o", "out.bundle"]
    return [*command, model]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
@pytest.mark.parametrize("kind", ["fifo", "char-device"])
def test_not_a_regular_file_is_refused_at_once(make_repo, tmp_path, command, kind):
    repo = make_repo({"a.txt": "a\n"})
    if kind == "fifo":
        model = str(tmp_path / "model.pth")
        os.mkfifo(model)
    else:
        model = "/dev/zero"  # endless: reading it whole would never finish
    before = repo.state()
    # A hang fails the test (TimeoutExpired) instead of hanging the suite.
    proc = jellyml(*_with_model(command, model), cwd=repo.path, check=None, timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error:")
    assert "regular file" in proc.stderr or "not a" in proc.stderr
    assert repo.state() == before
