"""Dropping our two keys from a ``torch.save`` ``data.pkl`` without unpickling it.

``data.pkl`` is a pickle (protocol 2 by default) whose top-level object is the dict passed to
``torch.save``; tensors reference their storages (``data/<key>``) through persistent ids. The
opcodes are walked with ``pickletools.genops`` (which only decodes, never executes), the stack
is tracked by each opcode's documented effect, and the top-level dict's ``SETITEM(S)`` tell
which opcode span builds each key and value. Our two pairs' spans are cut out; nothing else
changes, so every other key loads exactly as before.

Two things could break by cutting: a later opcode may fetch from the memo an object first made
inside a cut span (torch memoizes ``_rebuild_tensor_v2``, ``'storage'``, ``'cpu'``...). Such an
object, when made by one self-contained opcode (a ``GLOBAL``, a string, a number), is made again
at its first fetch instead (``op PUT`` for ``GET``: the same object on the stack, memoized under
the same index); anything else is refused. Pickles that number
their memo implicitly (protocol 4's ``MEMOIZE``, ``FRAME``) are refused too: cutting would shift
every later index. Refusing is always safe: nothing is written.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import format as fmt
from ..errors import PickleStripError as PickleStripError  # re-exported

_OURS = frozenset({fmt.SNAPSHOT_KEY, fmt.METADATA_KEY})
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_STRINGS = frozenset(
    {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
     "SHORT_BINSTRING"}
)  # fmt: skip
#: Opcodes that make one object from nothing on the stack: safe to replay on their own.
_ATOMIC = _STRINGS | frozenset(
    {"GLOBAL", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
     "BINFLOAT", "NONE", "NEWTRUE", "NEWFALSE", "EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT"}
)  # fmt: skip
_REFUSED = frozenset({"MEMOIZE", "FRAME"})


@dataclass
class _Item:
    """A stack item: the index of the first opcode that built it, and (for a tuple made by
    TUPLE, the persistent id's shape) the starts of its elements."""

    start: int
    parts: list[int] = field(default_factory=list)


@dataclass
class _Mark:
    start: int


@dataclass
class _Walk:
    data: bytes
    ops: list[tuple[Any, Any, int]]
    ends: list[int]
    #: The object ``torch.save`` was given: the first item pushed on an empty stack.
    top: Optional[_Item] = None
    #: memo index -> string, for keys and storage names fetched with a GET
    memo_strings: dict[int, str] = field(default_factory=dict)
    #: (first op index, end op index) of each of our top-level pairs
    cuts: list[tuple[int, int]] = field(default_factory=list)
    #: (op index of a BINPERSID, the storage key it names)
    storages: list[tuple[int, str]] = field(default_factory=list)

    def op_bytes(self, i: int) -> bytes:
        return self.data[self.ops[i][2] : self.ends[i]]


@dataclass(frozen=True)
class Stripped:
    """The rewritten pickle, the storages only the removed values used, the keys removed."""

    data: bytes
    dropped_storages: frozenset[str]
    removed_keys: tuple[str, ...]


def strip_pickle(data: bytes) -> Stripped:
    """``data`` without our two top-level keys (``PickleStripError`` if it cannot be done)."""
    walk = _walk(data)
    if not walk.cuts:
        return Stripped(data, frozenset(), ())
    removed = tuple(sorted(_key_at(walk, start) or "" for start, _end in walk.cuts))
    cut_ops = {i for start, end in walk.cuts for i in range(start, end)}
    kept_storages = {key for i, key in walk.storages if i not in cut_ops}
    dropped = {key for i, key in walk.storages if i in cut_ops} - kept_storages
    replace = _replacements(walk, cut_ops)
    out = bytearray()
    for i in range(len(walk.ops)):
        if i not in cut_ops:
            out += replace.get(i) or walk.op_bytes(i)
    return Stripped(bytes(out), frozenset(dropped), removed)


def _walk(data: bytes) -> _Walk:
    try:
        ops = [(op, arg, int(pos or 0)) for op, arg, pos in pickletools.genops(data)]
    except (ValueError, EOFError) as exc:
        raise PickleStripError(f"its data.pkl is not a valid pickle ({exc})") from None
    if not ops or ops[-1][0].name != "STOP" or ops[-1][2] + 1 != len(data):
        raise PickleStripError("its data.pkl does not end where a pickle ends")
    ends = [ops[i + 1][2] for i in range(len(ops) - 1)] + [len(data)]
    walk = _Walk(data, ops, ends)
    stack: list[Any] = []
    for i, (op, _arg, _pos) in enumerate(ops):
        if op.name in _REFUSED:
            raise PickleStripError("it was saved with pickle protocol 4 or newer")
        _note_memo(walk, i)
        popped, made = _apply(op, stack, i)
        if op.name in ("SETITEM", "SETITEMS") and popped and popped[0] is walk.top:
            _note_pairs(walk, op.name, popped, i)
        if op.name in ("BINPERSID", "PERSID") and popped:
            _note_storage(walk, popped[0], i)
        if not stack and len(made) == 1 and isinstance(made[0], _Item):
            walk.top = made[0]  # what sits at the bottom is the object being saved
        stack.extend(made)
    return walk


def _apply(op: Any, stack: list[Any], i: int) -> tuple[list[Any], list[Any]]:
    """Pop what ``op`` consumes and return (what it popped, what it pushes)."""
    before = op.stack_before
    if pickletools.markobject in before:
        at = len(stack) - 1  # the last mark: only the frame above it is looked at
        while at >= 0 and not isinstance(stack[at], _Mark):
            at -= 1
        if at < 0:
            raise PickleStripError("its data.pkl pops a mark it never pushed")
        mark = stack[at]
        frame = stack[at + 1 :]
        del stack[at:]
        lead = before.index(pickletools.markobject)
        if lead > len(stack):
            raise PickleStripError("its data.pkl pops more than it pushed")
        pre = stack[len(stack) - lead :]
        del stack[len(stack) - lead :]
        popped: list[Any] = [*pre, frame]
        starts = [p.start for p in pre] + [mark.start]
    else:
        count = len(before)
        if count > len(stack):
            raise PickleStripError("its data.pkl pops more than it pushed")
        popped = stack[len(stack) - count :]
        del stack[len(stack) - count :]
        starts = [p.start for p in popped]
    start = min(starts) if starts else i
    made: list[Any] = []
    for kind in op.stack_after:
        if kind is pickletools.markobject:
            made.append(_Mark(i))
        else:
            parts = [p.start for p in popped[-1]] if op.name == "TUPLE" else []
            made.append(_Item(start, parts))
    return popped, made


def _note_memo(walk: _Walk, i: int) -> None:
    op, arg, _pos = walk.ops[i]
    if op.name in _PUTS and i > 0:
        prev, prev_arg, _ = walk.ops[i - 1]
        if prev.name in _STRINGS and isinstance(prev_arg, (str, bytes)):
            text = prev_arg if isinstance(prev_arg, str) else prev_arg.decode("latin-1")
            walk.memo_strings[int(arg)] = text


def _note_pairs(walk: _Walk, name: str, popped: list[Any], i: int) -> None:
    items = popped[1:] if name == "SETITEM" else popped[1]
    for at in range(0, len(items) - 1, 2):
        key = items[at]
        if _key_at(walk, key.start) not in _OURS:
            continue
        nxt = items[at + 2] if at + 2 < len(items) else None
        end = i + 1 if name == "SETITEM" else (nxt.start if nxt is not None else i)
        walk.cuts.append((key.start, end))


def _key_at(walk: _Walk, index: int) -> Optional[str]:
    op, arg, _pos = walk.ops[index]
    if op.name in _STRINGS and isinstance(arg, str):
        return arg
    if op.name in _GETS:
        return walk.memo_strings.get(int(arg))
    return None


def _note_storage(walk: _Walk, pid: Any, i: int) -> None:
    if isinstance(pid, _Item) and len(pid.parts) >= 3:
        key = _key_at(walk, pid.parts[2])
        if key is not None:
            walk.storages.append((i, key))
            return
    raise PickleStripError("a tensor's storage reference is not in the form torch writes")


def _replacements(walk: _Walk, cut_ops: set[int]) -> dict[int, bytes]:
    """For each memo entry made inside a cut and fetched after it: its first fetch, replaced
    by the opcode that made it and the same PUT (the same object, pushed and memoized again;
    torch's weights-only unpickler has no POP, so it cannot be made in the cut's place)."""
    made_at: dict[int, int] = {}
    for i in sorted(cut_ops):
        op, arg, _pos = walk.ops[i]
        if op.name in _PUTS:
            made_at[int(arg)] = i
    replace: dict[int, bytes] = {}
    for i, (op, arg, _pos) in enumerate(walk.ops):
        if i in cut_ops or op.name not in _GETS or int(arg) not in made_at:
            continue
        put = made_at.pop(int(arg))  # later fetches find it memoized again
        maker = walk.ops[put - 1][0].name if put > 0 else ""
        if put - 1 not in cut_ops or maker not in _ATOMIC:
            raise PickleStripError("another value reuses an object built inside the snapshot")
        replace[i] = walk.op_bytes(put - 1) + walk.op_bytes(put)
    return replace
