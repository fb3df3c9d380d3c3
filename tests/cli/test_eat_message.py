"""What `jellyml eat` says: which files differ from what you had (summarised when long)."""

from __future__ import annotations

from kit.checkpoints import make_model
from kit.cli import jellyml


def test_eat_lists_the_files_that_differ(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n", "b.py": "1\n", "gone.py": "x\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a.py": "2\n", "b.py": "1\n", "gone.py": "x\n"})
    repo.write("mine.txt", "untracked\n")
    (repo.path / "gone.py").unlink()
    out = jellyml("eat", str(model), "--force", cwd=repo.path).stdout
    # Tracked files differ; the untracked one is put aside, counted apart (issue 17).
    assert "2 files differ from what you had:" in out
    lines = [line.strip() for line in out.splitlines()]
    assert {"M a.py", "A gone.py"} <= set(lines), out
    assert "b.py" not in out and "Put aside 1 untracked file (10 bytes)" in out


def test_a_long_list_is_summarised(make_repo, tmp_path):
    files = {f"f{i:02d}.py": f"{i}\n" for i in range(30)}
    source = make_repo(files, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({name: "changed\n" for name in files})
    out = jellyml("eat", str(model), "--force", cwd=repo.path).stdout
    assert "30 files differ" in out and "... and 20 more" in out
    assert sum(line.strip().startswith("M f") for line in out.splitlines()) == 10
    assert jellyml("-q", "undo", cwd=repo.path).stdout == ""


def test_file_names_with_control_characters_are_shown_neutralised(make_repo, tmp_path):
    evil = "evil\x1b]0;pwned\x07\x1b[2J.txt"
    source = make_repo({"a.py": "1\n", evil: "x\n"}, name="source")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    repo = make_repo({"a.py": "1\n"})
    for env in ({}, {"FORCE_COLOR": "1", "TERM": "xterm-256color"}):
        proc = jellyml("eat", str(model), "--force", cwd=repo.path, env=env)
        assert "\x07" not in proc.stdout and "\x1b]" not in proc.stdout
        assert "\x1b[2J" not in proc.stdout
        assert "A evil\\x1b]0;pwned\\x07\\x1b[2J.txt" in proc.stdout
        jellyml("undo", cwd=repo.path, env=env)
