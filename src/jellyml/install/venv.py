"""``jellyml env MODEL --venv DIR``: a new virtual environment holding what a snapshot records.

``uv venv`` then ``uv pip install --no-deps`` (``python -m venv`` and pip when uv is absent).
The current environment is never touched: every install names the new environment's
interpreter, and the variables that could redirect it are dropped (``tools.install_env``).

Packages go in as groups: the index packages in one call, the PyTorch builds of each index
in one call each (so an unreachable PyTorch index costs only those). A group that fails is
installed again one package at a time, so that everything installable is installed and each
package that is not is named with the installer's reason.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from ..errors import EnvironmentBuildError, VenvExistsError
from ..read.requirements import Requirement, RequirementsFile
from ..tempdirs import temporary_dir
from . import tools

#: Called as ``progress(stage, done, total)``: stage ``"venv"`` (making it), ``"install"``
#: (packages installed so far of all), ``"retry"`` (one at a time after a group failed).
Progress = Callable[[str, int, int], None]

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?")


@dataclass(frozen=True)
class Failure:
    requirement: Requirement
    error: str


@dataclass
class VenvResult:
    """What was built: the folder, its Python, the tool, and every recorded package's fate."""

    path: str
    python_version: str
    tool: str
    installed: list[Requirement] = field(default_factory=list)
    left_out: list[Requirement] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def build_venv(
    reqs: RequirementsFile,
    target: str,
    *,
    python: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> VenvResult:
    """Make the environment ``target`` (a new folder) and install ``reqs`` into it.

    ``python``: the interpreter (a version or a path); default the recorded one. A failure to
    make the environment removes it and raises ``EnvironmentBuildError``; a package that
    cannot be installed is listed in ``failed`` and the rest is installed.
    """
    target = os.path.abspath(target)
    if os.path.lexists(target):
        raise VenvExistsError(target)
    report = progress or (lambda _stage, _done, _total: None)
    uv = tools.find_uv()
    installer: _Installer = _Uv(uv) if uv else _Pip()
    result = VenvResult(target, "", installer.name, left_out=reqs.left_out)
    if uv is None:
        result.notes.append("uv is not installed, so pip was used (slower: `pip install uv`).")
    try:
        report("venv", 0, 1)
        installer.make_venv(target, python, reqs.python, result.notes)
        result.python_version = _version_of(target)
        _install(installer, reqs, target, result, report)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # ours, new and unfinished
        raise
    return result


def _install(
    installer: _Installer,
    reqs: RequirementsFile,
    target: str,
    result: VenvResult,
    report: Progress,
) -> None:
    python = tools.venv_python(target)
    total = len(reqs.installable)
    groups = _groups(reqs.installable)
    with temporary_dir("env") as tmp:
        for number, group in enumerate(groups):
            report("install", len(result.installed), total)
            path = _write(tmp, f"group-{number}", reqs.body(group))
            if installer.install(python, path, reqs, result.notes) is None:
                result.installed += group
                continue
            for one, requirement in enumerate(group):
                report("retry", one, len(group))
                path = _write(tmp, f"one-{number}-{one}", reqs.body([requirement]))
                error = installer.install(python, path, reqs, result.notes)
                if error is None:
                    result.installed.append(requirement)
                else:
                    result.failed.append(Failure(requirement, error))
    report("install", len(result.installed), total)


def _groups(requirements: list[Requirement]) -> list[list[Requirement]]:
    """The index packages, then the packages of each PyTorch index."""
    plain = [r for r in requirements if r.index_url is None]
    urls = sorted({r.index_url for r in requirements if r.index_url})
    groups = [[r for r in requirements if r.index_url == url] for url in urls]
    return [group for group in [plain, *groups] if group]


def _write(folder: str, name: str, lines: list[str]) -> str:
    path = os.path.join(folder, name + ".txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def _version_of(venv: str) -> str:
    """The Python version of a new environment, from its ``pyvenv.cfg`` (``version`` as the
    standard library writes it, ``version_info`` as uv does): no interpreter started."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition("=")
                if key.strip() in ("version", "version_info"):
                    return value.strip()
    except OSError:
        pass
    return "?"


def _in_process(target: str) -> None:
    """``python -m venv --without-pip`` of this very interpreter, without starting one (what
    ``uv venv`` makes too, in ~2 ms instead of ~30)."""
    import venv

    venv.EnvBuilder(symlinks=os.name != "nt", with_pip=False).create(target)


def _this_python(version: Optional[str]) -> Optional[str]:
    """This interpreter's own executable when it is the ``version`` asked for (X.Y.Z or X.Y):
    uv then skips looking for interpreters (through pyenv's shims that takes ~0.5 s)."""
    import platform

    if version is None or platform.python_implementation() != "CPython":
        return None
    mine = platform.python_version()
    same = mine == version or mine.rsplit(".", 1)[0] == version
    return os.path.realpath(sys.executable) if same else None


class _Installer:
    name = ""

    def make_venv(
        self, target: str, asked: Optional[str], recorded: Optional[str], notes: list[str]
    ) -> None:
        raise NotImplementedError

    def install(
        self, python: str, requirements: str, reqs: RequirementsFile, notes: list[str]
    ) -> Optional[str]:
        """Install the file ``requirements`` (lines of ``reqs``); None when it worked, else
        the installer's reason."""
        raise NotImplementedError


class _Uv(_Installer):
    name = "uv"

    def __init__(self, uv: str) -> None:
        self.uv = uv

    def make_venv(
        self, target: str, asked: Optional[str], recorded: Optional[str], notes: list[str]
    ) -> None:
        wanted = asked or recorded
        if wanted and _this_python(wanted):
            _in_process(target)
            return
        argv = [self.uv, "venv", target, "--no-project", "--quiet"]
        proc = tools.run([*argv, "--python", wanted] if wanted else argv)
        if proc.returncode != 0 and asked is None and recorded:
            # The recorded X.Y.Z is not here: the same X.Y is as good for installing.
            minor = _minor(recorded)
            if minor and minor != recorded:
                shutil.rmtree(target, ignore_errors=True)
                proc = tools.run([*argv, "--python", minor])
                notes.append(f"Python {recorded} was not found; Python {minor} was used.")
        if proc.returncode != 0:
            raise EnvironmentBuildError("Making the environment with uv", proc.args, proc.stderr)

    def install(
        self, python: str, requirements: str, reqs: RequirementsFile, notes: list[str]
    ) -> Optional[str]:
        argv = [self.uv, "pip", "install", "--python", python, "--no-deps", *reqs.uv_flags()]
        proc = tools.run([*argv, "-r", requirements])
        return None if proc.returncode == 0 else tools.last_error(proc.stderr)


class _Pip(_Installer):
    name = "pip"

    def make_venv(
        self, target: str, asked: Optional[str], recorded: Optional[str], notes: list[str]
    ) -> None:
        interpreter = _pip_interpreter(asked, recorded, notes)
        proc = tools.run([interpreter, "-m", "venv", target])
        if proc.returncode != 0:
            raise EnvironmentBuildError("Making the environment with venv", proc.args, proc.stderr)

    def install(
        self, python: str, requirements: str, reqs: RequirementsFile, notes: list[str]
    ) -> Optional[str]:
        if reqs.exclude_newer and not any("--exclude-newer" in note for note in notes):
            notes.append("pip has no --exclude-newer; every package is pinned anyway.")
        proc = tools.run([python, "-m", "pip", "install", "--no-deps", "-r", requirements])
        return None if proc.returncode == 0 else tools.last_error(proc.stderr)


def _minor(version: str) -> Optional[str]:
    match = _VERSION.fullmatch(version)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _pip_interpreter(asked: Optional[str], recorded: Optional[str], notes: list[str]) -> str:
    """The interpreter that makes the environment: ``asked`` (a path, or a version found as
    ``pythonX.Y`` on PATH), else the recorded version's, else this one (said in a note)."""
    if asked and (os.sep in asked or not _minor(asked)):
        found = shutil.which(asked)
        if found is None:
            raise EnvironmentBuildError(f"Finding the interpreter {asked}", [asked], "not found")
        return found
    wanted = asked or recorded
    found = _this_python(wanted) or (shutil.which(f"python{_minor(wanted)}") if wanted else None)
    if found:
        return found
    if asked:
        raise EnvironmentBuildError(f"Finding Python {asked}", [f"python{_minor(asked)}"], "")
    if wanted:
        mine = sys.version.split()[0]
        notes.append(f"Python {wanted} was not found; this Python ({mine}) was used.")
    return sys.executable
