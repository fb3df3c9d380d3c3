"""Real virtual environments to snapshot, for the `jellyml env` tests.

``build(root)`` makes, with uv, a venv holding:

* ``six==1.16.0``: an index package at an old version (PyPI has 1.17);
* ``demo-project``: the snapshotted repository itself, installed editable;
* ``libgit``: installed from a local git repository (PEP 610 ``vcs_info``);
* ``localpkg``: installed from a local folder that is no repository (``dir_info``);
* torch, with its ``+cpu`` label, recorded through its real ``.dist-info`` copied from this
  interpreter's torch (importing it is not needed: the metadata is what a snapshot records).

Then it makes the snapshot *inside* that venv, with the venv's own interpreter and this
worktree's ``src/`` on ``sys.path`` (so the venv holds nothing else): ``make_model`` of the
test kit, which records the environment as ``create_snapshot`` does. uv's cache is the
user's (``UV_CACHE_DIR`` or ``~/.cache/uv``, read before conftest moves HOME), so runs after
the first are fast and offline for the packages above.

``pytorch_index(root, wheels)`` serves a PEP 503 index on loopback laid out like
download.pytorch.org (``/whl/cpu/torch/``), holding the given wheels (none: an index without
torch), for ``JELLYML_PYTORCH_INDEX``: PyTorch's own index is not reachable from this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional

from kit.repos import deterministic_env

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parents[1]
UV_CACHE = os.environ.get("UV_CACHE_DIR") or os.path.expanduser("~/.cache/uv")
HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'


def uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    assert found, "uv is a test dependency (pip install -e '.[test]'): not installed"
    return found


def run(argv: Sequence[str], env: Mapping[str, str], cwd: Optional[Path] = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=dict(env), capture_output=True, text=True
    )
    assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
    return proc.stdout


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    assert found, f"no site-packages in {venv}"
    return found[0]


@dataclass(frozen=True)
class RecordedEnv:
    root: Path
    venv: Path
    project: Path  # the snapshotted repository, installed editable
    libgit: Path  # a git repository, installed from git
    libgit_commit: str
    localpkg: Path  # a plain folder, installed from it
    model: Path
    env: dict[str, str]  # what a subprocess of the test runs with

    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def package(
    folder: Path, name: str, version: str, *, git: Optional[Mapping[str, str]] = None
) -> Path:
    """A minimal pure-Python project (hatchling), committed to git when ``git`` (an env)."""
    module = name.replace("-", "_")
    (folder / "src" / module).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f'{HATCH}\n[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    (folder / "src" / module / "__init__.py").write_text(f"NAME = {name!r}\n")
    if git is not None:
        run(["git", "init", "-q"], git, cwd=folder)
        run(["git", "add", "-A"], git, cwd=folder)
        run(["git", "commit", "-q", "-m", "init"], git, cwd=folder)
    return folder


def build(root: Path, *, torch: bool = True) -> RecordedEnv:
    home = root / "home"
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env = deterministic_env(home)
    env["UV_CACHE_DIR"] = UV_CACHE
    env.pop("PYTHONPATH", None)
    project = package(root / "demo-project", "demo-project", "0.1.0", git=env)
    (project / "train.py").write_text("print('training')\n")
    libgit = package(root / "libgit", "libgit", "0.3.0", git=env)
    commit = run(["git", "rev-parse", "HEAD"], env, cwd=libgit).strip()
    localpkg = package(root / "localpkg", "localpkg", "1.2.0")
    venv = root / "venv"
    run([uv(), "venv", "-q", venv, "--python", os.path.realpath(sys.executable)], env)
    install = [uv(), "pip", "install", "-q", "--python", venv / "bin" / "python"]
    run([*install, "six==1.16.0", "-e", project, f"libgit @ git+file://{libgit}", localpkg], env)
    if torch:
        copy_dist_info("torch", site_packages(venv))
    model = root / "model.pth"
    snapshot_in(venv, project, model, env)
    return RecordedEnv(root, venv, project, libgit, commit, localpkg, model, env)


def copy_dist_info(name: str, into: Path) -> Path:
    """This interpreter's ``<name>-<version>.dist-info``, copied into ``into`` (the package
    itself is not: for importlib.metadata, and so for a snapshot, it is installed)."""
    import importlib.metadata

    found = Path(str(importlib.metadata.distribution(name)._path))  # type: ignore[attr-defined]
    target = into / found.name
    shutil.copytree(found, target)
    return target


def snapshot_in(venv: Path, repo: Path, model: Path, env: Mapping[str, str]) -> None:
    """Snapshot ``repo`` into ``model`` from inside ``venv`` (its interpreter, its packages)."""
    script = (
        "import sys\n"
        f"sys.path[:0] = [{str(SRC)!r}, {str(TESTS)!r}]\n"
        "from kit.checkpoints import make_model\n"
        f"make_model({str(repo)!r}, {str(model)!r})\n"
    )
    run([venv / "bin" / "python", "-c", script], env, cwd=repo)


def pip_list(venv: Path) -> dict[str, str]:
    """``pip list`` of ``venv`` (pip run from this interpreter with ``--python``: a uv venv has
    no pip of its own), as ``{normalized name: version}``."""
    import json

    out = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            venv / "bin" / "python",
            "list",
            "--format",
            "json",
        ],
        {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    return {normalize(p["name"]): p["version"] for p in json.loads(out)}


def normalize(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


# --- a PyTorch index on loopback -------------------------------------------------------------


def torch_wheel() -> Optional[Path]:
    """The wheel of this interpreter's torch, where pip finds it on this machine's disk
    (``PIP_FIND_LINKS``, /opt/wheels): torch 2.13.0+cpu."""
    import importlib.metadata

    version = importlib.metadata.version("torch")
    folders = [*os.environ.get("PIP_FIND_LINKS", "").split(), "/opt/wheels"]
    for folder in folders:
        found = sorted(Path(folder).glob(f"torch-{version}-*.whl")) if Path(folder).is_dir() else []
        if found:
            return found[0]
    return None


@contextlib.contextmanager
def pytorch_index(root: Path, wheels: Sequence[Path] = (), label: str = "cpu") -> Iterator[str]:
    """Serve ``root/whl/<label>/<project>/`` (PEP 503, with PEP 658 metadata files) for
    ``wheels``; yield the base URL to put in ``JELLYML_PYTORCH_INDEX`` (``.../whl/``)."""
    folder = root / "whl" / label
    folder.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        project = wheel.name.split("-", 1)[0].lower()
        (folder / project).mkdir(exist_ok=True)
        (folder / project / wheel.name).symlink_to(wheel)
        metadata = _wheel_metadata(wheel)
        (folder / project / (wheel.name + ".metadata")).write_bytes(metadata)
        digest = hashlib.sha256(metadata).hexdigest()
        href = urllib.parse.quote(wheel.name)
        (folder / project / "index.html").write_text(
            f'<html><body><a href="{href}" data-core-metadata="sha256={digest}" '
            f'data-dist-info-metadata="sha256={digest}">{html.escape(wheel.name)}</a>'
            "</body></html>\n"
        )
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/whl/"
    finally:
        server.shutdown()
        server.server_close()


def _wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
