"""Experiments on Dask: reproducible whatever the workers, nothing completed lost, resumable,
bad input refused before any work; Sobol indices of the Ishigami function."""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.explore import runner as R
from karvan.explore.analysis import Statement, analyse_experiment
from karvan.explore.experiment import Experiment
from karvan.explore.inputs import corridor_inputs
from karvan.explore.runner import ModelSpec, run_experiment
from karvan.explore.sampling import make_design
from karvan.explore.study import explore
from karvan.explore.testfunctions import IshigamiModel, ishigami_indices, ishigami_inputs
from karvan.freight.corridor import load_corridor

distributed = pytest.importorskip("distributed")

#: the deterministic model's experiments (the logit model's: test_explore_choice_runner.py)
det = functools.partial(explore, choice="deterministic")


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def client2():
    with R.connect(workers=2) as c:
        yield c


def _outputs(folder) -> pd.DataFrame:
    d = Experiment(folder).draws()
    return d.drop(columns=[c for c in d if c in ("_elapsed_s", "_cpu_s")]).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(data, tmp_path_factory):
    """The reference: 6 draws of the baseline evaluated in this process."""
    out = tmp_path_factory.mktemp("serial") / "exp"
    det(["baseline"], draws=6, seed=11, data=data, workers=0, out=out, batch_size=2)
    return _outputs(out)


def test_same_seed_same_results_with_one_and_two_workers(data, serial, client2, tmp_path):
    with R.connect(workers=1) as c1:
        det(["baseline"], draws=6, seed=11, data=data, client=c1, out=tmp_path / "one",
                batch_size=2)
    det(["baseline"], draws=6, seed=11, data=data, client=client2, out=tmp_path / "two",
            batch_size=2)
    one, two = _outputs(tmp_path / "one"), _outputs(tmp_path / "two")
    assert len(one) == 7  # the central case and 6 draws
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, serial)
    # the drawn inputs are those of the seeded design; another seed draws others
    inputs = corridor_inputs(data)
    want = inputs.values(make_design(inputs, "lhs", 6, seed=11).u)
    np.testing.assert_array_equal(one.filter(like="in:").to_numpy(dtype=float)[1:], want)
    assert not np.allclose(inputs.values(make_design(inputs, "lhs", 6, seed=12).u), want)


def test_a_killed_worker_loses_no_completed_draw(data, serial, client2, tmp_path):
    pids = list(client2.run(os.getpid).values())
    killed = []

    def kill_one(done, total, note):
        if done >= 2 and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    r = det(["baseline"], draws=6, seed=11, data=data, client=client2,
                out=tmp_path / "kill", batch_size=2, progress=kill_one)
    assert killed
    files = sorted((tmp_path / "kill" / "draws").rglob("part-*.parquet"))
    ids = np.concatenate([pd.read_parquet(f, columns=["draw"])["draw"].to_numpy()
                          for f in files])
    assert sorted(ids) == list(range(-1, 6))  # every draw once
    assert r.computed == 7
    pd.testing.assert_frame_equal(_outputs(tmp_path / "kill"), serial)
    client2.wait_for_workers(2, timeout=60)


def test_an_interrupted_experiment_resumes_without_redoing_draws(data, serial, client2,
                                                                 tmp_path):
    out = tmp_path / "stop"

    def stop(done, total, note):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        det(["baseline"], draws=6, seed=11, data=data, client=client2, out=out,
                batch_size=2, progress=stop)
    exp = Experiment(out)
    assert exp.manifest()["status"] == "running"
    kept = exp.completed()["baseline"]
    assert len(kept) >= 3
    seen = []
    r = det(["baseline"], draws=6, seed=11, data=data, client=client2, out=out,
                batch_size=2, progress=lambda d, t, n: seen.append(d))
    assert r.resumed == len(kept) and r.computed == 7 - len(kept)
    assert seen[0] == len(kept)
    assert exp.manifest()["status"] == "complete"
    pd.testing.assert_frame_equal(_outputs(out), serial)
    b = exp.table("bands")
    assert {"p5", "p50", "p95"} <= set(b.columns)
    # another design in the same folder is refused
    with pytest.raises(InputError, match="other settings.*it differs in draws"):
        det(["baseline"], draws=8, seed=11, data=data, workers=0, out=out)


