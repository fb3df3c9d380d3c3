"""A snapshot made once, at submit time, used on every worker: ``create_snapshot(from_file=...)``
and ``JELLYML_SNAPSHOT``.

Clusters often run a copy of the code without its repository: Ray's job submission drops
``.git`` (and ignored files) from the uploaded working directory, SLURM and Kubernetes jobs run
from a copy. There the snapshot is made beforehand, where the repository is (``jellyml snapshot
-o run.jelly``), and the workers read it from that file: no git runs on them.

The copy on a worker may not be the code the snapshot holds (an edit after the snapshot, a
stale copy). So the worker's files are compared with the snapshot's tree, by content, without
git: the tree is read from the bundle's pack in Python (``gitcore.pack``), and each file the
snapshot lists gets git's blob id computed in Python (a file whose size differs from the
blob's, when the pack tells it, is not even read). Where they differ, one ``SnapshotWarning``
of one line says how many and names a few; where they match, nothing is said.
"""

from __future__ import annotations

import os
import stat
from typing import Any, Optional, Union

from .. import settings
from ..gitcore.pack import PackError, TreeFile, blob_id, bundle_tree
from ..text import clean
from ..warn import warn
from .parts import SnapshotParts, bundle_tensor_bytes
from .which import entry_script

PathLike = Union[str, "os.PathLike[str]"]
#: How many differing files the warning names.
NAMED = 3
#: Folders above the worker's code folder tried as the copy's top (a script in ``scripts/``).
_LEVELS_UP = 3
_GITLINK, _SYMLINK = "160000", "120000"


def chosen_file(from_file: Optional[PathLike]) -> Optional[str]:
    """The snapshot file to use: ``from_file`` when given, else ``JELLYML_SNAPSHOT``, else None
    (make the snapshot with git)."""
    if from_file is not None:
        return os.fspath(from_file)
    return settings.snapshot_file()


def load(
    name: str,
    *,
    code_dir: Optional[str] = None,
    out_git_bundle_path: Optional[str] = None,
    storage_options: Optional[dict[str, Any]] = None,
) -> SnapshotParts:
    """The snapshot held by ``name`` (a ``.jelly`` file, any checkpoint carrying a snapshot, a
    folder or a URL of one), as bytes, after comparing it with the files in ``code_dir``.

    The bundle's sha256 is checked as it is read; the metadata is kept byte for byte (it
    describes where and when the snapshot was made). ``code_dir`` defaults to the entry
    script's folder, else the current directory. Raises the reader's ``ModelFileError``s.
    """
    from ..read.reader import read_snapshot
    from .parts import copy_out, encode_metadata

    found = read_snapshot(name, storage_options=storage_options)
    metadata, metadata_sha256 = encode_metadata(found.metadata or {})
    with found.extracted_bundle() as bundle:
        snapshot = bundle_tensor_bytes(bundle, found.commit or _tip(bundle), metadata_sha256)
        if out_git_bundle_path is not None:
            copy_out(bundle, out_git_bundle_path)
    bundle_bytes = memoryview(snapshot)[len(snapshot) - found.bundle_size :]
    warn_if_different(name, bundle_bytes, code_dir)
    return SnapshotParts(snapshot, metadata)


def _tip(bundle: str) -> str:
    from ..gitcore.unpack import MAX_HEADER, parse_bundle_header

    with open(bundle, "rb") as f:
        return parse_bundle_header(f.read(MAX_HEADER))[0].tip


