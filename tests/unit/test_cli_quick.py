"""The quick path of ``karvan assign -q`` (no typer, no rich): the same files, messages and exit
codes as the full command line, and everything else handed over to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from karvan.cli._quick import DEFAULTS, parse


def karvan(*args, env=None) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom karvan.cli import main\n"
            f"sys.argv = ['karvan', *{[str(a) for a in args]!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code or 0\nelse:\n"
            "    code = 0\n"
            "print('LOADED', sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules))\n"
            "sys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, check=False)


def test_parse_reads_the_options_of_karvan_assign():
    p = parse(["assign", "n.tntp", "--gap=1e-8", "--max-iter", "7", "--out", "o", "-q",
               "--toll-factor", "0.02", "--trips", "t.tntp", "--max-time=5"])
    assert p == {**DEFAULTS, "network": Path("n.tntp"), "gap": 1e-8, "max_iter": 7,
                 "out_dir": Path("o"), "quiet": True, "toll_factor": 0.02,
                 "trips": Path("t.tntp"), "max_time": 5.0}


def test_parse_reads_every_use():
    p = parse(["assign", "n", "--every-use", "-q"])
    assert p == {**DEFAULTS, "network": Path("n"), "quiet": True, "every_use": True}


@pytest.mark.parametrize("argv", [
    ["assign", "n.tntp"],                                  # not quiet: progress is drawn
    ["assign", "n.tntp", "-q", "--help"],
    ["assign", "n.tntp", "-q", "--gap", "small"],          # typer's message for it
    ["assign", "n.tntp", "-q", "--gap"],
    ["assign", "n.tntp", "-q", "--max-iter", "1.5"],
    ["assign", "n.tntp", "-q", "--colour"],
    ["assign", "n.tntp", "m.tntp", "-q"],
    ["assign", "-q"],
    ["assign", "n.tntp", "-q", "--method", "sue", "--theta", "1"],
    ["assign", "n.tntp", "-q", "--theta", "1"],
    ["--debug", "assign", "n.tntp", "-q"],
    ["validate", "n.tntp"],
    [],
])
def test_anything_else_goes_to_the_full_command_line(argv):
    assert parse(argv) is None


def test_quick_and_full_paths_write_the_same_files(tntp_dir, tmp_path):
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    one = {"NUMBA_NUM_THREADS": "1"}  # the same order of flow shifts in both
    quick = karvan("assign", net, "--gap", "1e-8", "-q", "--out", tmp_path / "q", env=one)
    assert quick.returncode == 0, quick.stderr
    assert "LOADED []" in quick.stdout
    assert quick.stdout.startswith("converged: ")
    # the full path (progress drawn: not quiet)
    full = karvan("assign", net, "--gap", "1e-8", "--out", tmp_path / "f", env=one)
    assert full.returncode == 0, full.stderr
    assert "'typer'" in full.stdout
    for name in ("link_flows.csv", "convergence.csv"):
        q = (tmp_path / "q" / name).read_text()
        f = (tmp_path / "f" / name).read_text()
        if name == "convergence.csv":  # its last column is the elapsed time
            q, f = ([line.rsplit(",", 1)[0] for line in t.splitlines()] for t in (q, f))
        assert q == f, name


def test_bad_input_gets_the_full_command_lines_message_and_exit_code(tmp_path):
    missing = tmp_path / "nothing_net.tntp"
    quick = karvan("assign", missing, "-q", "--out", tmp_path / "o")
    full = karvan("assign", missing, "--out", tmp_path / "o")
    assert quick.returncode == full.returncode == 2
    assert "error:" in quick.stderr and quick.stderr == full.stderr
    assert not (tmp_path / "o").exists()


def test_not_converged_exits_1_with_the_results_written(tntp_dir, tmp_path):
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    r = karvan("assign", net, "--gap", "1e-14", "--max-iter", "2", "-q", "--out", tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("not converged: 2 iterations")
    assert (tmp_path / "link_flows.csv").exists()


def test_all_or_nothing_is_said_as_the_full_command_says_it(tntp_dir, tmp_path):
    # -q printed "not converged" and exited 1; the full command says "loaded all-or-nothing", 0
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    r = karvan("assign", net, "--method", "aon", "-q", "--out", tmp_path / "q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("loaded all-or-nothing: 0 iterations") and "LOADED []" in r.stdout


def test_an_output_folder_in_a_file_is_refused_before_the_solve(tntp_dir, tmp_path):
    """--out afile/sub solved, then failed with "File exists: afile (FileExistsError)", then the
    full command line solved again to report it."""
    (tmp_path / "afile").write_text("x")
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    quick = karvan("assign", net, "-q", "--out", tmp_path / "afile" / "sub")
    assert quick.returncode == 2
    assert f"{tmp_path / 'afile'} is a file, so the folder" in quick.stderr
