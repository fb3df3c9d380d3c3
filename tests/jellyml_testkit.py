"""The test kit: the one home of the helpers every test folder uses (pytest pythonpath = tests).

* ``jellyml(...)``: the installed command line, run in a fresh process as a user runs it;
* ``make_model`` / ``write_checkpoint``: files laid out exactly as ``torch.save`` lays out a
  checkpoint (a stored zip with ``<stem>/data.pkl`` and ``<stem>/data/<n>`` entries), written
  without torch; ``snapshot_tensor`` and ``patch_snapshot_header`` build and damage the snapshot;
* ``dirty_repo``: a repository with every kind of uncommitted work; ``user_state`` and
  ``snapshot_view``: what a user (or a snapshot) sees of a repository;
* ``legacy_reader``: JellyML 1.0.0's reader, to prove it still reads what we write.

Repositories themselves come from the root ``conftest.py`` (``make_repo``, ``GitRepo``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

from jellyml import format as fmt
from jellyml.snapshot import snapshot_repo
from jellyml.snapshot.create import encode_metadata, snapshot_metadata

PathLike = Union[str, Path]

# --- the command line ------------------------------------------------------------------------


def cli_command() -> list[str]:
    """The installed ``jellyml`` script beside this interpreter (what ``pip install`` put on the
    user's PATH), or ``python -m jellyml`` where there is none. Never the source tree: nothing
    is put on PYTHONPATH."""
    script = Path(sysconfig.get_path("scripts")) / "jellyml"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "jellyml"]


def jellyml(
    *args: str,
    cwd: Optional[PathLike] = None,
    env: Optional[Mapping[str, str]] = None,
    check: Optional[int] = 0,
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI with ``args`` and assert its exit code is ``check`` (None: any).

    ``env`` is added to the test's environment (see conftest.py's deterministic one). Output is
    80 columns wide unless ``env`` says otherwise: long lines must still come out whole.
    """
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full_env["COLUMNS"] = "80"
    full_env.update(env or {})
    proc = subprocess.run(
        [*cli_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


# --- checkpoints without torch ---------------------------------------------------------------


def write_checkpoint(
    path: PathLike,
    tensors: Union[Mapping[str, bytes], Sequence[bytes]],
    prefix: Optional[str] = None,
    *,
    force_zip64: bool = False,
) -> Path:
    """A zip laid out as ``torch.save`` lays one out: stored entries ``<prefix>/data/<key>``
    (keys 0, 1, ... for a sequence), ``<prefix>/data.pkl`` (never unpickled by the reader) and
    ``<prefix>/version``. ``prefix`` defaults to the file's stem, as torch.save's does.

    Built with Python's zipfile, so tests can make ZIP64 archives or odd layouts without torch
    and without writing gigabytes.
    """
    path = Path(path)
    prefix = path.stem if prefix is None else prefix
    items = tensors.items() if isinstance(tensors, Mapping) else enumerate(tensors)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", b"\x80\x02}q\x00.")
        for key, data in items:
            info = zipfile.ZipInfo(f"{prefix}/data/{key}")
            with archive.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
        archive.writestr(f"{prefix}/version", b"3\n")
    return path


def snapshot_tensor(bundle: bytes, commit: str, metadata_sha256: Optional[str] = None) -> bytes:
    """The bytes of a snapshot tensor as create_snapshot makes them: header, then bundle."""
    digest = hashlib.sha256(bundle).hexdigest()
    header = fmt.encode_header(
        fmt.SNAPSHOT_MAGIC, len(bundle), digest, commit=commit, metadata_sha256=metadata_sha256
    )
    return header + bundle


def make_model(repo_path: PathLike, out: PathLike) -> str:
    """Snapshot ``repo_path`` as it is now into checkpoint ``out``; return the snapshot commit.

    The tensors are ``create_snapshot()``'s two, made from the same pieces, after a weight.
    """
    with tempfile.TemporaryDirectory(prefix="jellyml-testkit-") as tmp:
        bundle = os.path.join(tmp, "b.bundle")
        snap = snapshot_repo(str(repo_path), bundle_path=bundle)
        meta, meta_sha = encode_metadata(snapshot_metadata(snap))
        payload = Path(bundle).read_bytes()
        tensor = snapshot_tensor(payload, snap.commit, meta_sha)
        write_checkpoint(out, [b"\0" * 16, tensor, bytes(meta)])
    return snap.commit


def patch_snapshot_header(path: PathLike, **changes: Any) -> None:
    """Rewrite the snapshot header inside a saved checkpoint, in place, with fields changed.

    ``None`` removes a field. The header keeps its 1024 bytes, so the zip stays intact.
    """
    data = bytearray(Path(path).read_bytes())
    at = data.find(b'{"magic_number": "jelly_ml_snapshot"')
    assert at >= 0, "no snapshot header in the file"
    fields = json.loads(bytes(data[at : at + 1024]).split(b"\0", 1)[0])
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    raw = json.dumps(fields).encode()
    assert len(raw) <= 1024
    data[at : at + 1024] = raw + b"\0" * (1024 - len(raw))
    Path(path).write_bytes(bytes(data))


def legacy_reader(path: PathLike) -> bytes:
    """JellyML 1.0.0's reader, re-implemented from its description (not its code).

    It walks the zip's entries in order, looks at those whose folder ends with "/data", reads
    the first 1024 bytes, strips NUL bytes, parses JSON, skips the entry on any exception or a
    magic mismatch, requires version "january-7-2023", and returns everything after byte 1024.
    """
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not os.path.dirname(name).endswith("/data"):
                continue
            with archive.open(name) as f:
                head = f.read(1024)
                try:
                    header = json.loads(head.replace(b"\0", b""))
                    if header["magic_number"] != "jelly_ml_snapshot":
                        continue
                except Exception:
                    continue
                assert header["version"] == "january-7-2023"
                return f.read()
    raise LookupError(f"JellyML 1.0.0 would find no snapshot in {path}")


# --- repositories ----------------------------------------------------------------------------

#: What dirty_repo leaves ignored (by its .gitignore): never in a snapshot, never touched.
DIRTY_IGNORED = ("train.log", "ckpt/big.bin")


def dirty_repo(make_repo: Any) -> Any:
    """A repository with one commit and every kind of uncommitted work: unstaged edits (one of a
    new size), a file staged and then edited again, a staged new file, a deletion, untracked
    files (one in a folder with a space and an accent), and ignored files (``DIRTY_IGNORED``).

    Committed: ``model.py`` (``return 1``), ``config.yaml`` (``epochs: 3``, now ``epochs: 10``),
    ``train.py`` (``lr = 0.1``, now ``lr = 0.25``). Untracked: ``notes.txt`` (``untracked``).
    """
    repo = make_repo(
        {
            "model.py": "def model():\n    return 1\n",
            "config.yaml": "epochs: 3\n",
            "train.py": "lr = 0.1\n",
            "gone.txt": "to be deleted\n",
            "staged.txt": "v1\n",
            ".gitignore": "*.log\nckpt/\n",
        }
    )
    repo.write("config.yaml", "epochs: 10\n")
    repo.write("train.py", "lr = 0.25\n")
    repo.write("staged.txt", "v2 staged\n")
    repo.git("add", "staged.txt")
    repo.write("staged.txt", "v3 unstaged on top\n")  # staged and unstaged differ
    repo.write("new_staged.py", "x = 1\n")
    repo.git("add", "new_staged.py")
    (repo.path / "gone.txt").unlink()
    repo.write("notes.txt", "untracked\n")
    repo.write("untracked dir/notes é.txt", "untracked\n")
    repo.write("train.log", "ignored\n")
    repo.write("ckpt/big.bin", b"\0" * 100)
    return repo


def training_project(make_repo: Any, script: Path) -> Any:
    """A repository holding the training ``script`` (by its name), ``model.py`` committed as
    ``layers = 2`` and now ``layers = 3``, and an untracked ``notes.txt``: a project whose
    job runs the script, to be snapshotted or copied without ``.git``."""
    repo = make_repo({"model.py": "layers = 2\n", script.name: script.read_text()})
    repo.write("model.py", "layers = 3\n")
    repo.write("notes.txt", "untracked\n")
    return repo


def snapshot_view(repo: Any) -> dict[str, tuple[str, bytes]]:
    """The working tree as a snapshot holds it: every file but the ignored ones."""
    listed = repo.git("ls-files", "-z", "--others", "--ignored", "--exclude-standard")
    ignored = set(listed.split("\0")) - {""}
    return {k: v for k, v in repo.worktree().items() if k not in ignored}


def user_state(repo: Any, *, big: Optional[int] = None) -> dict[str, Any]:
    """What a user would call 'my state': every file, HEAD, and the staged/unstaged split.
    ``big``: files of that many bytes or more are compared by ``identity`` (never read)."""
    return {
        "files": repo.worktree() if big is None else _files_by_identity(repo.path, big),
        "head": repo.git("rev-parse", "-q", "--verify", "HEAD", check=False),
        "branch": repo.git("symbolic-ref", "-q", "HEAD", check=False),
        "index": repo.git("ls-files", "-s"),
        "staged": repo.git("diff", "--cached", "--binary"),
        "unstaged": repo.git("diff", "--binary"),
        "status": repo.git("status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "stash": repo.git("stash", "list"),
        "branches": repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
    }


def _files_by_identity(top: Path, big: int) -> dict[str, tuple[str, Any]]:
    """Every file outside .git: small ones by mode and content, big ones by identity."""
    files: dict[str, tuple[str, Any]] = {}
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not (root == str(top) and d == ".git")]
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, top)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                files[rel] = ("link", os.readlink(full))
            elif st.st_size >= big:
                files[rel] = ("big", identity(full))
            else:
                files[rel] = (oct(st.st_mode), Path(full).read_bytes())
    return files


#: When racy_edit's files were last written, as far as git can tell (long ago: 2020-09-13).
RACY_MOMENT_NS = 1_600_000_000 * 10**9


def racy_edit(repo: Any, rel: str, content: bytes) -> None:
    """Edit committed file ``rel`` so that only git's "racy git" check can tell it changed.

    The new content has the old size, and the file gets back the mtime the index caches for
    it; the index file gets that very mtime too. git then trusts the cached stat data only if
    the index is *newer* than the file, which it is not: it must compare content. A copy of the
    index with a fresh mtime (not ``shutil.copy2``) would see the file as clean. All times are
    set, never waited for; ctime cannot be set, so the repository ignores it (trustctime).
    """
    path = repo.path / rel
    assert len(path.read_bytes()) == len(content), "a racy edit keeps the size"
    repo.git("config", "core.trustctime", "false")
    os.utime(path, ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    repo.git("update-index", "-q", "--refresh")  # the index caches that mtime, not smudged
    path.write_bytes(content)
    os.utime(path, ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    os.utime(repo.path / ".git" / "index", ns=(RACY_MOMENT_NS, RACY_MOMENT_NS))
    assert repo.git("diff-files", "--name-only", check=False) == rel, "git must see the edit"


def clone(bundle: PathLike, dest: Path) -> Path:
    """``git clone`` a bundle (checking out its HEAD) the way a user would."""
    subprocess.run(["git", "clone", "-q", str(bundle), str(dest)], check=True, capture_output=True)
    return dest


def git(repo: PathLike, *args: str) -> str:
    """``git ARGS`` in ``repo``; its stripped output."""
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def bundle_of(repo_path: PathLike, out: Path) -> tuple[bytes, str]:
    """``git bundle create out HEAD`` in a repo; the bundle's bytes and HEAD's commit id."""
    subprocess.run(
        ["git", "bundle", "create", "-q", str(out), "HEAD"],
        cwd=repo_path,
        check=True,
        capture_output=True,
    )
    return out.read_bytes(), git(repo_path, "rev-parse", "HEAD")


def sha256_file(path: PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_pty(leader: int) -> bytes:
    """Everything a child wrote to a pseudo-terminal until it closed it; closes ``leader``."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end (Linux)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks)


# --- large files without writing them ----------------------------------------------------------


def sparse_file(path: PathLike, size: int, mode: Optional[int] = None) -> Path:
    """A file of ``size`` bytes that takes no disk space (``truncate``): a checkpoint or a run's
    data where the content does not matter, so that tests with gigabytes stay fast."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    if mode is not None:
        path.chmod(mode)
    return path


def identity(path: PathLike) -> tuple[int, int, int, int]:
    """What shows a file was left untouched: inode, mode, mtime (ns) and size (never follows a
    symbolic link)."""
    st = os.lstat(path)
    return st.st_ino, st.st_mode, st.st_mtime_ns, st.st_size


def objects_size(repo_path: PathLike) -> int:
    """Bytes of the repository's object store (``git count-objects -v``: loose and packed)."""
    out = git(repo_path, "count-objects", "-v")
    fields = dict(line.split(": ") for line in out.splitlines())
    return (int(fields["size"]) + int(fields["size-pack"])) * 1024


# --- counting git runs and disk use -----------------------------------------------------------


def git_logging_wrapper(folder: Path, what: str = "rank=${RANK:-none}") -> Path:
    """A ``git`` to put first on PATH: it logs ``what`` (shell words: by default the torchrun
    rank of whoever ran it, ``none`` outside torchrun; ``pid=$PPID`` names the process), then
    runs the real git. Returns the log file."""
    real = shutil.which("git")
    assert real is not None
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "git"
    log = folder / "calls.log"
    wrapper.write_text(f'#!/bin/sh\necho "{what}" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return log


def git_calls(log: Path) -> list[str]:
    """What ``git_logging_wrapper``'s log holds: one ``rank=...`` per git run."""
    return log.read_text().split() if log.exists() else []


def disk_usage(*paths: PathLike) -> int:
    """Bytes on disk of ``paths`` together, as ``du`` counts them (a hard-linked file once)."""
    out = subprocess.run(
        ["du", "-c", "-B1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1].split()[0])


# --- bounded runs (issue 23): memory capped, ended within a generous bound ---------------------

#: A capped command's address space, at most: a read that is not bounded runs out of it at once.
MEMORY_CAP = 1536 << 20
#: "Ended" means within this many seconds (generous: the machine is shared).
ENDED = 150


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def jellyml_capped(
    *args: str, cwd: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """The installed CLI under ``MEMORY_CAP`` (``RLIMIT_AS``, git's processes included), output
    piped; it must end within ``ENDED`` seconds."""
    return subprocess.run(
        [*cli_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "JELLYML_DISABLE_PROGRESS_BARS": "1", **(env or {})},
        preexec_fn=_limit_memory,
        timeout=ENDED,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """``proc`` failed with one ``error:`` line on stderr holding each of ``phrases``."""
    err = proc.stderr
    assert proc.returncode != 0, (proc.returncode, proc.stdout[:2000], err[:2000])
    assert err.startswith("error: ") and err.count("\n") == 1, err[:2000]
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err[:2000]
    return err


def peak_rss_of_cli(*args: str, cwd: PathLike, stdout: Any) -> tuple[int, int]:
    """Run the CLI's ``main`` in a fresh interpreter (a real process, as the script runs it)
    and return (exit code, that process's peak RSS in bytes; its git children not counted).
    The peak is the kernel's ``VmHWM``: ``ru_maxrss`` would carry over the parent's (this test
    process's) peak, which Linux keeps across fork and exec."""
    code = (
        "import sys\n"
        "from jellyml.cli.main import main\n"
        "rc = main(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "sys.stderr.write(f'PEAK {int(status) * 1024}\\n')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=ENDED,
        check=False,
    )
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK ")]
    assert peak, proc.stderr
    return proc.returncode, int(peak[-1].split()[1])
