"""docs/ARCHITECTURE.md is the truth about the tree: every import of ``src/jellyml`` points down
its layers (imports inside functions count), every module has its row, and no module cycle
hides behind a late import. Each failure says exactly what to change."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "jellyml"
DOC = ROOT / "docs" / "ARCHITECTURE.md"

#: Module cycles known and owned elsewhere: eat, incoming and shallow of restore/ (issue 17
#: rewrites restore/). Nothing else may import in a circle, not even through a late import.
KNOWN_CYCLES = [{"restore/eat.py", "restore/incoming.py", "restore/shallow.py"}]
#: The one import that points up, named in docs/ARCHITECTURE.md: diff applies the snapshot's
#: rules for untracked files (issue 17 gives those rules their one home).
KNOWN_UPWARD = {("read/tree_diff.py", "snapshot/guards.py")}
#: CLI modules that still call git themselves (issue 22, point 3: eat's count of changed files
#: moves into the engine with issue 17).
CLI_CALLING_GIT = {"cli/commands/eat.py"}


def _between(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}[^>]*-->(.*?)<!-- /{name} -->", text, re.S)
    assert match, f"docs/ARCHITECTURE.md lost its <!-- {name} --> block"
    return match.group(1)


@cache
def layers() -> dict[str, int]:
    """Each place (a folder ``x/`` or a top-level module ``x.py``) -> its layer, 1 at the top."""
    found: dict[str, int] = {}
    for line in _between(DOC.read_text(), "layers").strip().splitlines():
        number, _, places = line.partition(".")
        for place in re.findall(r"`([^`]+)`", places):
            found[place] = int(number)
    return found


@cache
def modules() -> list[str]:
    return sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py"))


def place_of(module: str) -> str:
    return module.split("/")[0] + "/" if "/" in module else module


def _module_file(dotted: str) -> str | None:
    """``jellyml.read.reader`` -> ``read/reader.py`` (a package: its ``__init__.py``)."""
    parts = dotted.split(".")[1:]
    for candidate in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if candidate.lstrip("/") in modules():
            return candidate.lstrip("/")
    return None


def imports(module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module file) for every import of ``module``, wherever it stands."""
    package = ["jellyml", *module.split("/")[:-1]]
    tree = ast.parse((SRC / module).read_text(), module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "").split(".") if node.module else []
            if node.level:
                base = package[: len(package) - node.level + 1] + base
            base_name = ".".join(base)
            # `from .. import format` imports a module; `from .x import name`, a name of x
            targets = [
                f"{base_name}.{a.name}" if _module_file(f"{base_name}.{a.name}") else base_name
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "jellyml" or target.startswith("jellyml."):
                found = _module_file(target)
                if found is not None:
                    yield node.lineno, found


def test_every_import_points_down_the_layers() -> None:
    order = layers()
    wrong = []
    for module in modules():
        here = place_of(module)
        assert here in order, (
            f"src/jellyml/{module} is in {here}, which docs/ARCHITECTURE.md's layers do not "
            f"name: add `{here}` to the line of the layer it belongs to (and a row per module "
            "to the table of modules)."
        )
        for line, target in imports(module):
            there = place_of(target)
            known = (module, target) in KNOWN_UPWARD
            if there != here and order[there] <= order[here] and not known:
                wrong.append(
                    f"src/jellyml/{module}:{line} imports {target}: {there} is on layer "
                    f"{order[there]}, not below {here} (layer {order[here]})"
                )
    assert wrong == [], "Imports must point down docs/ARCHITECTURE.md's layers:\n" + "\n".join(
        wrong
    )


def test_the_command_line_asks_the_engines_not_git() -> None:
    calling = {
        module
        for module in modules()
        if module.startswith("cli/")
        for _line, target in imports(module)
        if target.startswith("gitcore/")
    }
    assert calling <= CLI_CALLING_GIT, (
        f"{sorted(calling - CLI_CALLING_GIT)} import gitcore/: give the engine (read/, "
        "restore/, publish/) a function that runs git and returns what the command prints."
    )


def test_every_module_has_its_row_and_every_row_its_module() -> None:
    rows = set(re.findall(r"^\| `([^`]+)` \|", _between(DOC.read_text(), "modules"), re.M))
    listed = {m for m in modules() if not (m.endswith("/__init__.py") and "/" in m)}
    folders = {place_of(m) for m in modules() if "/" in m}
    missing = sorted((listed | folders) - rows)
    gone = sorted(rows - listed - folders)
    advice = [
        f"add the row | `{m}` | <what it owns> | to the table of modules in "
        f"docs/ARCHITECTURE.md, beside the other {place_of(m)} rows"
        + ("" if place_of(m) in layers() else f", and `{place_of(m)}` to a line of its layers")
        for m in missing
    ] + [
        f"remove the row of `{m}` from docs/ARCHITECTURE.md: there is no such module" for m in gone
    ]
    assert not advice, "\n".join(advice)


def _cycles() -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph = {m: {t for _l, t in imports(m) if t != m} for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_in_a_circle() -> None:
    # A package's __init__ importing its own modules (the registry, re-exports) is not a cycle
    # of concepts; only cycles between modules that are not __init__ count.
    cycles = [c for c in _cycles() if not any(m.endswith("__init__.py") for m in c)]
    unknown = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert unknown == [], (
        f"These modules import each other (late imports included): {unknown}. Move what both "
        "need into one of them, or into a module below both."
    )
