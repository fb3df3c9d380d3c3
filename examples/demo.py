"""JellyML end to end, in a throwaway repository.

1. A small project with one commit, then uncommitted and untracked work on top.
2. Its training script trains a tiny model and saves it with a snapshot of the code.
3. The code moves on (new edits).
4. The code that trained the model comes back in the project (``jellyml eat``).
5. ``jellyml undo`` puts back the work of step 3, exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent
TRAIN = textwrap.dedent(
    """\
    import torch
    import jellyml

    snapshot = jellyml.create_snapshot()  # the code as it is now, uncommitted work included
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    for _ in range(200):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    print(f"trained: loss {loss.item():.4f}")
    torch.save({"model_state_dict": model.state_dict(), **snapshot}, "model.pth")
    """
)


def step(title: str) -> None:
    print(f"\n== {title}")


def run(*argv: str, cwd: Path) -> str:
    print("$", " ".join(argv))
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).rstrip()
    if output:
        print(textwrap.indent(output, "  "))
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: {' '.join(argv)} exited {proc.returncode}")
    return proc.stdout


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def main() -> int:
    os.environ.setdefault("GIT_AUTHOR_NAME", "Demo")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "demo@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Demo")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "demo@example.com")
    with tempfile.TemporaryDirectory(prefix="jellyml-demo-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        # The demo's user data (jellyml's history) stays in the throwaway folder too.
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")

        step("1. a project: one commit, then uncommitted and untracked work")
        git("init", "-q", "-b", "main", cwd=repo)
        (repo / "train.py").write_text(TRAIN.replace("LR", "0.01"))
        git("add", "train.py", cwd=repo)
        git("commit", "-q", "-m", "first", cwd=repo)
        (repo / "train.py").write_text(TRAIN.replace("LR", "0.05"))  # uncommitted edit
        (repo / "notes.txt").write_text("lr 0.05 works better\n")  # untracked file
        run("git", "status", "--short", cwd=repo)  # run() prints the output, once

        step("2. train and save the model with its snapshot; see what it recorded")
        run(str(BIN / "python"), "train.py", cwd=repo)
        run(str(BIN / "jellyml"), "show", "model.pth", cwd=repo)

        step("3. the code moves on")
        (repo / "train.py").write_text(TRAIN.replace("LR", "0.5"))
        (repo / "notes.txt").unlink()
        (repo / "todo.txt").write_text("try a deeper model\n")
        git("add", "todo.txt", cwd=repo)  # staged, to show it comes back staged
        moved_on = run("git", "status", "--short", cwd=repo)

        step("4. get back the exact code that trained model.pth, in the project itself")
        run(str(BIN / "jellyml"), "eat", "model.pth", cwd=repo)
        assert "lr=0.05" in (repo / "train.py").read_text(), "eat failed"
        assert (repo / "notes.txt").exists() and not (repo / "todo.txt").exists(), "eat failed"
        print("train.py has lr=0.05 and notes.txt is back: the code that trained the model")

        step("5. undo: back to the work of step 3")
        run(str(BIN / "jellyml"), "undo", cwd=repo)
        assert "lr=0.5" in (repo / "train.py").read_text(), "undo failed"
        assert git("status", "--short", cwd=repo) == moved_on, "undo failed"
        print("train.py has lr=0.5 again, todo.txt is staged again: nothing lost")
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
