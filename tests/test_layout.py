"""The layout of ``src/activityfeed``: one direction of imports, packages by wing, small modules.

The import graph is read with :mod:`ast` from the source, every import
counted: at the top of a module, inside a function, under ``TYPE_CHECKING``.
A package's ``__init__`` is imported whenever one of its modules is, so an
import of ``a.b.c`` is an edge to ``a``, ``a.b`` and ``a.b.c``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "activityfeed"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Modules that hold data tables (the OpenAPI document), exempt from the function limit.
DATA_TABLES = ("activityfeed.openapi.",)
PREFIX_FAMILIES = ("demo_", "cli_", "ratelimit_", "record")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module of the package that ``name`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in known and candidate != name:
                    yield candidate


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_face(name: str) -> bool:
    """``activityfeed`` itself and each package's ``__init__``: imported with every member."""
    return (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    edges = graph()
    # A package's face is imported with each of its modules; an edge from a
    # member to its own package's __init__ is that, not a choice of the code.
    for name, targets in edges.items():
        edges[name] = {
            target
            for target in targets
            if not (package_face(target) and name.startswith(target + "."))
        }
    assert cycles(edges) == []


def test_the_cycle_finder_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from activityfeed.service import x\n")
    assert set(imported("activityfeed.m", source, {"activityfeed.service"})) == {
        "activityfeed.service"
    }


def test_no_family_of_top_level_modules_shares_a_prefix() -> None:
    top = [path.stem for path in PACKAGE.glob("*.py")]
    for prefix in PREFIX_FAMILIES:
        assert [name for name in top if name.startswith(prefix)] == [], prefix
    storage = [path.stem for path in (PACKAGE / "storage").glob("*.py")]
    assert [n for n in storage if n.startswith(("sqlite_", "postgres_", "copying_"))] == []


def test_every_package_says_what_it_holds_and_may_import() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(SRC)} has no docstring"
        assert len(doc.split()) >= 20, f"{init.relative_to(SRC)}: a paragraph, please"


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_and_functions_stay_small(name: str) -> None:
    path = modules()[name]
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{name} is over {MAX_MODULE_LINES}"
    if name.startswith(DATA_TABLES):
        return
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{name}.{node.name} has {length} lines"


# The rows of docs/architecture.md's picture, top first: a module imports only
# from rows below its own.
ROWS = (
    ("__main__",),
    ("entry",),
    ("cli",),
    ("http", "demo", "client"),
    ("service", "openapi"),
    ("records", "ratelimit"),
    ("auth", "cache", "render", "bodies"),
    ("storage",),
    ("query", "settings", "urls", "decoding", "streams"),
    ("model", "errors", "fields"),
    ("timestamps",),
)
SDK_MAY_IMPORT = ("fields", "timestamps")


def row_of(name: str) -> int:
    wing = name.split(".")[1]
    for number, row in enumerate(ROWS):
        if wing in row:
            return number
    raise AssertionError(f"{name} is in no row of docs/architecture.md's picture")


def test_every_import_points_down_the_rows_of_the_architecture_picture() -> None:
    upward = []
    for name, targets in graph().items():
        if name == "activityfeed":
            continue
        for target in targets:
            if target == "activityfeed" or target.split(".")[1] == name.split(".")[1]:
                continue  # within one wing
            if name.startswith("activityfeed.client."):
                # The SDK installs without the server: it takes only plain values.
                if target.split(".")[1] not in SDK_MAY_IMPORT:
                    upward.append(f"{name} -> {target}")
            elif row_of(target) <= row_of(name):
                upward.append(f"{name} -> {target}")
    assert upward == []
    picture = (SRC.parent / "docs" / "architecture.md").read_text()
    for row in ROWS:
        for wing in row:
            assert wing in picture, wing
