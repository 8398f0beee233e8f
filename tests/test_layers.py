"""The one-way dependency rule of the house layout (STYLE.md), read from the import statements.

Imports are read absolute and relative, at any depth of a module, ``TYPE_CHECKING`` blocks
included:

    cli/web -> explore -> scenario -> {calibrate, report, store, freight} -> {assign, choice, paths}
    -> network -> kernels, with io/ and schema/ at the edge

Kernels are called only through ``paths/``, ``assign/`` and ``choice/``; kernels import only numpy,
numba and math. Packages that do not exist yet are declared here already, so that a new one lands
in its place; a package that is not declared fails the test until it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "karvan"

#: top-level modules any package may import
COMMON = {"errors", "_version"}
#: the edge: parsers, writers and table schemas, usable from any layer above network/
EDGE = {"io", "schema"}
#: the only packages that call numba kernels
KERNEL_CALLERS = {"paths", "assign", "choice"}
SOLVERS = {"assign", "choice", "paths"}
MIDDLE = {"calibrate", "report", "store", "freight"}

#: what each package may import from karvan (besides itself and COMMON)
ALLOWED: dict[str, set[str]] = {
    "kernels": set(),
    "schema": set(),
    "network": {"schema"},
    "io": {"network", "schema"},
    "assign": {"network", "kernels"} | EDGE | {"paths"},
    "paths": {"network", "kernels"} | EDGE | {"assign"},
    "choice": {"network", "kernels"} | EDGE | {"assign", "paths"},
    "freight": {"network"} | EDGE | SOLVERS,
    "store": EDGE,
    "report": EDGE | {"network", "freight", "store"},
    "calibrate": EDGE | {"network", "freight", "store"} | SOLVERS,
    "scenario": EDGE | {"network"} | SOLVERS | MIDDLE,
    "explore": EDGE | {"network", "scenario"} | SOLVERS | MIDDLE,
    "web": EDGE | {"network", "scenario", "explore"} | SOLVERS | MIDDLE,
    "cli": EDGE | {"network", "scenario", "explore", "web"} | SOLVERS | MIDDLE,
    # the package's public surface re-exports from below
    "karvan": {"network", "io", "assign", "paths", "choice"},
}


def _module_name(path: Path, src: Path) -> list[str]:
    """``src/karvan/io/gmns.py`` -> ``["karvan", "io", "gmns"]``."""
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return parts


def imported_modules(path: Path, src: Path = SRC) -> set[str]:
    """Every module ``path`` (a file under ``src``) imports, relative imports resolved, as
    dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path, src)
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                assert base, f"{path}: relative import above the karvan package"
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            # ``from karvan import kernels`` and ``from . import kernels`` import a submodule
            out.update(f"{mod}.{a.name}" for a in node.names if a.name != "*")
    return out


def karvan_imports(path: Path, src: Path = SRC) -> set[str]:
    """The karvan packages (or top-level modules) ``path`` imports: ``io``, ``kernels``, ..."""
    found = set()
    for mod in imported_modules(path, src):
        parts = mod.split(".")
        if parts[0] != "karvan" or len(parts) < 2:
            continue
        sub = parts[1]
        if (src / sub).is_dir() or (src / f"{sub}.py").is_file():
            found.add(sub)
    return found


def _packages() -> list[str]:
    return sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def test_every_package_is_declared():
    missing = [p for p in _packages() if p not in ALLOWED and p != "data"]
    assert not missing, (f"packages {missing} have no place in tests/test_layers.py ALLOWED; "
                         "declare what each may import (STYLE.md, 'Shape of the house').")
    # __main__ is Python's name for ``python -m karvan``: it starts the command line, no more
    loose = sorted(p.stem for p in SRC.glob("*.py")
                   if p.stem not in COMMON | {"__init__", "__main__"})
    assert not loose, f"top-level modules {loose} belong in a package (STYLE.md)"
    if (SRC / "__main__.py").is_file():
        assert karvan_imports(SRC / "__main__.py") <= {"cli"}


def test_packages_import_only_the_layers_below():
    bad = []
    for pkg, allowed in ALLOWED.items():
        files = [SRC / "__init__.py"] if pkg == "karvan" else sorted((SRC / pkg).rglob("*.py"))
        for f in files:
            extra = karvan_imports(f) - allowed - {pkg} - COMMON
            if extra:
                bad.append(f"{f.relative_to(SRC)} imports {sorted(extra)}")
    assert not bad, "\n".join(bad)


def test_only_paths_assign_and_choice_call_kernels():
    callers = {p for p, allowed in ALLOWED.items() if "kernels" in allowed}
    assert callers == KERNEL_CALLERS


def test_no_cycles_between_packages():
    graph = {}
    for pkg in _packages():
        if pkg == "data":
            continue
        graph[pkg] = set().union(*(karvan_imports(f) for f in (SRC / pkg).rglob("*.py")))
        graph[pkg] -= {pkg} | COMMON
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(p: str) -> None:
        state[p] = 1
        stack.append(p)
        for q in sorted(graph.get(p, ())):
            if state.get(q) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(q):] + [q]))
            if q not in state:
                visit(q)
        stack.pop()
        state[p] = 2

    for p in graph:
        if p not in state:
            visit(p)


#: kernels/_jit.py loads numba on first use (and runs kernels as Python before): the standard
#: library it needs for that
JIT_STDLIB = {"gc", "os", "sys", "threading", "contextlib", "typing", "collections"}


def test_kernels_import_only_numpy_numba_math():
    bad = []
    for f in (SRC / "kernels").rglob("*.py"):
        for mod in imported_modules(f):
            top = mod.split(".")[0]
            if top in {"numpy", "numba", "math", "__future__"}:
                continue
            if f.name == "_jit.py" and top in JIT_STDLIB:
                continue
            if mod == "karvan" or mod.startswith("karvan.kernels"):
                continue
            bad.append(f"{f.relative_to(SRC)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_the_layer_check_reads_relative_and_nested_imports(tmp_path):
    """The checker itself: relative imports one and two levels up, an import inside a function
    and one under ``TYPE_CHECKING`` are all seen."""
    src = tmp_path / "karvan"
    for sub in ("report", "kernels", "web", "cli"):
        (src / sub).mkdir(parents=True)
        (src / sub / "__init__.py").write_text("")
    f = src / "report" / "build.py"
    f.write_text("from typing import TYPE_CHECKING\n"
                 "from ..kernels import paths\n"
                 "if TYPE_CHECKING:\n    from karvan.web import app\n"
                 "def f():\n    from . import svg\n    import karvan.cli\n")
    assert imported_modules(f, src) >= {"karvan.kernels.paths", "karvan.web",
                                        "karvan.report.svg", "karvan.cli"}
    assert karvan_imports(f, src) == {"kernels", "web", "report", "cli"}
