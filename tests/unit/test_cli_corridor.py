"""`karvan run`, `karvan compare` and `karvan data sources` on the built-in corridor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200"}

TABLES = {"links", "routes", "countries", "borders", "bottlenecks", "skims", "convergence",
          "demand", "no_path", "modifications", "calibration", "unserved", "lp_routes",
          "shipper", "calibration_summary", "calibration_cells", "family_shares"}
#: the choice model's tables (karvan run --choice logit, the default)
CHOICE_TABLES = {"capacities", "choice_unserved"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    user = out.parent / "my_case.toml"
    user.write_text('name = "my_case"\ntitle = "More Russia-India containers"\nyear = 2028\n'
                    'extends = "rasht_astara"\n[[modification]]\naction = "demand_scale"\n'
                    'origin_country = "RU"\ndestination_country = "IN"\n'
                    'commodity = "containers"\nfactor = 2.0\n')
    r = runner.invoke(app, ["run", "baseline", "rasht_astara", str(user), "--out", str(out),
                            "--quiet"], env=ENV)
    assert r.exit_code == 0, r.output
    return out, r.output


def test_run_writes_every_table_and_a_manifest(results):
    out, text = results
    for name in ("baseline", "rasht_astara", "my_case"):
        folder = out / name
        man = json.loads((folder / "manifest.json").read_text())
        assert man["scenario"]["name"] == name
        assert set(man["tables"]) == TABLES | CHOICE_TABLES
        assert man["convergence"]["converged"] is True
        assert man["settings"]["choice"] == "logit"
        # only the settings the run used: the logit model solves no user equilibrium
        assert not {"gap", "ue_method", "max_iter"} & set(man["settings"]), man["settings"]
        assert man["settings"]["capacity_tol"] > 0
        assert man["settings"]["choice_parameters"]["theta_usd"]["grain"] > 0
        assert man["inputs"]["sha256_16"]["link.csv"]
        for t in TABLES:
            assert (folder / f"{t}.parquet").exists() and (folder / f"{t}.csv").exists()
    assert "Scenarios" in text and "my_case" in text and "Border crossings" in text
    assert "Route families" in text and "RU-IN" in text and "sea_suez_black_sea" in text
    # the calibration table says which rows it leaves out (no run of their year), for the base
    # year only (the notes read tables that `karvan run` did not keep, and never showed)
    flat = " ".join(text.split())
    cal = pd.read_csv(out / "baseline" / "calibration.csv")
    left = cal[~cal["compared"]]
    assert len(left) and (f"baseline: {len(left)} rows not compared, no run of their year "
                          f"({', '.join(map(str, sorted(set(left['year']))))}:") in flat
    assert "rasht_astara: " not in flat.split("rows not compared")[0][-60:]
    # every capacity that binds in a run's capacities table is listed in the summary, and the
    # table is there only when one does
    binding = set()
    for name in ("baseline", "rasht_astara", "my_case"):
        caps = pd.read_csv(out / name / "capacities.csv")
        binding |= set(caps.loc[caps["binding"], "link_id"])
    assert all(b in text for b in binding), (binding, text)
    assert ("Binding capacities" in text) == bool(binding)
    page = (out / "report.html").read_text()
    assert "Route families and binding capacities" in page and "family-shares" in page


def test_run_deterministic_keeps_the_previous_model(tmp_path):
    r = runner.invoke(app, ["run", "baseline", "--choice", "deterministic", "--gap", "1e-8",
                            "--out", str(tmp_path), "--quiet", "--no-gpkg", "--no-report",
                            "--no-lp"], env=ENV)
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "baseline" / "manifest.json").read_text())
    assert man["settings"]["choice"] == "deterministic"
    assert man["settings"]["ue_method"] == "algorithm-b"
    assert man["settings"]["gap"] == 1e-8 and "capacity_tol" not in man["settings"]
    assert "capacities" not in man["tables"] and "family_shares" in man["tables"]
    bad = runner.invoke(app, ["run", "baseline", "--choice", "probit", "--out", str(tmp_path)],
                        env=ENV)
    assert bad.exit_code != 0 and "--choice must be logit or deterministic" in bad.output


@pytest.mark.parametrize(("options", "says"), [
    (["--method", "nonsense"], "--method must be one of aon, msa, fw, cfw, bfw, algorithm-b, "
                               "not 'nonsense'"),
    (["--gap", "-1"], "--gap must be a finite number >= 0, got -1.0"),
    (["--gap", "nan", "--choice", "deterministic"], "--gap must be a finite number >= 0, got nan"),
    (["--method", "nonsense", "--choice", "deterministic"], "--method must be one of"),
    (["--gap", "1e-6"], "--gap sets the deterministic user equilibrium, which the logit choice "
                        "model (the default) does not solve"),
    (["--method", "bfw", "--gap", "1e-6"], "--method and --gap set the deterministic user "
                                           "equilibrium"),
])
def test_run_refuses_equilibrium_options_it_would_not_use(tmp_path, options, says):
    # the values are checked under either model, and under logit, which solves no user
    # equilibrium, --method and --gap are refused rather than ignored; before any run
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", "baseline", *options, "--out", str(out), "--quiet",
                            "--no-gpkg", "--no-report", "--no-lp"], env=ENV)
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.replace("│", " ").split())  # the error panel wraps
    assert says in said, r.output
    assert "--choice deterministic" in said or "deterministic" in options
    assert not out.exists()


def test_user_scenario_scales_its_demand(results):
    out, _ = results
    a = pd.read_parquet(out / "rasht_astara" / "demand.parquet")
    b = pd.read_parquet(out / "my_case" / "demand.parquet")
    key = ["origin_zone_id", "destination_zone_id", "commodity_id"]
    m = a.merge(b, on=key, suffixes=("_a", "_b"))
    sel = (m["origin_zone_id"].str.startswith("Z_RU_")
           & m["destination_zone_id"].str.startswith("Z_IN_")  # India: Mumbai and Chennai
           & (m["commodity_id"] == "containers"))
    assert sel.any()
    assert (m.loc[sel, "tonnes_per_year_b"] == 2 * m.loc[sel, "tonnes_per_year_a"]).all()
    assert (m.loc[~sel, "tonnes_per_year_b"] == m.loc[~sel, "tonnes_per_year_a"]).all()


def test_compare_reports_differences(results, tmp_path):
    out, _ = results
    d = tmp_path / "diff"
    r = runner.invoke(app, ["compare", str(out / "baseline"), str(out / "rasht_astara"),
                            "--out", str(d)], env=ENV)
    assert r.exit_code == 0, r.output
    links = pd.read_csv(d / "links_diff.csv")
    row = links.set_index("link_id").loc["R_IR_RASHT_ASTARA"]
    assert row["tonnes_tot_a"] == 0 and row["tonnes_tot_b"] > 0
    assert row["tonnes_tot_diff"] == pytest.approx(row["tonnes_tot_b"])
    assert "countries" in r.output and "transit" in r.output
    # the user benefit per OD pair: the pair whose expected cost falls most ships over the new
    # railway in B (the two runs are four years apart, so other pairs' costs also move with
    # the demand's growth and the capacities it fills)
    sk = pd.read_csv(d / "skims_diff.csv").set_index(["commodity", "origin", "destination"])
    exp = sk["expected_cost_usd_per_t_diff"]
    assert exp.min() < -10
    com, o, dd = exp.idxmin()
    rb = pd.read_csv(out / "rasht_astara" / "routes.csv")
    rb = rb[(rb["commodity"] == com) & (rb["origin"] == o) & (rb["destination"] == dd)]
    assert rb.loc[rb["links"].str.contains("R_IR_RASHT_ASTARA"), "tonnes"].sum() > 0
    # where the queues move and what each shipper option costs (neither was written), and the
    # links' shadow prices
    cap = pd.read_csv(d / "capacities_diff.csv").set_index("constraint_id")
    a, b = (pd.read_csv(out / n / "capacities.csv").set_index("constraint_id")
            for n in ("baseline", "rasht_astara"))
    both = a.index.intersection(b.index)
    assert len(both) > 5
    assert np.allclose(cap.loc[both, "utilization_diff"],
                       b.loc[both, "utilization"] - a.loc[both, "utilization"])
    sh = pd.read_csv(d / "shipper_diff.csv")
    rail = sh[sh["option_id"] == "instc_west_rasht_astara"].iloc[0]
    assert pd.isna(rail["cost_usd_per_t_a"]) and rail["cost_usd_per_t_b"] > 0
    assert {"choice_shadow_price_usd_per_t_diff", "shadow_price_usd_per_t_diff"} <= set(links)
    assert "capacities:" in r.output


def test_run_summary_lists_the_binding_capacities(tmp_path):
    # with Iran's land borders closed, Makhachkala port fills (its shadow price in hours and
    # USD/t is in the run's capacities table and in the summary)
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", "iran_disrupted", "--out", str(out), "--quiet"], env=ENV)
    assert r.exit_code == 0, r.output
    caps = pd.read_csv(out / "iran_disrupted" / "capacities.csv")
    binding = set(caps.loc[caps["binding"], "link_id"])
    assert binding and "Binding capacities" in r.output
    assert "1 scenario in " in r.output
    assert all(b in r.output for b in binding), (binding, r.output)
    # what the run warned of (route families cut off by the closures) stays with it
    said = json.loads((out / "iran_disrupted" / "manifest.json").read_text())["warnings"]
    assert len(said) == 1 and "without a route for" in said[0], said


def test_a_run_whose_capacities_turn_demand_away_is_written(tmp_path):
    # the choice model's unserved demand has its commodity already: the table had two
    # commodity columns and writing the run failed (internal error, the solved run lost); a
    # quarter of a Mt/yr (below a tenth of the smallest border capacity, 219 kt, is warned of)
    sc = tmp_path / "am_squeeze.toml"
    sc.write_text('name = "am_squeeze"\nyear = 2024\nextends = "baseline"\n'
                  '[[modification]]\naction = "set"\nlinks = ["B_GE_AM_SADAKHLO_RAIL", '
                  '"B_GE_AM_SADAKHLO_ROAD", "B_AM_IR_AGARAK_ROAD"]\nfield = "capacity_tpy"\n'
                  'value = 250000\n')
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(sc), "--out", str(out), "--quiet", "--no-gpkg",
                            "--no-report"], env=ENV)
    assert r.exit_code == 0, r.output
    uns = pd.read_csv(out / "am_squeeze" / "choice_unserved.csv")
    assert list(uns.columns).count("commodity") == 1 and uns["unserved"].sum() > 1e5
    from karvan.freight.corridor import load_corridor

    assert set(uns["commodity"]) <= set(load_corridor().commodity_ids)
    man = json.loads((out / "am_squeeze" / "manifest.json").read_text())
    assert man["summary"]["choice_unserved_t"] == pytest.approx(uns["unserved"].sum(), rel=1e-9)


def test_runs_rm_says_when_the_stores_report_shows_a_removed_run(results, tmp_path):
    """The report karvan run writes names the runs it shows; a removed one makes it stale."""
    import shutil

    out, _ = results
    copy = tmp_path / "store"
    shutil.copytree(out, copy)
    rid = json.loads((copy / "baseline" / "manifest.json").read_text())["run_id"]
    assert '<meta name="karvan-runs" content="' in (copy / "report.html").read_text()
    r = runner.invoke(app, ["runs", "rm", rid, "--store", str(copy), "--yes"], env=ENV)
    assert r.exit_code == 0, r.output
    assert f"report.html still shows the removed run(s) {rid};" in " ".join(r.output.split())


def test_compare_needs_result_folders(tmp_path):
    r = runner.invoke(app, ["compare", str(tmp_path), str(tmp_path)], env=ENV)
    assert r.exit_code == 2 and "not a karvan run folder" in r.output


@pytest.mark.parametrize("top", ["0", "-1"])
def test_compare_refuses_a_top_that_shows_no_rows(results, top):
    out, _ = results
    r = runner.invoke(app, ["compare", str(out / "baseline"), str(out / "rasht_astara"),
                            "--top", top], env=ENV)
    assert r.exit_code == 2 and "--top" in r.output


def test_run_rejects_a_bad_scenario_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nyear = 2030\n[[modification]]\naction = "close"\n'
                   'links = ["NO_SUCH_LINK"]\n')
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(bad), "--out", str(out), "--quiet"], env=ENV)
    assert r.exit_code == 2
    assert "NO_SUCH_LINK" in r.output
    assert not (out / "bad").exists()


def test_run_reports_every_bad_scenario_file_at_once(tmp_path):
    """Two bad files among the scenarios: the problems of both, the schema's and the ids the
    dataset lacks, in one error before any run (it stopped at the first file, and showed a
    file's unknown ids only once its schema problems were fixed)."""
    a = tmp_path / "a.toml"
    a.write_text('name = "a"\nyear = 2030\ncolour = "red"\n[[modification]]\n'
                 'action = "close"\nlinks = ["NO_SUCH_LINK"]\n')
    b = tmp_path / "b.toml"
    b.write_text('name = "b"\nyear = 2030\n[[modification]]\naction = "close"\n'
                 'borders = ["NO-SUCH_BORDER"]\n')
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(a), "baseline", str(b), "--out", str(out), "--quiet"],
                      env=ENV)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "3 problems" in text
    assert f"{a}: line 3, colour: unknown key" in text
    assert f"{a}: line 4, modification[0] (close): unknown link ids NO_SUCH_LINK" in text
    assert f"{b}: line 3, modification[0] (close): unknown border ids NO-SUCH_BORDER" in text
    assert not out.exists()


