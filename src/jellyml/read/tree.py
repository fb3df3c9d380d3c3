"""Looking inside a snapshot without checking it out: the engine of ``ls``, ``cat`` and ``log``
(``diff`` is in ``tree_diff``).

Each call extracts the bundle (only its bytes are read from the checkpoint), indexes it into a
scratch object store in a temporary folder, asks git there, and removes the folder. The user's
repository is only read, and only when a command needs it (``diff`` against the working tree or a
revision, a base commit the bundle does not carry).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import (
    CorruptSnapshotError,
    GitCommandError,
    JellyMLError,
    MissingCommitError,
    NotAFileInSnapshotError,
    ObjectFormatMismatchError,
    PathNotFoundError,
    PathNotInSnapshotError,
    ReadLimitError,
)
from ..gitcore import run as gitrun
from ..gitcore.limits import tree_files
from ..gitcore.repo import Repo, locate
from ..gitcore.store import scratch_store, write_alternates
from ..gitcore.unpack import (
    MAX_HEADER,
    BundleFormatError,
    index_pack,
    missing,
    parse_bundle_header,
)
from ..settings import snapshot_limit
from ..tempdirs import temporary_dir
from ..text import SUBJECT_LIMIT, clean, shorten
from .reader import Snapshot, bundle_chunks, read_snapshot, reopen

_HEX = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
#: Remotes shown from a snapshot's metadata (untrusted: it could list thousands).
MAX_REMOTES = 20
#: The limit on how many commits ``log`` reads (the one on how many files eat writes).
_COUNT_LIMIT = "JELLYML_MAX_FILES"


@dataclass(frozen=True)
class Loaded:
    """A snapshot whose bundle is indexed in the scratch store."""

    model: str
    snapshot: Snapshot
    #: The commit the bundle carries (for a shallow snapshot, a parentless commit).
    tip: str
    #: The commits a thin bundle builds on (not in it).
    prerequisites: tuple[str, ...] = ()

    @property
    def git_meta(self) -> dict[str, Any]:
        """The metadata's ``git`` section; empty when absent or not an object."""
        section = (self.snapshot.metadata or {}).get("git")
        return section if isinstance(section, dict) else {}

    def recorded_commit(self, key: str) -> Optional[str]:
        """A commit id from the metadata, or None when missing or not an object id."""
        value = self.git_meta.get(key)
        return value if isinstance(value, str) and _HEX.match(value) else None

    @property
    def remotes(self) -> dict[str, str]:
        found = self.git_meta.get("remotes")
        if not isinstance(found, dict):
            return {}
        pairs = [(k, v) for k, v in found.items() if isinstance(k, str) and isinstance(v, str)]
        return {shorten(k): shorten(v) for k, v in pairs[:MAX_REMOTES]}

    @property
    def shallow(self) -> bool:
        return self.git_meta.get("history") == "shallow"


