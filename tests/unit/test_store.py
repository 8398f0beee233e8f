"""The run store: save, list, get, resolve and remove; a run killed half-way (SIGKILL, SIGINT)
leaves the store as it was; two processes saving at once; the ``karvan runs`` commands and
``karvan compare`` on stored runs."""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app
from karvan.errors import InputError, KarvanError
from karvan.store import RunRecord, RunStore
from karvan.store.runstore import RUN_ID
from tests.signals import default_sigint

ENV = {"COLUMNS": "200"}
runner = CliRunner()


def toy_tables(scale: float = 1.0) -> dict[str, pd.DataFrame]:
    """The four tables ``compare`` reads, plus a table with a mixed object column."""
    return {
        "links": pd.DataFrame({"link_id": ["L1", "L2", "L3"],
                               "tonnes_tot": np.array([1.0, 2.0, 0.0]) * scale,
                               "utilization": [0.1, 0.2, np.nan]}),
        "countries": pd.DataFrame({"country": ["AZ", "IR"], "tonnes": [3.0 * scale, 4.0],
                                   "transit_tonnes": [1.0, 0.0],
                                   "transit_revenue_usd": [5e6, 0.0]}),
        "borders": pd.DataFrame({"border_id": ["AZ-IR"], "tonnes_tot": [2.0 * scale]}),
        "skims": pd.DataFrame({"commodity": ["c"], "origin": ["A"], "destination": ["B"],
                               "time_h": [10.0 * scale]}),
        "mixed": pd.DataFrame({"id": pd.Series(["a", 7, None], dtype=object),
                               "n": np.arange(3, dtype=np.int64)}),
    }


def toy_manifest(name: str, **extra) -> dict:
    return {"schema_version": 1, "scenario": {"name": name, "title": f"{name} title",
                                              "year": 2030},
            "summary": {"demand_t": np.float64(5e6), "ue_relative_gap": 1e-7,
                        "ue_converged": True}, **extra}


def visible(store: RunStore) -> set[str]:
    """Run folders a user sees in ``runs/`` (temporary and trash folders are hidden)."""
    return {p.name for p in store.runs_dir.iterdir() if not p.name.startswith(".")}


# -- round trips -----------------------------------------------------------------------------


def test_save_list_get_round_trip(tmp_path):
    store = RunStore(tmp_path / "s")
    tables = toy_tables()
    rid = store.save(tables, toy_manifest("alpha", settings={"gap": 1e-6}))
    assert RUN_ID.match(rid) and "-alpha-" in rid
    df = store.list()
    assert list(df["run_id"]) == [rid]
    row = df.iloc[0]
    assert (row["scenario"], row["title"], row["year"], row["status"]) == (
        "alpha", "alpha title", 2030, "complete")
    assert row["karvan_version"] and row["summary"]["demand_t"] == 5e6
    assert Path(row["path"]) == (store.runs_dir / rid).resolve()

    rec = store.get(rid)
    man = rec.manifest
    assert man["run_id"] == rid and man["status"] == "complete" and man["schema_version"] == 1
    assert man["settings"] == {"gap": 1e-6} and man["tables"] == sorted(tables)
    assert man["created"].startswith(rid[:4])
    assert json.loads((rec.path / "manifest.json").read_text()) == man
    pd.testing.assert_frame_equal(rec.table("links"), tables["links"])
    assert rec.table("mixed")["id"].tolist()[:2] == ["a", "7"]  # mixed objects become text
    for name in tables:  # CSV beside Parquet, for people
        assert (rec.path / f"{name}.csv").is_file()
    with pytest.raises(InputError, match="has no table 'nope'"):
        rec.table("nope")
    with pytest.raises(InputError, match="no run"):
        store.get("20000101-000000-x-0000")
    with pytest.raises(InputError, match="scenario"):
        store.save(tables, {"summary": {}})
    assert list(RunStore(tmp_path / "s").list()["run_id"]) == [rid]  # reopened


