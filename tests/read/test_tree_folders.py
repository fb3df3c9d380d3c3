"""ls, cat, log and diff read a checkpoint folder as show and eat do: through its snapshot file."""

from __future__ import annotations

from kit.checkpoints import write_snapshot_file
from kit.cli import jellyml


def test_inspection_commands_read_a_checkpoint_folder(make_repo, tmp_path):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    repo.write("train.py", "lr = 0.5\n")
    folder = tmp_path / "checkpoint-500"
    commit = write_snapshot_file(repo.path, folder)
    repo.write("train.py", "lr = 0.9\n")
    before = repo.state()

    assert jellyml("ls", str(folder), cwd=repo.path).stdout == "train.py\n"
    assert jellyml("cat", str(folder), "train.py", cwd=repo.path).stdout == "lr = 0.5\n"
    assert jellyml("log", str(folder), cwd=repo.path).stdout.startswith(commit[:7])
    diff = jellyml("diff", str(folder), cwd=repo.path).stdout
    assert "-lr = 0.5\n+lr = 0.9\n" in diff
    assert repo.state() == before
