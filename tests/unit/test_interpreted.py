"""Kernels run as Python for networks of a few links (numba not loaded): same answers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_python_kernels_give_the_compiled_answer(tntp_dir):
    # in a fresh process: SiouxFalls (above the size that runs interpreted by default) solved
    # with the kernels as Python first, numba not loaded, then compiled
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import karvan\n"
        "from karvan.io import read_tntp\n"
        "from karvan.kernels import _jit\n"
        f"prob = read_tntp({str(net)!r})\n"
        "def solve():\n"
        "    return karvan.assign(prob.network, prob.demand, method='algorithm-b', gap=1e-6)\n"
        "with _jit.interpreted():\n"
        "    py = solve()\n"
        "assert 'numba' not in sys.modules and not _jit.numba_loaded()\n"
        "nb = solve()\n"
        "assert _jit.compiled()\n"
        "assert py.iterations == nb.iterations, (py.iterations, nb.iterations)\n"
        "assert abs(py.gap - nb.gap) <= 1e-6 * nb.gap, (py.gap, nb.gap)\n"
        "print(np.abs(py.flow - nb.flow).max())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=False)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) <= 1e-8


def test_karvan_assign_on_braess_does_not_load_numba(tntp_dir, tmp_path):
    net = tntp_dir / "Braess-Example" / "Braess_net.tntp"
    code = (
        "import sys\n"
        f"sys.argv = ['karvan', 'assign', {str(net)!r}, '--gap', '1e-12', '--out', "
        f"{str(tmp_path)!r}, '-q']\n"
        "from karvan.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('numba', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    # the Braess equilibrium (hand-solved: 4, 2, 2, 2, 4 on the five links)
    text = (tmp_path / "link_flows.csv").read_text().splitlines()
    head = text[0].split(",")
    rows = [dict(zip(head, line.split(","), strict=True)) for line in text[1:]]
    flows = {(r["from_node_id"], r["to_node_id"]): float(r["flow"]) for r in rows}
    for arc, f in {("1", "3"): 4, ("1", "4"): 2, ("3", "2"): 2, ("3", "4"): 2,
                   ("4", "2"): 4}.items():
        assert flows[arc] == pytest.approx(f, abs=3.3e-5)
