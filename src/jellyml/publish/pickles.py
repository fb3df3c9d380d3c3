"""The globals a pickle imports, and how dangerous each is: read with ``pickletools``, never
unpickled.

Loading a pickle calls whatever its ``GLOBAL``/``STACK_GLOBAL`` opcodes name: ``os.system``
in a checkpoint runs when someone ``torch.load``s it with ``weights_only=False``. The opcodes
are decoded (``pickletools.genops`` only decodes) and each import is classified as picklescan
does: **safe** (what ``torch.load(weights_only=True)`` allows: storages, tensor rebuilders,
``collections.OrderedDict``, numpy's array rebuilder), **dangerous** (code execution, files,
processes, network: ``builtins.eval``, ``os.*``, ``subprocess.*``, ``runpy.*``, ...), or
**suspicious** (anything else: a class of the user's own, which runs its code when loaded).
"""

from __future__ import annotations

import io
import os
import pickletools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ModelFileError

SAFE, SUSPICIOUS, DANGEROUS = "safe", "suspicious", "dangerous"

#: Modules all of whose globals can run code, touch files or reach the network.
_DANGEROUS_MODULES = frozenset(
    {"os", "nt", "posix", "subprocess", "sys", "socket", "shutil", "runpy", "pty", "pdb", "bdb",
     "webbrowser", "httplib", "http.client", "requests", "requests.api", "aiohttp.client",
     "urllib.request", "pickle", "_pickle", "dill", "code", "codeop", "commands", "importlib",
     "ctypes", "marshal", "multiprocessing", "asyncio", "signal", "tempfile", "glob", "pip",
     "setuptools", "torch.hub", "numpy.testing._private.utils"}
)  # fmt: skip
#: Single globals that can run code.
_DANGEROUS = frozenset(
    {("builtins", name) for name in ("eval", "exec", "execfile", "compile", "open", "getattr",
     "setattr", "delattr", "apply", "__import__", "breakpoint", "input", "globals", "locals",
     "vars", "memoryview")}
    | {("operator", "attrgetter"), ("operator", "methodcaller"), ("functools", "reduce"),
       ("torch.serialization", "load"), ("torch", "load"), ("numpy", "load"),
       ("numpy.lib.npyio", "load"), ("types", "FunctionType"), ("types", "CodeType")}
)  # fmt: skip
#: Globals ``torch.load(weights_only=True)`` allows (the ones torch itself writes).
_SAFE = frozenset(
    {("collections", "OrderedDict"), ("torch", "Size"), ("torch", "device"),
     ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
     ("torch._utils", "_rebuild_tensor_v3"), ("torch._utils", "_rebuild_parameter"),
     ("torch._utils", "_rebuild_parameter_with_state"), ("torch._utils", "_rebuild_qtensor"),
     ("torch._utils", "_rebuild_sparse_tensor"),
     ("torch._utils", "_rebuild_meta_tensor_no_storage"),
     ("torch._tensor", "_rebuild_from_type_v2"), ("torch.nn.parameter", "Parameter"),
     ("torch.storage", "UntypedStorage"), ("torch", "UntypedStorage"),
     ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
     ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
     ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
     ("builtins", "complex"), ("builtins", "bytearray"), ("__builtin__", "set")}
)  # fmt: skip
_TORCH_DTYPES = frozenset(
    {"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
     "bool", "complex64", "complex128", "float", "double", "half", "long", "int", "short"}
)  # fmt: skip
_STRINGS = frozenset(
    {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
     "SHORT_BINSTRING"}
)  # fmt: skip
#: At most this many globals are reported for one pickle (a crafted one could name millions).
MAX_GLOBALS = 1000
#: A pickle larger than this is read only up to it (its globals come first in torch's).
MAX_PICKLE_READ = 256 * 1024 * 1024
#: Pickles read one after the other in one file, at most.
MAX_PICKLES = 8


@dataclass(frozen=True)
class PickleGlobal:
    module: str
    name: str
    verdict: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


def classify(module: str, name: str) -> str:
    """``SAFE``, ``SUSPICIOUS`` or ``DANGEROUS`` for the global ``module.name``."""
    module = "builtins" if module == "__builtin__" else module
    top = module.partition(".")[0]
    if (module, name) in _DANGEROUS or module in _DANGEROUS_MODULES or top in _DANGEROUS_MODULES:
        return DANGEROUS
    if (module, name) in _SAFE:
        return SAFE
    if module == "torch" and (name.endswith("Storage") or name in _TORCH_DTYPES):
        return SAFE
    return SUSPICIOUS


