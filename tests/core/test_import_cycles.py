"""No import cycle between the files of ``llmkit/`` and of each plugin package.

The graph is built from the source (AST), not by importing: a node is a file, an edge is an
import statement in it that names another file of the repository. Every import counts, at
module level or inside a function (a lazy import still ties the two files together for a
reader, and is how the contract and its executors once formed a knot), and so does one under
``if TYPE_CHECKING:``. ``from pkg import name`` is an edge to ``pkg/name.py`` when that file
exists, else to ``pkg/__init__.py``. One kind of edge is left out: a package's ``__init__``
importing files inside its own package (re-exporting its modules is what an ``__init__`` is for).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the core and the plugins, by dotted name."""
    files = {}
    for base, pattern in ((root, "llmkit/**/*.py"), (root / "plugins", "llmkit_*/**/*.py")):
        for path in sorted(base.glob(pattern)):
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_names(module: str, path: Path) -> Iterator[str]:
    """The dotted names an import statement anywhere in the file asks for."""
    package = module if is_package(path) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from its package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)
            yield base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for module, path in files.items():
        for name in imported_names(module, path):
            while name and name not in files:  # a.b.c.func -> a.b.c, the file that holds it
                name = name.rpartition(".")[0]
            if not name or name == module:
                continue
            if is_package(path) and name.startswith(module + "."):
                continue  # a package's __init__ re-exporting its own modules
            graph[module].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one file (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


PACKAGES = ["llmkit", *sorted(p.name for p in (ROOT / "plugins").glob("llmkit_*") if (p / "__init__.py").is_file())]


@pytest.fixture(scope="module")
def repository_cycles() -> list[list[str]]:
    return cycles(import_graph())


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_files(package, repository_cycles):
    knots = [c for c in repository_cycles if any(m == package or m.startswith(package + ".") for m in c)]
    assert knots == [], f"import cycles in {package}: " + "; ".join(" <-> ".join(c) for c in knots)


def test_the_checker_finds_a_planted_cycle_and_respects_the_init_rule():
    graph = {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p.a", "p"}, "p.c": set()}
    assert cycles(graph) == [["p", "p.a", "p.b"]]
    # the same graph as import_graph() builds it: the __init__ edge p -> p.a is not kept
    graph["p"] = set()
    assert cycles(graph) == [["p.a", "p.b"]]


def test_the_graph_sees_lazy_and_relative_imports(tmp_path):
    package = tmp_path / "llmkit"
    package.mkdir()
    (package / "__init__.py").write_text("from llmkit import a\n")
    (package / "a.py").write_text("def f():\n    from .b import thing\n")
    (package / "b.py").write_text("import llmkit.a\nthing = 1\n")
    (tmp_path / "plugins").mkdir()
    graph = import_graph(tmp_path)
    assert graph == {"llmkit": set(), "llmkit.a": {"llmkit.b"}, "llmkit.b": {"llmkit.a"}}
    assert cycles(graph) == [["llmkit.a", "llmkit.b"]]
