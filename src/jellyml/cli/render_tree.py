"""Output of ``ls``, ``cat`` and ``log`` (and the bytes ``env`` writes): plain bytes and lines, for
pipes as much as for eyes, so without rich (a colour for commit ids on a terminal only).

What comes from a snapshot is untrusted: paths are quoted as git quotes them (control
characters never reach the terminal), subjects were cleaned by the engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .options import styled

if TYPE_CHECKING:
    from ..read.tree import SnapshotLog

_YELLOW, _RESET = "\x1b[33m", "\x1b[m"


def write_bytes(data: bytes) -> None:
    """Write to stdout; a reader that went away (``| head``) ends the output quietly."""
    write_chunks([data])


def write_chunks(chunks: Iterable[bytes]) -> None:
    """Write each piece to stdout as it comes (memory stays at one piece); a reader that went
    away (``| head``) ends the output quietly."""
    try:
        sys.stdout.flush()
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # Python would complain again when flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def listing(data: bytes) -> None:
    """``ls``'s output, as the engine made it (one quoted path a line, or NUL-terminated)."""
    write_bytes(data)


def snapshot_log(log: SnapshotLog) -> None:
    colour = styled(sys.stdout)
    lines = [
        f"{_YELLOW}{e.short}{_RESET} {e.subject}" if colour else f"{e.short} {e.subject}"
        for e in log.entries
    ]
    if log.shallow:
        lines.append(
            "(shallow snapshot: the model file holds the snapshot's files, not their history)"
        )
        lines.append(f"snapshot commit: {log.commit or '-'}")
        lines.append(f"base commit:     {log.base_commit or '-'}")
        lines += [f"remote {name}: {url}" for name, url in log.remotes.items()]
        if log.base_commit and log.remotes:
            name = next(iter(log.remotes))
            lines.append(f"get the history: git fetch {name} {log.base_commit}")
    write_bytes("".join(line + "\n" for line in lines).encode("utf-8", "replace"))
