"""Small value classes for what the command line reads at start-up, without ``dataclasses``.

``import dataclasses`` imports ``inspect`` (and ``ast``, ``dis``, ``tokenize``), and every
``@dataclass`` compiles its methods when its module loads: together about a tenth of a piped
``jellyml show``. A ``Record`` names its fields in ``__slots__`` and writes its ``__init__``;
equality, hashing and ``repr`` come from here, in field order (``_fields``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see cli/options.py (start-up time)
if TYPE_CHECKING:
    from typing import Any


class Record:
    """A value: compared, hashed and shown by its fields (``_fields``, in order; a subclass
    sets ``__slots__ = _fields``); fields named in ``_hidden`` are neither compared nor shown."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _hidden: tuple[str, ...] = ()

    def _shown(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields if name not in self._hidden)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._shown() == other._shown()

    def __hash__(self) -> int:
        return hash(self._shown())

    def __repr__(self) -> str:
        fields = (f"{n}={getattr(self, n)!r}" for n in self._fields if n not in self._hidden)
        return f"{type(self).__name__}({', '.join(fields)})"
