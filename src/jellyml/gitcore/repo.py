"""The one repository type: where a repository's parts are, and where its HEAD points."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from ..errors import BareRepoError, DubiousOwnershipError, PathNotFoundError
from . import run

#: A tree entry: (mode, object id).
TreeEntry = tuple[str, str]

_FULL_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")
#: tree_entries' answers for full object ids, per object store (a few trees per process).
_TREES: dict[tuple[str, str, Optional[str]], dict[bytes, TreeEntry]] = {}


@dataclass(frozen=True)
class Repo:
    """A repository (or linked worktree) with a working tree, as seen from inside it."""

    top: str
    git_dir: str
    #: ``--git-path`` answers, absolute: objects, index, shallow.
    objects: str
    index: str
    shallow: str
    object_format: str
    #: The commit HEAD points at; None in a repository without commits.
    head: Optional[str] = None
    #: Full ref name (``refs/heads/main``) when HEAD is on a branch, born or not.
    branch: Optional[str] = None

    @property
    def short_branch(self) -> Optional[str]:
        return short_branch(self.branch)

    @property
    def is_shallow(self) -> bool:
        return os.path.exists(self.shallow)

    def git(self, *args: str, env: Optional[Mapping[str, str]] = None) -> str:
        """Run git in the working tree's top; its stdout as text, trailing newline removed."""
        return run.out(list(args), cwd=self.top, env=env)

    def git_bytes(
        self, *args: str, env: Optional[Mapping[str, str]] = None, input: Optional[bytes] = None
    ) -> bytes:
        return run.run(list(args), cwd=self.top, env=env, input=input).stdout

    def ok(self, *args: str) -> bool:
        """Whether git exits 0 (for questions such as ``rev-parse --verify``)."""
        return run.run(list(args), cwd=self.top, check=False).returncode == 0


def short_branch(branch: Optional[str]) -> Optional[str]:
    if branch is None:
        return None
    return branch[len("refs/heads/") :] if branch.startswith("refs/heads/") else branch


def find_repo(folder: str) -> Optional[Repo]:
    """The repository holding ``folder``, HEAD included; None when it is not in one.

    Raises ``PathNotFoundError`` for a missing folder, ``BareRepoError`` where there is no
    working tree, and ``DubiousOwnershipError`` for a repository git refuses to read because
    another user owns it (its message gives the reason and the command that allows it).
    """
    if not os.path.isdir(folder):
        raise PathNotFoundError(folder)
    # One process for the paths, HEAD's commit and its branch; only a HEAD without a commit
    # (a new repository), where rev-parse stops at HEAD, needs a second one for the branch.
    found = _rev_parse(folder, ("HEAD^{commit}", "--symbolic-full-name", "HEAD"))
    if found is None:
        return None
    paths, answers = found
    if len(answers) == 2:
        head: Optional[str] = answers[0]
        branch = answers[1] if answers[1].startswith("refs/") else None
    else:
        head = None
        proc = run.run(["symbolic-ref", "-q", "HEAD"], cwd=paths.top, check=False)
        branch = proc.stdout.decode("utf-8", "surrogateescape").strip() or None
    return dataclasses.replace(paths, head=head, branch=branch)


def locate(folder: str) -> Optional[Repo]:
    """The repository's paths from one ``rev-parse`` (HEAD not read); None outside one."""
    found = _rev_parse(folder, ())
    return found[0] if found is not None else None


#: What ``_rev_parse`` asks first: the repository's paths. ``--show-toplevel`` comes last: it
#: is the one that fails in a bare repository, after the others have printed.
_PATHS = (
    "--is-bare-repository",
    "--absolute-git-dir",
    *("--git-path", "objects", "--git-path", "index", "--git-path", "shallow"),
    "--show-object-format",
    "--show-toplevel",
)