def test_sobol_indices_of_ishigami_match_the_analytical_values(client2, tmp_path):
    """Through the experiment code the corridor uses: Saltelli design, Dask tasks, batches on
    disk, the statement's quantity analysed by SALib."""
    st = [Statement("y", "y > 0", "ishigami", "y", ">", 0.0)]
    run_experiment([ModelSpec("ishigami", IshigamiModel)], ishigami_inputs(), draws=2048,
                   sampler="sobol", seed=5, client=client2, folder=tmp_path / "ishigami",
                   batch_size=1024,
                   analyse=functools.partial(analyse_experiment, statements=st))
    s = pd.read_csv(tmp_path / "ishigami" / "sensitivity.csv").set_index("factor")
    want = ishigami_indices()
    for j, x in enumerate(("x.x1", "x.x2", "x.x3")):
        for k in ("S1", "ST"):
            assert abs(s.at[x, k] - want[k][j]) <= s.at[x, f"{k}_conf"], (x, k)
    tor = pd.read_csv(tmp_path / "ishigami" / "tornado.csv")
    assert list(tor["factor"]) == ["x.x1", "x.x2", "x.x3"]


def test_bad_input_is_refused_before_any_work(data, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(R, "_build", lambda b: calls.append(b) or b())
    for kwargs, match in [
        ({"draws": 1}, "integer >= 2"),
        ({"draws": 8, "select": ["demand.tonnes:nowhere*"]}, "unknown input names"),
        ({"draws": 8, "sampler": "sobol", "groups": "field", "workers": 0,
          "scheduler": "tcp://127.0.0.1:1"}, "not both"),
    ]:
        with pytest.raises(InputError, match=match):
            explore(["baseline"], data=data, out=tmp_path / "x", **kwargs)
    monkeypatch.setattr(R, "CONNECT_TIMEOUT_S", 2.0)
    with pytest.raises(InputError,
                       match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        explore(["baseline"], data=data, draws=4, scheduler="tcp://127.0.0.1:9",
                out=tmp_path / "x")
    bad = tmp_path / "u.csv"
    src = pd.read_csv(data.folder / "uncertainty.csv", dtype=str)
    src.loc[src["rule_id"] == "U_PRESS", "sigma"] = "0"
    src.to_csv(bad, index=False)
    with pytest.raises(InputError, match="U_PRESS.*sigma > 0"):
        explore(["baseline"], data=data, draws=4, uncertainty=bad, workers=0,
                out=tmp_path / "x")
    with pytest.raises(InputError, match="no built-in scenario .no_such_scenario."):
        explore(["no_such_scenario"], data=data, draws=4, workers=0, out=tmp_path / "x")
    assert not calls and not (tmp_path / "x").exists()


def test_corridor_inputs_of_the_builtin_table_and_the_dataset_folder_agree(data):
    assert corridor_inputs(data).names == corridor_inputs(
        data, data.folder / "uncertainty.csv").names


def test_morris_screening_of_a_linear_model(tmp_path):
    """Elementary effects of a linear function are its coefficients times the ranges."""
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0), "c": (-5.0, 5.0)})
    st = [Statement("y", "y > 0", "lin", "y", ">", 0.0)]
    run_experiment([ModelSpec("lin", functools.partial(LinearModel, (3.0, -1.0, 0.0)))],
                   inputs, draws=10, sampler="morris", seed=2, workers=0,
                   folder=tmp_path / "m",
                   analyse=functools.partial(analyse_experiment, statements=st))
    s = pd.read_csv(tmp_path / "m" / "sensitivity.csv").set_index("factor")
    np.testing.assert_allclose(s.loc[["x.a", "x.b", "x.c"], "mu_star"], [6.0, 1.0, 0.0],
                               atol=1e-9)
    np.testing.assert_allclose(s["sigma"], 0.0, atol=1e-9)


