"""`jellyml env` on a snapshot made in a real virtual environment (recorded_envs.build): an
index package pinned at an old version, the snapshotted project installed editable, a package
from a local git repository, one from a local folder, and torch with its ``+cpu`` label.

What is checked is what a user sees: the requirements file line by line; that uv (and pip)
accept every line of it; that ``--venv`` builds an environment whose ``pip list`` is the
recorded versions; that the environment jellyml runs in is never touched. PyTorch's own index
cannot be reached from here, so the PyTorch builds come from an index on loopback
(``JELLYML_PYTORCH_INDEX``): empty in the fast tests (torch then fails, and is named), holding
the real torch wheel in the slow ones.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from recorded_envs import (
    SRC,
    UV_CACHE,
    RecordedEnv,
    build,
    normalize,
    pip_list,
    pytorch_index,
    run,
    site_packages,
    torch_wheel,
    uv,
)

from kit.cli import cli_command, jellyml, read_pty

# The recorded venv holds torch's real dist-info: this interpreter must have torch.
pytestmark = pytest.mark.torch

TORCH = importlib.metadata.version("torch") if importlib.util.find_spec("torch") else "?"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedEnv:
    return build(tmp_path_factory.mktemp("recorded-env"))


def show_json(recorded: RecordedEnv) -> dict:
    return json.loads(jellyml("show", str(recorded.model), "--json", cwd=recorded.root).stdout)


def recorded_versions(doc: dict, but: tuple[str, ...]) -> dict[str, str]:
    """The recorded ``{normalized name: version}`` (``show --json``), as ``pip list`` names
    them, without the packages ``but``."""
    return {normalize(n): v for n, v in doc["packages"].items() if n not in but}


def env_vars(index: str) -> dict[str, str]:
    return {"UV_CACHE_DIR": UV_CACHE, "JELLYML_PYTORCH_INDEX": index}


def without_uv(
    recorded: RecordedEnv, *args: str, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """The CLI run by the recorded venv's interpreter (the worktree's ``src/`` on its path),
    where no uv is: none in that venv, none on PATH."""
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r})\n"
        "from jellyml.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    full = {**recorded.env, **(env or {}), "PATH": os.pathsep.join(["/usr/bin", "/bin"])}
    argv = [recorded.python(), "-c", code, *args]
    return subprocess.run(argv, env=full, capture_output=True, text=True, cwd=recorded.project)


def tree(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` and its size: what 'never touched' compares."""
    found = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if "__pycache__" not in path:
                found[os.path.relpath(path, folder)] = os.lstat(path).st_size
    return found


# --- the requirements file -------------------------------------------------------------------


def test_env_writes_each_kind_of_install_line_by_line(recorded: RecordedEnv) -> None:
    doc = show_json(recorded)
    model, project = str(recorded.model), str(recorded.project)
    out = jellyml("env", model, cwd=recorded.project).stdout  # -c: the current repository
    python = doc["python"]
    minor = ".".join(python.split(".")[:2])
    assert out.splitlines() == [
        f"# The Python environment recorded in {model}'s JellyML snapshot "
        f"(commit {doc['commit'][:12]})",
        f"# Made {doc['created_at']} with Python {python} (CPython) on {doc['platform_tag']}",
        "# The -e line installs the snapshot's code: restore it first: "
        f"jellyml eat {model} -c {project}",
        "# Install it with uv (fast):",
        f"#   uv venv --python {python}",
        "#   uv pip install --no-deps --index-strategy unsafe-best-match -r requirements.txt",
        "# or with pip:",
        f"#   python{minor} -m venv .venv && "
        ".venv/bin/python -m pip install --no-deps -r requirements.txt",
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        f"-e {project}",
        f"libgit @ git+file://localhost{recorded.libgit}@{recorded.libgit_commit}",
        "six==1.16.0",
        f"torch=={TORCH}",
        "# Left out (not installable from here):",
        f"#   localpkg==1.2.0: installed from the local folder {recorded.localpkg}, "
        "not the snapshot's code",
    ]
    assert doc["platform_tag"] == "linux_x86_64" or sys.platform != "linux"
    # From a folder inside the repository: the same (the repository's top is where code goes).
    assert jellyml("env", model, cwd=recorded.project / "src").stdout == out
    # the same, through the alias, and written to a file with -o
    assert jellyml("show", model, "--requirements", cwd=recorded.project).stdout == out
    target = recorded.root / "written.txt"
    said = jellyml("env", model, "-o", str(target), cwd=recorded.project).stdout
    assert target.read_text() == out.replace("-r requirements.txt", f"-r {target}")
    assert said == f"Wrote {target}: 4 packages to install, 1 left out.\n"


