"""The command line's one error path (exit 2 for bad input, 3 for internal errors, 130 for
Ctrl-C), ``--version``, ``--debug`` and what ``karvan --help`` loads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import karvan
from karvan.cli import app
from karvan.cli._app import shorten
from karvan.errors import InputError
from tests.signals import default_sigint

SMALL = Path(__file__).resolve().parents[1] / "data" / "gmns_small"

#: what the light commands must not load: the report, store, web and geo stacks
HEAVY = ("karvan.report", "karvan.store", "karvan.web", "karvan.scenario", "karvan.freight",
         "geopandas", "shapely", "pyogrio", "fastapi", "starlette", "uvicorn", "jinja2", "h5py",
         "sqlite3")


def invoke(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, **kw)


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"karvan {karvan.__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["validate", str(SMALL)]])
def test_light_commands_load_no_report_store_web_or_geo_code(argv):
    code = (f"import sys\nfrom karvan.cli import main\nsys.argv = ['karvan', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "import json\nprint(json.dumps(sorted(sys.modules)))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "COLUMNS": "120"})
    loaded = json.loads(res.stdout.strip().splitlines()[-1])
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY
                   or any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, heavy


def test_input_error_exits_2_with_its_message_shortened(monkeypatch):
    token = "x" * 40_000

    def bad(*a, **k):
        raise InputError(f"trips.tntp line 7: cannot read {token!r} as a number.")

    monkeypatch.setattr("karvan.io.validate.validate_input", bad)
    r = invoke("validate", SMALL)
    assert r.exit_code == 2
    assert "error: trips.tntp line 7: cannot read 'xxx" in r.output
    assert "more characters" in r.output and len(r.output) < 1_000
    assert "Traceback" not in r.output


def test_internal_error_exits_3_with_a_short_message_and_a_traceback_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("karvan.io.validate.validate_input", broken)
    r = invoke("validate", SMALL)
    assert r.exit_code == 3, r.output
    assert "internal error" in r.output and "ZeroDivisionError" in r.output
    assert "report" in r.output and "--debug" in r.output
    assert "Traceback" not in r.output
    (tb,) = tmp_path.glob("karvan-error-*.txt")
    assert "Traceback" in tb.read_text() and "broken" in tb.read_text()


def test_debug_lets_the_traceback_through(monkeypatch):
    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("karvan.io.validate.validate_input", broken)
    r = invoke("--debug", "validate", SMALL)
    assert isinstance(r.exception, ZeroDivisionError)


def test_ctrl_c_exits_130_and_says_nothing_was_half_written(monkeypatch, tmp_path):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("karvan.io.problem.read_problem", interrupted)
    r = invoke("assign", SMALL, "--out", tmp_path / "out")
    assert r.exit_code == 130
    assert "interrupted" in r.output and "nothing was half-written" in r.output
    assert not (tmp_path / "out").exists()
    assert "resumes" not in r.output and "run store" not in r.output
    # karvan run: interrupted while writing the report, its runs are kept and it says so
    monkeypatch.setattr("karvan.report.write_report", interrupted)
    r = invoke("run", "baseline", "--out", tmp_path / "res", "-q", "--no-gpkg")
    assert r.exit_code == 130
    text = " ".join(r.output.split())
    assert "The scenarios already saved are kept in the run store" in text
    assert (tmp_path / "res" / "baseline" / "manifest.json").is_file()
    # karvan explore says that the same command resumes it
    monkeypatch.setattr("karvan.explore.study.explore", interrupted)
    r = invoke("explore", "baseline", "--draws", "2", "--out", tmp_path / "e")
    assert r.exit_code == 130
    assert "The same command again resumes the experiment" in r.output


@pytest.mark.parametrize("link", ["cause", "context"])
def test_ctrl_c_turned_into_another_exception_is_still_ctrl_c(monkeypatch, tmp_path, link):
    """SIGINT inside a numba function surfaces as a SystemError raised from the
    KeyboardInterrupt (or an error raised while handling one): exit 130, not an internal
    error."""
    def interrupted(*a, **k):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            err = SystemError("CPUDispatcher(<function merge_routes>) returned a result with "
                              "an exception set")
            if link == "cause":
                raise err from ki
            raise err  # noqa: B904  (the interrupt is its context)

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr("karvan.io.problem.read_problem", interrupted)
    r = invoke("assign", SMALL, "--out", tmp_path / "out")
    assert r.exit_code == 130, r.output
    assert "interrupted" in r.output and "internal error" not in r.output
    assert not list(tmp_path.glob("karvan-error-*.txt"))
    assert not (tmp_path / "out").exists()


def test_unreadable_output_place_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = invoke("assign", SMALL, "--out", blocker / "sub", "--quiet")
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and "Traceback" not in r.output


def test_each_command_takes_the_width_of_its_own_environment():
    """The tables' width is set per command, not once when the CLI is imported: a command
    run after another in the same process (a script, or the tests in any order) reads its own
    COLUMNS (standard output and standard error), and a pipe without COLUMNS gets PIPE_WIDTH
    (PIPE_WIDTH_STDERR)."""
    from karvan.cli._app import PIPE_WIDTH, PIPE_WIDTH_STDERR, console, out

    for columns in ("63", "200"):
        r = CliRunner().invoke(app, ["validate", str(SMALL)], env={"COLUMNS": columns})
        assert r.exit_code == 0, r.output
        assert out.width == console.width == int(columns)
    r = CliRunner().invoke(app, ["validate", str(SMALL)], env={"COLUMNS": None})
    assert r.exit_code == 0, r.output
    assert (out.width, console.width) == (PIPE_WIDTH, PIPE_WIDTH_STDERR)


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name)


def test_every_commands_help_is_prose_without_the_docstrings_sections():
    """``--help`` shows a command's docstring up to its numpydoc sections (``Raises`` is for
    the API's readers), each paragraph's lines joined so that the terminal wraps them."""
    import typer.main

    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) >= 12 and ("runs", "rm") in commands
    for path in commands:
        r = invoke(*path, "--help")
        assert r.exit_code == 0, (path, r.output)
        assert "Raises" not in r.output and "------" not in r.output, (path, r.output)
        assert "``" not in r.output, path
    # two lines of the docstring (broken after "least") read as one line at 200 columns
    r = invoke("calibrate", "--help")
    assert "(generalized least squares with demand.csv as the prior" in r.output


def test_tidy_help_keeps_list_items_and_paragraphs():
    from karvan.cli._app import tidy_help

    text = "First.\n\nA list:\n- one\n  two\n- three\n\nLast line\nhere.\n\nReturns\n-------\nx"
    assert tidy_help(text) == "First.\n\nA list:\n- one\n  two\n- three\n\nLast line here."
    assert tidy_help(None) is None and tidy_help("") == ""
    # click's \b paragraph keeps every line; an indented block keeps its indentation
    assert tidy_help("Use:\n\n\b\none\ntwo\nthree") == "Use:\n\n\b\none\ntwo\nthree"
    assert tidy_help("Run:\n    karvan run\n    karvan x") == "Run:\n    karvan run\n    karvan x"


def _validate_meets_a_broken_pipe(monkeypatch, stdout_gone: bool):
    """``karvan validate`` whose work raises BrokenPipeError, standard output gone or not."""
    def closed(*a, **k):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("karvan.io.validate.validate_input", closed)
    monkeypatch.setattr("karvan.cli._app._stdout_gone", lambda: stdout_gone)
    return invoke("validate", SMALL)


def test_output_closed_by_its_reader_ends_quietly(monkeypatch):
    """``karvan ... | head``: a write that meets the closed pipe ends the command with 1 and
    no message (it is not the user's input: no ``error:``, no exit 2)."""
    r = _validate_meets_a_broken_pipe(monkeypatch, True)
    assert r.exit_code == 1, r.output
    assert "error" not in r.output and "Traceback" not in r.output


def test_another_broken_pipe_is_an_internal_error(monkeypatch, tmp_path):
    """A pipe to a worker process that breaks while standard output is fine is not a quiet
    exit: exit 3, a message and a traceback file."""
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    r = _validate_meets_a_broken_pipe(monkeypatch, False)
    assert r.exit_code == 3, r.output
    assert "internal error" in r.output and "BrokenPipeError" in r.output
    assert list(tmp_path.glob("karvan-error-*.txt"))


@pytest.mark.parametrize("reader_open", [True, False])
def test_stdout_gone_sees_a_pipe_without_its_reader(reader_open):
    code = ("import os, sys\nr, w = os.pipe()\n"
            f"{'' if reader_open else 'os.close(r)'}\nos.dup2(w, 1)\n"
            "from karvan.cli._app import _stdout_gone\nsys.stderr.write(str(_stdout_gone()))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert p.stderr.strip().splitlines()[-1] == str(not reader_open)


def test_shorten_keeps_short_lines():
    assert shorten("a\nb") == "a\nb"
    assert shorten("y" * 401) == "y" * 401  # the cut would make it longer
    assert shorten("y" * 1000) == "y" * 240 + " ... (600 more characters) ... " + "y" * 160


def test_a_long_problem_keeps_its_remedy_at_the_end():
    """An edited demand.csv: the ids listed fill the line, the remedy is its last sentence."""
    ods = ", ".join(f"Z_RU_MOSCOW>Z_IN_CHENNAI>commodity_{i}" for i in range(20))
    fix = ("re-run `karvan calibrate --write` on the current demand.csv (OD estimation), or "
           "delete od_estimate.csv to run on demand.csv.")
    problem = (f"od_estimate.csv: prior_tonnes_per_year differs from the row's tonnes in "
               f"demand.csv on 58 rows (lines 799, 800 and 56 more; OD {ods}): {fix}")
    second = "demand.csv line 3: tonnes_per_year is negative; give a tonnage >= 0."
    shown = shorten(f"{problem}\n{second}")
    first, rest = shown.split("\n")
    assert len(first) <= 400 + 40 and "more characters) ..." in first
    assert first.startswith("od_estimate.csv: prior_tonnes_per_year differs")
    assert first.endswith(fix) and rest == second


@pytest.mark.slow
def test_ctrl_c_during_a_real_run_leaves_only_whole_results(tmp_path):
    """SIGINT to `karvan run` after its first scenario is saved: exit 130, the message, and on
    disk only complete runs (no temporary folders, every listed run whole)."""
    import signal

    from karvan.store import RunStore

    out = tmp_path / "results"
    exe = Path(sys.executable).with_name("karvan")
    # one process (--jobs 1); the path with worker processes is
    # test_ctrl_c_during_a_parallel_run_stops_the_workers
    proc = subprocess.Popen([str(exe), "run", "baseline", "rasht_astara", "combined_2030",
                             "--out", str(out), "--no-lp", "--no-report", "--no-gpkg",
                             "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "COLUMNS": "120"},
                            preexec_fn=default_sigint)
    try:
        _wait_until_listed(proc, out / "baseline", 300)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, stderr[-2000:])
    assert "interrupted" in stderr and "nothing was half-written" in stderr
    assert "Traceback" not in stderr
    leftovers = [p.name for p in [*out.iterdir(), *(out / "runs").iterdir()]
                 if ".tmp-" in p.name or p.name.startswith(".")]
    assert not leftovers, leftovers
    store = RunStore(out, create=False)
    runs = store.list()
    assert "baseline" in set(runs["scenario"])
    for rid in runs["run_id"]:
        rec = store.get(rid)
        assert all((rec.path / f"{t}.parquet").is_file() for t in rec.table_names)


def _wait_until_listed(proc, folder: Path, limit_s: float) -> None:
    """Wait until the run copied to ``folder`` is whole (its manifest is written last), while
    ``proc`` is still running, for at most ``limit_s`` seconds."""
    t0 = time.monotonic()
    while not (folder / "manifest.json").is_file():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < limit_s, f"the first scenario took over {limit_s} s"
        time.sleep(0.1)


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process, from /proc."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            found.append((int(d.name), int(fields[1]), int(fields[2])))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(("to_group", "signame"), [(True, "SIGINT"), (False, "SIGINT"),
                                                  (False, "SIGTERM")],
                         ids=["ctrl-c-to-group", "sigint-to-main", "sigterm-to-main"])
