"""``jellyml scan --secrets``: the credentials a checkpoint would publish, found by looking
inside its snapshot (a pack is zlib-compressed: byte-level scanners see nothing in it).

For each checkpoint that ``scan`` finds, its bundle is indexed into a scratch object store
(``read.tree``, streamed, with the reader's limits) and searched with the rules of ``rules``:

- every blob of the history the bundle carries (``git log --raw``, oldest first), so a key
  committed and deleted since is found with the commit that added it; a finding still in the
  snapshot's tree is ``tree``, one only in the past ``history``;
- files named like credential stores (the names a snapshot leaves out by default);
- the metadata (command line, remotes, environment paths), every string in it;
- for every ``torch.save`` pickle (and plain pickle) file: the globals it imports, classified
  as picklescan does (``pickles``), never unpickled;
- a checkpoint that cannot be read whole (damaged) is a finding of its own: its bytes may
  still hold code.

Bounds: blobs over ``MAX_BLOB`` and binary blobs (a NUL in their first 8,000 bytes, as git
grep decides) are not searched; a history of more than ``MAX_FILES`` file versions or
``MAX_BYTES`` bytes stops there, with a ``scan-incomplete`` finding saying so.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

from ..errors import JellyMLError
from ..gitcore import run as gitrun
from . import rules

MAX_BLOB = 8 * 1024 * 1024
MAX_FILES = 2_000_000
MAX_BYTES = 4 * 1024 * 1024 * 1024
_BINARY_PROBE = 8000
#: Where a finding is.
TREE, HISTORY, METADATA, PICKLE, FILE = "tree", "history", "metadata", "pickle", "file"
#: Levels (SARIF's): errors fail ``--check``; notes (an unknown pickle global) do not.
ERROR, WARNING, NOTE = "error", "warning", "note"
IGNORE_FILE = ".jellyml-scan-ignore"


@dataclass(frozen=True)
class Finding:
    """One thing found in one checkpoint."""

    rule: str
    #: The checkpoint file or folder it was found in (as it was named or walked).
    checkpoint: str
    where: str
    #: A path in the snapshot's tree (``tree``/``history``), a metadata field, a pickle entry.
    path: Optional[str] = None
    line: Optional[int] = None
    #: The commit of the snapshot's bundle where it first appears.
    commit: Optional[str] = None
    #: The match, redacted (first and last 2 characters), or a pickle global's name.
    match: Optional[str] = None
    level: str = ERROR
    message: str = ""

    @property
    def fingerprint(self) -> str:
        """Stable between runs, like gitleaks': ``commit:path:rule:line``."""
        line = self.match if self.where == PICKLE else (self.line or 0)
        return f"{self.commit or '-'}:{self.path or '-'}:{self.rule}:{line}"

    @property
    def location(self) -> str:
        """``path:line`` (or what stands for it)."""
        return f"{self.path}:{self.line}" if self.line else (self.path or self.checkpoint)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}


