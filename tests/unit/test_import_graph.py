"""The house rules of ganbench's imports, read from the source with `ast` (nothing is imported
but the trick registry): no circles, every import points down the layer table, no private
names borrowed across modules, and no trick named under train/.

Every import counts: module level, inside functions (where circles used to hide) and under
`if TYPE_CHECKING:`. The table is the "map of the house" in docs/development.md; a new module
needs a row.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ganbench

ROOT = Path(ganbench.__file__).resolve().parent
PACKAGE = "ganbench"

# Lowest first. A module may import its own layer and those above it in this list (lower
# ones); within a layer the cycle check keeps order. A module takes the row of its longest
# matching prefix; "ganbench" itself (the package's __init__) matches only itself.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("ganbench.version", "ganbench.registry", "ganbench.yamlfile", "ganbench.atomic",
              "ganbench.storelock", "ganbench.wheels", "ganbench.devices", "ganbench.config",
              "ganbench.procexit", "ganbench.limits", "ganbench.safefile", "ganbench.cores",
              "ganbench.schedules")),
    ("parts", ("ganbench.data", "ganbench.models", "ganbench.losses", "ganbench.tracking")),
    ("tricks and metrics", ("ganbench.tricks", "ganbench.metrics")),
    # plugins.py imports every built-in family before a plugin (names collide loudly).
    # specs/ turns a file into a checked plan; the report asks its design registry what a
    # design is.
    ("checks", ("ganbench.specs", "ganbench.effective")),
    ("train", ("ganbench.train",)),
    ("store", ("ganbench.store",)),  # the MLflow store: keeps checkpoints in train's format
    ("report", ("ganbench.report",)),
    ("run outputs", ("ganbench.outputs", "ganbench.scoring")),
    ("sweep", ("ganbench.sweep",)),
    ("contract", ("ganbench.contract",)),  # trains, and asks the planner what it drops
    ("api", ("ganbench.api",)),  # the public Python API: train, sweep, report, load_runs
    ("cli", ("ganbench.cli", "ganbench.__main__")),
    # The package's __init__ loads the API lazily (module __getattr__), so it sits on top:
    # nothing inside the package imports it (the version is ganbench.version).
    ("package", ("ganbench",)),
]

# Known breaks of these rules: none left. Keys: ("edge", importer, imported) excuses one
# import from the cycle and layer checks; ("private", importer, name); ("trick", module, name).
KNOWN_ELSEWHERE: dict[tuple[str, str, str], str] = {}


# ------------------------------------------------------------------ reading the source


def _modules() -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = _modules()
TREES = {m: ast.parse(p.read_text(), filename=str(p)) for m, (p, _) in MODULES.items()}


def _owner(name: str) -> str | None:
    """The ganbench module that defines dotted `name` (a module, or a name inside one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, tree: ast.Module | None = None, is_pkg: bool | None = None
             ) -> list[tuple[str, str, int]]:
    """(imported ganbench module, the name taken or "", line) for every import in `module`."""
    is_pkg = MODULES[module][1] if is_pkg is None else is_pkg
    out = []
    for node in ast.walk(TREES[module] if tree is None else tree):
        if isinstance(node, ast.Import):
            out += [(_owner(a.name), "", node.lineno) for a in node.names
                    if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in (or is)
                here = module.split(".") if is_pkg else module.split(".")[:-1]
                here = here[:len(here) - node.level + 1]
                base = ".".join(here + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base != PACKAGE and not base.startswith(PACKAGE + "."):
                continue
            for a in node.names:  # `from ganbench.x import y`: y may be a submodule
                sub = f"{base}.{a.name}"
                out.append((sub, "", node.lineno) if sub in MODULES
                           else (_owner(base), a.name, node.lineno))
    return [(t, n, line) for t, n, line in out if t is not None and t != module]


IMPORTS = {m: _imports(m) for m in MODULES}


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in IMPORTS[m] if ("edge", m, t) not in KNOWN_ELSEWHERE}
            for m in MODULES}