def test_ctrl_c_during_a_parallel_run_stops_the_workers(tmp_path, to_group, signame):
    """SIGINT to `karvan run --jobs 2` once its first scenario is listed, as a terminal sends it
    (to the process group) or to the main process alone, its two workers frozen just before
    (SIGSTOP: scenarios that would run for hours, or a numba kernel, which looks at no signal):
    exit 130 with the message, the workers stopped rather than waited for (the old path waited
    for them for ever, and where they could go on, let every scenario in the pool run to its
    end), every listed run whole and copied to its results folder, nothing half-written, no
    process of the run left. SIGTERM: the same, and the process ends as SIGTERM ends it (the
    old path died at once and left its workers behind)."""
    import os
    import signal

    from karvan.store import RunStore

    names = [f"s{i}" for i in range(1, 9)]
    for n in names:
        (tmp_path / f"{n}.toml").write_text(f'name = "{n}"\nyear = 2024\nextends = "baseline"\n')
    out = tmp_path / "results"
    exe = Path(sys.executable).with_name("karvan")
    proc = subprocess.Popen(
        [str(exe), "run", *(str(tmp_path / f"{n}.toml") for n in names), "--out", str(out),
         "--no-lp", "--no-report", "--jobs", "2",
         # the deterministic model: the first scenario is listed sooner (the signal path is
         # the same whatever the workers run)
         "--choice", "deterministic"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "120"}, start_new_session=True,
        preexec_fn=default_sigint)
    workers: list[int] = []
    try:
        _wait_until_listed(proc, out / "s1", 900)
        workers = [pid for pid, ppid, _ in _processes() if ppid == proc.pid]
        assert len(workers) == 2, ("two workers forked from the main process", workers)
        for w in workers:
            os.kill(w, signal.SIGSTOP)
        sig = getattr(signal, signame)
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if signame == "SIGINT":
        assert proc.returncode == 130, (proc.returncode, stderr[-2000:])
        assert "interrupted" in stderr and "nothing was half-written" in stderr
    else:
        assert proc.returncode == -signal.SIGTERM, (proc.returncode, stderr[-2000:])
    assert "Traceback" not in stderr
    # no process of the run is left (the workers were reaped by the main process)
    deadline = time.monotonic() + 60
    while left := [p for p in _processes() if p[2] == proc.pid or p[0] in workers]:
        assert time.monotonic() < deadline, left
        time.sleep(0.2)
    leftovers = [p.name for p in [*out.iterdir(), *(out / "runs").iterdir()]
                 if p.name.startswith(".")]
    assert not leftovers, leftovers
    runs = RunStore(out, create=False).list()
    listed = list(runs["scenario"])
    assert listed == names[:len(listed)] and "s1" in listed and len(listed) < len(names)
    for rid, name in zip(runs["run_id"], listed, strict=True):
        rec = RunStore(out, create=False).get(rid)
        assert all((rec.path / f"{t}.parquet").is_file() for t in rec.table_names)
        assert json.loads((out / name / "manifest.json").read_text())["run_id"] == rid
        assert (out / name / "run.gpkg").is_file()
        assert f"done {name} " in stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted([*listed, "runs"])