def test_resolve_by_id_prefix_scenario_and_path(tmp_path):
    store = RunStore(tmp_path / "s")
    a1 = store.save(toy_tables(), toy_manifest("alpha"))
    a2 = store.save(toy_tables(2), toy_manifest("alpha"))
    b = store.save(toy_tables(3), toy_manifest("beta"))
    assert len({a1, a2, b}) == 3
    assert store.resolve(a1).run_id == a1
    assert store.resolve("alpha").run_id == a2  # a scenario name: its latest run
    assert store.resolve("beta").run_id == b
    unique = next(k for k in range(len(a1)) if sum(x.startswith(a1[:k]) for x in
                                                   (a1, a2, b)) == 1)
    assert store.resolve(a1[:unique]).run_id == a1
    with pytest.raises(InputError, match="start of 3 run ids"):
        store.resolve(a1[:4])
    with pytest.raises(InputError, match="names no run"):
        store.resolve("gamma")
    folder = store.runs_dir / b
    assert store.resolve(folder).run_id == b  # a path object
    assert store.resolve(str(folder)).run_id == b  # a string with a separator
    outside = tmp_path / "plain"
    store.copy_run(a1, outside)
    rec = store.resolve(outside)
    assert rec.run_id == a1 and rec.path == outside
    pd.testing.assert_frame_equal(rec.table("links"), store.get(a1).table("links"))
    with pytest.raises(InputError, match="not a karvan run folder"):
        store.resolve(tmp_path)
    assert isinstance(store.resolve(rec), RunRecord)


def test_remove(tmp_path):
    store = RunStore(tmp_path / "s")
    keep = store.save(toy_tables(), toy_manifest("alpha"))
    gone = store.save(toy_tables(), toy_manifest("alpha"))
    store.remove(gone)
    assert list(store.list()["run_id"]) == [keep]
    assert visible(store) == {keep} and not list(store.runs_dir.glob(".trash-*"))
    assert store.resolve("alpha").run_id == keep
    with pytest.raises(InputError, match="no run"):
        store.remove(gone)
    with pytest.raises(InputError, match="no run"):
        store.get(gone)


def test_open_repairs_missing_folders_and_leftovers(tmp_path):
    store = RunStore(tmp_path / "s")
    a = store.save(toy_tables(), toy_manifest("alpha"))
    b = store.save(toy_tables(), toy_manifest("beta"))
    shutil.rmtree(store.runs_dir / a)  # deleted by hand: ignored, then its row removed
    assert list(store.list()["run_id"]) == [b]
    leftover = store.runs_dir / ".tmp-dead"
    leftover.mkdir()
    (leftover / "links.parquet").write_bytes(b"half")
    unlisted = store.runs_dir / "20240101-000000-ghost-abcd"
    shutil.copytree(store.runs_dir / b, unlisted)  # its manifest names run b
    assert list(store.list()["run_id"]) == [b]  # a folder without a row is not listed
    with pytest.raises(InputError):
        store.resolve("ghost")
    fresh = RunStore(store.root)  # the row of the missing folder goes on open
    con = sqlite3.connect(store.catalog_path)
    try:
        assert [r[0] for r in con.execute("SELECT run_id FROM runs")] == [b]
    finally:
        con.close()
    # young left-overs may belong to a live process: kept until stale
    assert leftover.exists() and unlisted.exists()
    assert fresh.repair(stale_after_s=0) == {"temporary_folders": 1, "relisted_folders": 0,
                                             "damaged_folders": 1, "missing_folders": 0}
    # a folder that is not a whole run of that id is left as it is, never deleted on open
    assert not leftover.exists() and unlisted.exists()
    assert visible(fresh) == {b, unlisted.name} and not list(fresh.runs_dir.glob(".*"))


def test_whole_runs_without_a_catalog_row_are_listed_again_not_deleted(tmp_path, caplog):
    """A store whose catalog.sqlite was lost (a backup that skipped it, a clean-up of
    *.sqlite) or emptied lost every run older than an hour on the next open: each folder
    without a row was taken for a save that did not finish and deleted. A folder gets its run
    id's name only once it is whole, so the runs are listed again from their manifests, in the
    order they were made; one that is not whole is warned of and left."""
    import json
    import os

    store = RunStore(tmp_path / "s")
    ids = [store.save(toy_tables(), toy_manifest(n)) for n in ("alpha", "beta", "gamma")]
    before = store.list().drop(columns="path")
    broken = store.runs_dir / ids[2]
    (broken / "links.parquet").unlink()  # damaged by hand
    old = time.time() - 7200
    for i in ids:
        os.utime(store.runs_dir / i, (old, old))
    for f in store.root.glob("catalog.sqlite*"):
        f.unlink()
    (store.root / "catalog.sqlite").write_bytes(b"")  # as an open of a removed store left it
    with caplog.at_level("WARNING", logger="karvan"):
        fresh = RunStore(store.root)
    assert list(fresh.list()["run_id"]) == ids[:2]
    pd.testing.assert_frame_equal(fresh.list().drop(columns="path"),
                                  before.iloc[:2].reset_index(drop=True))
    assert fresh.resolve("beta").table("links").equals(store.resolve(ids[1]).table("links"))
    assert broken.is_dir()
    text = caplog.text
    assert "listed again 2 whole run folders" in text
    assert f"{broken} has no catalog row and is not a whole run (tables missing: links)" in text
    # the next open finds nothing to do but the damaged folder
    assert fresh.repair() == {"temporary_folders": 0, "relisted_folders": 0,
                              "damaged_folders": 1, "missing_folders": 0}
    man = json.loads((broken / "manifest.json").read_text())
    assert man["run_id"] == ids[2]