def test_a_morris_experiment_drawn_on_the_old_grid_is_refused_not_rescaled(tmp_path,
                                                                            monkeypatch):
    """An experiment records its design version. A Morris experiment stored before (no record)
    is analysed as now when its points are at the strata centres; drawn on SALib's grid 0..1
    (before the strata centres) its mu* would be rescaled by 4/3 for the other grid: refused,
    with the remedy."""
    import dataclasses

    from karvan.explore import sampling
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0), "c": (-5.0, 5.0)})
    st = [Statement("y", "y > 0", "lin", "y", ">", 0.0)]
    spec = [ModelSpec("lin", functools.partial(LinearModel, (3.0, -1.0, 0.0)))]

    def unrecorded(folder):
        exp = Experiment(folder)
        m = exp.manifest()
        assert m["design_version"] == sampling.DESIGN_VERSION == 2
        del m["design_version"]  # as stored before the record
        exp.write_manifest(m)
        return exp

    run_experiment(spec, inputs, draws=10, sampler="morris", seed=2, workers=0,
                   folder=tmp_path / "centres")
    s = analyse_experiment(unrecorded(tmp_path / "centres"), statements=st)["sensitivity"]
    np.testing.assert_allclose(s.set_index("factor").loc[["x.a", "x.b", "x.c"], "mu_star"],
                               [6.0, 1.0, 0.0], atol=1e-9)

    def salib_grid(*args, **kwargs):
        d = sampling.make_design(*args, **kwargs)
        return dataclasses.replace(d, u=(d.u - 1 / 8) / (3 / 4))  # back to 0, 1/3, 2/3, 1

    monkeypatch.setattr(R, "make_design", salib_grid)
    run_experiment(spec, inputs, draws=10, sampler="morris", seed=2, workers=0,
                   folder=tmp_path / "old")
    monkeypatch.undo()
    exp = unrecorded(tmp_path / "old")
    assert sorted(np.unique(pd.read_parquet(tmp_path / "old" / "design.parquet").filter(
        like="u:"))) == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    with pytest.raises(InputError, match=r"SALib's grid 0, 1/3, 2/3, 1 .* Run the experiment "
                                         r"again"):
        analyse_experiment(exp, statements=st)
    assert not (tmp_path / "old" / "sensitivity.csv").exists()
    m = exp.manifest()
    m["design_version"] = 1
    exp.write_manifest(m)
    with pytest.raises(InputError, match="design version 1"):
        analyse_experiment(exp, statements=st)


def _linear_stopped(**where):
    """A linear model of two ranged inputs, its experiment of 8 draws stopped after 2 (as by
    Ctrl-C) in ``folder`` or ``store``: (spec, inputs)."""
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0)})
    spec = [ModelSpec("lin", functools.partial(LinearModel, (3.0, -1.0)))]

    def stop(done, total, note):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(spec, inputs, draws=8, seed=1, workers=0, batch_size=1, progress=stop,
                       **where)
    return spec, inputs


def test_an_experiment_whose_stored_design_differs_is_not_resumed(tmp_path):
    """On resume the design is drawn again; points drawn otherwise (another SciPy or SALib)
    would be mixed with the stored ones."""
    folder = tmp_path / "e"
    spec, inputs = _linear_stopped(folder=folder)
    d = pd.read_parquet(folder / "design.parquet")
    d.iloc[5, d.columns.get_loc("u:x.a")] = 0.123456
    d.to_parquet(folder / "design.parquet")
    with pytest.raises(InputError, match="design stored with this experiment is not the one"):
        run_experiment(spec, inputs, draws=8, seed=1, workers=0, folder=folder, batch_size=1)