def test_data_sources_lists_every_source():
    r = runner.invoke(app, ["data", "sources"], env=ENV)
    assert r.exit_code == 0, r.output
    assert "source_id" in r.output and "rows by confidence" in r.output
    assert "KV_ASSUMPTION" in r.output
    # every table that cites sources counts, the optional ones too
    for table in ("demand_level", "choice_parameter", "route_family", "od_estimate"):
        assert table in r.output, table


def test_run_writes_a_styled_geopackage_for_every_scenario(results):
    import contextlib
    import sqlite3

    import pyogrio

    out, _ = results
    for name in ("baseline", "rasht_astara", "my_case"):
        gpkg = out / name / "run.gpkg"
        layers = {n for n, _ in pyogrio.list_layers(gpkg)}
        assert {"countries", "links", "nodes", "borders", "od_lines"} <= layers
        with contextlib.closing(sqlite3.connect(gpkg)) as con:
            styled = {r[0] for r in con.execute(
                "SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1")}
        assert styled == layers - {"layer_styles"}


def test_report_and_export_take_run_ids_and_scenario_names(results, tmp_path):
    out, _ = results
    page = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "baseline", "my_case", "--store", str(out), "--out",
                            str(page)], env=ENV)
    assert r.exit_code == 0, r.output
    html = page.read_text(encoding="utf-8")
    assert 'data-name="baseline"' in html and 'data-name="my_case"' in html
    run_id = json.loads((out / "rasht_astara" / "manifest.json").read_text())["run_id"]
    r = runner.invoke(app, ["export", run_id[:-2], "--store", str(out), "--format", "omx",
                            "--out", str(tmp_path / "x.omx")], env=ENV)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "x.omx").is_file()
    for cmd in (["report", "nonesuch"], ["export", "nonesuch", "--format", "omx"]):
        r = runner.invoke(app, [*cmd, "--store", str(out)], env=ENV)
        assert r.exit_code == 2 and "names no run" in r.output, r.output