def test_a_staged_run_waiting_for_its_commit_is_not_removed_however_old(tmp_path):
    """With `karvan run -j N` runs are committed in scenario order: a run staged an hour
    before the one ahead of it finished was removed by any store opened meanwhile, and its
    commit failed."""
    import os

    from karvan.store import stage_run
    from karvan.store.runstore import staging_lock

    store = RunStore(tmp_path / "s")
    old = time.time() - 7200
    with staging_lock(store.runs_dir, "abcd1234"):
        staged = stage_run(store.runs_dir, toy_tables(), toy_manifest("fast"), tag="abcd1234")
        os.utime(staged.path, (old, old))
        RunStore(store.root)  # e.g. karvan runs list, the dashboard, the batch's first commit
        assert staged.path.exists()
        run_id = store.commit(staged)
    # committed: its folder's age starts from the commit, not from the staging
    assert time.time() - (store.runs_dir / run_id).stat().st_mtime < 600
    assert list(store.list()["run_id"]) == [run_id]
    # the lock went with the block; an old staged folder whose process died is removed
    dead = stage_run(store.runs_dir, toy_tables(), toy_manifest("dead"), tag="ffff0000")
    os.utime(dead.path, (old, old))
    (store.runs_dir / ".lock-ffff0000").write_text("")  # left by the process that died
    os.utime(store.runs_dir / ".lock-ffff0000", (old, old))
    RunStore(store.root)
    assert not dead.path.exists() and not list(store.runs_dir.glob(".lock-*"))


def test_the_staging_lock_is_optional_where_the_filesystem_has_no_locks(tmp_path, monkeypatch):
    """A lock that failed with ENOLCK (some network mounts) made every karvan run fail."""
    import errno
    import os

    from karvan.store import runstore, stage_run

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runstore.fcntl, "flock", no_locks)
    store = RunStore(tmp_path / "s")
    with runstore.staging_lock(store.runs_dir, "abcd0000"):
        staged = stage_run(store.runs_dir, toy_tables(), toy_manifest("x"), tag="abcd0000")
        old = time.time() - 7200
        os.utime(store.runs_dir / ".lock-abcd0000", (old, old))
        RunStore(store.root)  # opens; the lock cannot be judged, so the age decides
        run_id = store.commit(staged) if staged.path.exists() else None
    assert not list(store.runs_dir.glob(".lock-*"))
    assert run_id is None or list(store.list()["run_id"]) == [run_id]


def test_store_is_not_created_for_reading(tmp_path):
    with pytest.raises(InputError, match="no run store"):
        RunStore(tmp_path / "none", create=False)
    assert not (tmp_path / "none").exists()


# -- a run killed half-way ---------------------------------------------------------------------

CHILD = """
import sys, time
import pandas as pd
from karvan.io import run_folder as folder
from karvan.store import RunStore, catalog

root, phase = sys.argv[1], sys.argv[2]

def stall():
    print("stalled", flush=True)
    time.sleep(60)

if phase == "tables":  # between two tables
    write = folder._write_table
    def slow(f, name, df):
        write(f, name, df)
        if name == "b":
            stall()
    folder._write_table = slow
else:  # after the rename, before the catalog row
    insert = catalog.insert
    def slow(path, row):
        stall()
        insert(path, row)
    catalog.insert = slow
df = pd.DataFrame({"x": range(1000)})
RunStore(root).save({"a": df, "b": df, "c": df}, {"scenario": {"name": "doomed"}})
print("saved", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("phase", ["tables", "catalog"])
def test_a_killed_save_leaves_the_store_as_it_was(tmp_path, sig, phase):
    store = RunStore(tmp_path / "s")
    before = [store.save(toy_tables(), toy_manifest("alpha")) for _ in range(2)]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with subprocess.Popen([sys.executable, str(script), str(store.root), phase],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=default_sigint) as proc:
        line = proc.stdout.readline()
        if line.strip() != "stalled":
            proc.kill()
            pytest.fail(f"child did not reach the slow write: {line!r} {proc.stderr.read()}")
        proc.send_signal(sig)
        proc.wait(timeout=20)
        rest = proc.stdout.read()
        err = proc.stderr.read()
    assert "saved" not in rest
    assert proc.returncode == -sig, err
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err
    after = RunStore(store.root)
    assert list(after.list()["run_id"]) == before
    assert after.list(scenario="doomed").empty
    with pytest.raises(InputError):
        after.resolve("doomed")
    # no half-written run in sight: every visible run folder is listed and complete
    leftovers = visible(after) - set(before)
    if sig == signal.SIGINT:  # Ctrl-C cleans up at once
        assert not leftovers and not list(after.runs_dir.glob(".tmp-*"))
    elif phase == "tables":  # SIGKILL: a hidden temporary folder is all that remains
        assert not leftovers and len(list(after.runs_dir.glob(".tmp-*"))) == 1
    else:  # SIGKILL after the rename: a whole run folder no row lists
        assert len(leftovers) == 1 and "doomed" in next(iter(leftovers))
    assert after.repair(stale_after_s=0)["missing_folders"] == 0
    assert not list(after.runs_dir.glob(".*"))
    if sig == signal.SIGKILL and phase == "catalog":
        # whole (its tables and manifest were written before the rename): listed again from
        # its manifest once stale, never deleted (a lost catalog would lose every run)
        (kept,) = leftovers
        assert list(after.list()["run_id"]) == before + [kept]
        assert len(after.resolve("doomed").table("a")) == 1000
        before = [*before, kept]
    assert visible(after) == set(before)
    again = after.save(toy_tables(), toy_manifest("doomed"))
    assert list(after.list()["run_id"]) == before + [again]


# -- two processes at once ---------------------------------------------------------------------

WRITER = """
import os, sys, time
import pandas as pd
from karvan.store import RunStore

root, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
while not os.path.exists(go):
    time.sleep(0.005)
store = RunStore(root)  # both processes create the store at once
df = pd.DataFrame({"x": range(2000), "s": ["v"] * 2000})
for i in range(n):
    print(store.save({"links": df, "other": df}, {"scenario": {"name": "same"}}), flush=True)
"""


def test_two_processes_save_at_once(tmp_path):
    root = tmp_path / "s"
    go = tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 6
    procs = [subprocess.Popen([sys.executable, str(script), str(root), str(go), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(0.3)
    go.touch()
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        ids += out.split()
    assert len(ids) == 2 * n and len(set(ids)) == 2 * n
    store = RunStore(root)
    assert sorted(store.list()["run_id"]) == sorted(ids)
    assert visible(store) == set(ids)
    for rid in ids:
        assert len(store.get(rid).table("links")) == 2000
    con = sqlite3.connect(store.catalog_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


# -- the command line --------------------------------------------------------------------------


def cli(*args, input: str | None = None) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args], env=ENV, input=input)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.output


@pytest.fixture
def filled(tmp_path) -> tuple[RunStore, list[str]]:
    store = RunStore(tmp_path / "store")
    ids = [store.save(toy_tables(1), toy_manifest("alpha")),
           store.save(toy_tables(2), toy_manifest("alpha")),
           store.save(toy_tables(5), toy_manifest("beta"))]
    return store, ids


def test_cli_runs_list_and_show(filled, tmp_path):
    store, ids = filled
    code, text = cli("runs", "list", "--store", store.root)
    assert code == 0, text
    assert all(i in text for i in ids) and "3 runs" in text and "complete" in text
    code, text = cli("runs", "list", "--store", store.root, "--scenario", "beta")
    assert code == 0 and ids[2] in text and ids[0] not in text
    code, text = cli("runs", "show", ids[0], "--store", store.root)
    assert code == 0, text
    assert f"run {ids[0]}" in text and "alpha: alpha title" in text
    assert "schema version" in text and "summary.demand_t" in text
    for name in toy_tables():
        assert re.search(rf"{name}\s*│\s*\d", text), name
    code, text = cli("runs", "show", "alpha", "--store", store.root)
    assert code == 0 and f"run {ids[1]}" in text
    code, text = cli("runs", "show", "2", "--store", store.root)
    assert code == 2 and "start of 3 run ids" in text
    code, text = cli("runs", "list", "--store", tmp_path / "nowhere")
    assert code == 2 and "no run store" in text
    assert not (tmp_path / "nowhere").exists()


def test_cli_runs_list_keeps_ids_years_and_status_whole_at_pipe_width(tmp_path):
    # at the pipe width (120) the long run id of a long scenario name pushed the columns
    # together: the year showed as "20…" and the status as "comple…"; the title takes what is
    # left, and the table is wider than 120 rather than cut
    store = RunStore(tmp_path / "store")
    long = "south_caucasus_unblocked"
    man = toy_manifest(long)
    man["scenario"]["title"] = "a title of many words " * 5
    ids = [store.save(toy_tables(1), man), store.save(toy_tables(1), toy_manifest("beta"))]
    res = runner.invoke(app, ["runs", "list", "--store", str(store.root)],
                        env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    rows = [line.split() for line in res.output.splitlines() if line.split()[:1] in (
        [ids[0]], [ids[1]])]
    assert [r[:4] for r in rows] == [[ids[0], long, "2030", rows[0][3]],
                                     [ids[1], "beta", "2030", rows[1][3]]]
    assert all(r[5] == "complete" and r[6] == "5.00" and r[7] == "yes" for r in rows), rows
    assert "…" not in " ".join(" ".join(r[:8]) for r in rows)


def test_cli_runs_rm_asks_first(filled):
    store, ids = filled
    code, text = cli("runs", "rm", ids[0], "--store", store.root, input="n\n")
    assert code == 1 and "nothing removed" in text
    assert len(store.list()) == 3
    code, text = cli("runs", "rm", ids[0], "--store", store.root, input="y\n")
    assert code == 0 and f"removed {ids[0]}" in text
    assert "report.html" not in text  # no report in the store's folder
    # the store's report shows the run to be removed: it is said to be stale (a run id in its
    # text elsewhere does not count)
    (store.root / "report.html").write_text(
        f'<html><head><meta name="karvan-runs" content="{ids[2]} x{ids[1]}"></head>{ids[1]}')
    code, text = cli("runs", "rm", ids[2][:-2], "--store", store.root, "--yes")
    assert code == 0 and f"removed {ids[2]}" in text
    assert f"report.html still shows the removed run(s) {ids[2]};" in " ".join(text.split())
    assert list(store.list()["run_id"]) == [ids[1]]
    code, text = cli("runs", "rm", ids[1], "--store", store.root, "--yes")
    assert code == 0 and "report.html" not in text
    assert list(store.list()["run_id"]) == []
    code, text = cli("runs", "rm", "nope", "--store", store.root, "--yes")
    assert code == 2 and "no run id" in text


def test_cli_compare_stored_runs(filled, tmp_path):
    store, ids = filled
    d = tmp_path / "diff"
    code, text = cli("compare", "alpha", "beta", "--store", store.root, "--out", d)
    assert code == 0, text
    links = pd.read_csv(d / "links_diff.csv").set_index("link_id")
    assert links.loc["L2", "tonnes_tot_a"] == 4.0  # alpha's latest run (scale 2)
    assert links.loc["L2", "tonnes_tot_diff"] == 6.0
    # an id prefix against a plain folder
    plain = store.copy_run(ids[0], tmp_path / "plain_alpha")
    code, text = cli("compare", plain, ids[2][:-1], "--store", store.root, "--out", d)
    assert code == 0, text
    links = pd.read_csv(d / "links_diff.csv").set_index("link_id")
    assert links.loc["L2", "tonnes_tot_diff"] == 8.0
    code, text = cli("compare", "alpha", "gamma", "--store", store.root)
    assert code == 2 and "'gamma' names no run" in text


def test_cli_run_saves_in_the_store_and_keeps_the_plain_folder(tmp_path):
    out = tmp_path / "results"
    for _ in range(2):
        code, text = cli("run", "baseline", "--out", out, "--no-lp", "--quiet")
        assert code == 0, text
    store = RunStore(out, create=False)
    runs = store.list()
    assert list(runs["scenario"]) == ["baseline", "baseline"]
    latest = store.resolve("baseline")
    plain = json.loads((out / "baseline" / "manifest.json").read_text())
    assert plain == latest.manifest and plain["run_id"] == runs["run_id"].iloc[-1]
    assert plain["convergence"]["converged"] is True and plain["inputs"]["sha256_16"]
    for t in plain["tables"]:
        assert (out / "baseline" / f"{t}.parquet").is_file()
        assert (latest.path / f"{t}.csv").is_file()
    code, text = cli("compare", runs["run_id"].iloc[0], "baseline", "--store", out)
    assert code == 0 and "links" in text
    code, text = cli("runs", "list", "--store", out)
    assert code == 0 and "baseline" in text and "2 runs" in text


def test_cli_run_refuses_a_scenario_named_runs(tmp_path):
    f = tmp_path / "runs.toml"
    f.write_text('name = "runs"\nyear = 2024\n')
    code, text = cli("run", f, "--out", tmp_path / "res", "--quiet")
    assert code == 2 and "run store" in text
    assert not (tmp_path / "res").exists()


def test_a_pair_cut_off_in_one_run_has_no_cost_there_not_a_cost_of_0():
    """Filled with 0, a pair without a path in B showed its cost falling by hundreds of USD/t,
    which reads as a user benefit."""
    from karvan.store import diff_table

    a = pd.DataFrame({"commodity": ["m", "m"], "origin": ["AM", "AM"],
                      "destination": ["RU", "IR"], "time_h": [100.0, 50.0],
                      "cost_usd_per_t": [400.0, 200.0]})
    b = a.iloc[[1]].assign(cost_usd_per_t=210.0)
    d = diff_table(a, b, ["commodity", "origin", "destination"], ["time_h", "cost_usd_per_t"])
    cut = d[d["destination"] == "RU"].iloc[0]
    assert bool(cut["in_a"]) and not bool(cut["in_b"])
    assert np.isnan(cut["cost_usd_per_t_b"]) and np.isnan(cut["cost_usd_per_t_diff"])
    days = diff_table(a.assign(time_days=[4.0, 2.0]), b.assign(time_days=[2.5]),
                      ["commodity", "origin", "destination"], ["time_days"])
    assert np.isnan(days.set_index("destination").at["RU", "time_days_diff"])
    kept = d[d["destination"] == "IR"].iloc[0]
    assert kept["cost_usd_per_t_diff"] == 10.0 and kept["in_a"] and kept["in_b"]
    # flows still count a missing row as 0
    f = diff_table(pd.DataFrame({"k": ["x"], "tonnes_tot": [5.0]}),
                   pd.DataFrame({"k": ["y"], "tonnes_tot": [2.0]}), ["k"], ["tonnes_tot"])
    assert f.set_index("k")["tonnes_tot_diff"].to_dict() == {"x": -5.0, "y": 2.0}


def test_a_key_repeated_or_missing_in_either_table_is_an_input_error():
    """A key given twice matched each of its rows with the other run's row: both differences
    counted that row (L1: 9 and 8 where the change is 7); a missing key was a row of its own."""
    from karvan.store import diff_table

    a = pd.DataFrame({"link_id": ["L1", "L1", "L2"], "tonnes": [1.0, 2.0, 5.0]})
    b = pd.DataFrame({"link_id": ["L1", "L2"], "tonnes": [10.0, 5.0]})
    with pytest.raises(InputError, match=r"table A has more than one row for L1 of link_id; "
                       r"a row's key must be unique"):
        diff_table(a, b, ["link_id"], ["tonnes"])
    with pytest.raises(InputError, match=r"table B has more than one row for L2 \| x"):
        diff_table(b.assign(k="x"), pd.concat([b, b.iloc[[1]]]).assign(k="x"),
                   ["link_id", "k"], ["tonnes"])
    with pytest.raises(InputError, match=r"1 rows of table B have no link_id \(rows 1\)"):
        diff_table(b, b.assign(link_id=["L1", None]), ["link_id"], ["tonnes"])
    # the same key in both tables, once each, is the normal case
    assert diff_table(b, b, ["link_id"], ["tonnes"])["tonnes_diff"].tolist() == [0.0, 0.0]


def test_a_copy_that_fails_says_the_run_is_stored_and_the_folder_unchanged(filled, tmp_path,
                                                                            monkeypatch):
    store, ids = filled
    plain = store.copy_run(ids[0], tmp_path / "plain")
    before = sorted(p.name for p in plain.iterdir())
    real = shutil.copy2

    def full(src, dst, *a, **k):
        if str(src).endswith(".csv"):
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr("karvan.store.runstore.shutil.copy2", full)
    with pytest.raises(KarvanError) as e:
        store.copy_run(ids[1], plain)
    msg = str(e.value)
    assert f"run {ids[1]} is stored in" in msg and "No space left on device" in msg
    assert f"{plain} holds what it held before" in msg and "karvan runs show" in msg
    assert sorted(p.name for p in plain.iterdir()) == before
    assert [p.name for p in plain.parent.iterdir() if p.name.startswith(".")] == []


def test_a_run_listed_again_takes_its_place_in_the_order_of_saving(tmp_path):
    """A save killed between its rename and its row, then run again, was listed again an hour
    later after the newer run, which it then hid as the scenario's latest."""
    import os

    store = RunStore(tmp_path / "s")
    first = store.save(toy_tables(), toy_manifest("alpha"))
    lost = store.save(toy_tables(), toy_manifest("baseline"))
    newer = store.save(toy_tables(), toy_manifest("baseline"))
    catalog_rows = sqlite3.connect(store.catalog_path)
    try:
        with catalog_rows:
            catalog_rows.execute("DELETE FROM runs WHERE run_id = ?", (lost,))
    finally:
        catalog_rows.close()
    old = time.time() - 7200
    os.utime(store.runs_dir / lost, (old, old))
    fresh = RunStore(store.root)
    assert list(fresh.list()["run_id"]) == [first, lost, newer]
    assert fresh.resolve("baseline").run_id == newer