def test_an_experiment_started_by_other_code_is_not_resumed(tmp_path, monkeypatch, caplog):
    """Draws computed by one version of the code and by another would be mixed in one
    analysis; the version number stays the same between releases, the code's fingerprint
    does not."""
    from karvan._version import code_fingerprint

    folder = tmp_path / "e"
    spec, inputs = _linear_stopped(folder=folder)
    assert Experiment(folder).manifest()["karvan_code"] == code_fingerprint()
    monkeypatch.setattr(R, "code_fingerprint", lambda: "0123456789abcdef")
    with pytest.raises(InputError, match="other settings.*it differs in karvan_code"):
        run_experiment(spec, inputs, draws=8, seed=1, workers=0, folder=folder, batch_size=1)
    # in a store, the other code's unfinished experiment is left, and said so; a new one starts
    store = tmp_path / "store"
    monkeypatch.setattr(R, "code_fingerprint", code_fingerprint)
    _linear_stopped(store=store)
    monkeypatch.setattr(R, "code_fingerprint", lambda: "0123456789abcdef")
    with caplog.at_level("WARNING", logger="karvan"):
        b = run_experiment(spec, inputs, draws=8, seed=1, workers=0, store=store, batch_size=1)
    assert b.resumed == 0
    assert "unfinished experiment of these settings, started by other code" in caplog.text
    assert len(list((store / "experiments").iterdir())) == 2


