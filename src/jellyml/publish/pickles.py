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
import pickletools
from dataclasses import dataclass

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