def test_a_removed_run_whose_folder_cannot_be_moved_keeps_its_row(tmp_path, monkeypatch):
    """remove() deleted the row first; a folder that then could not be moved (a file held open
    on Windows) was listed again by the next open: the removed run came back."""
    import os

    store = RunStore(tmp_path / "s")
    run_id = store.save(toy_tables(), toy_manifest("alpha"))

    def refuse(src, dst):
        raise PermissionError(13, "in use", str(src))

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(PermissionError):
        store.remove(run_id)
    monkeypatch.undo()
    assert list(store.list()["run_id"]) == [run_id]
    store.remove(run_id)
    assert store.list().empty and not list(store.runs_dir.iterdir())


@pytest.mark.parametrize(("manifest", "why"), [
    ([1, 2], "its manifest is a list"),
    ({"scenario": {"name": "a", "year": {"y": 1}}}, "year {'y': 1} is not a whole number"),
    ({"scenario": {"name": "a", "year": "2030?"}}, "year '2030?' is not a whole number"),
])
def test_a_folder_whose_manifest_is_not_a_runs_is_warned_of_not_a_crash(tmp_path, caplog,
                                                                          manifest, why):
    """A manifest of [1, 2] raised AttributeError on every open; a year that was a dict raised
    sqlite3's ProgrammingError; '2030?' was listed, and every list() raised from then on."""
    import json
    import os

    store = RunStore(tmp_path / "s")
    keep = store.save(toy_tables(), toy_manifest("alpha"))
    bad = store.runs_dir / "20240101-000000-a-abcd"
    bad.mkdir()
    if isinstance(manifest, dict):
        manifest = {"run_id": bad.name, "created": "2024-01-01T00:00:00+00:00",
                    "karvan_version": "0.1.0", "status": "complete", "tables": [], **manifest}
    (bad / "manifest.json").write_text(json.dumps(manifest))
    old = time.time() - 7200
    os.utime(bad, (old, old))
    with caplog.at_level("WARNING", logger="karvan"):
        fresh = RunStore(store.root)
    assert list(fresh.list()["run_id"]) == [keep]
    assert why in caplog.text and bad.is_dir()