def pickle_globals(data: bytes) -> tuple[list[PickleGlobal], bool]:
    """The distinct globals ``data`` imports, in order, and whether the whole pickle could be
    decoded (a damaged one still reports what came before the damage)."""
    found: dict[tuple[str, str], None] = {}
    memo: dict[int, object] = {}
    recent: list[object] = []  # the last values pushed: STACK_GLOBAL takes two strings
    stream = io.BytesIO(data)
    try:
        # A legacy torch.save file is several pickles one after the other.
        for _ in range(MAX_PICKLES):
            for opcode, arg, _pos in pickletools.genops(stream):
                _note(opcode.name, arg, recent, found)
                _track(opcode.name, arg, memo, recent)
                if len(found) >= MAX_GLOBALS:
                    break
            if stream.tell() >= len(data) or len(found) >= MAX_GLOBALS:
                break
            memo.clear()
    except Exception:  # genops raises ValueError and others on damaged input
        return [PickleGlobal(m, n, classify(m, n)) for m, n in found], False
    return [PickleGlobal(m, n, classify(m, n)) for m, n in found], True


def _note(name: str, arg: object, recent: list[object], found: dict[tuple[str, str], None]) -> None:
    if name in ("GLOBAL", "INST") and isinstance(arg, str):
        module, _, attr = arg.partition(" ")
        found.setdefault((module, attr))
    elif name == "STACK_GLOBAL" and len(recent) >= 2:
        pushed, named = recent[-2], recent[-1]
        if isinstance(pushed, str) and isinstance(named, str):
            found.setdefault((pushed, named))


def _track(name: str, arg: object, memo: dict[int, object], recent: list[object]) -> None:
    """Follow the strings pushed (and memoised, and fetched back) for ``STACK_GLOBAL``."""
    if name in _STRINGS:
        value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
        recent.append(value)
    elif name in ("BINGET", "LONG_BINGET", "GET") and isinstance(arg, int):
        recent.append(memo.get(arg))
    elif name in ("BINPUT", "LONG_BINPUT", "PUT") and isinstance(arg, int) and recent:
        memo[arg] = recent[-1]
        return
    elif name == "MEMOIZE" and recent:
        memo[len(memo)] = recent[-1]
        return
    elif name not in ("FRAME", "PROTO"):
        recent.append(None)
    del recent[:-2]


