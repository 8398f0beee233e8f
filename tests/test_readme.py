"""The README's Python example runs as written, in a fresh interpreter from the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = "../shared/tntp"  # where the README says the TNTP files are, from the checkout


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_example_runs_as_written(tntp_dir):
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "README.md has no python example"
    code = "\n".join(blocks)
    assert WRITTEN in code
    if not (ROOT / WRITTEN).resolve() == tntp_dir.resolve():
        code = code.replace(WRITTEN, str(tntp_dir))  # $KARVAN_TNTP elsewhere: the same files
    # what the example computed, for the test to check
    code += ('\nprint("README-OK", r.converged, r.gap <= 1e-8, len(r.link_table()), '
             'run.summary["scenario"], len(run.tables["countries"]) > 0)\n')
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR",
                                                          str(ROOT / ".numba-cache"))}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last == "README-OK True True 76 rasht_astara True", last