def _layer(module: str) -> int | None:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            hit = module == p or (p != PACKAGE and module.startswith(p + "."))
            if hit and len(p) > best:
                best, rank = len(p), i
    return rank


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles: in each strongly connected component, the shortest through each module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph has ~120 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found: list[list[str]] = []
    for comp in comps:  # the shortest cycle through each module of the component
        for start in sorted(comp):
            cycle = _shortest_cycle(graph, comp, start)
            i = cycle.index(min(cycle[:-1]))  # one spelling per cycle: from its smallest name
            cycle = cycle[i:-1] + cycle[:i] + [cycle[i]]
            if cycle not in found:
                found.append(cycle)
    return found


def _shortest_cycle(graph: dict[str, set[str]], comp: set[str], start: str) -> list[str]:
    paths, seen = [[start]], {start}
    while True:  # a strongly connected component always leads back
        path = paths.pop(0)
        nxt = sorted(graph[path[-1]] & comp)
        if start in nxt:
            return path + [start]
        for w in nxt:
            if w not in seen:
                seen.add(w)
                paths.append(path + [w])


def _where(importer: str, imported: str) -> str:
    path = MODULES[importer][0].relative_to(ROOT.parent)
    lines = sorted({line for t, _, line in IMPORTS[importer] if t == imported})
    return f"{path}:{','.join(map(str, lines))}"


# ------------------------------------------------------------------ the rules


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if _layer(m) is None]
    assert not missing, ("add these modules to LAYERS (and the map in docs/development.md): "
                         f"{missing}")


def test_no_import_cycles():
    cycles = _cycles(_graph())
    for c in cycles:
        print("cycle: " + " -> ".join(c) + "   ("
              + "; ".join(_where(a, b) for a, b in zip(c, c[1:], strict=False)) + ")")
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_imports_point_down_the_layers():
    up = []
    for m, targets in _graph().items():
        for t in sorted(targets):
            if _layer(t) > _layer(m):
                up.append(f"{_where(m, t)}: {m} ({LAYERS[_layer(m)][0]}) imports {t} "
                          f"({LAYERS[_layer(t)][0]})")
    for line in up:
        print(line)
    assert not up, "\n".join(up)


def test_no_private_names_across_modules():
    borrowed = [f"{_where(m, t)}: {m} imports {n} from {t}"
                for m in MODULES for t, n, _ in IMPORTS[m]
                if n.startswith("_") and not n.startswith("__")
                and ("private", m, n) not in KNOWN_ELSEWHERE]
    assert not borrowed, "\n".join(borrowed)


def _snake(text: str) -> str:
    """'_VmapSpectralNorm' -> '_vmap_spectral_norm'; any other separator becomes '_'."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    return "_" + re.sub(r"[^a-z0-9]+", "_", text) + "_"


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree] + [n for n in ast.walk(tree)
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
            and isinstance(n.body[0].value.value, str)}


def _words(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of every identifier and string literal; docstrings are prose and may cite
    a trick as an example, code may not name one."""
    skip = _docstrings(tree)
    out = []
    for n in ast.walk(tree):
        line = getattr(n, "lineno", 0)
        if isinstance(n, ast.alias):
            out += [(line, a) for a in (n.name, n.asname) if a]
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip:
            out.append((line, n.value))
        else:  # Name.id, Attribute.attr, def / class names, arguments, keywords
            text = next((getattr(n, f) for f in _IDENT.get(type(n), ()) if getattr(n, f)), None)
            out += [(line, text)] if text else []
    return out


_IDENT = {ast.Name: ("id",), ast.Attribute: ("attr",), ast.FunctionDef: ("name",),
          ast.AsyncFunctionDef: ("name",), ast.ClassDef: ("name",), ast.arg: ("arg",),
          ast.keyword: ("arg",)}