def _rev_parse(folder: str, extra: tuple[str, ...]) -> Optional[tuple[Repo, list[str]]]:
    """The repository's paths and the answers to ``extra`` (none when git stopped at one of
    them, as it does at ``HEAD`` in a repository without commits); None outside one."""
    probe = run.run(["rev-parse", *_PATHS, *extra], cwd=folder, check=False)
    if probe.returncode != 0 and b"dubious ownership" in probe.stderr:
        raise _dubious(folder, probe.stderr.decode("utf-8", "replace"))
    if not probe.stdout:
        return None
    lines = probe.stdout.decode("utf-8", "surrogateescape").split("\n")
    if lines[0] == "true" or len(lines) < 8:  # no working tree: --show-toplevel failed
        raise BareRepoError(folder)
    _, git_dir, objects, index, shallow, object_format, top = lines[:7]
    # --git-path answers relative to the folder it ran in.
    repo = Repo(
        top=top,
        git_dir=git_dir,
        objects=os.path.join(folder, objects),
        index=os.path.join(folder, index),
        shallow=os.path.join(folder, shallow),
        object_format=object_format,
    )
    return repo, lines[7:-1] if probe.returncode == 0 else []


def _dubious(folder: str, stderr: str) -> DubiousOwnershipError:
    """git's refusal of a repository owned by another user, with its reason spelled out (git's
    last line alone is only the command that fixes it)."""
    match = re.search(r"dubious ownership in repository at '([^']*)'", stderr)
    path = match.group(1) if match else folder
    return DubiousOwnershipError(path, f"{_owner(path)} (git calls this dubious ownership)")


def _owner(path: str) -> str:
    """Who owns ``path`` and who asks: "it is owned by nobody (65534), not by you, root (0)"."""
    try:
        owner = os.stat(path).st_uid
    except OSError:
        return "it is owned by another user"
    return f"it is owned by {_user(owner)}, not by you, {_user(os.geteuid())}"


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} ({uid})"
    except (ImportError, KeyError):
        return f"user {uid}"


def tree_entries(
    repo: Repo, treeish: Optional[str], env: Optional[Mapping[str, str]] = None
) -> dict[bytes, TreeEntry]:
    """Every file of a tree (recursively): path -> (mode, object id). ``env`` may name another
    object store (``GIT_DIR``) that borrows the repository's objects."""
    if treeish is None:
        return {}
    # An object id names the same tree forever: eat and undo ask for some several times.
    key = (repo.objects, treeish, (env or {}).get("GIT_DIR"))
    cacheable = bool(_FULL_OID.match(treeish))
    if cacheable and key in _TREES:
        return dict(_TREES[key])
    raw = repo.git_bytes("ls-tree", "-r", "-z", "--full-tree", treeish, env=env)
    found: dict[bytes, TreeEntry] = {}
    for record in run.split_z(raw):
        meta, _, path = record.partition(b"\t")
        mode, _kind, oid = meta.decode().split()
        found[path] = (mode, oid)
    if cacheable:
        _TREES[key] = found
    return dict(found) if cacheable else found


def object_types(
    names: Sequence[str], *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
) -> list[tuple[str, str]]:
    """For each of ``names`` (object ids, or anything ``rev-parse`` reads: ``X^{tree}``,
    ``refs/heads/main``), the object id and type it names, or ``(name, "missing")``: one
    ``git cat-file --batch-check`` for all of them."""
    if not names:
        return []
    proc = run.run(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd=cwd,
        env=env,
        input="".join(f"{name}\n" for name in names).encode(),
        check=False,
    )
    found: list[tuple[str, str]] = []
    for name, line in zip(names, proc.stdout.decode("ascii", "replace").splitlines()):
        oid, _, kind = line.partition(" ")
        known = kind in ("commit", "tree", "blob", "tag")  # else "missing" or "ambiguous"
        found.append((oid, kind) if known else (name, "missing"))
    return found + [(name, "missing") for name in names[len(found) :]]


def empty_tree(repo: Repo) -> str:
    """The id of the empty tree in ``repo``'s object format (no git needed: it is the hash of
    the object header alone)."""
    algorithm = hashlib.sha256 if repo.object_format == "sha256" else hashlib.sha1
    return algorithm(b"tree 0\0").hexdigest()
