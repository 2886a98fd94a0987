"""The project's import graph: data flows one way (foundation <- ingest <- core <- faces, evals beside the faces) and
no module imports, even lazily inside a function, one that imports it back."""

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("assistant", "ingest", "evals", "prompts")
FOUNDATION = {"assistant.settings", "assistant.errors", "assistant.types"}
FACES = {"assistant.cli", "assistant.ui", "assistant.openai_api", "assistant.mcp_server"}


def is_face(module: str) -> bool:
    """A face is one of FACES or a module of a face's package (assistant.cli.console, assistant.cli.bench, ...)."""
    return any(module == face or module.startswith(face + ".") for face in FACES)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # every test reads the same tree: parse it once
def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Each project module -> the project modules it imports anywhere in its body (top level or in a function)."""
    files = {module_name(p, root): p for package in packages for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from package import module` imports that module; `from module import name` the module itself.
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted: every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_circle_and_a_clean_graph_has_none():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circles():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", sorted(FOUNDATION))
def test_the_foundation_imports_nothing_else_of_the_project(layer):
    assert import_graph()[layer] <= FOUNDATION


def test_ingest_imports_only_the_foundation_and_itself():
    graph = import_graph()
    reach = {m: targets for m, targets in graph.items() if m.split(".")[0] == "ingest"}
    assert reach and all(t in FOUNDATION or t.split(".")[0] == "ingest" for targets in reach.values() for t in targets)


def test_no_face_is_imported_by_core_ingest_or_evals():
    graph = import_graph()
    importers = {m for m, targets in graph.items() if any(is_face(t) for t in targets)}
    assert all(is_face(m) for m in importers), {m for m in importers if not is_face(m)}


def test_only_the_command_line_face_imports_evals():
    """evals sits beside the faces: the `assistant` command registers `eval` and `bench`; nothing below uses it."""
    graph = import_graph()
    importers = {m for m, targets in graph.items() if m.split(".")[0] != "evals" and any(
        t.split(".")[0] == "evals" for t in targets)}
    assert importers and all(m.startswith("assistant.cli") for m in importers), importers