def test_run_of_one_scenario_keeps_every_scenario_in_the_report(results, tmp_path):
    # a later run of one scenario into the same results writes the report of the latest run of
    # every scenario in the store, each project scenario against its like-year reference (now
    # stored), and opens on the scenario just run; a run of another choice model is a report
    # of its own model's runs, and says which scenarios it leaves out and why
    import re
    import shutil

    out = tmp_path / "results"
    shutil.copytree(results[0], out)
    r = runner.invoke(app, ["run", "reference_2028", "--out", str(out), "--no-gpkg", "--no-lp"],
                      env=ENV)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "(4 scenarios: 1 run now, the latest stored run of 3 more)" in text, text
    html = (out / "report.html").read_text(encoding="utf-8")
    options = re.findall(r'<option value="\d+" dir="auto" data-name="(\w+)"( selected)?>'
                         r'([^<]*)</option>', html)
    assert [o[0] for o in options] == ["reference_2028", "baseline", "rasht_astara", "my_case"]
    assert options[0][1] == " selected"
    for name, _, title in options:
        assert ("(change against Reference 2028" in title) == (name in ("rasht_astara",
                                                                         "my_case")), title
    r = runner.invoke(app, ["run", "reference_2026", "--choice", "deterministic", "--out",
                            str(out), "--no-gpkg", "--no-lp"], env=ENV)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "report.html (1 scenario)" in text
    assert "not in the report, made with another model or dataset (4): " in text
    assert ("baseline: no run of it is --choice deterministic (its latest is --choice logit)"
            in text)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-name="(\w+)"', html)) == {"reference_2026"}