def warn_if_different(name: str, bundle: Any, code_dir: Optional[str]) -> None:
    """One ``SnapshotWarning`` (one line) if the files here differ from the snapshot's tree."""
    try:
        tree = bundle_tree(bytes(bundle))
    except PackError:
        return  # a pack this reader cannot follow: nothing to compare, and nothing is wrong
    hash_name = "sha256" if tree and len(next(iter(tree.values())).oid) == 64 else "sha1"
    top, prefix = code_top(_start(code_dir), tree)
    differ = different_files(top, prefix, tree, hash_name)
    if not differ:
        return
    listed = len([p for p in tree if p.startswith(prefix) and tree[p].mode != _GITLINK])
    named = ", ".join(_show(path) for path in differ[:NAMED])
    more = f" and {len(differ) - NAMED} more" if len(differ) > NAMED else ""
    warn(
        f"JellyML: {len(differ)} of the {listed} files of the snapshot in {_show(name)} "
        f"differ from the files in {_show(top)} ({named}{more}); checkpoints record the "
        "snapshot's code, not these files."
    )


def _start(code_dir: Optional[str]) -> str:
    if code_dir is not None:
        return os.path.abspath(os.path.expanduser(code_dir))
    script = entry_script()
    return os.path.dirname(script) if script else os.getcwd()


def code_top(start: str, tree: dict[bytes, TreeFile]) -> tuple[str, bytes]:
    """Where the copy of the snapshot's code is: a folder (``start`` or one of its parents, as
    a script may live in a subfolder) and the snapshot's folder it is a copy of (``b""`` for
    the whole repository; ``b"src/"`` when only ``src`` was copied). The pair whose names
    overlap most wins; ties go to the whole repository, then to the nearest folder."""
    children = _children(tree)
    best: tuple[int, str, bytes] = (-1, start, b"")
    folder = start
    for _ in range(_LEVELS_UP + 1):
        names = _listdir(folder)
        for prefix, kids in children.items():
            score = len(kids & names)
            if score > best[0] or (score == best[0] and not prefix and best[2]):
                best = (score, folder, prefix)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return best[1], best[2]


def _children(tree: dict[bytes, TreeFile]) -> dict[bytes, set[bytes]]:
    """Each folder of the tree (``b""``, ``b"src/"``, ...) -> the names directly in it."""
    children: dict[bytes, set[bytes]] = {b"": set()}
    for path in tree:
        parts = path.split(b"/")
        for depth in range(len(parts)):
            prefix = b"".join(p + b"/" for p in parts[:depth])
            children.setdefault(prefix, set()).add(parts[depth])
    return children


def _listdir(folder: str) -> set[bytes]:
    try:
        return set(os.listdir(os.fsencode(folder)))
    except OSError:
        return set()


def different_files(
    top: str, prefix: bytes, tree: dict[bytes, TreeFile], hash_name: str
) -> list[bytes]:
    """The snapshot's files under ``prefix`` that are missing in ``top`` or hold other bytes
    (submodules are not compared; a symlink only where the copy kept it a symlink)."""
    differ = []
    root = os.fsencode(top)
    for path in sorted(p for p in tree if p.startswith(prefix)):
        wanted = tree[path]
        if wanted.mode == _GITLINK:
            continue
        if not _same(os.path.join(root, path[len(prefix) :]), wanted, hash_name):
            differ.append(path)
    return differ


def _same(local: bytes, wanted: TreeFile, hash_name: str) -> bool:
    try:
        fd = os.open(local, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # missing, unreadable, or a symlink (O_NOFOLLOW)
        return _same_link(local, wanted, hash_name)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        if wanted.mode == _SYMLINK:
            return True  # the copy followed the link (uploads do): what it points to is not ours
        if wanted.size is not None and st.st_size != wanted.size:
            return False
        with os.fdopen(fd, "rb", closefd=False) as f:
            return blob_id(hash_name, f.read()) == wanted.oid
    except OSError:
        return False
    finally:
        os.close(fd)


def _same_link(local: bytes, wanted: TreeFile, hash_name: str) -> bool:
    try:
        return blob_id(hash_name, os.readlink(local)) == wanted.oid
    except OSError:
        return False


def _show(path: Union[str, bytes]) -> str:
    """A path for the one-line warning: decoded, control characters (newlines) shown as
    escapes (``text.clean``, as on every output path)."""
    return clean(os.fsdecode(path) if isinstance(path, bytes) else path)