@dataclass
class Scratch:
    """A temporary folder whose object store every loaded bundle (and, on demand, the user's
    repository) lends its objects to, read-only, as alternates."""

    tmp: str
    code_dir: Optional[str] = None
    store: str = ""
    #: The hash the loaded bundles name their objects by, and the model of the first one.
    object_format: str = ""
    _first: str = ""
    _lenders: list[str] = field(default_factory=list)
    _repo: Optional[Repo] = None
    _looked: bool = False
    #: Bundles load in threads (``load_all``): the store and its alternates change under it.
    _lock: threading.RLock = field(default_factory=threading.RLock)
    #: Numbers the folder each loaded bundle's store gets.
    _loaded: Iterator[int] = field(default_factory=itertools.count)

    def load_all(self, models: Sequence[str]) -> list[Loaded]:
        """``load`` each model, at the same time: indexing a pack is mostly one core's work,
        so two bundles index in about the time of one on a machine with two."""
        if len(models) < 2:
            return [self.load(model) for model in models]
        import concurrent.futures  # ~5 ms (it imports logging): only when it is used

        with concurrent.futures.ThreadPoolExecutor(len(models)) as pool:
            return list(pool.map(self.load, models))

    def load(self, model: str, snapshot: Optional[Snapshot] = None) -> Loaded:
        """Read ``model``'s snapshot (unless given, read already) and index its bundle,
        streamed from the model file (into a store of its own, so that git does not compare
        its objects with those it has)."""
        snapshot = snapshot or read_snapshot(model)
        folder = os.path.join(self.tmp, f"bundle-{next(self._loaded)}")
        os.mkdir(folder)
        with reopen(snapshot) as source:  # the file itself: a folder's snapshot file, a URL
            chunks = bundle_chunks(snapshot, source)
            raw = b""
            for chunk in chunks:  # the header, and the start of the pack
                raw += chunk
                if b"\n\n" in raw or len(raw) >= MAX_HEADER:
                    break
            try:
                header, length = parse_bundle_header(raw)
            except BundleFormatError as exc:
                raise CorruptSnapshotError(model, str(exc)) from None
            with self._lock:
                if not self.store:
                    self.store = scratch_store(self.tmp, header.object_format)
                    self.object_format, self._first = header.object_format, model
                elif header.object_format != self.object_format:  # diff of two models
                    raise ObjectFormatMismatchError(
                        model, header.object_format, self.object_format, None
                    )
            own = scratch_store(folder, header.object_format)
            loaded = Loaded(model, snapshot, header.tip, tuple(header.prerequisites))
            if header.prerequisites:  # a thin bundle: what it builds on must be at hand
                with self._lock:
                    self._require(loaded, header.prerequisites)
                write_alternates(own, [os.path.join(self.store, "objects")])
            try:
                index_pack(
                    own, itertools.chain([raw[length:]], chunks), thin=bool(header.prerequisites)
                )
            except GitCommandError:
                raise CorruptSnapshotError(model, "its git bundle cannot be read") from None
        self._lend(os.path.join(own, "objects"))
        return loaded

    def repo(self) -> Optional[Repo]:
        """The repository of ``code_dir`` (or the current directory), looked up once; None
        outside any. Only an explicit ``code_dir`` turns a failed lookup into an error."""
        with self._lock:
            if not self._looked:
                self._looked = True
                try:
                    self._repo = _locate(os.path.abspath(self.code_dir or os.getcwd()))
                except JellyMLError:
                    if self.code_dir is not None:
                        raise
            return self._repo

    def borrow(self) -> Optional[Repo]:
        """Lend the repository's objects to the store too; the repository, or None."""
        repo = self.repo()
        if repo is not None:
            if self.object_format and repo.object_format != self.object_format:
                raise ObjectFormatMismatchError(
                    self._first, self.object_format, repo.object_format, repo.top
                )
            self._lend(os.path.abspath(repo.objects))
        return repo

    def has(self, oid: str) -> bool:
        return not missing(self.store, [oid])

    def git(
        self, *args: str, input: Optional[bytes] = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        return gitrun.run(list(args), env={"GIT_DIR": self.store}, input=input, check=check)

    def git_stream(self, *args: str) -> Iterator[bytes]:
        """git's output in the scratch store, in pieces as it comes."""
        return gitrun.stream(list(args), env={"GIT_DIR": self.store})

    def files(self, model: str, treeish: str) -> list[tuple[bytes, bytes]]:
        """Every file of ``treeish`` (of ``model``'s snapshot), recursively: (path, ``mode type
        oid``). Stops with a ``ReadLimitError`` at the first ``JELLYML_MAX_*`` limit passed,
        before the listing grows past it (a git bomb of a few KB names billions)."""
        listed = tree_files(model, treeish, {"GIT_DIR": self.store}, error=ReadLimitError)
        return [(path, meta) for meta, _size, path in listed]

    def _lend(self, objects: str) -> None:
        with self._lock:
            if objects not in self._lenders:
                self._lenders.append(objects)
                write_alternates(self.store, self._lenders)

    def _require(self, loaded: Loaded, oids: list[str]) -> None:
        repo = self.borrow()
        absent = missing(self.store, oids)
        if absent:
            raise MissingCommitError(absent[0], repo.top if repo else None, loaded.remotes)


def _locate(folder: str) -> Optional[Repo]:
    """The repository holding ``folder`` (one ``rev-parse``: its HEAD is not needed)."""
    if not os.path.isdir(folder):
        raise PathNotFoundError(folder)
    return locate(folder)


@contextlib.contextmanager
def scratch(code_dir: Optional[str] = None) -> Iterator[Scratch]:
    """A scratch store in a temporary folder, removed when the block ends."""
    gitrun.check_git()
    with temporary_dir("tree") as tmp:
        yield Scratch(tmp, code_dir)


def snapshot_path(path: str) -> bytes:
    """A path as the snapshot's tree names it: from the repository's top, ``/`` separated,
    without ``./`` or a trailing ``/``; ``b""`` stands for the whole tree."""
    parts = [p for p in os.fsencode(path).replace(os.sep.encode(), b"/").split(b"/")]
    kept = [p for p in parts if p not in (b"", b".")]
    return b"/".join(kept)


def under(path: bytes, prefix: bytes) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + b"/")