def pickles_in(
    file: str, storage_options: Optional[Mapping[str, Any]] = None
) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of each pickle in ``file``: a torch zip's ``*.pkl`` entries, or the
    file itself when it starts like a pickle (a legacy ``torch.save``, a ``.pkl``)."""
    from ..containers.torch_zip import FORMAT, TorchZip
    from ..sources import open_source

    try:
        with open_source(file, storage_options) as source:
            if FORMAT.claims(source):
                archive: TorchZip = FORMAT.open(source)
                for _pos, entry in archive._directory.forward():
                    if entry.name.endswith(".pkl") and entry.method == 0:
                        start, _ = archive.data_offset(entry)
                        yield entry.name, source.read_at(start, min(entry.size, MAX_PICKLE_READ))
            elif source.read_at(0, 1) == b"\x80":
                yield os.path.basename(file), source.read_at(0, min(source.size, MAX_PICKLE_READ))
    except ModelFileError:
        return


class Unreadable(Exception):
    """A pickle the symbolic reader does not follow (an opcode it does not model)."""


#: Opcodes that push one value (their argument, or a constant).
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_VALUES = _STRINGS | frozenset(
    {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
     "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
)  # fmt: skip
_MARK = object()


def symbolic(data: bytes, *, limit: int = 10_000_000) -> Any:
    """What the pickle ``data`` would build, with nothing imported or called: a global is
    ``("global", module, name)``, a call (``REDUCE``, ``NEWOBJ``) a ``Call`` (``BUILD``,
    ``SETITEM`` and ``APPEND`` on it recorded), a persistent id ``("pid", id)``; dicts, lists
    and tuples as themselves. Dict order counts (an OrderedDict's does). Two
    pickles that give equal results load as equal objects. Raises ``Unreadable`` for an
    opcode it does not model, or past ``limit`` opcodes."""
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    for count, (opcode, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(data))):
        if count > limit:
            raise Unreadable("too many opcodes")
        name = opcode.name
        if name == "STOP":
            return stack[-1] if stack else None
        _step(name, arg, stack, memo)
    raise Unreadable("no STOP")


def _step(name: str, arg: Any, stack: list[Any], memo: dict[int, Any]) -> None:
    if name in _VALUES:
        stack.append(arg)
    elif name in _CONSTANTS:
        stack.append(_CONSTANTS[name])
    elif name in ("PROTO", "FRAME"):
        return
    elif name in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE"):
        stack.append({"EMPTY_DICT": dict, "EMPTY_LIST": list, "EMPTY_TUPLE": tuple}[name]())
    elif name == "MARK":
        stack.append(_MARK)
    elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
        memo[arg] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("BINGET", "LONG_BINGET", "GET"):
        if arg not in memo:
            raise Unreadable(f"memo {arg} fetched before it was set")
        stack.append(memo[arg])
    elif name in ("GLOBAL", "STACK_GLOBAL"):
        module, attr = arg.split(" ", 1) if name == "GLOBAL" else _pop(stack, 2)
        stack.append(("global", module, attr))
    else:
        _compound(name, arg, stack)


def _compound(name: str, arg: Any, stack: list[Any]) -> None:
    if name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        stack.append(tuple(_pop(stack, int(name[-1]))))
    elif name in ("TUPLE", "LIST", "DICT", "APPENDS", "SETITEMS", "FROZENSET", "ADDITEMS"):
        items = _pop_mark(stack)
        if name == "TUPLE":
            stack.append(tuple(items))
        elif name == "LIST":
            stack.append(list(items))
        elif name == "DICT":
            stack.append(_pairs({}, items))
        elif name == "APPENDS":
            _target(stack, list).extend(items)
        elif name == "SETITEMS":
            _pairs(_target(stack, dict), items)
        else:
            stack.append(("set", tuple(items)) if name == "FROZENSET" else None)
            if name == "ADDITEMS":
                raise Unreadable("ADDITEMS")
    elif name == "APPEND":
        (item,) = _pop(stack, 1)
        _target(stack, list).append(item)
    elif name == "SETITEM":
        key, item = _pop(stack, 2)
        _pairs(_target(stack, dict), [key, item])
    elif name in ("REDUCE", "NEWOBJ"):
        func, args = _pop(stack, 2)
        stack.append(Call(func, args))
    elif name == "BUILD":
        (state,) = _pop(stack, 1)
        _target(stack, Call).state.append(state)
    elif name == "BINPERSID":
        (pid,) = _pop(stack, 1)
        stack.append(("pid", pid))
    elif name == "POP":
        _pop(stack, 1)
    elif name == "POP_MARK":
        _pop_mark(stack)
    elif name == "DUP":
        stack.append(stack[-1])
    else:
        raise Unreadable(f"opcode {name}")


def _pop(stack: list[Any], n: int) -> list[Any]:
    if len(stack) < n or any(item is _MARK for item in stack[-n:]):
        raise Unreadable("stack underflow")
    items = stack[-n:]
    del stack[-n:]
    return items


def _pop_mark(stack: list[Any]) -> list[Any]:
    for at in range(len(stack) - 1, -1, -1):
        if stack[at] is _MARK:
            items = stack[at + 1 :]
            del stack[at:]
            return items
    raise Unreadable("no MARK")


def _target(stack: list[Any], kind: type) -> Any:
    """The object on top of the stack that APPEND/SETITEM/BUILD change (an OrderedDict or a
    list subclass is a call whose result gets the items)."""
    if stack and isinstance(stack[-1], Call) and kind is not Call:
        return stack[-1].items if kind is dict else stack[-1].appended
    if not stack or not isinstance(stack[-1], kind):
        raise Unreadable(f"not a {kind.__name__}")
    return stack[-1]


class Call:
    """What calling a global would make, with what is set on it afterwards: its items
    (SETITEM), appended values (APPEND) and states (BUILD). Equal when all of those are."""

    __slots__ = ("appended", "args", "func", "items", "state")

    def __init__(self, func: Any, args: Any) -> None:
        self.func, self.args = func, args
        self.items: dict[Any, Any] = {}
        self.appended: list[Any] = []
        self.state: list[Any] = []

    def _key(self) -> tuple[Any, ...]:
        return (self.func, self.args, list(self.items.items()), self.appended, self.state)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Call) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Call{self._key()!r}"


def mapping_of(value: Any) -> Optional[dict[Any, Any]]:
    """The keys and values of what a pickle built at its top: a dict, or an OrderedDict."""
    if isinstance(value, dict):
        return value
    if isinstance(value, Call) and not value.appended and not value.state:
        return value.items
    return None


def _pairs(into: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    try:
        for at in range(0, len(items) - 1, 2):
            into[items[at]] = items[at + 1]
    except TypeError:  # an unhashable key (a list): not modelled
        raise Unreadable("unhashable key") from None
    return into
