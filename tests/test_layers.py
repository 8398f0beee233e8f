"""The one-way dependency rule of the house layout, read from the import statements:
cli -> scenario -> {io, store, freight, assign, paths} -> network -> kernels; kernels import only
numpy, numba and math."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "karvan"

#: what each package may import from karvan (besides itself and karvan.errors)
ALLOWED = {
    "kernels": set(),
    "network": {"kernels"},
    "io": {"network", "kernels"},
    "paths": {"network", "kernels", "assign"},
    "choice": {"network", "kernels", "assign"},
    "assign": {"network", "kernels"},
    "freight": {"network", "kernels", "assign", "io", "paths"},
    "scenario": {"network", "kernels", "assign", "io", "paths", "freight", "store"},
    "store": {"io"},
    "report": {"freight", "io", "store"},
}


def karvan_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "karvan":
            names = [f"karvan.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "karvan":
                out.add(parts[1] if len(parts) > 1 else "karvan")
    return out


def test_packages_import_only_the_layers_below():
    bad = []
    for pkg, allowed in ALLOWED.items():
        for f in (SRC / pkg).rglob("*.py"):
            extra = karvan_imports(f) - allowed - {pkg, "errors", "_version"}
            if extra:
                bad.append(f"{f.relative_to(SRC)} imports {sorted(extra)}")
    assert not bad, "\n".join(bad)


def test_kernels_import_only_numpy_numba_math():
    for f in (SRC / "kernels").rglob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module.split(".")[0]]
            for m in mods:
                assert m in {"numpy", "numba", "math", "__future__", "karvan"}, (f, m)
                if m == "karvan":
                    assert node.module.startswith("karvan.kernels"), (f, node.module)
