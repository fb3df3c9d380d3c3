"""Packaging a user can trust: one version, the declared license's text, a self-contained repo."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

import jellyml

ROOT = Path(__file__).resolve().parent.parent
LICENSE_EXPRESSION = "LGPL-3.0-or-later"


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the main suite runs there
    with open(ROOT / "pyproject.toml", "rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    return data


def test_the_installed_version_is_the_package_version():
    assert importlib.metadata.version("jellyml") == jellyml.__version__


def test_the_version_is_written_only_in_version_py():
    project = _pyproject()["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert _pyproject()["tool"]["hatch"]["version"]["path"] == "src/jellyml/_version.py"
    assert (ROOT / "src" / "jellyml" / "_version.py").read_text().count(jellyml.__version__) == 1


def test_the_license_file_is_the_declared_license():
    project = _pyproject()["project"]
    assert project["license"] == LICENSE_EXPRESSION
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    # LGPL v3 first, then the GPL v3 it is an addendum to, each whole (their last lines).
    assert text.lstrip().startswith("GNU LESSER GENERAL PUBLIC LICENSE\n")
    lesser, _, general = text.partition("                    GNU GENERAL PUBLIC LICENSE\n")
    assert "Version 3, 29 June 2007" in lesser and "Version 3, 29 June 2007" in general
    assert "apply, that proxy's public statement of acceptance of any version is" in lesser
    assert "<https://www.gnu.org/licenses/why-not-lgpl.html>." in general
    # PEP 639: a license expression, and then no "License ::" classifier next to it.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]


def test_the_installed_metadata_declares_the_license_and_posix():
    meta = importlib.metadata.metadata("jellyml")
    assert meta["License-Expression"] == LICENSE_EXPRESSION
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and (ROOT / "src" / "jellyml" / "py.typed").is_file()
    assert "Operating System :: POSIX" in classifiers
    assert not [c for c in classifiers if "Windows" in c]


def test_python_classifiers_start_at_requires_python():
    meta = importlib.metadata.metadata("jellyml")
    oldest = meta["Requires-Python"].removeprefix(">=")
    versions = [
        tuple(int(part) for part in c.rsplit(" ", 1)[1].split("."))
        for c in meta.get_all("Classifier") or []
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert versions and ".".join(map(str, min(versions))) == oldest


def test_nothing_in_the_repository_reads_outside_it():
    """A fresh clone tests itself: no file points at the shared/ folder beside the repository."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist): nothing to list")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    # Spelled in pieces, so that this file does not match itself.
    needles = [b"../" + b"shared", b'"' + b'shared" /', b"'" + b"shared' /"]
    offenders = [
        name.decode()
        for name in listed
        if name and (ROOT / name.decode()).is_file()
        for needle in needles
        if needle in (ROOT / name.decode()).read_bytes()
    ]
    assert offenders == []


def test_readme_links_work_on_pypi():
    """README.md is the PyPI page: a relative link or a bare #anchor goes nowhere there."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]*)\)", readme)
    assert targets, "no link found: the pattern no longer matches the README's links"
    assert [t for t in targets if not t.startswith("https://")] == []


def test_readme_opens_with_install_and_use_then_the_developer_commands():
    """A user reads first how to install this version (from a clone, until it is published)
    and how to use it; the developers' set-up commands come after."""
    readme = (ROOT / "README.md").read_text()
    install = readme.find("## Install")
    clone = readme.find("pip install .  ")
    use = readme.find("## Use")
    demo, tests = readme.find("bash scripts/demo.sh"), readme.find("bash scripts/test.sh")
    assert 0 < install < clone < use < demo < tests
    for extra in ('".[torch]"', '".[remote]"', '".[transformers]"', "./jellyml-lightning"):
        assert f"pip install {extra}" in readme[install:use], extra


def test_the_fast_loop_skips_slow_tests_and_ci_runs_everything(tmp_path):
    """`bash scripts/test.sh --fast` passes `-m "not slow"` to pytest (the other arguments as
    they are); CI runs scripts/test.sh without it."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "test.sh").write_text((ROOT / "scripts" / "test.sh").read_text())
    (tmp_path / "scripts" / "bootstrap.sh").write_text("exit 0\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("ruff", "mypy"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "python").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)

    def pytest_args(*args: str) -> list[str]:
        subprocess.run(["bash", str(tmp_path / "scripts" / "test.sh"), *args], check=True)
        return (bin_dir / "args").read_text().splitlines()

    assert pytest_args("--fast", "-x", "tests/cli") == [
        "-m",
        "pytest",
        "-m",
        "not slow",
        "-x",
        "tests/cli",
    ]
    assert pytest_args() == ["-m", "pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh\n" in ci and "--fast" not in ci
