"""No import loop between audiodiff's modules or between its folders, read from the code's own imports.

Every ``import``/``from ... import`` statement of every module is read with :mod:`ast` (module level and
inside functions, relative and absolute), except those under ``if TYPE_CHECKING:`` (they never run).  Two
graphs are built: one node per module, and one node per folder (a subpackage such as ``models`` or
``training``; a top-level module such as ``mel`` or ``pipeline`` is its own node).  A cycle in either fails
the test, naming it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "audiodiff"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``root`` (a package ``__init__`` is the package)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, skipping the body (not the ``else``) of ``if TYPE_CHECKING:``."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``module`` (source file ``path``) imports, resolved against ``known``.

    ``from X import name`` counts as importing ``X.name`` when that is a module, else ``X``.
    """
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    targets = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for name in names:
            while name and name not in known:  # ``import audiodiff.models.vae as v`` or a name inside a module
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    files = module_files(root)
    known = set(files)
    return {module: imported_modules(module, path, known) for module, path in files.items()}


def folder_of(module: str) -> str:
    """``audiodiff.models.vae`` -> ``models``; ``audiodiff.mel`` -> ``mel``; ``audiodiff`` -> ``audiodiff``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def folder_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Folder -> the folders its modules import (edges inside one folder dropped)."""
    graph: dict[str, set[str]] = {}
    for module, targets in modules.items():
        source = folder_of(module)
        graph.setdefault(source, set()).update(folder_of(t) for t in targets if folder_of(t) != source)
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with a loop (Tarjan 1972), each sorted: the nodes that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # recursive: the package's graphs are a few hundred nodes deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(components)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle ``[a, b, ..., a]`` per loop of :func:`loops`, sorted."""
    return sorted(_cycle_through(graph, set(component)) for component in loops(graph))


def _cycle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle inside ``component`` through its first node (breadth-first search)."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for target in sorted(graph.get(node, ())):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if target in component and target not in parents:
                    parents[target] = node
                    next_frontier.append(target)
        frontier = next_frontier
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def _describe(graph: dict[str, set[str]]) -> str:
    """Each loop as one of its cycles and every node caught in it."""
    return "; ".join(
        f"{' -> '.join(_cycle_through(graph, set(component)))} (loop among {', '.join(component)})"
        for component in loops(graph)
    )


# ---------------------------------------------------------------------------------------------- the finder itself
def test_find_cycles_names_a_loop_and_passes_a_tree():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert loops(graph) == [["a", "b", "c"], ["e"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_imports_are_resolved_relative_absolute_and_in_functions_but_not_under_type_checking(tmp_path):
    root = tmp_path / PACKAGE
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "low.py").write_text("from .. import top\n")
    (root / "top.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .other import Thing\n"
        "def f():\n    import audiodiff.sub.low as low\n    return low\n"
    )
    (root / "other.py").write_text("from .sub.low import something\n")
    modules = module_graph(root)
    assert modules["audiodiff.top"] == {"audiodiff.sub.low"}
    assert modules["audiodiff.sub.low"] == {"audiodiff.top"}
    assert modules["audiodiff.other"] == {"audiodiff.sub.low"}
    assert find_cycles(modules) == [["audiodiff.sub.low", "audiodiff.top", "audiodiff.sub.low"]]
    assert find_cycles(folder_graph(modules)) == [["sub", "top", "sub"]]


# ---------------------------------------------------------------------------------------------- the package
def test_no_import_loop_between_modules():
    graph = module_graph()
    assert not loops(graph), f"import loops between audiodiff's modules: {_describe(graph)}"


def test_no_import_loop_between_folders():
    graph = folder_graph(module_graph())
    assert not loops(graph), f"import loops between audiodiff's folders and top-level modules: {_describe(graph)}"