def test_code_fingerprint_follows_the_source(tmp_path, monkeypatch):
    """The fingerprint hashes the package's files: an edit changes it, nothing else does."""
    import shutil

    import karvan
    from karvan import _version

    pkg = tmp_path / "karvan"
    shutil.copytree(Path(karvan.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    monkeypatch.setattr(_version, "__file__", str(pkg / "_version.py"))
    _version.code_fingerprint.cache_clear()
    try:
        first = _version.code_fingerprint()
        _version.code_fingerprint.cache_clear()
        assert _version.code_fingerprint() == first
        (pkg / "assign" / "capacity.py").write_text(
            (pkg / "assign" / "capacity.py").read_text() + "\n# an edit\n")
        _version.code_fingerprint.cache_clear()
        assert _version.code_fingerprint() != first
    finally:
        _version.code_fingerprint.cache_clear()


def test_a_failed_or_interrupted_analysis_leaves_no_half_written_tables(tmp_path, monkeypatch):
    """The analysis's tables are written together: interrupted on its first analysis an
    experiment holds none of them (and is not complete); a failed analysis of a complete one
    leaves every table it had, unchanged; the next analysis writes the whole new set."""
    from karvan.explore import experiment as E
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0)})
    spec = [ModelSpec("lin", functools.partial(LinearModel, (3.0, -1.0)))]
    folder = tmp_path / "e"
    first = [Statement("y", "y > 0", "lin", "y", ">", 0.0)]
    second = [Statement("y_big", "y > 100", "lin", "y", ">", 100.0)]
    tables = {"bands.parquet", "bands.csv", "statements.csv", "sensitivity.csv",
              "fan_chart.csv", "tornado.csv"}
    real = E.atomic_write_text

    def failing(error):
        def write(path, text):
            if Path(path).name == "sensitivity.csv":  # after bands and statements
                raise error
            real(path, text)
        return write

    def run(**kwargs):
        return run_experiment(spec, inputs, draws=8, seed=1, workers=0, folder=folder,
                              **kwargs)

    monkeypatch.setattr(E, "atomic_write_text", failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run(analyse=functools.partial(analyse_experiment, statements=first))
    assert sorted(p.name for p in folder.iterdir()) == ["design.parquet", "draws",
                                                         "inputs.csv", "manifest.json"]
    exp = Experiment(folder)
    assert exp.manifest()["status"] == "running"
    monkeypatch.setattr(E, "atomic_write_text", real)
    r = run(analyse=functools.partial(analyse_experiment, statements=first))
    assert r.computed == 0 and exp.manifest()["status"] == "complete"
    assert tables <= {p.name for p in folder.iterdir()}
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    monkeypatch.setattr(E, "atomic_write_text", failing(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        analyse_experiment(exp, statements=second)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["draws"]
    assert list(exp.table("statements")["statement_id"]) == ["y"]

    monkeypatch.setattr(E, "atomic_write_text", real)
    analyse_experiment(exp, statements=second)
    assert list(exp.table("statements")["statement_id"]) == ["y_big"]
    assert list(pd.read_csv(folder / "sensitivity.csv")["statement_id"].unique()) == ["y_big"]
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["draws"]


def test_a_refused_resume_says_what_differs():
    """The message listed the settings the user gave, the same as before, when what differed
    was the inputs (renamed) or karvan's version."""
    from karvan.explore.runner import _what_differs

    stored = {"draws": 8, "seed": 1, "inputs": ["a[X;Y]", "b"], "karvan_version": "0.1"}
    cfg = {"draws": 8, "seed": 1, "inputs": ["a[Y;X]", "b"], "karvan_version": "0.2"}
    text = _what_differs(stored, cfg)
    assert text.startswith(": it differs in inputs, karvan_version")
    assert "1 of today's 2 input names are not among its own" in text
    assert _what_differs(cfg, cfg) == ""


def _sigint_disposition():
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_workers_of_a_local_cluster_leave_ctrl_c_to_the_client():
    """Ctrl-C reached every worker process too, and each printed a traceback over the message
    that nothing was half-written; the client's own handler is kept."""
    before = signal.getsignal(signal.SIGINT)
    with R.connect(workers=1) as c:
        assert c.submit(_sigint_disposition, pure=False).result() is True
        assert signal.getsignal(signal.SIGINT) is before


def _ishigami(client, folder, **kw):
    return run_experiment([ModelSpec("ishigami", IshigamiModel)], ishigami_inputs(), draws=8,
                          seed=1, client=client, folder=folder, batch_size=4, **kw)


def test_workers_running_other_code_are_refused(client2, tmp_path, monkeypatch):
    """A worker started from other code (a changed checkout) gave draws that were mixed in
    with the others in silence (19 of 34 in a walk-through): refused before any work, and a
    batch computed by other code is not kept."""
    from karvan.errors import KarvanError

    real = R.code_fingerprint()
    monkeypatch.setattr(R, "code_fingerprint", lambda: "0123456789abcdef")
    with pytest.raises(KarvanError, match=rf"the Dask worker tcp://\S+ .*runs other karvan "
                                          rf"code \(code fingerprint {real}, this process "
                                          r"0123456789abcdef\)"):
        _ishigami(client2, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    # a worker that joins later is checked batch by batch
    monkeypatch.setattr(R, "_check_worker_code", lambda client: None)
    with pytest.raises(KarvanError, match=r"a Dask worker \(scenario ishigami, draws .*runs "
                                          r"other karvan code"):
        _ishigami(client2, tmp_path / "b")
    assert not list((tmp_path / "b").rglob("part-*.parquet"))


def test_workers_that_never_say_their_code_stop_the_experiment_in_time(tmp_path, monkeypatch):
    """A worker that did not answer the code check (busy or frozen) held the experiment before
    its first draw, with no output and no end."""
    import time

    from karvan.errors import KarvanError

    class Stuck:
        def run(self, *args, **kwargs):
            time.sleep(30)

    monkeypatch.setattr(R, "WORKER_CHECK_S", 0.2)
    t0 = time.perf_counter()
    with pytest.raises(KarvanError, match=r"did not say within 0.2 s which karvan code"):
        _ishigami(Stuck(), tmp_path / "s")
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "s").exists()


def test_a_scheduler_without_workers_stops_with_a_message(tmp_path, monkeypatch):
    """With every worker lost (or none started) the experiment waited for ever, silent."""
    from distributed import Client, LocalCluster

    from karvan.errors import KarvanError

    monkeypatch.setattr(R, "NO_WORKER_S", 1.0)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        with pytest.raises(KarvanError, match="has had no worker for 1 s .* the same command "
                                              "resumes"):
            _ishigami(None, tmp_path / "c", scheduler=cluster.scheduler_address)
        # a client handed in (an adaptive cluster, say) is its owner's to watch
        with Client(cluster) as client:
            seen = []
            monkeypatch.setattr(R, "_as_done", lambda c, f, watch=True: (seen.append(watch),
                                                                         iter(()))[1])
            _ishigami(client, tmp_path / "d")
            assert seen == [False]


def test_a_lost_scheduler_says_the_draws_are_kept(tmp_path):
    """A scheduler stopped mid-run: distributed's wait() raised FuturesCancelledError, an
    internal error; the futures come back cancelled, and the run says how to resume."""
    from distributed import LocalCluster

    from karvan.errors import KarvanError

    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        def stop(done, total, note):
            if done >= 1 and cluster.status.name == "running":
                cluster.close()

        with pytest.raises(KarvanError, match=r"the same command resumes"):
            run_experiment([ModelSpec("ishigami", IshigamiModel)], ishigami_inputs(),
                           draws=64, seed=1, scheduler=cluster.scheduler_address,
                           folder=tmp_path / "e", batch_size=1, progress=stop)


def test_an_address_that_is_no_scheduler_is_named_in_time(tmp_path, monkeypatch):
    """A port that accepts connections but speaks no Dask (the scheduler's dashboard, a web
    server) hung with no output."""
    import socket

    monkeypatch.setattr(R, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(R, "CONNECT_GRACE_S", 1.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(InputError, match=rf"cannot reach the Dask scheduler at "
                                             rf"'tcp://127.0.0.1:{port}' within 2 s "
                                             r"\(no answer as a Dask scheduler\)"):
            with R.connect(scheduler=f"tcp://127.0.0.1:{port}"):
                pass


class _FailsOnOneDraw(IshigamiModel):
    """Ishigami, except at the point ``x1``, where it raises as the route engine did on a cost
    rounded below zero; each evaluation of that point is logged to a file."""

    def __init__(self, x1: float, log: str) -> None:
        super().__init__()
        self.x1, self.log = x1, log

    def evaluate(self, values):
        if values is not None and float(values[0]) == self.x1:
            with open(self.log, "a") as f:
                f.write("evaluated\n")
            raise InputError("2 arcs have a negative cost at free flow")
        return super().evaluate(values)


@pytest.mark.parametrize("where", ["in process", "on Dask"])
def test_a_draw_the_model_cannot_compute_is_named_and_not_retried(tmp_path, where, request):
    """A draw that raised stopped the experiment with "the same command resumes" (it failed
    again on every resume, after Dask had retried it twice with three tracebacks)."""
    inputs = ishigami_inputs()
    x1 = float(inputs.values(make_design(inputs, "lhs", 8, 1).u)[5, 0])
    log = tmp_path / "evaluations.log"
    spec = ModelSpec("ishigami", functools.partial(_FailsOnOneDraw, x1, str(log)))
    kw = ({"workers": 0} if where == "in process"
          else {"client": request.getfixturevalue("client2")})
    with pytest.raises(R.DrawFailedError) as caught:
        run_experiment([spec], inputs, draws=8, seed=1, folder=tmp_path / "e", batch_size=2,
                       **kw)
    msg = str(caught.value)
    assert msg.startswith(f"scenario ishigami, draw 5 (its inputs: row 5 of "
                          f"{tmp_path / 'e' / 'design.parquet'}): InputError: 2 arcs have a "
                          "negative cost at free flow. The model cannot compute this draw")
    assert "the same command would stop on it again; the draws written are kept" in msg
    assert "resumes" not in msg
    assert 'raise InputError("2 arcs' in str(caught.value.__cause__)  # the trace, for --debug
    assert log.read_text() == "evaluated\n"  # once: not retried


def test_an_experiment_with_every_draw_written_starts_no_cluster(tmp_path, monkeypatch):
    """Run again once complete, an experiment is only analysed anew: it started a local Dask
    cluster for no work, whose workers, closed at once, printed tracebacks of their lost
    heartbeats under the tables."""
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0)})
    specs = [ModelSpec("lin", functools.partial(LinearModel, (3.0, -1.0)))]
    first = run_experiment(specs, inputs, draws=6, seed=1, workers=0, folder=tmp_path / "e",
                           analyse=analyse_experiment)
    assert first.computed == 7

    def no_cluster(**kw):
        raise AssertionError(f"a cluster was started with nothing to compute ({kw})")

    monkeypatch.setattr(R, "connect", no_cluster)
    again = run_experiment(specs, inputs, draws=6, seed=1, workers=2, folder=tmp_path / "e",
                           analyse=analyse_experiment)
    assert (again.computed, again.resumed) == (0, 7)
    assert Experiment(tmp_path / "e").manifest()["status"] == "complete"


def test_a_scenario_name_beyond_plain_letters_keeps_its_effect(tmp_path):
    """A scenario built in Python may be named "Rasht–Astara 2028": its draws' folder is
    written Rasht_Astara_2028, and the draws were read back under that name, which the
    manifest's references did not know: its bands were renamed and its effect was left out, in
    silence. Two names written alike would have shared one folder of draws."""
    from karvan.explore.inputs import ranges_inputs
    from karvan.explore.testfunctions import LinearModel

    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0)})
    name = "Rasht–Astara 2028"
    specs = [ModelSpec(name, functools.partial(LinearModel, (3.0, -1.0)), "ref"),
             ModelSpec("ref", functools.partial(LinearModel, (1.0, -1.0)))]
    res = run_experiment(specs, inputs, draws=6, seed=3, workers=0, folder=tmp_path / "e",
                         analyse=analyse_experiment)
    b = res.experiment.table("bands").set_index(["scenario", "output"])
    assert set(b.index.get_level_values("scenario")) == {name, "ref"}
    e = b.loc[(name, "effect:y")]
    d = res.experiment.draws()
    x = d[d["draw"] >= 0].pivot(index="draw", columns="scenario", values="out:y")
    assert e["n"] == 6 and e["p50"] == pytest.approx(np.median(x[name] - x["ref"]))
    clash = [ModelSpec("a b", functools.partial(LinearModel, (1.0, 0.0))),
             ModelSpec("a_b", functools.partial(LinearModel, (0.0, 1.0)))]
    with pytest.raises(InputError, match="share one folder of draws"):
        run_experiment(clash, inputs, draws=6, workers=0, folder=tmp_path / "f")
    # on the file systems of macOS and Windows, Rasht and rasht name one folder
    cased = [ModelSpec("Rasht", functools.partial(LinearModel, (1.0, 0.0))),
             ModelSpec("rasht", functools.partial(LinearModel, (0.0, 1.0)))]
    with pytest.raises(InputError, match="'Rasht' and 'rasht' would share one folder"):
        run_experiment(cased, inputs, draws=6, workers=0, folder=tmp_path / "g")


