"""The code's shape: the package, the plugin's operators and the scripts import each other without a
cycle, no module grows past 400 lines, evidence tables live in ``benchmarks/*.md`` rather than in
the package's code, and no script needs the tests to run.

Imports are read from the source with ``ast``, at module level and inside functions alike, so a
cycle hidden in a function body (which runs fine until the wrong module is imported first)
counts as a cycle too. Scripts are flat files run with their own folder on ``sys.path``: they
import each other as ``import bench_quality`` or ``from scripts import bench_quality``, and both
name the module ``scripts.bench_quality`` here.
"""

from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

import fiftyone_videorec

REPO = Path(fiftyone_videorec.__file__).resolve().parent.parent
PACKAGE_DIR = REPO / "fiftyone_videorec"
TREES = {"fiftyone_videorec": PACKAGE_DIR, "plugin_operators": REPO / "plugin_operators", "scripts": REPO / "scripts"}
FLAT = ("scripts",)  # trees whose modules import each other by bare name
MAX_LINES = 400
TABLE_ROW = re.compile(r"^\s*\|(?:[^|]*\|){2,}")  # a line that starts with "|" and holds two more


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Return ``{dotted module name: file}`` for every ``.py`` file of the package folder ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: set[str], siblings: str | None) -> str | None:
    """Return the module that ``import name`` loads (its longest module prefix), or None if it is not ours.

    ``siblings``: the flat tree the importing module lives in, whose other modules it reaches by bare name.
    """
    candidates = [name]
    if siblings and f"{siblings}.{name.split('.')[0]}" in modules:
        candidates.append(f"{siblings}.{name}")
    for candidate in candidates:
        parts = candidate.split(".")
        while parts and ".".join(parts) not in modules:  # ``import a.b.func`` style: the longest module prefix
            parts.pop()
        if parts:
            return ".".join(parts)
    return None


def _targets(node: ast.AST, module: str, is_package: bool, modules: set[str], siblings: str | None) -> set[str]:
    """Return our modules that one ``import`` / ``from ... import`` statement loads."""
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
        submodules = [m for alias in node.names if (m := _exact(f"{source}.{alias.name}", modules, siblings))]
        names = submodules + ([source] if len(submodules) < len(node.names) else [])
    return {target for name in names if (target := _resolve(name, modules, siblings))}


def _exact(name: str, modules: set[str], siblings: str | None) -> str | None:
    """Return the module named exactly ``name`` (or, in a flat tree, its sibling of that name), else None."""
    if name in modules:
        return name
    return f"{siblings}.{name}" if siblings and f"{siblings}.{name}" in modules else None


