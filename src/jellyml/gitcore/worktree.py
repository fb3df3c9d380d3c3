"""Linked worktrees (``git worktree``): adding one that holds every file of a commit, finding
the folder git keeps for it, and removing it whole.

What git knows of a linked worktree lives in ``<common git dir>/worktrees/<name>/`` (its HEAD,
index, reflog, ``locked`` and ``gitdir``, the path of the worktree's ``.git`` file). That folder
is read here directly, as git itself does, so that a worktree half made or half removed by a
killed process (a folder without its ``.git`` file, or the reverse) is found too; ``git worktree
list`` needs git 2.36 for ``-z``, and names no worktree whose ``gitdir`` file is missing.

Facts this relies on (git 2.39, checked in ``tests/restore/test_worktree.py``): a new worktree
inherits the sparse-checkout patterns of the one it is added from and would silently lack files;
``add --no-checkout`` then ``config --worktree core.sparseCheckout false`` (which needs
``extensions.worktreeConfig``) then ``reset --hard`` gives every file, and runs no hook.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Optional

from . import run

#: ``git worktree add --lock --reason`` arrived in git 2.34; older gits lock in a second step.
_REASON_ON_ADD = (2, 34)
#: A ``gitdir`` file longer than this is not one git wrote.
_MAX_GITDIR = 8192


@dataclass(frozen=True)
class Admin:
    """What git keeps for one linked worktree: its folder under ``worktrees/`` and the
    worktree folder it points at (absolute; '' when its ``gitdir`` file is missing)."""

    folder: str
    worktree: str

    @property
    def locked(self) -> bool:
        return os.path.exists(os.path.join(self.folder, "locked"))


def admins(common_dir: str) -> list[Admin]:
    """Every linked worktree git knows in the repository whose common git dir is given."""
    parent = os.path.join(common_dir, "worktrees")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    return [_admin(os.path.join(parent, name)) for name in names]


def _admin(folder: str) -> Admin:
    try:
        with open(os.path.join(folder, "gitdir"), "rb") as f:
            raw = f.read(_MAX_GITDIR).rstrip(b"\n")
    except OSError:
        return Admin(folder, "")
    gitdir = os.path.join(folder, os.fsdecode(raw))  # relative ones are relative to folder
    return Admin(folder, os.path.dirname(os.path.normpath(gitdir)))


def admin_of(common_dir: str, worktree: str) -> Optional[Admin]:
    """The administrative folder of the linked worktree at ``worktree``, if git has one."""
    wanted = _real(worktree)
    for found in admins(common_dir):
        if found.worktree and _real(found.worktree) == wanted:
            return found
    return None


def _real(path: str) -> str:
    return os.path.realpath(path)


def add(top: str, folder: str, commit: str, *, reason: str, branch: Optional[str] = None) -> None:
    """Register ``folder`` as a new linked worktree at ``commit`` (detached, or on the new
    ``branch``), locked with ``reason``, without checking anything out yet (``populate``)."""
    where = ["-b", branch] if branch else ["--detach"]
    if run.git_version() >= _REASON_ON_ADD:
        lock = ["--lock", "--reason", reason]
        run.run(["worktree", "add", "-q", "--no-checkout", *lock, *where, folder, commit], cwd=top)
        return
    run.run(["worktree", "add", "-q", "--no-checkout", *where, folder, commit], cwd=top)
    run.run(["worktree", "lock", "--reason", reason, folder], cwd=top)


def populate(folder: str, *, sparse_off: bool) -> None:
    """Check out every file of the worktree's HEAD into it. ``sparse_off``: the repository
    uses sparse checkout, which the new worktree inherited: turn it off for this worktree only
    first (``extensions.worktreeConfig`` must be on). Submodules stay uninitialised."""
    if sparse_off:
        run.run(["config", "--worktree", "core.sparseCheckout", "false"], cwd=folder)
    run.run(["reset", "-q", "--hard", "--no-recurse-submodules"], cwd=folder)


def sparse_settings(top: str) -> tuple[bool, bool]:
    """Whether the worktree at ``top`` uses sparse checkout (``core.sparseCheckout``, which a
    worktree added from it inherits), and whether ``extensions.worktreeConfig`` is on."""
    proc = run.run(
        [
            "config",
            "--type=bool",
            "--get-regexp",
            r"^(core\.sparsecheckout|extensions\.worktreeconfig)$",
        ],
        cwd=top,
        check=False,
    )
    found = dict(
        line.split(" ", 1)
        for line in proc.stdout.decode("utf-8", "replace").splitlines()
        if " " in line
    )
    return found.get("core.sparsecheckout") == "true", found.get(
        "extensions.worktreeconfig"
    ) == "true"


def remove(top: str, admin: Optional[Admin], folder: str, *, delete_folder: bool) -> None:
    """Remove a linked worktree whole: its folder (with ``delete_folder``: whatever is left of
    it when git no longer knows it as a worktree, a half-made one) and git's record of it,
    lock included. Only this worktree's record is touched (never ``git worktree prune``, which
    would forget every other missing worktree of the user's, such as one on an unmounted disk)."""
    if admin is not None and os.path.exists(os.path.join(folder, ".git")):
        proc = run.run(["worktree", "remove", "--force", "--force", folder], cwd=top, check=False)
        if proc.returncode == 0:
            return
    if delete_folder and os.path.lexists(folder):
        _rmtree(folder)
    if admin is not None and os.path.isdir(admin.folder):
        _rmtree(admin.folder)


def _rmtree(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
