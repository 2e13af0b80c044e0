"""The code's shape: dependencies point one way, modules stay small, ``import helpers`` stays light.

Every ``helpers`` module (and every ``tools`` module) is parsed with :mod:`ast`; its imports of
sibling modules, including those inside functions, are the edges of a graph that must have no
cycle. A module over 600 lines is one concern too many. These tests read source only (seconds).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600


def module_names(package_dir: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file below ``package_dir`` (packages by their __init__)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join([package, *parts])] = path
    return names


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that the file imports anywhere (top level or inside functions).

    ``from . import x`` and ``from .pkg import x`` count ``x`` when it is a module, else the package.
    A package's ``__init__`` importing its own submodules is not counted as the submodules
    depending on the package (``from helpers.exercises import lesson01`` is an edge to lesson01).
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]
        else:
            continue
        for target in targets:
            root = name.split(".")[0]
            if target.split(".")[0] != root and f"{root}.{target}" in known:  # a script's sibling on sys.path
                target = f"{root}.{target}"
            while target and target not in known:  # `import helpers.data.x` -> the deepest known module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Module -> the sibling modules it imports (the package itself, ``helpers``, excluded as a target:
    a module reaching ``helpers.X`` through ``import helpers.X`` counts as an edge to ``helpers.X``)."""
    names = module_names(package_dir, package)
    known = set(names) - {package}
    return {name: imported_modules(path, name, known) for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None (depth-first search)."""
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


def test_find_cycle_finds_a_cycle_and_passes_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_count(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import low\n")
    (package / "low.py").write_text("def f():\n    from .high import g\n    return g\n")
    (package / "high.py").write_text("from .low import f\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "leaf.py").write_text("from ..low import f\nimport pkg.high\n")
    (package / "script.py").write_text("import sys\ndef main():\n    from low import f  # tools/ on sys.path\n")
    graph = import_graph(package, "pkg")
    assert graph["pkg.low"] == {"pkg.high"} and graph["pkg.high"] == {"pkg.low"}
    assert graph["pkg.sub.leaf"] == {"pkg.low", "pkg.high"} and graph["pkg.script"] == {"pkg.low"}
    assert find_cycle(graph) in (["pkg.high", "pkg.low", "pkg.high"], ["pkg.low", "pkg.high", "pkg.low"])


@pytest.mark.parametrize("package", ["helpers", "tools"])
def test_no_import_cycle(package):
    graph = import_graph(ROOT / package, package)
    graph.pop(package, None)  # the package's __init__ re-exports; modules do not import it
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle in {package}/: {' -> '.join(cycle)}; move the shared code down a layer"


@pytest.mark.parametrize("package", ["helpers", "tools"])
def test_no_module_over_600_lines(package):
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / package).rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split by concern): {long}"


def table_of_contents() -> list[str]:
    """The modules helpers/__init__.py's docstring names (``:mod:`helpers.x```), in its order."""
    doc = ast.get_docstring(ast.parse((ROOT / "helpers" / "__init__.py").read_text(encoding="utf-8"))) or ""
    return [part.split("`")[0] for part in doc.split(":mod:`")[1:]]


def test_table_of_contents_lists_every_module():
    """helpers/__init__.py's docstring names each module and no module that is gone."""
    names = set(module_names(ROOT / "helpers", "helpers")) - {"helpers"}
    listed = set(table_of_contents())
    top_level = {n for n in names if n.count(".") == 1}
    assert top_level <= listed, f"modules missing from helpers/__init__.py's table of contents: {sorted(top_level - listed)}"
    assert listed <= names, f"the table of contents names modules that do not exist: {sorted(listed - names)}"


def test_modules_import_only_modules_listed_before_them():
    """The table of contents is the layering: each module depends only on modules above it there."""
    order = {name: i for i, name in enumerate(table_of_contents())}
    top = lambda module: ".".join(module.split(".")[:2])  # helpers.checks.lesson05 -> helpers.checks
    upward = sorted(f"{module} imports {dep}" for module, deps in import_graph(ROOT / "helpers", "helpers").items()
                    if module != "helpers" for dep in deps
                    if top(dep) != top(module) and order.get(top(dep), -1) > order.get(top(module), -1))
    assert not upward, f"imports of modules listed later in helpers/__init__.py (move the code down or reorder): {upward}"


def test_import_helpers_loads_neither_tensorflow_nor_keras():
    code = ("import sys, helpers, helpers.checks\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", f"`import helpers` loaded {out.stdout.strip()}"


def test_pyproject_installs_every_helpers_package():
    """A regular (non-editable) install, e.g. Colab's ``pip install``, gets only the packages pyproject lists."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "helpers").rglob("__init__.py")}
    assert packages <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(packages - listed)}"
