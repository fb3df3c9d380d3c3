"""A requirements file that installs a snapshot's environment: the engine of `jellyml env`
(and of `show --requirements`, its alias).

Each recorded distribution becomes one line that pip and uv accept, or a comment saying why it
was left out; never a line that fails the whole install:

* from an index: ``name==version``;
* torch-family builds with a local label (``+cpu``, ``+cu121``, ``+rocm6.1``, ``+xpu``): the
  same pin, plus the PyTorch index serving it (``--extra-index-url .../whl/<label>``), or the
  pin without its label (``local_labels=False``);
* the snapshot's own project (a folder inside its repository): ``-e DIR[/sub]``, DIR being
  where the code is restored (a non-editable install of it: ``name @ file://...``);
* git installs: ``name @ git+URL@commit``; archives behind http(s): ``name @ URL#sha256=...``;
* anything else local (a folder, a wheel on someone's disk), other version control systems,
  and every record that is not a valid name, PEP 440 version or plain URL: a comment.

The records are untrusted. A line is written only from a name matching PEP 508, a version
matching PEP 440, and URLs and paths of a small character set (no white space, quotes, ``$``,
``;``, ``#``, ``\\``, ...), so nothing read from a snapshot can become an option line
(``--index-url``, ``-e /``), a second requirement, or an environment variable pip expands.
Comments show untrusted text as printable ASCII only, never ending in a backslash.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union
from urllib.parse import unquote, urlsplit

from .. import settings
from .environment import Environment, Package

# PEP 508 names (at most 200 characters here).
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?")
# PEP 440 versions, public and local, in the spec's own grammar (at most 100 characters here).
_VERSION = re.compile(
    r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?",
    re.IGNORECASE,
)
# The local labels PyTorch's indexes publish builds under.
_TORCH_LABEL = re.compile(r"cpu|cu[0-9]{2,4}|rocm[0-9]+(?:\.[0-9]+){0,3}|xpu")
# What a URL or a path may hold to be written: RFC 3986's unreserved characters, ``%`` escapes,
# and the delimiters a URL needs; nothing a shell, pip's parser or its ${VAR} expansion reads.
_SAFE = re.compile(r"[A-Za-z0-9._~:/@%+=,-]{1,2000}")
_SAFE_PART = re.compile(r"[A-Za-z0-9._+-]{1,255}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HASH = re.compile(r"(?:sha256|sha384|sha512)=[0-9a-f]{64,128}")
_VCS_SCHEMES = ("https", "http", "ssh", "git", "file")
_CREATED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
_PYTHON = re.compile(r"(\d{1,2})\.(\d{1,3})(?:\.\d{1,3})?")


@dataclass(frozen=True)
class Requirement:
    """One recorded distribution, as written: ``line`` to install it, or ``reason`` it is not."""

    name: str
    version: Optional[str]
    kind: str  # "index", "pytorch", "project", "vcs", "url" or "left out"
    line: Optional[str] = None
    reason: Optional[str] = None
    #: The PyTorch index it needs (``kind == "pytorch"``).
    index_url: Optional[str] = None


@dataclass(frozen=True)
class RequirementsFile:
    """The whole file: header comments, index lines, requirements (installable ones first)."""

    header: list[str]
    requirements: list[Requirement]
    python: Optional[str] = None  # the recorded X.Y.Z, when it is one
    exclude_newer: Optional[str] = None  # the snapshot's date for uv, when asked for

    @property
    def installable(self) -> list[Requirement]:
        return [r for r in self.requirements if r.line is not None]

    @property
    def left_out(self) -> list[Requirement]:
        return [r for r in self.requirements if r.line is None]

    @property
    def index_urls(self) -> list[str]:
        return sorted({r.index_url for r in self.requirements if r.index_url})

    def uv_flags(self) -> list[str]:
        """What ``uv pip install`` / ``compile`` need besides the file: with a PyTorch index,
        every index's versions (uv's default takes a package from the first index that has
        it, and the PyTorch indexes hold old numpy, pillow...); with ``--exclude-newer``, the
        date, lifted for the PyTorch builds (their index gives no upload times, so uv would
        filter every one of them out; they are pinned to a build anyway)."""
        flags = ["--index-strategy", "unsafe-best-match"] if self.index_urls else []
        if self.exclude_newer:
            flags += ["--exclude-newer", self.exclude_newer]
            for name in sorted({r.name for r in self.requirements if r.index_url}):
                flags += ["--exclude-newer-package", f"{name}=false"]
        return flags

    def body(self, requirements: Optional[list[Requirement]] = None) -> list[str]:
        """The index lines and requirement lines (of ``requirements``: default all)."""
        chosen = self.installable if requirements is None else requirements
        urls = sorted({r.index_url for r in chosen if r.index_url})
        return [f"--extra-index-url {url}" for url in urls] + [str(r.line) for r in chosen]

    def lines(self) -> list[str]:
        out = [*self.header, *self.body()]
        if self.left_out:
            out.append("# Left out (not installable from here):")
            out += [f"#   {_pinned(r)}: {r.reason}" for r in self.left_out]
        return out

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines())


@dataclass(frozen=True)
class Options:
    """How to write it: where the code is restored (``code_dir``: an absolute path, or a
    function giving one, called only when a line needs it), whether torch keeps its local
    labels, whether uv's commands get the snapshot's date, the file's name in the header's
    commands, and an interpreter that overrides the recorded one."""

    code_dir: Union[str, Callable[[], str]]
    local_labels: bool = True
    exclude_newer: bool = False
    file_name: str = "requirements.txt"
    python: Optional[str] = None

    def code_folder(self) -> str:
        return self.code_dir if isinstance(self.code_dir, str) else self.code_dir()


def requirements_file(env: Environment, options: Options) -> RequirementsFile:
    """The requirements file of ``env`` (see the module's docstring)."""
    from ..errors import SnapshotDateUnknownError

    date = snapshot_date(env.created_at) if options.exclude_newer else None
    if options.exclude_newer and date is None:
        raise SnapshotDateUnknownError(env.model)
    requirements = [requirement(p, env, options) for p in env.packages or ()]
    requirements.sort(key=lambda r: r.line is None)  # stable: recorded order within each
    made = RequirementsFile(
        header=[],
        requirements=requirements,
        python=_python(env.python),
        exclude_newer=date,
    )
    made.header.extend(_header(env, options, made))
    return made


def requirement(package: Package, env: Environment, options: Options) -> Requirement:
    """How ``package`` is written (a line, or a comment's reason)."""
    name, version = package.name, package.version
    if not _NAME.fullmatch(name):
        return _left_out(package, "not a valid package name")
    if package.problem:
        return _left_out(package, package.problem)
    if package.direct_url is not None:
        return _direct(package, package.direct_url, env, options)
    if version is None or not _VERSION.fullmatch(version) or len(version) > 100:
        shown = "none" if version is None else _comment(version)
        return _left_out(package, f"its version ({shown}) is not a valid version")
    public, _, label = version.partition("+")
    if label and _TORCH_LABEL.fullmatch(label.lower()):
        if not options.local_labels:
            return Requirement(name, version, "index", f"{name}=={public}")
        index = settings.pytorch_index() + label.lower()
        return Requirement(name, version, "pytorch", f"{name}=={version}", index_url=index)
    return Requirement(name, version, "index", f"{name}=={version}")


def _left_out(package: Package, reason: str) -> Requirement:
    return Requirement(package.name, package.version, "left out", reason=reason)


def _direct(
    package: Package, origin: dict[str, Any], env: Environment, options: Options
) -> Requirement:
    """An install PEP 610 describes: a folder, a VCS checkout or an archive."""
    url = origin["url"]
    subdirectory = origin.get("subdirectory")
    if subdirectory is not None and not _relative_path(subdirectory):
        return _left_out(package, f"its subdirectory {_comment(subdirectory)!s} is not plain")
    if "vcs_info" in origin:
        return _vcs(package, url, origin["vcs_info"], subdirectory)
    if "archive_info" in origin:
        return _archive(package, url, origin["archive_info"])
    if "dir_info" in origin:
        editable = origin["dir_info"].get("editable") is True
        return _folder(package, url, subdirectory, editable, env, options)
    return _left_out(package, f"installed from {_comment(url)}, an origin not known here")


def _vcs(
    package: Package, url: str, info: dict[str, Any], subdirectory: Optional[str]
) -> Requirement:
    vcs, commit = info.get("vcs"), info.get("commit_id")
    if vcs != "git":
        what = f"a {_comment(vcs)} checkout" if isinstance(vcs, str) else "version control"
        return _left_out(package, f"installed from {what} ({_comment(url)}): only git is written")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        return _left_out(package, f"installed from git ({_comment(url)}) without a valid commit")
    written = _url(url, _VCS_SCHEMES)
    if written is None:
        return _left_out(package, f"installed from git, from a URL not written: {_comment(url)}")
    line = f"{package.name} @ git+{written}@{commit}"
    if subdirectory:
        line += f"#subdirectory={subdirectory}"
    return Requirement(package.name, package.version, "vcs", line)


def _archive(package: Package, url: str, info: dict[str, Any]) -> Requirement:
    if _scheme(url) == "file":
        where = _local_path(url) or url
        return _left_out(package, f"installed from the local file {_comment(where)}")
    written = _url(url, ("https", "http"))
    if written is None:
        return _left_out(
            package, f"installed from an archive at a URL not written: {_comment(url)}"
        )
    line = f"{package.name} @ {written}"
    digest = _archive_hash(info)
    if digest:
        line += f"#{digest}"
    return Requirement(package.name, package.version, "url", line)


def _archive_hash(info: dict[str, Any]) -> Optional[str]:
    """``sha256=<hex>`` (or sha384, sha512) from archive_info, when one is well formed."""
    found = [f"{alg}={digest}" for alg, digest in (info.get("hashes") or {}).items()]
    legacy = info.get("hash")
    for candidate in [*sorted(found), *([legacy] if isinstance(legacy, str) else [])]:
        if _HASH.fullmatch(candidate):
            return str(candidate)
    return None


def _folder(
    package: Package,
    url: str,
    subdirectory: Optional[str],
    editable: bool,
    env: Environment,
    options: Options,
) -> Requirement:
    """A folder install: written when the folder lies in the snapshot's repository (it is
    restored into ``code_dir``), left out otherwise."""
    path = _local_path(url)
    inside = _inside_repo(path, subdirectory, env.repo_path)
    if path is None or inside is None:
        how = "an editable install of" if editable else "installed from"
        where = _comment(path or url)
        return _left_out(package, f"{how} the local folder {where}, not the snapshot's code")
    target = os.path.normpath(os.path.join(options.code_folder(), inside))
    if editable:
        return Requirement(package.name, package.version, "project", f"-e {path_arg(target)}")
    return Requirement(
        package.name, package.version, "project", f"{package.name} @ {file_url(target)}"
    )


def _inside_repo(
    path: Optional[str], subdirectory: Optional[str], repo_path: Optional[str]
) -> Optional[str]:
    """``path`` (+ ``subdirectory``) relative to the repository's folder: ``.`` for its top;
    None when it is not inside, or not a plain relative path."""
    if path is None or repo_path is None or not os.path.isabs(repo_path):
        return None
    full = os.path.normpath(os.path.join(path, subdirectory or ""))
    repo = os.path.normpath(repo_path)
    if full != repo and not full.startswith(repo.rstrip("/") + "/"):
        # git records the repository's real path; the installer, the path it was given (a
        # symbolic link, /tmp on macOS): on the machine that made the snapshot they agree.
        full, repo = os.path.realpath(full), os.path.realpath(repo)
        if full != repo and not full.startswith(repo.rstrip("/") + "/"):
            return None
    inside = os.path.relpath(full, repo)
    return inside if inside == "." or _relative_path(inside) else None


def _relative_path(path: str) -> bool:
    parts = path.split("/")
    return all(_SAFE_PART.fullmatch(p) and p not in (".", "..") for p in parts)


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].lower() if ":" in url else ""


