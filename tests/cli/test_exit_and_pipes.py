"""Exit status as docs/CLI.md states it, and no traceback when the reader of our output goes
away (`jellyml -h | head -1`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from jellyml.cli import main as cli_main
from kit.checkpoints import make_model
from kit.cli import cli_command, jellyml, needs_pty, plain_env


def test_usage_errors_exit_2_in_two_lines(tmp_path):
    for argv in (["nope"], ["eat"], ["show", "m.pth", "--bogus"], ["fix"]):
        proc = jellyml(*argv, cwd=tmp_path, check=2)
        lines = proc.stderr.splitlines()
        assert len(lines) == 2 and lines[0].startswith("usage: jellyml"), proc.stderr
        assert proc.stdout == ""


def test_not_a_checkpoint_and_no_snapshot_differ(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    plain_zip = tmp_path / "plain.pth"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("plain/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("plain/data/0", b"\0" * 2048)
    for command in ("show", "eat", "extract-bundle"):
        proc = jellyml(command, "notes.txt", cwd=tmp_path, check=3)
        assert "not a PyTorch checkpoint" in proc.stderr and proc.stderr.count("\n") == 1
        proc = jellyml(command, str(plain_zip), cwd=tmp_path, check=4)
        assert "is a checkpoint but holds no JellyML snapshot" in proc.stderr
    assert "does not exist" in jellyml("show", "missing.pth", cwd=tmp_path, check=1).stderr


def test_ctrl_c_exits_130_with_one_line(capsys):
    def interrupted(_args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    assert cli_main._run(interrupted, argparse.Namespace(), debug=False) == 130
    err = capsys.readouterr().err
    assert err.startswith("error: Interrupted.") and err.count("\n") == 1


def _closed_reader(argv: list[str], cwd) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its stdout a pipe whose reader is gone before anything is written."""
    proc = subprocess.Popen(
        [*cli_command(), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return subprocess.CompletedProcess(argv, proc.wait(), "", err)


@pytest.mark.parametrize(
    "argv", [["-h"], ["eat", "-h"], ["--version"], ["-V"], ["donut"], ["completion", "bash"]]
)
def test_no_traceback_when_the_reader_goes_away(tmp_path, argv):
    for _ in range(5):
        proc = _closed_reader(argv, tmp_path)
        # argparse itself ignores a failed write of help (exit 0); anything else exits 141
        expected = (0, 141) if "-h" in argv else (141,)
        assert proc.stderr == "" and proc.returncode in expected, proc.stderr


def test_head_1_in_a_loop(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    for i in range(60):
        source.write(f"u{i}.txt", "x\n")
    model = tmp_path / "m.pth"
    make_model(source.path, model)
    for command in ("jellyml -h", "jellyml show m.pth --all", "jellyml show m.pth --json"):
        for _ in range(10):
            shell = f"{sys.executable} -m {command} | head -1"
            proc = subprocess.run(
                ["sh", "-c", shell], cwd=tmp_path, capture_output=True, text=True, check=True
            )
            assert proc.stderr == "" and proc.stdout.count("\n") == 1, proc.stderr
    proc = _closed_reader(["show", str(model), "--all"], tmp_path)
    assert proc.stderr == "" and proc.returncode == 141


@needs_pty
def test_a_real_ctrl_c_exits_130(tmp_path):
    """SIGINT while a command runs (the spinning donut, once its first frame is out)."""
    leader, follower = os.openpty()
    env = {**plain_env(), "TERM": "xterm-256color"}
    argv = [*cli_command(), "donut"]
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    os.close(follower)
    assert os.read(leader, 65536)  # the first frame: the command is running
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    with contextlib.suppress(OSError):
        while os.read(leader, 65536):
            pass
    os.close(leader)
    assert proc.wait() == 130
    assert err.startswith("error: Interrupted.") and err.count("\n") == 1, err
