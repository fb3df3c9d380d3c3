"""settings.py: one truthiness rule for JellyML's flags, and JELLYML_HOME."""

from __future__ import annotations

import pytest

from jellyml import settings
from kit.cli import jellyml


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On", " on "])
def test_true_values(value):
    assert settings.is_true(value)


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "off", "2", "debug"])
def test_everything_else_is_off(value):
    assert not settings.is_true(value)


@pytest.mark.parametrize(("value", "traceback"), [("0", False), ("false", False), ("1", True)])
def test_jellyml_debug_follows_the_rule(tmp_path, value, traceback):
    proc = jellyml(
        "show", str(tmp_path / "missing.pth"), cwd=tmp_path, check=1, env={"JELLYML_DEBUG": value}
    )
    assert ("Traceback" in proc.stderr) is traceback
    assert "missing.pth does not exist" in proc.stderr


def test_jellyml_home_moves_the_history(make_repo, tmp_path):
    repo = make_repo({"a.py": "a\n"})
    home = tmp_path / "jelly home"
    proc = jellyml("fix", "get-history-path", cwd=repo.path, env={"JELLYML_HOME": str(home)})
    path = proc.stdout.strip()
    assert path.startswith(str(home / "history") + "/") and path.endswith(".json")
    default = jellyml("fix", "get-history-path", cwd=repo.path).stdout.strip()
    assert not default.startswith(str(home))