def select(model: str, files: Sequence[bytes], paths: Optional[Sequence[str]]) -> list[bytes]:
    """The files under any of ``paths`` (all of them without paths), in tree order; a path
    that matches nothing is an error."""
    if not paths:
        return list(files)
    prefixes = [snapshot_path(p) for p in paths]
    for given, prefix in zip(paths, prefixes):
        if not any(under(f, prefix) for f in files):
            raise PathNotInSnapshotError(model, shorten(given))
    return [f for f in files if any(under(f, p) for p in prefixes)]


_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
#: Printable ASCII but ``"`` and ``\\``: printed as is.
_PLAIN = re.compile(rb"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def quote_path(path: bytes) -> str:
    """``path`` as ``git ls-files`` prints it (``core.quotePath``): as is when it is plain
    printable ASCII, else in double quotes with C escapes (octal for other bytes)."""
    if _PLAIN.fullmatch(path):  # nearly every path: one regex, not a loop over its bytes
        return path.decode("ascii")
    out = []
    for b in path:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def ls_listing(
    model: str,
    paths: Optional[Sequence[str]] = None,
    *,
    nul: bool = False,
    code_dir: Optional[str] = None,
) -> bytes:
    """What ``jellyml ls`` prints: one path a line, quoted as ``git ls-files`` quotes it (or
    raw and NUL-terminated with ``nul``)."""
    with scratch(code_dir) as work:
        loaded = work.load(model)
        files = select(model, [path for path, _meta in work.files(model, loaded.tip)], paths)
    if nul:
        return b"".join(f + b"\0" for f in files)
    return "".join(quote_path(f) + "\n" for f in files).encode()


def ls_snapshot(
    model: str, paths: Optional[Sequence[str]] = None, *, code_dir: Optional[str] = None
) -> list[str]:
    """The files in ``model``'s snapshot (paths from the repository's top, as ``git ls-files``
    lists them), limited to those under ``paths`` when given."""
    return [os.fsdecode(p) for p in ls_snapshot_bytes(model, paths, code_dir=code_dir)]


def ls_snapshot_bytes(
    model: str, paths: Optional[Sequence[str]] = None, *, code_dir: Optional[str] = None
) -> list[bytes]:
    """``ls_snapshot`` with the paths as git stores them (bytes)."""
    with scratch(code_dir) as work:
        loaded = work.load(model)
        return select(model, [path for path, _meta in work.files(model, loaded.tip)], paths)


def cat_snapshot(model: str, path: str, *, code_dir: Optional[str] = None) -> bytes:
    """The bytes of file ``path`` (from the repository's top) in ``model``'s snapshot; for a
    symbolic link, its target (as ``git show`` gives it). ``cat_snapshot_chunks`` gives them in
    pieces, memory flat whatever the file's size."""
    return b"".join(cat_snapshot_chunks(model, path, code_dir=code_dir))


def cat_snapshot_chunks(
    model: str, path: str, *, code_dir: Optional[str] = None
) -> Iterator[bytes]:
    """The bytes of ``cat_snapshot``, in pieces as git gives them (the file is never held
    whole: a 1 KB checkpoint can hold a 1 GiB blob of zeros)."""
    with scratch(code_dir) as work:
        loaded = work.load(model)
        yield from work.git_stream("cat-file", "blob", _blob(work, loaded, path))


def _blob(work: Scratch, loaded: Loaded, path: str) -> str:
    """The id of the blob at ``path`` in the snapshot; a folder, a submodule or a missing
    path is an error naming it."""
    rel = snapshot_path(path)
    shown = shorten(path)
    if not rel:
        raise NotAFileInSnapshotError(loaded.model, shown or ".", "folder")
    if b"\n" in rel or b".." in rel.split(b"/"):
        # cat-file --batch-check cannot be asked for the first; git refuses the second (and
        # no snapshot has a path with either).
        raise PathNotInSnapshotError(loaded.model, shown)
    query = loaded.tip.encode() + b":" + rel + b"\n"
    fields = work.git("cat-file", "--batch-check", input=query).stdout.split()
    if len(fields) == 3 and fields[1] == b"blob":
        return fields[0].decode("ascii")
    if len(fields) == 3 and fields[1] == b"tree":
        raise NotAFileInSnapshotError(loaded.model, shown, "folder")
    listed = work.git("ls-tree", "-z", loaded.tip, "--", rel.decode("utf-8", "surrogateescape"))
    if listed.stdout.split(b" ", 2)[1:2] == [b"commit"]:
        raise NotAFileInSnapshotError(loaded.model, shown, "submodule")
    raise PathNotInSnapshotError(loaded.model, shown)


@dataclass(frozen=True)
class LogEntry:
    commit: str
    #: The commit id abbreviated as git does (unique in the snapshot).
    short: str
    #: The first line of the message, control characters shown as escapes (it is
    #: untrusted), cut at ``text.SUBJECT_LIMIT`` unless asked for all of it.
    subject: str


@dataclass(frozen=True)
class SnapshotLog:
    """The history a snapshot's bundle carries, newest first, and where the rest of it is."""

    model: str
    entries: list[LogEntry]
    #: The bundle holds the snapshot's tree only, as a parentless commit (``history="shallow"``).
    shallow: bool
    #: The snapshot commit's real id (for a shallow snapshot, not the commit the bundle holds).
    commit: Optional[str]
    base_commit: Optional[str]
    remotes: dict[str, str]


def log_snapshot(
    model: str,
    *,
    max_count: Optional[int] = None,
    code_dir: Optional[str] = None,
    full: bool = False,
) -> SnapshotLog:
    """The commits ``model``'s bundle carries, newest first (``git log``'s order). Subjects are
    cut at ``text.SUBJECT_LIMIT`` characters (their length said) unless ``full``; more commits
    than ``JELLYML_MAX_FILES`` (a crafted history) stop it with a ``ReadLimitError``."""
    limit = snapshot_limit(_COUNT_LIMIT)
    with scratch(code_dir) as work:
        loaded = work.load(model)
        count = [f"--max-count={max_count}"] if max_count is not None else []
        argv = ["log", "-z", "--format=%H%x1f%h%x1f%s", *count, loaded.tip]
        entries: list[LogEntry] = []
        for record in gitrun.stream_z(argv, env={"GIT_DIR": work.store}):
            if 0 < limit <= len(entries):
                raise ReadLimitError(model, "commits", len(entries) + 1, limit, _COUNT_LIMIT)
            commit, short, subject = record.decode("utf-8", "replace").split("\x1f", 2)
            shown = clean(subject) if full else shorten(subject, SUBJECT_LIMIT)
            entries.append(LogEntry(commit, short, shown))
    return SnapshotLog(
        model=model,
        entries=entries,
        shallow=loaded.shallow,
        commit=loaded.snapshot.commit or loaded.tip,
        base_commit=loaded.recorded_commit("base_commit"),
        remotes=loaded.remotes,
    )