def import_graph(trees: dict[str, Path], flat: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Return ``{module: our modules it imports}`` over all ``{name: folder}`` trees, imports inside
    functions included; modules of the ``flat`` trees also reach each other by bare name."""
    files = {module: path for name, root in trees.items() for module, path in module_files(root, name).items()}
    modules = set(files)
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        siblings = module.split(".")[0] if module.split(".")[0] in flat else None
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(node, module, path.name == "__init__.py", modules, siblings)
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


def modules_over(roots: list[Path], limit: int) -> dict[str, int]:
    """Return ``{file: line count}`` of the ``.py`` files under ``roots`` longer than ``limit`` lines."""
    return {str(path): n for root in roots for path in sorted(root.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > limit}


def table_rows(path: Path) -> list[int]:
    """Return the line numbers of markdown table rows inside the file's strings and comments."""
    text_tokens = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    found = []
    with tokenize.open(path) as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type not in text_tokens:
                continue
            text = token.string.lstrip("#") if token.type == tokenize.COMMENT else token.string
            if token.type == tokenize.STRING:  # the opening quote is not part of the first line's text
                text = re.sub(r"^[A-Za-z]*('''|\"\"\"|'|\")", "", text)
            found += [token.start[0] + i for i, line in enumerate(text.splitlines()) if TABLE_ROW.match(line)]
    return found


def imports_of_tests(root: Path, test_modules: set[str]) -> dict[str, list[str]]:
    """Return ``{file: imported names}`` for the files under ``root`` that import ``tests`` (or one of
    ``test_modules`` by bare name, as a ``sys.path`` pointing into the tests folder would allow)."""
    own = {path.stem for path in root.rglob("*.py")}
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "tests" or (top in test_modules and top not in own):
                    found.setdefault(str(path), []).append(name)
    return found


def test_package_operators_and_scripts_import_without_a_cycle():
    graph = import_graph(TREES, FLAT)
    assert any(graph[m] for m in graph if m.startswith("scripts.")), "the scripts' imports of each other were not seen"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_passes_the_line_limit():
    too_long = modules_over(list(TREES.values()), MAX_LINES)
    assert not too_long, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{Path(p).relative_to(REPO)} ({n})" for p, n in too_long.items())


def test_no_markdown_table_in_the_package():
    # tables of candidates and results belong in benchmarks/*.md, which a docstring links
    found = {str(path.relative_to(REPO)): rows for path in sorted(PACKAGE_DIR.rglob("*.py")) if (rows := table_rows(path))}
    assert not found, "markdown tables in code (move them to benchmarks/*.md): " + ", ".join(
        f"{p} line {rows[0]}" for p, rows in found.items())


def test_no_script_imports_the_tests():
    test_modules = {path.stem for path in (REPO / "tests").glob("*.py")}
    found = imports_of_tests(TREES["scripts"], test_modules)
    assert not found, "scripts importing tests: " + ", ".join(f"{Path(p).name} ({', '.join(n)})" for p, n in found.items())


def test_cycle_check_sees_function_level_and_submodule_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "floor.py").write_text("import numpy\n")
    (pkg / "a.py").write_text("from . import floor\n\ndef f():\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from ..a import f\n")
    graph = import_graph({"pkg": pkg})
    assert graph["pkg.a"] == {"pkg.floor", "pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("import pkg.floor\n")
    assert find_cycle(import_graph({"pkg": pkg})) is None


def test_cycle_check_reads_scripts_by_bare_name_and_across_trees(tmp_path):
    pkg, ops, scripts = tmp_path / "pkg", tmp_path / "ops", tmp_path / "scripts"
    for folder in (pkg, ops, scripts):
        folder.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text("import numpy\n")
    (ops / "__init__.py").write_text("from pkg import core\n")
    (scripts / "bench_a.py").write_text("import numpy\nimport bench_b\nfrom pkg.core import x\n")
    (scripts / "bench_b.py").write_text("def f():\n    from scripts import bench_a\n")
    (scripts / "report.py").write_text("from bench_b import f\n")
    trees = {"pkg": pkg, "ops": ops, "scripts": scripts}
    graph = import_graph(trees, flat=("scripts",))
    assert graph["scripts.bench_a"] == {"scripts.bench_b", "pkg.core"}
    assert graph["scripts.bench_b"] == {"scripts.bench_a"} and graph["scripts.report"] == {"scripts.bench_b"}
    assert find_cycle(graph) == ["scripts.bench_a", "scripts.bench_b", "scripts.bench_a"]
    (scripts / "bench_b.py").write_text("import json\n")  # the circle broken: what both need lives in one of them
    assert find_cycle(import_graph(trees, flat=("scripts",))) is None
    (pkg / "core.py").write_text("def g():\n    import ops\n")  # a circle through two trees
    assert find_cycle(import_graph(trees, flat=("scripts",))) == ["ops", "pkg.core", "ops"]


def test_line_limit_check_flags_a_long_module(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "short.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert modules_over([tmp_path], MAX_LINES) == {str(tmp_path / "sub" / "long.py"): MAX_LINES + 1}


def test_table_check_finds_rows_in_docstrings_strings_and_comments(tmp_path):
    path = tmp_path / "module.py"
    path.write_text('"""A module.\n\n| a | b |\n|---|---|\n"""\n\n'
                    'x = 1 | 2 | 3  # bit operations are code, not tables\n'
                    'y = "|".join(["a", "b"])  # one bar: a separator, not a row\n'
                    'row = " | a | b |"  # a row written by code is a table in code too\n'
                    '# | a comment | as a | table |\n'
                    'z = f"""\n  | {x} | {y} |\n"""\n')
    assert table_rows(path) == [3, 4, 9, 10, 12]
    path.write_text('"""A module that links ``benchmarks/candidates.md``."""\nx = a | b | c\n')
    assert table_rows(path) == []


def test_tests_import_check_sees_every_form(tmp_path):
    (tmp_path / "bench_a.py").write_text("import bench_b\n")
    (tmp_path / "bench_b.py").write_text("import json\n\ndef f():\n    from tests.mongod import MongodServer\n")
    (tmp_path / "bench_c.py").write_text("import tests\nfrom tests import mongod\n")
    (tmp_path / "bench_d.py").write_text("import sys\nsys.path.insert(0, 'tests')\nimport ucf_server\n")
    found = imports_of_tests(tmp_path, {"ucf_server", "conftest"})
    assert found == {str(tmp_path / "bench_b.py"): ["tests.mongod"], str(tmp_path / "bench_c.py"): ["tests", "tests"],
                     str(tmp_path / "bench_d.py"): ["ucf_server"]}