def test_a_store_whose_catalog_was_lost_is_still_a_store_and_lists_its_runs_at_once(tmp_path):
    """With catalog.sqlite lost, `karvan runs list`, compare and report said the folder "holds
    no run store", and a new run listed the old ones again only once they were an hour old."""
    store = RunStore(tmp_path / "s")
    ids = [store.save(toy_tables(), toy_manifest(n)) for n in ("alpha", "beta")]
    for f in store.root.glob("catalog.sqlite*"):
        f.unlink()
    again = RunStore(store.root, create=False)
    assert list(again.list()["run_id"]) == ids
    assert again.resolve("beta").run_id == ids[1]
    # an empty folder is still no store
    with pytest.raises(InputError, match="holds no run store"):
        RunStore(tmp_path / "empty", create=False)


def test_a_commit_whose_row_another_open_listed_meanwhile_keeps_its_run(tmp_path, monkeypatch):
    """A store opened on a lost catalog lists whole folders at once, so it may list a run
    renamed into place a moment before its own commit inserts the row: that commit then met a
    duplicate id and removed the run's folder."""
    from karvan.store import catalog

    store = RunStore(tmp_path / "s")
    real = catalog.insert

    def raced(path, row):
        real(path, row)  # the other process's relisting
        raise sqlite3.IntegrityError("UNIQUE constraint failed: runs.run_id")

    monkeypatch.setattr(catalog, "insert", raced)
    run_id = store.save(toy_tables(), toy_manifest("alpha"))
    monkeypatch.undo()
    assert list(store.list()["run_id"]) == [run_id]
    assert (store.runs_dir / run_id / "manifest.json").is_file()