def test_a_project_run_alone_has_its_benefit_against_the_stored_reference(results, tmp_path):
    # `karvan run my_case.toml` printed no users' benefit: its like-year reference was stored
    # but not run with it
    import re
    import shutil

    out = tmp_path / "results"
    shutil.copytree(results[0], out)
    r = runner.invoke(app, ["run", "reference_2028", "--out", str(out), "--no-gpkg", "--no-lp",
                            "--no-report", "--quiet"], env=ENV)
    assert r.exit_code == 0, r.output
    ref_id = json.loads((out / "reference_2028" / "manifest.json").read_text())["run_id"]
    r = runner.invoke(app, ["run", "rasht_astara", "--out", str(out), "--no-gpkg", "--no-lp",
                            "--no-report"], env=ENV)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "Users' benefit against the like-year reference" in text, text
    row = re.search(r"rasht_astara │ (reference_2028 \(stored run \S+\)) │ 2028 │ [\d.]+ │ "
                    r"([\d.,-]+) │", text)
    assert row and row.group(1) == f"reference_2028 (stored run {ref_id})", text
    assert float(row.group(2)) > 0
    # with none stored of its model, it says why it has no benefit (it said nothing)
    r = runner.invoke(app, ["run", "rasht_astara", "--out", str(out), "--no-gpkg", "--no-lp",
                            "--no-report", "--choice", "deterministic"], env=ENV)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "Users' benefit against" not in text
    assert ("note: no users' benefit for rasht_astara: its like-year reference reference_2028 "
            "was not run with it and the store has none to compare with (no run of it is "
            "--choice deterministic") in text, text


