"""What a Lightning user sees in the log: nothing from JellyML without the plugin, one line with it.

Each run is a fresh interpreter that trains the tiny model, as a user's script does, so the log
is Lightning's real output (its logger writes to the console on its own handler).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")

from kit.cli import jellyml
from tiny_lightning import NAMESPACES

pytestmark = [pytest.mark.torch, pytest.mark.lightning, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from tiny_lightning import fast_trainer_args, lightning, model_class
pl = lightning({namespace!r})
plugins = []
if {with_plugin!r}:
    from jellyml_lightning import JellyMLLightningPlugin
    plugins = [JellyMLLightningPlugin({repo!r})]
trainer = pl.Trainer(max_epochs=1, plugins=plugins, **fast_trainer_args({root!r}))
trainer.fit(model_class({namespace!r})())
trainer.save_checkpoint({ckpt!r})
print("callbacks:", sorted(type(c).__module__ for c in trainer.callbacks))
"""


def train(namespace: str, repo: Path, root: Path, *, with_plugin: bool) -> str:
    """Run a user's training script; return everything it printed (stdout and stderr)."""
    code = SCRIPT.format(
        here=str(HERE),
        namespace=namespace,
        with_plugin=with_plugin,
        repo=str(repo),
        root=str(root),
        ckpt=str(root / "model.ckpt"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,  # a hang guard, not a timed assertion
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_trainer_without_the_plugin_gets_nothing_from_jellyml(namespace, make_repo, tmp_path):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    output = train(namespace, repo.path, tmp_path, with_plugin=False)
    assert "callbacks:" in output  # the run got to the end
    assert "entry point" not in output
    # Lightning's warnings name its own files, under this checkout's folder (often "jellyml")
    for folder in sorted({sys.prefix, str(HERE.parent.parent), str(tmp_path)}, key=len)[::-1]:
        output = output.replace(folder, "<folder>")
    assert "jellyml" not in output.lower(), output


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_run_with_the_plugin_says_once_that_the_snapshot_was_made(namespace, make_repo, tmp_path):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    repo.write("train.py", "lr = 0.25\n")
    output = train(namespace, repo.path, tmp_path, with_plugin=True)
    said = [line for line in output.splitlines() if "JellyML" in line]
    commit = repo.git("rev-parse", "HEAD").strip()
    assert len(said) == 1, output
    assert re.fullmatch(
        r"JellyML: code snapshot made \(commit [0-9a-f]{12}, with uncommitted changes, "
        r"[0-9.]+ (bytes|KB|MB)\); every checkpoint of this run carries it\.",
        said[0],
    ), said
    assert commit[:12] not in said[0]  # the snapshot commit holds the uncommitted work
    assert "entry point" not in output
    assert "jellyml_lightning" not in output.split("callbacks:")[1]  # added no callback


def test_the_cli_hint_for_a_ckpt_without_a_snapshot_names_the_plugin(make_repo, tmp_path):
    repo = make_repo({"train.py": "lr = 0.1\n"})
    train("lightning.pytorch", repo.path, tmp_path, with_plugin=False)
    proc = jellyml("show", str(tmp_path / "model.ckpt"), check=None)
    assert proc.returncode != 0
    message = " ".join((proc.stdout + proc.stderr).split())  # rich may wrap the line
    assert "holds no JellyML snapshot" in message
    assert "JellyMLLightningPlugin" in message
    assert "Traceback" not in message