def test_compare_takes_the_reference_of_the_runs_dataset_and_says_when_two_runs_differ(
        tmp_path):
    """Compare picked the newest reference_YYYY whatever dataset it was made of (an edited copy:
    Suez +18.7 Mt called the rail project's own change), and two runs of different datasets or
    choice models were compared without a word."""
    import warnings

    from karvan.freight.corridor import CorridorWarning
    from karvan.scenario.run import compare_runs

    store = RunStore(tmp_path / "s")
    mine, edited = {"sha256_16": {"demand.csv": "aa"}}, {"sha256_16": {"demand.csv": "bb"}}
    ref = store.save(toy_tables(1), toy_manifest("reference_2030", inputs=mine))
    store.save(toy_tables(9), toy_manifest("reference_2030", inputs=edited))  # newer
    proj = store.save(toy_tables(2), toy_manifest("alpha", inputs=mine))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        diff = compare_runs(proj, store=store)
    assert diff["links"].set_index("link_id").loc["L2", "tonnes_tot_diff"] == 2.0  # 4 - 2
    with pytest.warns(CorridorWarning, match=r"made of different datasets \(demand.csv differ"):
        compare_runs(store.list()["run_id"].iloc[1], proj, store=store)
    logit = store.save(toy_tables(2), toy_manifest(
        "beta", inputs=mine, summary={"choice": "logit"}))
    with pytest.warns(CorridorWarning, match="of the deterministic choice model and .* of the "
                                             "logit one"):
        compare_runs(ref, logit, store=store)
    # a run against itself: tables of zeros called its own changes
    with pytest.raises(InputError, match="are one run"):
        compare_runs(ref, ref, store=store)


