"""Temporary files and folders have one home (``jellyml.tempdirs``): one name shape, swept once
their process is gone, whichever command made them, even after a ``kill -9``."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from jellyml import tempdirs
from jellyml.outputs import replacing
from kit.checkpoints import make_model
from kit.cli import cli_command

SRC = Path(__file__).resolve().parent.parent / "src" / "jellyml"


def _ours(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(("jellyml-", ".jellyml-")))


def _kill_while_its_folder_exists(argv: list[str], tmpdir: Path, cwd: Path) -> Path:
    """Start ``argv``, wait for its temporary folder to appear, kill -9 it; the folder."""
    for _attempt in range(5):
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            made = [p for p in _ours(tmpdir) if p.name.startswith(f"jellyml-{proc.pid}-")]
            if made:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                assert proc.returncode == -signal.SIGKILL  # the kill landed mid-command
                return made[0]
            time.sleep(0.002)
        proc.kill()
        proc.wait()
    pytest.fail("the command never ran long enough to be killed mid-way")


@pytest.mark.slow  # a 40 MB bundle, indexed up to five times
def test_a_killed_ls_leaves_a_folder_the_next_command_sweeps(
    make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "x = 1\n", "big.bin": os.urandom(40 << 20)})
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    tmpdir = Path(os.environ["TMPDIR"])
    left = _kill_while_its_folder_exists([*cli_command(), "ls", str(model)], tmpdir, tmp_path)
    assert left.is_dir() and tempdirs.owner(left.name) is not None
    # Young, it is kept (its pid could be a new jellyml's); a minute old, the next run sweeps it.
    proc = subprocess.run([*cli_command(), "ls", str(model)], capture_output=True, text=True)
    assert proc.returncode == 0 and left.exists()
    old = time.time() - 2 * tempdirs.STALE_AFTER
    os.utime(left, (old, old))
    proc = subprocess.run([*cli_command(), "ls", str(model)], capture_output=True, text=True)
    assert proc.returncode == 0 and "big.bin" in proc.stdout
    assert not left.exists()
    assert _ours(tmpdir) == []


def test_a_temporary_file_beside_a_target_is_swept_there(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()  # its pid no longer exists
    stale = tmp_path / f".jellyml-{child.pid}-part-abc123.bundle.part"
    stale.write_bytes(b"half a bundle")
    old = time.time() - 2 * tempdirs.STALE_AFTER
    os.utime(stale, (old, old))
    mine = tmp_path / f".jellyml-{os.getpid()}-part-xyz.bundle.part"  # alive: kept
    mine.write_bytes(b"")
    os.utime(mine, (old, old))
    user = tmp_path / ".jellyml-notes"  # not of our shape: never touched
    user.write_text("mine\n")
    with replacing(str(tmp_path / "out.bundle"), ".bundle.part") as (out, tmp):
        assert Path(tmp).name.startswith(f".jellyml-{os.getpid()}-part-")
        out.write(b"whole")
    assert not stale.exists() and mine.exists() and user.exists()
    assert (tmp_path / "out.bundle").read_bytes() == b"whole"


# --- one home: nothing else in src/ makes a named temporary file or folder, or renames one ------

#: Calls that make a named temporary file or folder, or put a file in place.
_MAKERS = {
    "mkdtemp",
    "mkstemp",
    "TemporaryDirectory",
    "NamedTemporaryFile",
    "gettempdir",
    "replace",
    "rename",
    "link",
}
#: Where they may be called: tempdirs (temporary names) and outputs (putting a file in place),
#: and for now restore/, whose writers (history, savepoint) join outputs with issue 17;
#: restore/incoming moves git objects into the repository's store.
_ALLOWED = ("tempdirs.py", "outputs.py", "restore/")


def _calls(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func, "value", None)
            owner_name = getattr(owner, "id", "")
            if name in _MAKERS and (
                name not in {"replace", "rename", "link"} or owner_name == "os"
            ):
                found.append((node.lineno, name))
    return found


def test_only_tempdirs_and_outputs_name_temporary_files_or_put_files_in_place() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(_ALLOWED) or rel in _ALLOWED:
            continue
        offenders += [f"{rel}:{line}: {name}" for line, name in _calls(path)]
    assert offenders == [], (
        "Make temporary folders with jellyml.tempdirs.temporary_dir (beside=TARGET for one on "
        "the target's file system) and write files with jellyml.outputs.replacing:\n"
        + "\n".join(offenders)
    )
