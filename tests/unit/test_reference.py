"""Like-year references: which run a scenario is compared with, and what the comparison says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.apply import apply_scenario
from karvan.scenario.reference import (
    backcast_scenario,
    backcast_years,
    choose_reference,
    is_reference,
    reference_name,
    reference_scenario,
)


def test_names_of_references():
    assert reference_name(2024) == "baseline"
    assert reference_name(2030) == "reference_2030"
    assert reference_name(2022) == "backcast_2022"
    assert all(is_reference(n) for n in ("baseline", "reference_2028", "backcast_2023"))
    assert not any(is_reference(n) for n in ("rasht_astara", "reference_x", "backcast_"))


def test_like_year_reference_is_chosen_when_available():
    runs = {"baseline": 2024, "reference_2030": 2030, "combined_2030": 2030}
    c = choose_reference("combined_2030", 2030, runs)
    assert c.reference == "reference_2030" and c.like_year
    assert "own effect" in c.note


def test_other_year_reference_is_named_with_its_year():
    runs = {"baseline": 2024, "reference_2030": 2030, "rasht_astara": 2028}
    c = choose_reference("rasht_astara", 2028, runs)
    # the nearest year: 2030 is 2 years away, 2024 is 4
    assert c.reference == "reference_2030" and not c.like_year
    assert "2 year(s) of demand growth" in c.note
    runs2 = {"baseline": 2024, "reference_2029": 2029}
    c2 = choose_reference("rasht_astara", 2028, runs2)
    assert c2.reference == "reference_2029" and "1 year(s) of demand growth" in c2.note
    assert "reference_2028" in c2.note
    with pytest.raises(InputError, match="reference_2028"):
        choose_reference("rasht_astara", 2028, {"rasht_astara": 2028})


def test_no_run_is_advised_that_cannot_be_made():
    # a year before the base year without a built-in back-cast has no reference to run
    years = backcast_years()
    before = min(years) - 1
    c = choose_reference("my_case", before, {"baseline": 2024})
    assert f"backcast_{before}" not in c.note and "no reference of" in c.note
    assert ", ".join(map(str, years)) in c.note
    with pytest.raises(InputError) as e:
        choose_reference("my_case", before, {})
    assert f"backcast_{before}" not in str(e.value) and "baseline" in str(e.value)
    # a back-cast year is advised
    c = choose_reference("my_case", years[0], {"baseline": 2024})
    assert f"run backcast_{years[0]}" in c.note


def test_reference_scenarios():
    data = load_corridor()
    assert backcast_years() == [2022, 2023]
    b = backcast_scenario(2022)
    assert b.year == 2022 and b.chain == ("backcast_2022", "baseline")
    with pytest.raises(InputError, match="no back-cast of 1999"):
        backcast_scenario(1999)
    assert reference_scenario(2030).name == "reference_2030"
    r = reference_scenario(2028)
    assert r.name == "reference_2028" and r.year == 2028
    # the made-up reference applies like the built-in one of another year: same links, the
    # demand of its own year
    base = apply_scenario(data, load_scenario("baseline"))
    ref = apply_scenario(data, r)
    assert (ref.links["status"] == base.links["status"]).all()
    assert ref.demand["tonnes_per_year"].sum() > base.demand["tonnes_per_year"].sum()
    assert reference_scenario(2024).name == "baseline"


def test_compare_defaults_to_the_like_year_reference_and_says_so(tmp_path):
    from karvan.scenario.run import compare_runs, run_scenario, save_run

    data = load_corridor()
    store = tmp_path / "store"
    for spec in (load_scenario("baseline"), load_scenario("rasht_astara")):
        save_run(run_scenario(data, spec, lp=False, backcasts=False), store, data)
    d = compare_runs("rasht_astara", store=store)
    ref = d["reference"].iloc[0]
    assert ref["reference"] == "baseline" and not ref["like_year"]
    assert "4 year(s) of demand growth" in ref["note"] and "reference_2028" in ref["note"]
    save_run(run_scenario(data, reference_scenario(2028), lp=False), store, data)
    d = compare_runs("rasht_astara", store=store)
    ref = d["reference"].iloc[0]
    assert ref["reference"] == "reference_2028" and ref["like_year"]
    links = d["links"].set_index("link_id")
    # against its like-year reference the new railway is the difference, demand growth is not
    assert links.at["R_IR_RASHT_ASTARA", "tonnes_tot_diff"] > 0
    # the Caspian and the open sea carry tonnes but no transit to gain or lose (the Caspian's
    # 'transit -0.27 Mt' was listed as the second largest change)
    c = d["countries"].set_index("country")
    assert c.loc[["XC", "XX", "EG"], "sea_legs_only"].all()
    assert not c.loc[["AZ", "IR", "RU"], "sea_legs_only"].any()
    transit = [x for x in c.columns if x.startswith("transit_")]
    assert len(transit) == 9 and c.loc[["XC", "XX", "EG"], transit].isna().all().all()
    assert c.loc[["AZ", "IR"], "transit_tonnes_diff"].notna().all()
    assert (c.loc["XC", "tonnes_diff"] != 0) and not np.isnan(c.loc["XC", "tonnes_diff"])
    # the command line: one run is compared with the reference of its year, and says so
    from typer.testing import CliRunner

    from karvan.cli import app

    r = CliRunner().invoke(app, ["compare", "rasht_astara", "--store", str(store)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())  # the note wraps at the table's width
    assert "like-year reference" in said and "reference_2028" in said
    from karvan.scenario.summary import comparison_tables

    [shown] = [t for t in comparison_tables(d, "a", "b") if t.title.startswith("countries")]
    money = [x for x in shown.data.columns if "M USD" in x]
    assert "transit_revenue M USD diff" in money and not any("usd" in x for x in money)
    # and a country's whole revenue, which can fall while its transit revenue rises
    assert "revenue M USD diff" in money
    # the differences are written before the tables are printed: a reader that stops early
    # (| head, a broken pipe) left nothing written
    import karvan.cli.tables as T

    def broken(*a, **k):
        raise BrokenPipeError

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "print_tables", broken)
        CliRunner().invoke(app, ["compare", "rasht_astara", "--store", str(store), "--out",
                                 str(tmp_path / "cmp")])
    assert (tmp_path / "cmp" / "countries_diff.csv").is_file()
    # and the differences on the map for QGIS: every link once, with the CSV's values
    import geopandas as gpd

    from karvan.io.qgis_styles import style_fields

    gpkg = tmp_path / "cmp" / "difference.gpkg"
    csv = pd.read_csv(tmp_path / "cmp" / "links_diff.csv").set_index("link_id")
    lines = gpd.read_file(gpkg, layer="links")
    points = gpd.read_file(gpkg, layer="transfers")
    both = pd.concat([lines, points]).set_index("link_id")
    assert sorted(both.index) == sorted(csv.index) and lines.geometry.notna().all()
    assert (points.geometry.geom_type == "Point").all()
    np.testing.assert_allclose(both.loc[csv.index, "tonnes_tot_diff"], csv["tonnes_tot_diff"])
    assert both.at["R_IR_RASHT_ASTARA", "tonnes_tot_diff"] > 0
    borders = gpd.read_file(gpkg, layer="borders")
    assert borders.geometry.notna().all() and len(borders) == len(
        pd.read_csv(tmp_path / "cmp" / "borders_diff.csv"))
    # the countries' differences on their outlines, by karvan's two-letter code
    ccsv = pd.read_csv(tmp_path / "cmp" / "countries_diff.csv",
                       keep_default_na=False, na_values=[""]).set_index("country")
    outlines = gpd.read_file(gpkg, layer="countries").dropna(subset=["country"])
    outlines = outlines.set_index("country")
    shared = ccsv.index.intersection(outlines.index)
    assert {"AZ", "IR", "RU"} <= set(shared)
    np.testing.assert_allclose(outlines.loc[shared, "transit_tonnes_diff"].astype(float),
                               ccsv.loc[shared, "transit_tonnes_diff"].astype(float))
    import sqlite3

    with sqlite3.connect(gpkg) as con:
        styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles"))
    assert set(styles) == {"countries", "links", "transfers", "borders", "benefit"}
    for layer in ("links", "transfers", "borders", "benefit"):
        cols = set(gpd.read_file(gpkg, layer=layer, rows=1).columns)
        assert style_fields(styles[layer]) <= cols, layer
    # the users' benefit per OD pair on its desire line: benefit.csv's, commodities summed
    ben = gpd.read_file(gpkg, layer="benefit")
    bcsv = pd.read_csv(tmp_path / "cmp" / "benefit.csv")
    want = bcsv[bcsv["comparable"]].groupby(["origin", "destination"])["benefit_usd"].sum()
    got = ben.set_index(["origin", "destination"])["benefit_usd"]
    assert len(got) == len(want) and ben.geometry.notna().all()
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-9)
    assert got.sum() > 0
    # a reference alone would be compared with itself (tables of zeros)
    r = CliRunner().invoke(app, ["compare", "baseline", "--store", str(store)])
    assert r.exit_code == 2 and "is itself the reference of 2024" in r.output
    # a reference of another choice model stored after it is not taken: its difference would
    # hold the change of model as well
    logit_ref = d["reference"]
    save_run(run_scenario(data, reference_scenario(2028), lp=False, choice="deterministic"),
             store, data)
    d2 = compare_runs("rasht_astara", store=store)
    pd.testing.assert_frame_equal(d2["links"], d["links"])
    pd.testing.assert_frame_equal(d2["reference"], logit_ref)


def test_report_references_and_the_references_a_run_list_needs():
    from karvan.scenario.reference import report_references, with_references

    runs = [("baseline", 2024), ("rasht_astara", 2028), ("combined_2030", 2030),
            ("reference_2030", 2030), ("iran_disrupted", 2026)]
    c = report_references(runs)
    assert c[0] is None and c[3] is None  # references are not compared
    assert c[2].reference == "reference_2030" and c[2].like_year
    assert c[1].reference == "reference_2030" and not c[1].like_year  # nearest of 2024, 2030
    assert c[1].want == "reference_2028"
    assert c[4].reference == "baseline" and c[4].want == "reference_2026"
    # no reference at all: the first other run, with the years said
    c2 = report_references([("rasht_astara", 2028), ("combined_2030", 2030)])
    assert c2[0].reference == "combined_2030" and not c2[0].like_year
    specs = with_references([load_scenario(n) for n in ("baseline", "rasht_astara",
                                                         "combined_2030", "iran_disrupted")])
    names = [s.name for s in specs]
    assert names[:4] == ["baseline", "rasht_astara", "combined_2030", "iran_disrupted"]
    assert sorted(names[4:]) == ["reference_2026", "reference_2028", "reference_2030"]
    assert all(r.reference == "baseline" or r.like_year for r in filter(None, report_references(
        [(s.name, s.year) for s in specs])))


def test_the_reference_a_note_names_can_be_run_by_that_name():
    """The notes say 'run reference_2028 to separate them'; karvan run refused that name."""
    from karvan.scenario.reference import load_scenario_or_reference

    s = load_scenario_or_reference("reference_2028")
    assert (s.name, s.year) == ("reference_2028", 2028)
    assert load_scenario_or_reference("backcast_2023").year == 2023
    assert load_scenario_or_reference("rasht_astara").name == "rasht_astara"
    with pytest.raises(InputError, match=r"no built-in scenario 'reference_2024' \(the "
                                         r"reference of 2024 is baseline\)"):
        load_scenario_or_reference("reference_2024")  # the base year's is baseline


def test_a_name_that_cannot_be_run_gets_the_nearest_and_what_can_be_run():
    """'karvan run rasht_astra' got no hint, and the list of built-in names left out the
    references of other years and the back-casts, which run too."""
    from karvan.scenario.reference import backcast_years, load_scenario_or_reference

    with pytest.raises(InputError) as e:
        load_scenario_or_reference("rasht_astra")
    msg = str(e.value)
    assert msg.startswith("no built-in scenario 'rasht_astra' (did you mean rasht_astara?); "
                          "give a .toml file, a built-in scenario (baseline, rasht_astara, ")
    assert "the reference of a year 2025-2074 (reference_YYYY; that of 2024 is baseline)" in msg
    assert ", ".join(f"backcast_{y}" for y in backcast_years()) in msg
    with pytest.raises(InputError, match=r"'backcst_2023' \(did you mean backcast_2023\?\)"):
        load_scenario_or_reference("backcst_2023")
    with pytest.raises(InputError, match=r"'reference_2014' \(no back-cast of 2014 is built "):
        load_scenario_or_reference("reference_2014")


def test_the_report_names_the_like_year_reference_that_exists(tmp_path):
    """A 2030 run against the baseline: the note named reference_2024 for the baseline's year,
    which is the baseline itself; then "run baseline", one of the two runs: two references are
    separated by no third run."""
    from karvan.report import render_report
    from karvan.scenario.run import run_scenario, write_run

    data = load_corridor()
    runs = [write_run(run_scenario(data, load_scenario(n), lp=False),
                      tmp_path / n, data) for n in ("reference_2030", "baseline")]
    html = render_report(runs, lang="en", reference=0)
    assert "not a like-year reference" in html and "reference_2024" not in html
    assert "to separate them" not in html


def test_a_country_crossed_by_land_in_one_run_keeps_its_transit_change():
    """The countries compared are sea-only (transit blank) where every run that crosses them
    crosses them by sea only: a country sea-only in A that gains land transit in B had that
    change blanked."""
    from karvan.scenario.run import _sea_legs_without_transit

    diff = pd.DataFrame({"country": ["EG", "IR", "XC", "QQ"], "tonnes_diff": [1.0, 2, 3, 4],
                         "transit_tonnes_a": [1.0, 2, 3, 0], "transit_tonnes_b": [1.0, 2, 3, 4],
                         "transit_tonnes_diff": [0.0, 0, 0, 4]})
    a = pd.DataFrame({"country": ["EG", "IR", "QQ"], "sea_legs_only": [True, False, True]})
    b = pd.DataFrame({"country": ["EG", "IR", "QQ"], "sea_legs_only": [True, False, False]})
    out = _sea_legs_without_transit(diff, a, b).set_index("country")
    assert out["sea_legs_only"].to_dict() == {"EG": True, "IR": False, "XC": True, "QQ": False}
    assert out.at["QQ", "transit_tonnes_diff"] == 4 and np.isnan(out.at["EG",
                                                                           "transit_tonnes_b"])


@pytest.mark.parametrize(("name", "year", "want"), [
    ("project", 2024, "baseline"), ("project", 2028, "reference_2028"),
    ("project", 2029, "reference_2029"), ("project", 2023, "backcast_2023"),
    ("project", 2021, None), ("baseline", 2024, None), ("reference_2030", 2030, None),
    ("backcast_2022", 2022, None)])
def test_like_year_reference_is_the_reference_of_the_scenarios_year(name, year, want):
    from dataclasses import replace

    from karvan.scenario import load_scenario
    from karvan.scenario.reference import like_year_reference, with_references

    s = replace(load_scenario("baseline"), name=name, year=year)
    r = like_year_reference(s)
    assert (r.name if r is not None else None) == want
    if want is not None:
        assert r.year == year
        # karvan run adds the same one
        assert [x.name for x in with_references([s])] == [name, want]


def _loop_graph(order):
    """Nodes N0-N2; L0 an undirected loop at N0 (two arcs of one link and tail), L1 N0->N1,
    L2 N1->N2, L3 N2->N0, L4 N1-N2 undirected; the links in ``order``."""
    from karvan.network.graph import compile_arrays

    ends = {"L0": (0, 0, False), "L1": (0, 1, True), "L2": (1, 2, True), "L3": (2, 0, True),
            "L4": (1, 2, False)}
    n = len(order)
    z = np.zeros(n)
    return compile_arrays(
        node_ids=np.array(["N0", "N1", "N2"], dtype=object),
        link_ids=np.array(order, dtype=object),
        from_idx=np.array([ends[k][0] for k in order]),
        to_idx=np.array([ends[k][1] for k in order]),
        directed=np.array([ends[k][2] for k in order]), free_flow_time=np.ones(n),
        capacity=np.full(n, np.inf), alpha=z, beta=z, vdf=np.zeros(n, dtype=np.int64), length=z,
        toll=z, blocked=np.zeros(3, bool), zone_ids=np.array(["Z0", "Z1"], dtype=object),
        zone_nodes=np.array([0, 1]))


def test_reference_routes_are_found_on_another_network_by_link_and_node_also_past_a_loop():
    """A project's run looks its reference's routes up by (link, node it leaves): on the
    reference's own network each route is itself, on a network of the links in another order
    (and without L3) each is the same steps or closed, also where an undirected loop gives two
    arcs one key (the lookup was shifted by one past the loop)."""
    from karvan.choice.routes import RouteSet
    from karvan.scenario.choice_run import _arcs_on, reference_arcs, route_links

    g = _loop_graph(["L0", "L1", "L2", "L3", "L4"])
    key = [(str(g.link_ids[g.arc_link[a]]), str(g.node_ids[g.tail[a]])) for a in range(g.n_arcs)]
    assert len(set(key)) == g.n_arcs - 1  # the loop's two arcs share their key
    pos = {k: a for a, k in enumerate(key)}
    routes = [[pos["L1", "N0"], pos["L2", "N1"]], [pos["L1", "N0"], pos["L4", "N1"]],
              [pos["L0", "N0"], pos["L1", "N0"], pos["L2", "N1"], pos["L3", "N2"]],
              [pos["L3", "N2"]]]
    ptr = np.r_[0, np.cumsum([len(r) for r in routes])]
    rs = RouteSet(graph=g, class_names=("c",), zone_ids=("Z0", "Z1"), od_class=np.array([0]),
                  od_origin=np.array([0]), od_destination=np.array([1]), od_demand=np.ones(1),
                  od_ptr=np.array([0, len(routes)]), route_ptr=ptr,
                  route_arcs=np.concatenate(routes).astype(np.int32),
                  route_source=np.zeros(len(routes), np.int8),
                  route_label=np.full(len(routes), -1, np.int32), route_fixed=np.zeros(len(routes)))
    listed = route_links(rs, g)
    found = _arcs_on(g, listed, *reference_arcs(rs, g))
    assert [list(f[3]) for f in found] == routes
    other = _loop_graph(["L4", "L2", "L0", "L1"])
    found = _arcs_on(other, listed, *reference_arcs(rs, g))
    assert [f is None for f in found] == [False, False, True, True]
    for (_, _, _, steps), f in zip(listed, found, strict=True):
        if f is not None:
            assert [(str(other.link_ids[other.arc_link[a]]), str(other.node_ids[other.tail[a]]))
                    for a in f[3]] == list(steps)