def test_env_records_origins_installers_and_the_interpreter(recorded: RecordedEnv) -> None:
    doc = show_json(recorded)
    dists = doc["distributions"]
    assert dists["six"] == {"version": "1.16.0", "installer": "uv", "direct_url": None}
    assert dists["demo-project"]["direct_url"] == {
        "url": recorded.project.as_uri(),
        "dir_info": {"editable": True},
    }
    assert dists["libgit"]["direct_url"]["vcs_info"]["commit_id"] == recorded.libgit_commit
    assert dists["localpkg"]["direct_url"] == {"url": recorded.localpkg.as_uri(), "dir_info": {}}
    assert dists["torch"]["version"] == TORCH and dists["torch"]["installer"] == "pip"
    assert doc["python_implementation"] == "CPython" and doc["torch_cuda"] is None
    assert doc["packages"] == {name: d["version"] for name, d in dists.items()}


def test_env_options_change_what_they_say(recorded: RecordedEnv, tmp_path: Path) -> None:
    model = str(recorded.model)
    doc = show_json(recorded)
    elsewhere = tmp_path / "restored here"
    shutil.copytree(recorded.project, elsewhere)
    out = jellyml(
        "env",
        model,
        "-c",
        str(elsewhere),
        "--no-local-labels",
        "--exclude-newer",
        "--python",
        "3.12",
        cwd=tmp_path,
    ).stdout.splitlines()
    date = doc["created_at"].replace("+00:00", "Z")
    line = f"-e file://localhost{elsewhere.as_uri()[7:]}"  # a space: written as a URL
    assert line in out
    (tmp_path / "r.txt").write_text(line + "\n")  # which uv reads back as that folder
    compiled = run(
        [uv(), "pip", "compile", "--no-deps", "--no-header", tmp_path / "r.txt"], {**recorded.env}
    )
    assert line in compiled.splitlines()
    assert f"torch=={TORCH.split('+')[0]}" in out
    assert not any(line.startswith("--extra-index-url") for line in out)
    assert (
        f"#   uv pip install --no-deps --exclude-newer {date} -r requirements.txt" in out
    )  # no +label
    assert "#   uv venv --python 3.12" in out
    assert any(line.startswith("#   python3.12 -m venv .venv") for line in out)
    assert f"jellyml eat {model} -c '{elsewhere}'" in "\n".join(out)


def _reachable(host: str, port: int = 443) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        return False
    return True


def test_uv_pip_compile_accepts_every_line(recorded: RecordedEnv, tmp_path: Path) -> None:
    text = jellyml("env", str(recorded.model), cwd=recorded.project).stdout
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    extra: list[str] = []
    if not _reachable("download.pytorch.org"):
        # The one line that needs that index: torch comes from the wheel on disk instead.
        lines.remove("--extra-index-url https://download.pytorch.org/whl/cpu")
        wheel = torch_wheel()
        assert wheel is not None, "no torch wheel on disk to resolve torch==...+cpu from"
        extra = ["--find-links", str(wheel.parent)]
    source = tmp_path / "requirements.txt"
    source.write_text("\n".join(lines) + "\n")
    compiled = run(
        [uv(), "pip", "compile", "--no-deps", "--no-header", *extra, source], recorded.env
    )
    resolved = [line for line in compiled.splitlines() if not line.lstrip().startswith("#")]
    assert resolved == [
        f"-e {recorded.project}",
        f"libgit @ git+file://localhost{recorded.libgit}@{recorded.libgit_commit}",
        "six==1.16.0",
        f"torch=={TORCH}",
    ]