def test_train_names_no_trick():
    from ganbench.tricks import TRICKS  # the registry is the list of names

    names = [n for n, cls in TRICKS.items() if cls.__module__.startswith(PACKAGE + ".")]
    assert "spectral_norm" in names and "ema" in names  # the check below reads something
    found = []
    for m in MODULES:
        if not m.startswith(f"{PACKAGE}.train"):
            continue
        for line, text in _words(TREES[m]):
            for name in names:
                if f"_{name}_" in _snake(text) and ("trick", m, name) not in KNOWN_ELSEWHERE:
                    found.append(f"{MODULES[m][0].relative_to(ROOT.parent)}:{line}: "
                                 f"{text[:60]!r} names the trick {name!r}")
    assert not found, "\n".join(sorted(set(found)))


def test_known_elsewhere_entries_still_happen():
    """An entry that no longer occurs is stale: remove it, so the rule holds from then on."""
    from ganbench.tricks import TRICKS

    live = set()
    for m in MODULES:
        for t, n, _ in IMPORTS[m]:
            live |= {("edge", m, t), ("private", m, n)}
        if m.startswith(f"{PACKAGE}.train"):
            words = [_snake(text) for _, text in _words(TREES[m])]
            live |= {("trick", m, name) for name in TRICKS.names()
                     if any(f"_{name}_" in w for w in words)}
    stale = [k for k in KNOWN_ELSEWHERE if k not in live]
    assert not stale, f"remove from KNOWN_ELSEWHERE: {stale}"


def test_the_checks_see_what_they_check():
    """The reader finds module-level, function-local, TYPE_CHECKING and relative imports (with
    `from . import x` resolved to the module x), and a planted circle is found."""
    src = ast.parse("""
from typing import TYPE_CHECKING
from . import stats
from .frame import tidy_runs
from .. import config
import ganbench.atomic
if TYPE_CHECKING:
    from ganbench.report.records import Report
def late():
    from ganbench.metrics import mog, count_label
""")
    got = sorted(_imports("ganbench.report.build", src))
    assert got == [("ganbench.atomic", "", 6), ("ganbench.config", "", 5),
                   ("ganbench.metrics", "count_label", 10), ("ganbench.metrics.mog", "", 10),
                   ("ganbench.report.frame", "tidy_runs", 4), ("ganbench.report.records",
                                                               "Report", 8),
                   ("ganbench.report.stats", "", 3)]
    in_init = _imports("ganbench.report", src, is_pkg=True)  # `.` is the package itself
    assert ("ganbench.report.stats", "", 3) in in_init and ("ganbench.config", "", 5) in in_init
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "e"}, "d": {"a"}, "e": {"c"}}
    assert _cycles(g) == [["a", "b", "c", "a"], ["c", "e", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("ganbench.store.mlflow") > _layer("ganbench.train") > _layer(
        "ganbench.tracking.base")
    assert _layer("ganbench") == len(LAYERS) - 1 and _layer("ganbench.nothing_like_it") is None


def test_the_docs_map_names_every_module_of_the_table():
    # docs/development.md's "Map of the house" describes this table in prose; a module the
    # table gains must be named there too (by its path: `limits.py`, `specs/designs.py`).
    doc = (ROOT.parent / "docs" / "development.md").read_text(encoding="utf-8")
    start = doc.index("## Map of the house")
    end = doc.find("\n## ", start + 1)
    section = doc[start:end if end > 0 else len(doc)]
    unnamed = []
    for _, prefixes in LAYERS:
        for mod in prefixes:
            parts = mod.split(".")[1:]
            if not parts:
                continue  # the package itself: its bullet names ganbench/__init__.py
            path = "/".join(parts)
            named = f"{path}/" if (ROOT / path).is_dir() else f"{path}.py"
            if named not in section and named.rsplit("/", 1)[-1] not in section:
                unnamed.append(named)
    assert not unnamed, f"docs/development.md's map of the house does not name {unnamed}"