def _local_path(url: str) -> Optional[str]:
    """The absolute path of a ``file:`` URL on this machine's kind of path; None otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    return path if os.path.isabs(path) and "\0" not in path else None


def _url(url: str, schemes: tuple[str, ...]) -> Optional[str]:
    """``url`` as written in a requirement, or None when it is not safe to write: one of
    ``schemes``, the safe character set, a host (``file:`` aside), no ``@`` in its path
    (pip would read a revision there). ``file:///p`` becomes ``file://localhost/p``, which
    the packaging library of older pips (23.2, Python 3.11's) requires."""
    if not _SAFE.fullmatch(url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in schemes or "@" in parts.path:
        return None
    if parts.scheme == "file":
        path = _local_path(url)
        return file_url(path) if path is not None else None
    return url if parts.netloc and parts.netloc.rsplit("@", 1)[-1] else None


def file_url(path: str) -> str:
    """``file://localhost/...`` of an absolute path, percent-encoded."""
    from pathlib import Path

    return "file://localhost" + Path(path).as_uri()[len("file://") :]


def path_arg(path: str) -> str:
    """A folder as written after ``-e``: as it is when plain, else as a ``file:`` URL (a
    space or a quote in a path would be split or read by pip's option parser)."""
    return path if _SAFE.fullmatch(path) else file_url(path)


def snapshot_date(created_at: Optional[str]) -> Optional[str]:
    """The snapshot's UTC time as uv's ``--exclude-newer`` reads it (``...T19:16:06Z``)."""
    import datetime

    if created_at is None or not _CREATED_AT.fullmatch(created_at):
        return None
    try:
        when = datetime.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _python(recorded: Optional[str]) -> Optional[str]:
    return recorded if recorded and _PYTHON.fullmatch(recorded) else None


def _pinned(req: Requirement) -> str:
    """``name==version`` of a left-out record for its comment, as far as it is valid."""
    if not _NAME.fullmatch(req.name):
        return _comment(req.name)
    if req.version is None or not _VERSION.fullmatch(req.version) or len(req.version) > 100:
        return req.name
    return f"{req.name}=={req.version}"


def _comment(text: object) -> str:
    """Untrusted text for a comment: printable ASCII, anything else (a newline, a control
    character, a backslash that would continue the line) as an escape; at most 200 shown."""
    shown = "".join(
        c if " " <= c <= "~" and c != "\\" else ascii(c)[1:-1] if c != "\\" else "\\x5c"
        for c in str(text)[:200]
    )
    return shown + ("..." if len(str(text)) > 200 else "")


# --- the header ------------------------------------------------------------------------------


def _header(env: Environment, options: Options, made: RequirementsFile) -> list[str]:
    commit = f" (commit {_comment(env.commit[:12])})" if env.commit else ""
    lines = [
        f"# The Python environment recorded in {_comment(env.model)}'s JellyML snapshot{commit}"
    ]
    if env.packages is None:
        lines.append("# It records no package list (JellyML 1.0.0 did not): nothing to install.")
        return lines
    lines.append(f"# Made {_comment(env.created_at or 'at an unrecorded time')}{_made_with(env)}")
    if not env.origins_recorded:
        lines.append(
            "# It records versions only (an older JellyML): a package installed from a folder "
            "or from git is pinned as if from an index."
        )
    if any(r.kind == "project" for r in made.requirements):
        eat = shlex.join(["jellyml", "eat", env.model, "-c", options.code_folder()])
        lines.append(
            f"# The -e line installs the snapshot's code: restore it first: {_comment(eat)}"
        )
    return lines + _commands(options, made)


def _made_with(env: Environment) -> str:
    """`` with Python 3.11.7 (CPython) on linux_x86_64, torch 2.4.0+cu121 (CUDA 12.1)``."""
    parts = []
    if env.python:
        impl = f" ({_comment(env.python_implementation)})" if env.python_implementation else ""
        where = env.platform_tag or env.platform
        parts.append(
            f"Python {_comment(env.python)}{impl}" + (f" on {_comment(where)}" if where else "")
        )
    if env.torch:
        gpu = [f"CUDA {_comment(env.torch_cuda)}"] if env.torch_cuda else []
        gpu += [f"ROCm {_comment(env.torch_rocm)}"] if env.torch_rocm else []
        parts.append(f"torch {_comment(env.torch)}" + (f" ({', '.join(gpu)})" if gpu else ""))
    return (" with " + ", ".join(parts)) if parts else ""


def _commands(options: Options, made: RequirementsFile) -> list[str]:
    """How to install it, with uv and with pip (`--python` overrides the recorded one)."""
    python = options.python or made.python
    install = ["uv", "pip", "install", "--no-deps", *made.uv_flags(), "-r", options.file_name]
    venv = ["uv", "venv"] + (["--python", python] if python else [])
    version = _PYTHON.fullmatch(python) if python else None
    interpreter = f"python{version.group(1)}.{version.group(2)}" if version else "python3"
    if python and os.sep in python:
        interpreter = python
    pip = (
        shlex.join([interpreter, "-m", "venv", ".venv"])
        + " && "
        + shlex.join(
            [".venv/bin/python", "-m", "pip", "install", "--no-deps", "-r", options.file_name]
        )
    )
    return [
        "# Install it with uv (fast):",
        f"#   {_comment(shlex.join(venv))}",
        f"#   {_comment(shlex.join(install))}",
        "# or with pip:",
        f"#   {_comment(pip)}",
    ]


def code_dir(given: Optional[str]) -> str:
    """Where the code is restored: the repository holding ``given`` (default: the current
    folder), its top; the folder itself when it is in none (or does not exist yet)."""
    from ..errors import JellyMLError
    from ..gitcore.repo import locate

    folder = os.path.abspath(given or os.getcwd())
    if not os.path.isdir(folder):
        return folder
    try:
        found = locate(folder)
    except JellyMLError:  # no git, a bare repository, another user's: the folder as given
        return folder
    return os.path.abspath(found.top) if found else folder