# --- building it -----------------------------------------------------------------------------


def test_venv_builds_everything_installable_and_names_what_failed(
    recorded: RecordedEnv, tmp_path: Path
) -> None:
    doc = show_json(recorded)
    before = tree(recorded.venv)
    new = tmp_path / "rebuilt"
    with pytorch_index(tmp_path / "index") as index:  # holds no torch: torch fails
        proc = jellyml(
            "env",
            str(recorded.model),
            "--venv",
            str(new),
            cwd=recorded.project,
            env=env_vars(index),
            check=1,
        )
    assert proc.stdout.splitlines() == [
        f"Built {new} (Python {doc['python']}, uv): 3 packages installed, 1 left out, 1 failed."
    ]
    assert f"warning: localpkg is not in {new}: installed from the local folder" in proc.stderr
    assert f"failed: torch=={TORCH}: " in proc.stderr
    expected = recorded_versions(doc, but=("localpkg", "torch"))
    assert pip_list(new) == expected
    # The project is installed editable: imported from the restored folder itself.
    where = run([new / "bin" / "python", "-c", "import demo_project as m; print(m.__file__)"], {})
    assert where.strip() == str(recorded.project / "src" / "demo_project" / "__init__.py")
    assert tree(recorded.venv) == before


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_venv_shows_its_progress_on_a_terminal(recorded: RecordedEnv, tmp_path: Path) -> None:

    leader, follower = os.openpty()
    new = tmp_path / "on-a-terminal"
    with pytorch_index(tmp_path / "index") as index:
        proc = subprocess.Popen(
            [*cli_command(), "env", str(recorded.model), "--venv", str(new)],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            cwd=recorded.project,
            env={**os.environ, **env_vars(index), "TERM": "xterm-256color", "COLUMNS": "100"},
        )
        os.close(follower)
        shown = read_pty(leader).decode("utf-8", "replace")
        assert proc.wait() == 1
    assert "Making the environment" in shown  # the progress display (rich, on stderr)
    assert "3 packages installed, 1 left out, 1 failed." in shown
    assert pip_list(new)["six"] == "1.16.0"