def test_run_help_says_what_the_report_compares():
    r = runner.invoke(app, ["run", "--help"], env=ENV)
    text = " ".join(r.output.replace("│", " ").split())
    assert "against the first" not in text
    assert "each project scenario against the reference of its own year" in text, text


def test_run_prints_warnings_as_lines_and_each_done_line_whole(tmp_path, monkeypatch):
    # a narrow standard error: the run id stays on its line whole (a script reads it there);
    # karvan's warnings, from Python's warnings (a capacity in the wrong unit) and from its
    # log (route families left without a route), are one `warning:` line each, without
    # Python's file:line prefix and source line; a folder named like markup is printed as is
    import logging
    import warnings

    user = tmp_path / "slip.toml"
    user.write_text('name = "slip"\ntitle = "Iran closed, a capacity in Mt"\nyear = 2026\n'
                    'extends = "iran_disrupted"\n[[modification]]\naction = "set"\n'
                    'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = 15\n')
    out = tmp_path / "[a]" / ("a-folder-name-long-enough-to-wrap-" * 2)
    # as on the command line, where no logging handler is configured
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        r = runner.invoke(app, ["run", str(user), "--out", str(out), "--no-report",
                                "--no-gpkg", "--no-lp"], env={"COLUMNS": "60"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    run_id = json.loads((out / "slip" / "manifest.json").read_text())["run_id"]
    assert "done slip (" in r.output
    assert any(line.startswith("done slip") and line.endswith(f"{out / 'slip'}, run {run_id}")
               for line in lines), lines
    unit = [line for line in lines if "check the unit of capacity_tpy" in line]
    assert len(unit) == 1 and unit[0].startswith(f"warning: {user}: line 5"), lines
    # the families the closures cut off, said once (three warnings before, each advising to
    # check via_link_ids, which is not at fault)
    family = [line for line in lines if "leave route families" in line]
    assert len(family) == 1 and family[0].startswith(
        "warning: scenario slip: the scenario's 10 closed links leave route families "
        "instc_west_rail, instc_west_road, instc_east (route_family.csv lines "), lines
    assert "declared to serve" not in r.output
    assert "CorridorWarning" not in r.output and ".py:" not in r.output
    assert not logging.getLogger("karvan").handlers


def test_run_refuses_an_out_folder_of_the_users_files_before_any_work(tmp_path):
    """out/baseline holding the user's notes was refused only after the run was solved and
    stored, and the other scenarios were never run."""
    out = tmp_path / "r"
    (out / "baseline").mkdir(parents=True)
    (out / "baseline" / "mynotes.txt").write_text("mine")
    r = runner.invoke(app, ["run", "baseline", "rasht_astara", "--out", str(out), "--quiet",
                            "--no-report", "--no-gpkg"], env=ENV)
    assert r.exit_code == 2, r.output
    assert "error: scenario baseline: " in r.output
    assert "baseline holds files that karvan did not write there (mynotes.txt)" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["baseline"]  # nothing run, nothing stored
    assert (out / "baseline" / "mynotes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["runs", "experiments"])
def test_a_scenario_named_as_a_folder_of_the_store_is_refused(tmp_path, name):
    """A scenario named experiments was copied over the folder of `karvan explore`'s
    experiments, and then told to delete it as a folder of one's own."""
    sc = tmp_path / f"{name}.toml"
    sc.write_text(f'name = "{name}"\ntitle = "x"\nyear = 2024\nextends = "baseline"\n')
    out = tmp_path / "o"
    (out / "experiments" / "e1").mkdir(parents=True)
    r = runner.invoke(app, ["run", str(sc), "--out", str(out), "--quiet"], env=ENV)
    assert r.exit_code == 2, r.output
    assert f"scenario name '{name}' would overwrite the run store's {name} folder" in " ".join(
        r.output.split())
    assert sorted(p.name for p in out.iterdir()) == ["experiments"]


def test_reserved_and_repeated_scenario_names_are_refused_before_any_work(tmp_path):
    """A project saved as reference_2030.toml was compared with itself as "the like-year
    reference" (differences of 0.2 Mt instead of 3-4 Mt); of two files named dup.toml in one
    run the second replaced the first in every table, which still said 2 scenarios."""
    ref = tmp_path / "reference_2030.toml"
    ref.write_text('name = "reference_2030"\ntitle = "my project"\nyear = 2030\n'
                   'extends = "baseline"\n')
    own = tmp_path / "rasht_astara.toml"
    own.write_text('name = "rasht_astara"\ntitle = "mine"\nyear = 2030\n')
    (tmp_path / "d").mkdir()
    for p in (tmp_path / "dup.toml", tmp_path / "d" / "dup.toml"):
        p.write_text('name = "dup"\ntitle = "x"\nyear = 2030\n')
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(ref), str(own), str(tmp_path / "dup.toml"),
                            str(tmp_path / "d" / "dup.toml"), "--out", str(out), "--quiet"],
                      env=ENV)
    assert r.exit_code == 2, r.output
    assert "'reference_2030' is the name of a reference" in r.output
    assert "'rasht_astara' is the name of a built-in scenario" in r.output
    assert "'dup' is also the name of" in r.output
    assert not out.exists()


def test_the_links_say_what_their_freight_pays_a_tonne(results):
    """links.csv's charge_usd_per_t is a link's default tariff: 70 USD/t on the rail ferries,
    whose wagons pay ASCO's wagon fares (31-42 USD/t over their freight), and it read as the
    fare. charge_paid_usd_per_t is what the link's freight pays: the tonne-weighted mean of
    the commodities' own fares and the link's fee, computed here from the dataset's files."""
    import numpy as np

    from karvan.freight.corridor import builtin_corridor_folder

    out, _ = results
    links = pd.read_csv(out / "baseline" / "links.csv").set_index("link_id")
    carried = links["tonnes_tot"] > 0
    np.testing.assert_allclose(links.loc[carried, "charge_paid_usd_per_t"]
                               * links.loc[carried, "tonnes_tot"],
                               links.loc[carried, "revenue_usd"], rtol=1e-9)
    assert links.loc[~carried, "charge_paid_usd_per_t"].isna().all()
    folder = builtin_corridor_folder()
    tc = pd.read_csv(folder / "tariff_commodity.csv")
    fare = tc[(tc["mode"] == "ferry") & (tc["country"] == "XC")].set_index(
        "commodity_id")["tariff_usd_per_t"]
    fee = pd.read_csv(folder / "link.csv").set_index("link_id")["fee_usd_per_t"]
    ferries = [i for i in links.index if i.startswith("F_") and i.endswith("_RAIL")
               and links.at[i, "tonnes_tot"] > 0]
    assert len(ferries) == 3
    for i in ferries:
        w = pd.Series({c: links.at[i, f"tonnes_{c}"] for c in fare.index})
        paid = float((w * (fare + fee[i])).sum() / w.sum())
        assert links.at[i, "charge_paid_usd_per_t"] == pytest.approx(paid, rel=1e-9)
        assert paid < links.at[i, "charge_usd_per_t"]
