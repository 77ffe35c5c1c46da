"""The package's shape: modules import each other downward only, and none grows past 400 lines.

Imports are read from the source with ``ast``, at module level and inside functions alike, so a
cycle hidden in a function body (which runs fine until the wrong module is imported first)
counts as a cycle too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fiftyone_videorec

PACKAGE_DIR = Path(fiftyone_videorec.__file__).parent
MAX_LINES = 400


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Return ``{dotted module name: file}`` for every ``.py`` file of the package folder ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Return the package modules that one ``import`` / ``from ... import`` statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        # ``from . import config`` or ``from .x import y`` with y a submodule loads that submodule;
        # the package itself counts only where a name comes from its own code
        submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in modules]
        names = submodules + ([source] if len(submodules) < len(node.names) else [])
    targets = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:  # ``import a.b.func`` style: the longest module prefix
            parts.pop()
        if parts:
            targets.add(".".join(parts))
    return targets


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Return ``{module: package modules it imports}``, counting imports inside functions too."""
    files = module_files(root, package)
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(node, module, path.name == "__init__.py", set(files))
        graph[module] = edges - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as ``[a, b, ..., a]``, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_package_imports_form_no_cycle():
    graph = import_graph(PACKAGE_DIR, "fiftyone_videorec")
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_passes_the_line_limit():
    too_long = {str(path.relative_to(PACKAGE_DIR.parent)): n
                for path in sorted(PACKAGE_DIR.rglob("*.py"))
                if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: " + ", ".join(f"{p} ({n})" for p, n in too_long.items())


def test_cycle_check_sees_function_level_and_submodule_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "floor.py").write_text("import numpy\n")
    (pkg / "a.py").write_text("from . import floor\n\ndef f():\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from ..a import f\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.floor", "pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("import pkg.floor\n")
    assert find_cycle(import_graph(pkg, "pkg")) is None