def test_venv_refuses_a_folder_that_exists(recorded: RecordedEnv, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep\n")
    proc = jellyml("env", str(recorded.model), "--venv", str(taken), cwd=tmp_path, check=1)
    assert proc.stderr == (
        f"error: {taken} already exists; jellyml env --venv makes a new environment only. "
        f"Choose a new folder, or remove {taken} first; nothing was changed.\n"
    )
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    usage = jellyml("env", str(recorded.model), "--venv", "x", "--format", "pylock", check=2)
    assert "leave out --format pylock" in usage.stderr and not (tmp_path / "x").exists()


def test_venv_names_a_version_no_index_has(make_repo, tmp_path: Path) -> None:
    from crafted_models import model_with_metadata

    repo = make_repo({"a.py": "1\n"})
    model = tmp_path / "m.pth"
    packages = {"six": "1.16.0", "six-does-not-exist-jellyml-test": "1.0"}
    model_with_metadata(repo.path, model, {"packages": packages, "python": _python()})
    new = tmp_path / "new"
    proc = jellyml("env", str(model), "--venv", str(new), cwd=tmp_path, env=env_vars(""), check=1)
    assert "1 packages installed, 0 left out, 1 failed." in proc.stdout
    assert "failed: six-does-not-exist-jellyml-test==1.0: " in proc.stderr
    assert pip_list(new) == {"six": "1.16.0"}


def _python() -> str:
    import platform

    return platform.python_version()


# --- pylock.toml -----------------------------------------------------------------------------


def test_format_pylock_writes_a_pep_751_lock(recorded: RecordedEnv, tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    wheel = torch_wheel()
    assert wheel is not None, "no torch wheel on disk for the loopback PyTorch index"
    out = tmp_path / "pylock.toml"
    with pytorch_index(tmp_path / "index", [wheel]) as index:
        proc = jellyml(
            "env",
            str(recorded.model),
            "--format",
            "pylock",
            "-o",
            str(out),
            "--exclude-newer",
            cwd=recorded.project,
            env=env_vars(index),
        )
    lock = tomllib.loads(out.read_text())
    assert lock["lock-version"] == "1.0"
    by_name = {p["name"]: p for p in lock["packages"]}
    assert sorted(by_name) == ["demo-project", "libgit", "six", "torch"]
    assert by_name["six"]["version"] == "1.16.0" and by_name["torch"]["version"] == TORCH
    assert by_name["demo-project"]["directory"] == {"path": str(recorded.project), "editable": True}
    assert by_name["libgit"]["vcs"]["commit-id"] == recorded.libgit_commit
    assert "warning: localpkg is not in pylock.toml: installed from the local folder" in proc.stderr


def test_format_pylock_without_uv_says_to_install_it(recorded: RecordedEnv) -> None:
    """Run from the recorded venv, which has no uv, with no uv on PATH either."""
    proc = without_uv(recorded, "env", str(recorded.model), "--format", "pylock")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "error: jellyml env --format pylock needs uv, which is not installed here. Install it "
        "with `pip install uv` (or see https://docs.astral.sh/uv/).\n"
    )


# --- slow: real torch, and pip instead of uv ------------------------------------------------


@pytest.mark.slow
def test_venv_with_torch_from_a_pytorch_index(recorded: RecordedEnv, tmp_path: Path) -> None:
    wheel = torch_wheel()
    assert wheel is not None, "no torch wheel on disk for the loopback PyTorch index"
    doc = show_json(recorded)
    new = tmp_path / "with-torch"
    with pytorch_index(tmp_path / "index", [wheel]) as index:
        proc = jellyml(
            "env",
            str(recorded.model),
            "--venv",
            str(new),
            cwd=recorded.project,
            env=env_vars(index),
        )
    assert "4 packages installed, 1 left out, 0 failed." in proc.stdout
    expected = recorded_versions(doc, but=("localpkg",))
    assert pip_list(new) == expected
    # The real build, files and all (its own dependencies were not in the recorded venv:
    # the fast fixture records torch through its dist-info only, so it is not imported here).
    assert (site_packages(new) / "torch" / "__init__.py").is_file()


@pytest.mark.slow
def test_pip_accepts_every_line_and_builds_it_without_uv(
    recorded: RecordedEnv, tmp_path: Path
) -> None:
    """No uv anywhere: the CLI runs in the recorded venv itself, which must stay as it was."""
    doc = show_json(recorded)
    text = jellyml("env", str(recorded.model), cwd=recorded.project).stdout
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    lines.remove("--extra-index-url https://download.pytorch.org/whl/cpu")
    source = tmp_path / "requirements.txt"
    source.write_text("\n".join(lines) + "\n")
    pip_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dry = run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "-r", source], pip_env
    )
    assert "Would install" in dry and "libgit-0.3.0" in dry and "six-1.16.0" in dry
    before = tree(recorded.venv)
    new = tmp_path / "by-pip"
    with pytorch_index(tmp_path / "index") as index:  # no torch: torch fails, and is named
        # Without this machine's pip configuration, whose find-links hold the torch wheel.
        env = {**env_vars(index), "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}
        proc = without_uv(recorded, "env", str(recorded.model), "--venv", str(new), env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("uv is not installed, so pip was used") == 1
    assert "3 packages installed, 1 left out, 1 failed." in proc.stdout
    expected = recorded_versions(doc, but=("localpkg", "torch"))
    listed = pip_list(new)
    assert {k: v for k, v in listed.items() if k in expected} == expected
    assert set(listed) - set(expected) <= {"pip", "setuptools"}  # what venv itself puts there
    assert tree(recorded.venv) == before
    assert site_packages(recorded.venv).is_dir()