def test_a_script_without_a_main_guard_is_told_the_remedy(tmp_path):
    """A script that calls an experiment at its top level on a local cluster: each worker
    process imports the script again and fails; the call ended on "RuntimeError: Nanny failed
    to start.", the usual remedy buried in the workers' logged tracebacks."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import functools\n"
        "from karvan.explore.inputs import ranges_inputs\n"
        "from karvan.explore.runner import ModelSpec, run_experiment\n"
        "from karvan.explore.testfunctions import LinearModel\n"
        "run_experiment([ModelSpec('lin', functools.partial(LinearModel, (1.0, 2.0)))],\n"
        "               ranges_inputs({'a': (0.0, 1.0), 'b': (0.0, 1.0)}), draws=4,\n"
        f"               workers=1, folder={str(tmp_path / 'e')!r})\n", encoding="utf-8")
    src = str(Path(R.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("karvan.errors.KarvanError: the local Dask cluster could not start")
    assert 'if __name__ == "__main__":' in last and "workers=0" in last


@pytest.mark.parametrize(("error", "said"), [
    (RuntimeError("Nanny failed to start."), r"call explore \(or run_experiment\) under"),
    (OSError("[Errno 98] Address already in use"), "Address already in use"),
])
def test_only_workers_that_fail_to_start_are_said_to_want_a_main_guard(monkeypatch, error,
                                                                       said):
    # every error of the local cluster was said to be a script without a main guard
    import distributed

    from karvan.errors import KarvanError

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(distributed, "LocalCluster", fail)
    with pytest.raises(KarvanError if isinstance(error, RuntimeError) else type(error),
                       match=said), R.connect(workers=1):
        pass


class _Links:
    """A model of link tonnes: each link's central tonnes times (1 + the one input); the
    tonnes of the links it follows (``with_link_outputs``) are outputs."""

    def __init__(self, tonnes: dict[str, float], follow: tuple[str, ...] = ()) -> None:
        self.tonnes, self.follow = tonnes, follow

    def evaluate(self, values):
        x = 1.0 if values is None else 1.0 + float(values[0])
        return {"total": x * sum(self.tonnes.values()),
                **{f"link:{k}:tonnes": x * self.tonnes[k] for k in self.follow
                   if k in self.tonnes}}

    def central_link_tonnes(self) -> pd.DataFrame:
        return pd.DataFrame({"tonnes": list(self.tonnes.values()), "output": False,
                             "border_id": ""}, index=pd.Index(list(self.tonnes), name="link_id"))

    def with_link_outputs(self, links):
        return _Links(self.tonnes, tuple(links))


def test_the_diverted_links_are_chosen_once_before_any_draw_and_resumed(tmp_path):
    """The links a scenario diverts freight onto are chosen from the central cases of every
    model before any draw, recorded in the manifest, and followed by every model, so that the
    effect on them pairs; a resumed experiment follows the recorded links without choosing
    again."""
    from karvan.explore.corridor import diverted_links
    from karvan.explore.inputs import ranges_inputs

    inputs = ranges_inputs({"a": (0.0, 1.0)})
    specs = [ModelSpec("project", functools.partial(_Links, {"x": 1e6, "y": 3e5, "z": 1e5}),
                       "ref"),
             ModelSpec("ref", functools.partial(_Links, {"x": 1e6, "z": 4e5}))]
    calls = []

    def chosen(central, refs):
        calls.append(sorted(central))
        return diverted_links(central, refs)

    def stop(done, total, note):
        if done >= 3:
            raise KeyboardInterrupt

    kw = {"draws": 6, "seed": 1, "workers": 0, "folder": tmp_path / "e", "batch_size": 1}
    with pytest.raises(KeyboardInterrupt):
        run_experiment(specs, inputs, diverted=chosen, progress=stop, **kw)
    assert calls == [["project", "ref"]]  # both central cases, once
    record = Experiment(tmp_path / "e").manifest()["diverted_links"]
    assert record["links"] == ["y", "z"]  # y new (+300 kt), z -300 kt; x unchanged
    assert record["scenarios"]["project"]["links"][0] == {
        "link_id": "y", "tonnes": 3e5, "reference_tonnes": 0.0, "change_t": 3e5}

    def never(central, refs):
        raise AssertionError("the links were chosen again")

    res = run_experiment(specs, inputs, diverted=never, analyse=analyse_experiment, **kw)
    assert res.resumed >= 3 and res.resumed + res.computed == 14
    d = res.draws()
    # every draw of both models, those before the stop and after, follows both links
    assert d["out:link:z:tonnes"].notna().all()
    assert d.loc[d["scenario"] == "ref", "out:link:y:tonnes"].isna().all()  # not in its network
    b = res.bands.set_index(["scenario", "output"])
    assert b.loc[("project", "effect:link:y:tonnes"), "central"] == pytest.approx(3e5)
    assert b.loc[("project", "effect:link:z:tonnes"), "central"] == pytest.approx(-3e5)
    assert b.loc[("project", "effect:link:z:tonnes"), "n"] == 6
    assert ("project", "link:x:tonnes") not in b.index
