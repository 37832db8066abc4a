"""The package's modules form a one-way order: no import cycles, and every
import goes downward in the layer list of ARCHITECTURE.md ("Layers").

Read from the sources, not from a running interpreter: every `.py`, `.pyx` and
`.pxd` file under catzilla/, its imports and cimports wherever they are
(module level, inside functions, under TYPE_CHECKING). A `.pyx` and its
`.pxd` are one module; `from catzilla import x` is an edge to the module
`catzilla.x` when there is one, else to the package `catzilla` itself."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "catzilla"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"

Graph = Dict[str, Set[str]]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(package: Path = PACKAGE) -> Dict[str, List[Path]]:
    """module name -> its source files (a .pyx and its .pxd are one module)."""
    modules: Dict[str, List[Path]] = {}
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".pyx", ".pxd") and "__pycache__" not in path.parts:
            modules.setdefault(module_name(path, package), []).append(path)
    return modules


def _python_imports(source: str, module: str, is_package: bool) -> Iterable[Tuple[str, List[str]]]:
    """(imported module, names taken from it) for every import statement of a .py file."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                if not is_package:
                    parent = parent[:-1]
                parent = parent[:len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            yield base, [alias.name for alias in node.names]


# `from a.b cimport (x, y)` / `from a.b import x` / `cimport a.b as c, d` / `import a.b`;
# continuation lines of a parenthesised list name no module, so only the first line matters.
_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+c?import\s+\(?\s*([\w\s,]*)")
_IMPORT = re.compile(r"^\s*c?import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)\s*(?:#.*)?$")


_DOCSTRING = re.compile(r"(\"\"\"|''')(?:.|\n)*?\1")


def _cython_imports(source: str) -> Iterable[Tuple[str, List[str]]]:
    for line in _DOCSTRING.sub("", source).splitlines():    # a usage example in a docstring is no import
        m = _FROM.match(line)
        if m:
            names = [n.strip().split()[0] for n in m.group(2).split(",") if n.strip()]
            yield m.group(1), names
            continue
        m = _IMPORT.match(line)
        if m:
            for item in m.group(1).split(","):
                yield item.split()[0], []


def import_graph(package: Path = PACKAGE) -> Graph:
    """Module -> the package's modules it imports or cimports (itself excluded)."""
    modules = package_modules(package)
    root = package.name
    graph: Graph = {name: set() for name in modules}

    def resolve(target: str, names: List[str]) -> Iterable[str]:
        if target != root and not target.startswith(root + "."):
            return
        found = False
        for name in names:                      # `from pkg import module`
            if f"{target}.{name}" in modules:
                found = True
                yield f"{target}.{name}"
        if not found or any(f"{target}.{n}" not in modules for n in names):
            while target not in modules and "." in target:   # an attribute path: its module
                target = target.rsplit(".", 1)[0]
            if target in modules:
                yield target

    for name, files in modules.items():
        for path in files:
            source = path.read_text(encoding="utf-8")
            if path.suffix == ".py":
                found = _python_imports(source, name, path.name == "__init__.py")
            else:
                found = _cython_imports(source)
            for target, names in found:
                graph[name].update(t for t in resolve(target, names) if t != name)
    return graph


def find_cycles(graph: Graph) -> List[List[str]]:
    """One cycle per strongly connected component that has one (Tarjan), each
    as a path [a, b, ..., a]."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, c) for c in components]


def _cycle_in(graph: Graph, component: Set[str]) -> List[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in component and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError("a strongly connected component without a cycle")


def read_layers(text: str) -> List[Tuple[str, List[str]]]:
    """The numbered list under '## Layers': (layer name, module patterns), lowest first."""
    section = re.search(r"^## Layers\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "ARCHITECTURE.md has no '## Layers' section"
    layers = []
    for m in re.finditer(r"^\d+\.\s+\*\*(.+?)\*\*(.*(?:\n(?!\d+\.\s).*)*)", section.group(1), re.M):
        layers.append((m.group(1), re.findall(r"`(catzilla[\w.*]*)`", m.group(2))))
    assert layers, "no numbered layers under '## Layers'"
    return layers


def layer_of(modules: Iterable[str], layers: List[Tuple[str, List[str]]]) -> Dict[str, List[int]]:
    """module -> the layers whose patterns name it (`a.*` matches a's submodules)."""
    where: Dict[str, List[int]] = {}
    for module in modules:
        for i, (_, patterns) in enumerate(layers):
            for p in patterns:
                if p == module or (p.endswith(".*") and module.startswith(p[:-1])):
                    where.setdefault(module, []).append(i)
                    break
    return where


def upward(graph: Graph, layers: List[Tuple[str, List[str]]], where: Dict[str, List[int]]) -> List[str]:
    """The imports from a module to one in a higher layer, described."""
    return [f"{a} ({layers[where[a][0]][0]}) imports {b} ({layers[where[b][0]][0]})"
            for a in sorted(graph) for b in sorted(graph[a]) if where[b][0] > where[a][0]]


def describe(cycle: List[str]) -> str:
    return " -> ".join(cycle)


# -- the checker checks --------------------------------------------------------------


def test_a_cycle_is_found_and_named():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    two = find_cycles({"a": {"b"}, "b": {"a"}, "x": {"y"}, "y": {"z"}, "z": {"x"}})
    assert sorted(two) == [["a", "b", "a"], ["x", "y", "z", "x"]]


def test_imports_are_read_from_every_kind_of_file(tmp_path):
    pkg = tmp_path / "catzilla"
    (pkg / "_core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from catzilla.a import A\n")
    (pkg / "a.py").write_text("def f():\n    import catzilla\n    from . import b\n")
    (pkg / "b.pyx").write_text('"""Usage:\n    from catzilla import a\n"""\n'
                               "from catzilla._core.c cimport (C,\n    D)\n")
    (pkg / "b.pxd").write_text("cimport catzilla.d as d\n")
    (pkg / "_core" / "__init__.py").write_text("")
    (pkg / "_core" / "c.pyx").write_text("import os\ndef g():\n    from catzilla import d, a\n")
    (pkg / "d.py").write_text("from catzilla.b import thing  # an attribute: the module b\n")
    g = import_graph(pkg)
    assert g["catzilla"] == {"catzilla.a"}
    assert g["catzilla.a"] == {"catzilla", "catzilla.b"}
    assert g["catzilla.b"] == {"catzilla._core.c", "catzilla.d"}
    assert g["catzilla._core.c"] == {"catzilla.d", "catzilla.a"}
    assert g["catzilla.d"] == {"catzilla.b"}
    assert find_cycles(g) == [["catzilla", "catzilla.a", "catzilla"]]    # one component, its shortest cycle


def test_a_layer_list_is_read_and_applied():
    layers = read_layers("## Layers\n\n1. **low** — `catzilla.x`, `catzilla.core.*`\n"
                         "2. **high** — `catzilla.y` and\n   `catzilla`\n\n## Next\n")
    assert layers == [("low", ["catzilla.x", "catzilla.core.*"]), ("high", ["catzilla.y", "catzilla"])]
    assert layer_of(["catzilla.core.a", "catzilla", "catzilla.z"], layers) == {
        "catzilla.core.a": [0], "catzilla": [1]}
    graph = {"catzilla.x": {"catzilla.core.a"}, "catzilla.core.a": {"catzilla.y"}, "catzilla.y": {"catzilla.x"}}
    assert upward(graph, layers, layer_of(graph, layers)) == ["catzilla.core.a (low) imports catzilla.y (high)"]


# -- the package --------------------------------------------------------------------


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles among catzilla's modules:\n" + "\n".join(map(describe, cycles))


def test_every_import_goes_down_the_layers_of_architecture_md():
    graph = import_graph()
    layers = read_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    where = layer_of(graph, layers)
    unplaced = sorted(m for m in graph if m not in where)
    twice = sorted(m for m, found in where.items() if len(found) > 1)
    assert not unplaced, f"modules in no layer of ARCHITECTURE.md (add them to '## Layers'): {unplaced}"
    assert not twice, f"modules in more than one layer of ARCHITECTURE.md: {twice}"
    named = {p for _, patterns in layers for p in patterns}
    stale = sorted(p for p in named if not layer_of(graph, [("", [p])]))
    assert not stale, f"ARCHITECTURE.md's layers name modules that do not exist: {stale}"
    going_up = upward(graph, layers, where)
    assert not going_up, "imports that go up the layers:\n" + "\n".join(going_up)


@pytest.mark.parametrize("module", ["catzilla.app", "catzilla._core.server", "catzilla.broadcast"])
def test_the_graph_sees_known_edges(module):
    """A guard against a reader that silently finds nothing."""
    assert import_graph()[module], f"{module} imports nothing the reader could see"