@dataclass
class SecretScan:
    """What ``scan --secrets`` found: its findings, and those the allow-list hid."""

    findings: list[Finding] = field(default_factory=list)
    ignored: list[Finding] = field(default_factory=list)
    #: Every checkpoint looked at, and whether it carries a snapshot.
    checkpoints: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether ``--check`` fails: any finding above a note."""
        return any(f.level != NOTE for f in self.findings)


def scan_secrets(
    paths: Sequence[str],
    *,
    storage_options: Optional[Mapping[str, Any]] = None,
    ignore: Iterable[str] = (),
) -> SecretScan:
    """Search every checkpoint under ``paths``; findings whose fingerprint is in ``ignore``
    are set apart (``SecretScan.ignored``)."""
    from .scan import scan

    allowed = set(ignore)
    result = SecretScan()
    for entry in scan(paths, storage_options=storage_options):
        result.checkpoints.append((entry.path, entry.snapshot))
        for found in _checkpoint_findings(entry, storage_options):
            (result.ignored if found.fingerprint in allowed else result.findings).append(found)
    return result


def read_ignore_file(path: str) -> list[str]:
    """The fingerprints of an allow-list file: one a line; blank lines and ``#`` comments
    skipped (gitleaks' ``.gitleaksignore``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


def _checkpoint_findings(entry: Any, storage_options: Optional[Mapping[str, Any]]) -> list[Finding]:
    found: list[Finding] = []
    if entry.problem and entry.snapshot:
        said = str(entry.problem)
        why = said if said.startswith("damaged") else f"damaged, may hold a snapshot: {said}"
        found.append(Finding(rules.DAMAGED, entry.path, FILE, message=why))
    elif entry.snapshot:
        found += snapshot_findings(entry.path, storage_options)
    for file in _pickle_files(entry, storage_options):
        found += pickle_findings(entry.path, file, storage_options)
    return found


# --- the snapshot: history, tree, metadata ------------------------------------------------------


def snapshot_findings(
    name: str, storage_options: Optional[Mapping[str, Any]] = None
) -> list[Finding]:
    """The findings in the snapshot of ``name`` (a file, a folder or a URL)."""
    from ..read.reader import read_snapshot
    from ..read.tree import scratch

    snapshot = read_snapshot(name, storage_options=storage_options)
    found = metadata_findings(name, snapshot.metadata)
    try:
        with scratch() as work:
            loaded = work.load(name, snapshot)
            found += _history_findings(name, work.store, loaded.tip, loaded.prerequisites)
    except JellyMLError as exc:
        found.append(_incomplete(name, f"its bundle could not be searched: {exc}"))
    return found


@dataclass
class _Version:
    """One blob of the history: where it first appears, and whether the tree still has it."""

    path: str
    commit: str
    order: int
    in_tree: bool = False


def _history_findings(
    name: str, store: str, tip: str, prerequisites: Sequence[str]
) -> list[Finding]:
    env = {"GIT_DIR": store}
    widest = _widest_tree(env, tip, prerequisites)
    if widest > MAX_FILES:  # a git bomb: its paths are not listed, each object is searched once
        versions = _objects(env, tip, prerequisites)
        why = f"a commit's tree expands to {widest:,} paths: each file searched once, by one path"
        found = [_incomplete(name, why)]
    else:
        versions, found = _versions(name, env, tip, prerequisites)
        for _path, oid in _tree(env, tip):
            if oid in versions:
                versions[oid].in_tree = True
    found += _credential_files(name, versions)
    budget = MAX_BYTES
    raw: list[tuple[_Version, int, rules.Match]] = []
    batch = _Batch()
    for oid, data in gitrun.cat_blobs(_searchable(env, versions), env=env):
        budget -= len(data)
        if budget < 0:
            found.append(_incomplete(name, f"its history holds over {MAX_BYTES:,} bytes"))
            break
        if b"\0" not in data[:_BINARY_PROBE]:
            batch.add(versions[oid], data)
        if batch.size >= _BATCH:
            raw += batch.search()
    return found + _merge(name, raw + batch.search())


#: Blobs are searched a few MiB at a time, joined: one pass of each rule over many small
#: files, not a Python loop per file (20,000 files: one call per rule instead of 20,000).
_BATCH = 4 * 1024 * 1024
#: Between two blobs of a batch: no rule matches across a NUL (a match that would is dropped).
_SEPARATOR = b"\n\0\n"


class _Batch:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.starts: list[int] = []
        self.versions: list[_Version] = []
        self.size = 0

    def add(self, version: _Version, data: bytes) -> None:
        self.starts.append(self.size)
        self.versions.append(version)
        self.parts.append(data)
        self.size += len(data) + len(_SEPARATOR)

    def search(self) -> list[tuple[_Version, int, rules.Match]]:
        """Every match in the batch, as (the blob's version, line, match in the blob)."""
        import bisect

        joined = _SEPARATOR.join(self.parts)
        found = []
        for match in rules.find(joined):
            at = bisect.bisect_right(self.starts, match.start) - 1
            start, data = self.starts[at], self.parts[at]
            if match.end > start + len(data):
                continue  # across two blobs
            line = data.count(b"\n", 0, match.start - start) + 1
            inner = rules.Match(match.rule, match.start - start, match.end - start, match.secret)
            found.append((self.versions[at], line, inner))
        self.parts, self.starts, self.versions, self.size = [], [], [], 0
        return found


def _versions(
    name: str, env: Mapping[str, str], tip: str, prerequisites: Sequence[str]
) -> tuple[dict[str, _Version], list[Finding]]:
    """Every blob of the history, oldest first, with the path and commit it first came in."""
    args = ["log", "--reverse", "-m", "--raw", "--no-renames", "--no-abbrev", "-z"]
    args += ["--format=%x01%H", tip, *(f"^{oid}" for oid in prerequisites)]
    versions: dict[str, _Version] = {}
    commit, meta = "", b""
    for count, record in enumerate(gitrun.stream_z(args, env=env)):
        if count > 2 * MAX_FILES:
            return versions, [_incomplete(name, f"its history has over {MAX_FILES:,} files")]
        record = record.lstrip(b"\n")
        if record.startswith(b"\x01"):
            commit = record[1:].decode("ascii")
        elif record.startswith(b":"):
            meta = record
        elif meta:
            fields = meta.split()
            oid, status = fields[3].decode("ascii"), fields[4][:1]
            meta = b""
            if status != b"D" and fields[1] != b"160000" and oid not in versions:
                path = os.fsdecode(record)
                versions[oid] = _Version(path, commit, len(versions))
    return versions, []


def _widest_tree(env: Mapping[str, str], tip: str, prerequisites: Sequence[str]) -> int:
    """How many paths the largest commit tree of the history expands to, counted over its
    distinct trees (each read once): a 1 KB git bomb naming 10^7 paths costs a few objects
    here, where listing its paths would take minutes and gigabytes."""
    listed = gitrun.run(
        ["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"], env=env
    ).stdout.split()
    trees = [oid.decode() for oid, kind in zip(listed[::2], listed[1::2]) if kind == b"tree"]
    width = len(tip) // 2  # binary object ids: 20 bytes (sha1) or 32 (sha256)
    entries = {oid: _tree_entries(data, width) for oid, data in gitrun.cat_blobs(trees, env=env)}
    sizes: dict[str, int] = {}

    def size(tree: str, depth: int = 0) -> int:
        if tree not in sizes:
            if depth > 256 or tree not in entries:
                return 0
            sizes[tree] = sum(size(sub, depth + 1) if sub else 1 for sub in entries[tree])
        return sizes[tree]

    args = ["log", "-z", "--format=%T", tip, *(f"^{oid}" for oid in prerequisites)]
    roots = {record.strip().decode() for record in gitrun.stream_z(args, env=env)}
    return max((size(root) for root in roots), default=0)


def _tree_entries(data: bytes, width: int) -> list[str]:
    """A tree's entries: a subtree's id, or "" for anything else (a blob, a link)."""
    found, pos = [], 0
    while pos < len(data):
        space, nul = data.find(b" ", pos), data.find(b"\0", pos)
        if space < 0 or nul < 0:
            break
        mode, oid = data[pos:space], data[nul + 1 : nul + 1 + width]
        found.append(oid.hex() if mode in (b"40000", b"040000") else "")
        pos = nul + 1 + width
    return found


def _objects(env: Mapping[str, str], tip: str, prerequisites: Sequence[str]) -> dict[str, _Version]:
    """Every object of the history once, with the first path git names it by (``rev-list
    --objects``, which never expands a tree twice), credited to the snapshot's commit."""
    args = ["rev-list", "--objects", tip, *(f"^{oid}" for oid in prerequisites)]
    versions: dict[str, _Version] = {}
    for line in gitrun.run(args, env=env).stdout.splitlines()[:MAX_FILES]:
        oid, _, path = line.decode("utf-8", "surrogateescape").partition(" ")
        if path and oid not in versions:
            versions[oid] = _Version(path, tip, len(versions), in_tree=True)
    return versions


def _tree(env: Mapping[str, str], tip: str) -> Iterator[tuple[str, str]]:
    """(path, blob id) of every file of the snapshot's tree."""
    for count, record in enumerate(gitrun.stream_z(["ls-tree", "-r", "-z", tip], env=env)):
        if count > MAX_FILES:
            return
        meta, _, path = record.partition(b"\t")
        yield os.fsdecode(path), meta.split()[-1].decode("ascii")


def _searchable(env: Mapping[str, str], versions: Mapping[str, _Version]) -> list[str]:
    """The blobs small enough to search, oldest first."""
    oids = sorted(versions, key=lambda oid: versions[oid].order)
    reply = gitrun.run(
        ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
        env=env,
        input="".join(f"{oid}\n" for oid in oids).encode("ascii"),
        check=False,
    ).stdout
    sizes = dict(line.split(b" ", 1) for line in reply.splitlines() if b" missing" not in line)
    return [oid for oid in oids if int(sizes.get(oid.encode(), b"0") or 0) <= MAX_BLOB]


def _merge(name: str, raw: list[tuple[_Version, int, rules.Match]]) -> list[Finding]:
    """One finding per secret per path: the commit where it first came in, and (while the tree
    still has it) its line there."""
    groups: dict[tuple[str, bytes, str], list[tuple[_Version, int, rules.Match]]] = {}
    for item in raw:
        version, _line, match = item
        groups.setdefault((match.rule.id, match.secret, version.path), []).append(item)
    found = []
    for (rule_id, secret, path), items in groups.items():
        first = min(items, key=lambda item: item[0].order)
        current = [item for item in items if item[0].in_tree]
        shown = max(current, key=lambda item: item[0].order) if current else first
        rule = rules.BY_ID[rule_id]
        found.append(
            Finding(
                rule_id,
                name,
                TREE if current else HISTORY,
                path,
                shown[1],
                first[0].commit,
                rules.redact(secret),
                message=f"{rule.name} in {path}:{shown[1]}"
                + ("" if current else f" (deleted since; added in {first[0].commit[:12]})"),
            )
        )
    return sorted(found, key=lambda f: (f.where != TREE, f.path or "", f.line or 0, f.rule))


def _credential_files(name: str, versions: Mapping[str, _Version]) -> list[Finding]:
    seen: dict[str, _Version] = {}
    for version in sorted(versions.values(), key=lambda v: v.order):
        if rules.credential_file(version.path):
            old = seen.get(version.path)
            in_tree = version.in_tree or bool(old and old.in_tree)
            seen[version.path] = replace(old or version, in_tree=in_tree)
    return [
        Finding(
            rules.CREDENTIAL_FILE,
            name,
            TREE if v.in_tree else HISTORY,
            path,
            None,
            v.commit,
            message=f"{path} is named like a credential file",
        )
        for path, v in sorted(seen.items())
    ]


def metadata_findings(name: str, metadata: Any) -> list[Finding]:
    """Every string of the metadata (at most a few MiB: the reader's limit) searched."""
    found = []
    for where, text in _strings(metadata, ""):
        data = text.encode("utf-8", "surrogateescape")
        for match in rules.find(data):
            found.append(
                Finding(
                    match.rule.id,
                    name,
                    METADATA,
                    f"metadata:{where}",
                    match=rules.redact(match.secret),
                    message=f"{match.rule.name} in the snapshot's metadata ({where})",
                )
            )
    return found


def _strings(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > 64:
        return
    if isinstance(value, str):
        yield where or ".", value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and len(key) > 16:  # a long key may be a secret itself
                yield from _strings(key, where, depth + 1)
            yield from _strings(item, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(value, list):
        for at, item in enumerate(value):
            yield from _strings(item, f"{where}[{at}]", depth + 1)


def _incomplete(name: str, why: str) -> Finding:
    return Finding(rules.INCOMPLETE, name, FILE, level=WARNING, message=f"scan incomplete: {why}")


# --- pickles ------------------------------------------------------------------------------------


def _pickle_files(entry: Any, storage_options: Optional[Mapping[str, Any]]) -> list[str]:
    """The files of a checkpoint whose pickles are worth decoding: the file itself, or a
    folder's ``torch.save`` files."""
    from ..sources import storage_for

    if entry.kind != "folder":
        return [entry.path]
    storage = storage_for(entry.path, storage_options)
    suffixes = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".metadata")
    return [f.name for f in storage.walk(entry.path) if f.name.lower().endswith(suffixes)]


def pickle_findings(
    checkpoint: str, file: str, storage_options: Optional[Mapping[str, Any]] = None
) -> list[Finding]:
    """The globals that ``file``'s pickles import, other than the safe ones."""
    from .pickles import DANGEROUS, SAFE, pickle_globals, pickles_in

    found = []
    for entry, data in pickles_in(file, storage_options):
        names, _complete = pickle_globals(data)
        for item in names:
            if item.verdict == SAFE:
                continue
            dangerous = item.verdict == DANGEROUS
            found.append(
                Finding(
                    rules.DANGEROUS_PICKLE if dangerous else rules.SUSPICIOUS_PICKLE,
                    checkpoint,
                    PICKLE,
                    entry,
                    match=item.qualified,
                    level=ERROR if dangerous else NOTE,
                    message=f"{entry} imports {item.qualified} ({item.verdict})",
                )
            )
    return found


def fingerprint_hash(finding: Finding) -> str:
    """A short hash of the fingerprint (SARIF's ``partialFingerprints``)."""
    return hashlib.sha256(finding.fingerprint.encode("utf-8")).hexdigest()[:32]
