"""The ahead-of-time compiled assignment kernels (``karvan.assign._aot``): the answers of the
numba kernels, calls of other types taken by numba, and a process that never imports numba."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def aot_built() -> None:
    """Build the module (once per version of the kernels) or skip where it cannot be built."""
    out = _run("from karvan.assign import _aot\n"
               "print(_aot.enabled() and _aot.prepare(), _aot.module_path())")
    if not out.split()[0] == "True":
        pytest.skip(f"ahead-of-time kernels not available here ({out.strip()})")


def test_aot_kernels_give_the_numba_answer(aot_built, tntp_dir):
    # one thread, so that both runs shift flow in the same order: the same code compiled twice
    # must give the same rounds, gaps and flows
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import karvan\n"
        "from karvan.io import read_tntp\n"
        "from karvan.kernels import _jit\n"
        f"prob = read_tntp({str(net)!r})\n"
        "def solve():\n"
        "    return karvan.assign(prob.network, prob.demand, method='algorithm-b', gap=1e-10)\n"
        "a = solve()\n"
        "assert _jit.aot_attached() and 'numba' not in sys.modules\n"
        "_jit.load_numba()\n"
        "b = solve()\n"
        "assert 'numba' in sys.modules\n"
        "assert a.iterations == b.iterations, (a.iterations, b.iterations)\n"
        "assert [r[1] for r in a.convergence_rows] == [r[1] for r in b.convergence_rows]\n"
        "print(np.abs(a.flow - b.flow).max(), a.gap)\n"
    )
    diff, gap = map(float, _run(code, NUMBA_NUM_THREADS="1").split()[-2:])
    assert gap <= 1e-10
    assert diff == 0.0


def test_calls_of_other_types_go_to_numba(aot_built):
    # the compiled code checks no types: a call with an int64 arc array (int32 compiled), a
    # strided one or a list must reach numba, and give the right sums
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from karvan.assign import _aot\n"
        "from karvan.kernels import bush as KB\n"
        "assert _aot.prepare()\n"
        "ptr = np.array([0, 2], np.int64); ln = np.array([2, 1], np.int64)\n"
        "arc = np.array([0, 2, 1], np.int32); fl = np.array([1.0, 2.0, 4.0])\n"
        "cls = np.array([0, 0], np.int64)\n"
        "x = KB.class_flows(ptr, ln, arc, fl, cls, 1, 3)\n"
        "assert 'numba' not in sys.modules\n"
        "assert x.tolist() == [[1.0, 4.0, 2.0]], x\n"
        "x = KB.class_flows(ptr, ln, arc.astype(np.int64), fl, cls, 1, 3)\n"
        "assert 'numba' in sys.modules\n"
        "assert x.tolist() == [[1.0, 4.0, 2.0]], x\n"
        "wide = np.zeros(6); wide[::2] = fl\n"
        "x = KB.class_flows(ptr, ln, arc, wide[::2], cls, 1, 3)\n"
        "assert x.tolist() == [[1.0, 4.0, 2.0]], x\n"
        "print('ok')\n"
    )
    assert _run(code).split()[-1] == "ok"


def test_karvan_assign_does_not_import_numba(aot_built, tntp_dir, tmp_path):
    # SiouxFalls is above the size solved as Python: with the module built, the whole command
    # runs compiled kernels without numba (nor pandas or scipy)
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = (
        "import sys\n"
        f"sys.argv = ['karvan', 'assign', {str(net)!r}, '--gap', '1e-8', '--out', "
        f"{str(tmp_path)!r}, '-q']\n"
        "from karvan.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('numba', 'llvmlite', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    assert _run(code).strip().splitlines()[-1] == "[]"
    assert (tmp_path / "link_flows.csv").read_text().count("\n") == 77  # header and 76 links


def test_growing_bushes_and_warm_starts_stay_without_numba(aot_built, tntp_dir):
    # the solver's rarer calls: a bush outgrowing its room (some runs of a network only, as
    # the threads interleave), and a warm start from a result with scaled and changed demand
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import karvan\n"
        "from karvan.assign import _aot\n"
        "from karvan.assign.bush import _Pool\n"
        "from karvan.io import read_tntp\n"
        "from karvan.network import Demand\n"
        "assert _aot.prepare()\n"
        "pool = _Pool(np.array([2, 3]))\n"
        "pool.len[:] = [2, 3]\n"
        "pool.arc[pool.ptr[1]:pool.ptr[1] + 3] = [7, 8, 9]\n"
        "pool.grow(np.array([40, 1]))\n"
        "assert pool.cap[0] >= 40\n"
        "assert pool.arc[pool.ptr[1]:pool.ptr[1] + 3].tolist() == [7, 8, 9]\n"
        f"prob = read_tntp({str(net)!r})\n"
        "a = karvan.assign(prob.network, prob.demand, gap=1e-6)\n"
        "m = prob.demand.matrices['demand'].copy()\n"
        "m[:12] *= 1.1\n"
        "m[12:, :5] *= 0.5\n"
        "d2 = Demand(prob.demand.zone_ids, {'demand': m})\n"
        "b = karvan.assign(prob.network, d2, gap=1e-8, warm_start=a)\n"
        "assert b.gap <= 1e-8\n"
        "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))\n"
    )
    assert _run(code).strip().splitlines()[-1] == "[]"


def test_karvan_aot_0_takes_the_numba_path(tntp_dir):
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = (
        "import sys\n"
        "import karvan\n"
        "from karvan.io import read_tntp\n"
        "from karvan.kernels import _jit\n"
        f"prob = read_tntp({str(net)!r})\n"
        "r = karvan.assign(prob.network, prob.demand, method='algorithm-b', gap=1e-8)\n"
        "assert r.gap <= 1e-8 and not _jit.aot_attached() and _jit.numba_loaded()\n"
        "print('ok')\n"
    )
    assert _run(code, KARVAN_AOT="0").split()[-1] == "ok"


def test_a_failed_build_leaves_the_kernels_on_numba_and_is_not_retried(tmp_path):
    # no C compiler: the child's build fails, a .failed file says why, the solve takes the
    # numba path; the next process does not try again
    code = ("import sys\n"
            "from karvan.assign import _aot\n"
            "print(_aot.prepare(), _aot.module_path().with_suffix('.failed').exists(), "
            "'numba' in sys.modules)\n")
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "CC": "/bin/false", "KARVAN_AOT": "1"}
    assert _run(code, **env).split()[-3:] == ["False", "True", "False"]
    (failed,) = (tmp_path / "karvan_aot").glob("*.failed")
    assert "Traceback" in failed.read_text()
    failed.write_text("kept")
    assert _run(code, **env).split()[-3:] == ["False", "True", "False"]
    assert failed.read_text() == "kept"  # not built again
