"""The package's layering, checked on the source with the standard library's ``ast`` only.

Layers, bottom to top: physics < dse < study < cli. A layer imports nothing from a layer above
it. For these rules *every* import counts -- module-level and function-level (a lazy import is
still a dependency), including ``if TYPE_CHECKING:`` blocks.

Cycles: the graph of mlsysim modules joined by their *module-level* imports (the ones that run
when a module is first imported; ``if TYPE_CHECKING:`` blocks excluded) must have no cycle.
Function-level imports are left out of this check on purpose: they run after every module has
finished importing, so they cannot deadlock a partially initialized module, and the layer rules
above already forbid the upward ones. An import of ``a.b.c`` is an edge to ``a.b.c`` only (the
parent packages' ``__init__`` run first and finish before it, whatever they import lazily).

The catalog sits above the entry types: ``core/catalog.py`` validates YAML into the
``hardware/models/systems/infra`` types, which never import it (any import level).

Size: no module over ``MAX_LINES`` lines, except data tables (modules that are mostly literals).
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "mlsysim"
PACKAGE = "mlsysim"
LAYERS = ("physics", "dse", "study", "cli")  # bottom to top
MAX_LINES = 500
DATA_TABLES: set[str] = set()  # modules that are data tables (none today)


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = all_modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, here: str, is_package: bool) -> list[str]:
    """The mlsysim modules an import statement names (a ``from X import y`` names ``X.y`` when
    that is a module, else ``X``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")]
    if node.level:
        base = here.split(".") if is_package else here.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    if not (mod == PACKAGE or mod.startswith(PACKAGE + ".")):
        return []
    subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
    return subs if len(subs) == len(node.names) else [mod] + subs


def imports(name: str, *, module_level_only: bool) -> set[str]:
    """mlsysim modules imported by module ``name``."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if top or not module_level_only:
                    found.update(_targets(child, name, is_package))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if not module_level_only:
                    visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                if not module_level_only:
                    visit(child, top)
            else:  # class bodies, try/if/with blocks run at import time
                visit(child, top)

    visit(tree, True)
    found.discard(name)
    return found


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_the_walk_sees_the_package():
    """The checks below are only as good as the walk: it must see every layer and real imports."""
    assert {layer(m) for m in MODULES} >= {0, 1, 2, 3}
    assert "mlsysim.dse.engine" in imports("mlsysim.cli.optimize", module_level_only=False) or \
        any(m.startswith("mlsysim.dse") for m in imports("mlsysim.cli.optimize", module_level_only=False))
    assert "mlsysim.core.errors" in imports("mlsysim.study.runner", module_level_only=True)


def test_layers_import_nothing_from_above():
    bad = []
    for name in MODULES:
        lo = layer(name)
        if lo is None:
            continue
        for target in sorted(imports(name, module_level_only=False)):
            hi = layer(target)
            if hi is not None and hi > lo:
                bad.append(f"{name} ({LAYERS[lo]}) imports {target} ({LAYERS[hi]})")
    assert not bad, "imports against the layering physics < dse < study < cli:\n" + "\n".join(bad)


def test_entry_types_do_not_import_the_catalog():
    types = [f"mlsysim.{layer}.types" for layer in ("hardware", "models", "systems", "infra")]
    assert set(types) <= set(MODULES)
    bad = [m for m in types if "mlsysim.core.catalog" in imports(m, module_level_only=False)]
    assert not bad, f"entry types importing the catalog (it imports them): {bad}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def dfs(u: str) -> list[str] | None:
        color[u] = GREY
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if color.get(v, BLACK) == GREY:
                return stack[stack.index(v):] + [v]
            if color.get(v) == WHITE:
                found = dfs(v)
                if found:
                    return found
        stack.pop()
        color[u] = BLACK
        return None

    for node in sorted(graph):
        if color[node] == WHITE:
            found = dfs(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    graph = {m: imports(m, module_level_only=True) & set(MODULES) for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("path", sorted(MODULES.values()), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_modules_are_small(path):
    rel = path.relative_to(ROOT.parent).as_posix()
    if rel in DATA_TABLES:
        pytest.skip(f"{rel}: a data table")
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{rel} has {n} lines (at most {MAX_LINES}): split it by concern"