def test_the_app_loads_after_its_module_was_imported_first():
    """Importing ``karvan.cli._app`` (as a command module does) bound the package attribute
    ``_app`` to that module, hiding the function of the same name that ``karvan.cli.app``
    called: 'module' object is not callable, in whichever test or script came second."""
    import subprocess
    import sys

    code = ("import karvan.cli.serve, karvan.cli\n"
            "from karvan.cli import app\n"
            "print(type(app).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Typer"


def test_python_dash_m_karvan_is_the_karvan_command():
    res = subprocess.run([sys.executable, "-m", "karvan", "--version"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"karvan {karvan.__version__}"


def test_warnings_as_lines_leaves_other_packages_warnings_and_restores_the_display(capsys):
    import warnings

    from karvan.cli._app import warnings_as_lines
    from karvan.freight.corridor import CorridorWarning

    passed = []

    def before(message, category, *args, **kw):
        passed.append((str(message), category))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = before
        with warnings_as_lines():
            warnings.warn(CorridorWarning("a.csv line 3: odd [b]value[/b]"), stacklevel=1)
            warnings.warn("from another package", UserWarning, stacklevel=1)
        assert warnings.showwarning is before
    assert capsys.readouterr().err == "warning: a.csv line 3: odd [b]value[/b]\n"  # not markup
    assert passed == [("from another package", UserWarning)]  # shown as before
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the filters still decide: an error stays an error
        with pytest.raises(CorridorWarning), warnings_as_lines():
            warnings.warn(CorridorWarning("x"), stacklevel=1)
