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


def test_readme_opens_with_the_developer_commands_then_pip_install():
    """The house rule (the set-up commands first) and PyPI's reader (what it is, how to get it)."""
    readme = (ROOT / "README.md").read_text()
    demo, tests = readme.find("bash scripts/demo.sh"), readme.find("bash scripts/test.sh")
    install = readme.find("pip install jellyml\n")
    assert 0 < demo < tests < install < readme.find("## Use")