def test_a_scenario_name_that_almost_matches_gets_the_nearest(tmp_path):
    # compare, report, export and runs show said only "names no run" of rasht_astra
    store = RunStore(tmp_path / "s")
    store.save(toy_tables(), toy_manifest("rasht_astara"))
    with pytest.raises(InputError, match=r"'rasht_astra' names no run in .* \(did you mean "
                                         r"rasht_astara\?\)"):
        store.resolve("rasht_astra")


def test_report_of_two_runs_of_different_models_says_what_the_difference_holds(
        tmp_path, monkeypatch):
    # report A B of a deterministic and a logit run showed their difference without a word
    import karvan.report
    from karvan.cli import app

    store = RunStore(tmp_path / "s")
    a = store.save(toy_tables(1), toy_manifest("alpha"))
    b = store.save(toy_tables(2), toy_manifest("beta", summary={"choice": "logit"}))
    page = tmp_path / "r.html"

    def fake(runs, out, **kw):
        Path(out).write_text("<html></html>")
        return Path(out)

    monkeypatch.setattr(karvan.report, "write_report", fake)
    res = CliRunner().invoke(app, ["report", a, b, "--store", str(store.root), "--out",
                                   str(page)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "of the deterministic choice model and" in " ".join(res.output.split())


def test_diff_table_names_a_column_neither_table_has():
    """A misspelt value column gave a table of keys alone, without a word."""
    from karvan.errors import InputError
    from karvan.store.diff import diff_table

    a = pd.DataFrame({"k": ["x", "y"], "tonnes": [1.0, 5.0]})
    b = pd.DataFrame({"k": ["y", "z"], "tonnes": [2.0, 4.0], "new": [1.0, 1.0]})
    with pytest.raises(InputError, match=r"diff_table: tonne is not a column of both tables .* "
                                         r"their columns: k, new, tonnes"):
        diff_table(a, b, ["k"], ["tonne"])
    with pytest.raises(InputError, match="diff_table: new is not a column of both tables"):
        diff_table(a, b, ["new"], ["tonnes"])
    # a value one run lacks (an older karvan's table) is still left out
    assert "new_diff" not in diff_table(a, b, ["k"], ["tonnes", "new"])


def test_a_table_whose_file_is_gone_is_told_apart_from_one_an_older_karvan_did_not_write(
        tmp_path):
    # `karvan report` on a run that lost links.parquet advised writing the run again "with
    # this version of karvan", the remedy for a run of an older karvan
    store = RunStore(tmp_path / "store")
    rid = store.save(toy_tables(), toy_manifest("alpha"))
    rec = store.get(rid)
    (rec.path / "links.parquet").unlink()
    with pytest.raises(InputError) as e:
        store.get(rid).require(["links", "shipper"])
    msg = str(e.value)
    assert "has lost the file(s) links.parquet that it wrote: run the scenario alpha again" in msg
    assert "lacks the table(s) shipper (.parquet), which the karvan that made it did not " \
           "write" in msg


def test_runs_whose_skims_differ_in_the_queues_are_said_to():
    """Skims of a run made before queue_h timed the best routes without the queues at hard
    capacities, a newer run's with them: their difference mixed the two, in silence."""
    from types import SimpleNamespace

    from karvan.store.diff import unlike_runs

    def run(label, cols, choice="logit"):
        sk = pd.DataFrame({c: [1.0] for c in cols})
        return SimpleNamespace(label=label, summary={"choice": choice}, manifest={},
                               has_table=lambda name: name == "skims",
                               table=lambda name: sk)

    new, old = run("new", ["time_h", "queue_h"]), run("old", ["time_h"])
    [said] = unlike_runs(old, new)
    assert said.startswith("old was made by a karvan whose skims and shipper comparison time "
                           "the best routes without the queues")
    assert unlike_runs(new, run("new2", ["time_h", "queue_h"])) == []
    # the user equilibrium has no such queues: nothing to say
    assert unlike_runs(run("a", ["time_h"], "deterministic"),
                       run("b", ["time_h", "queue_h"], "deterministic")) == []
