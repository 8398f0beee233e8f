"""The corridor under the choice model (``run_scenario(..., choice="logit")``): capacities that
hold in every built-in scenario, Russia-India freight split over families, the calibration rows
against the deterministic model, and bad parameter tables."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.choice_model import (
    LINK_GAUGE_CHANGE_H,
    LINK_GAUGE_CHANGE_USD_PER_T,
    choice_parameters,
)
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.freight.route_family import read_route_families
from karvan.scenario import builtin_scenarios, load_scenario
from karvan.scenario.run import run_scenario

REL = 1e-6


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def logit_runs(data):
    return {n: run_scenario(data, load_scenario(n), lp=False, backcasts=n == "baseline")
            for n in builtin_scenarios()}


@pytest.fixture(scope="module")
def det_baseline(data):
    return run_scenario(data, load_scenario("baseline"), lp=False, choice="deterministic")


def _table():
    return pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                       keep_default_na=False)


def test_no_capacity_is_exceeded_in_any_scenario(logit_runs, data):
    """Recomputed from the link tonnes, in the sense link.csv gives each capacity."""
    both = data.links["capacity_both_directions"].astype(str).str.lower() == "true"
    # a truck count for both directions is halved into capacity_tpy (per direction)
    twice = both & data.links["capacity_unit"].astype(str).str.endswith("both_directions")
    assert twice["B_RU_GE_UPPER_LARS"] and not twice["T_IR_ASTARA_TERMINAL"]
    for name, run in logit_runs.items():
        links = run.tables["links"].set_index("link_id")
        cap = links["capacity_tpy"] * np.where(twice.reindex(links.index, fill_value=False),
                                               2.0, 1.0)
        has = cap > 0
        load = np.where(both.reindex(links.index, fill_value=False), links["tonnes_tot"],
                        np.maximum(links["tonnes_ab"], links["tonnes_ba"]))
        excess = (pd.Series(load, index=links.index)[has] - cap[has]) / cap[has]
        assert excess.max() <= REL, (name, excess.idxmax(), excess.max())
        assert run.summary["max_capacity_excess"] <= REL
        # the base year under the calibrated table: the INSTC constants (+24 USD/t by rail,
        # +40 by road) take the Astara (IR) terminal below its 2 Mt (it bound at its capacity
        # before the first refit), so it has no shadow price; a capacity that binds is one that
        # is full (none since the Sarakhs road crossing; Lotfabad, 2.4 Mt at its observed peak of
        # trucks, bound before it)
        if name == "baseline":
            caps = run.tables["capacities"].set_index("link_id")
            astara = caps.loc["T_IR_ASTARA_TERMINAL"]
            assert not astara["binding"] and astara["shadow_price_h"] == 0
            assert 0 < astara["tonnes"] < 0.9 * astara["capacity_tpy"]
            full = caps["tonnes"] >= (1 - 1e-3) * caps["capacity_tpy"]
            assert (caps["binding"] <= full).all()


def test_shadow_prices_in_hours_and_dollars(logit_runs):
    # the scenarios that bind a capacity (Lotfabad in the 2030 ones, Makhachkala port when
    # Iran's land borders close) carry its shadow price, in hours and in USD/t
    bound = {n: r.tables["capacities"] for n, r in logit_runs.items()
             if r.tables["capacities"]["binding"].any()}
    assert bound, "no scenario binds a capacity"
    for caps in bound.values():
        b = caps[caps["binding"]]
        assert (b["shadow_price_h"] > 0).all()
        # USD/t of a commodity is the hours times its value of time
        assert b["shadow_price_usd_per_t_containers"].to_numpy() == pytest.approx(
            b["shadow_price_h"].to_numpy() * 1.0417, rel=1e-9)
    for r in logit_runs.values():
        caps = r.tables["capacities"]
        assert (caps.loc[~caps["binding"], "shadow_price_h"] == 0).all()


def test_russia_india_freight_splits_over_all_water_and_overland(logit_runs, det_baseline):
    for run in (logit_runs["baseline"],):
        fs = run.tables["family_shares"]
        ru_in = fs[(fs["origin_country"] == "RU") & (fs["destination_country"] == "IN")]
        by_nest = ru_in.groupby("nest")["tonnes"].sum() / ru_in["tonnes"].sum()
        assert 0.05 < by_nest["all_water"] < 0.95
        assert 0.05 < by_nest["instc"] < 0.95
        # the shares of each commodity add up to one
        s = fs.groupby(["origin_country", "destination_country", "commodity"])["share"].sum()
        assert s.to_numpy() == pytest.approx(1.0)
    assert {"origin_country", "destination_country", "commodity", "family_id", "nest",
            "tonnes", "share"} <= set(det_baseline.tables["family_shares"])


def test_a_declared_family_gets_a_route_of_its_own_where_a_family_before_shares_its_links(
        logit_runs):
    """``middle_corridor`` serves China-EU; ``caspian_ferry_north_south``, of a higher
    priority, has the same ferries and a Russian border as its also_via links. The forced
    member avoids that border, so it is classified in the declared family."""
    fam = read_route_families()
    ferries = set(fam.set_index("family_id").at["caspian_ferry_north_south", "via_link_ids"]
                  .split(";"))
    assert ferries <= set(fam.set_index("family_id").at["middle_corridor", "via_link_ids"]
                          .split(";"))
    for name in ("baseline", "rasht_astara"):
        routes = logit_runs[name].tables["routes"]
        for o, d in (("Z_CN", "Z_EU"), ("Z_EU", "Z_CN")):
            mc = routes[(routes["origin"] == o) & (routes["destination"] == d)
                        & (routes["family_id"] == "middle_corridor")]
            assert len(mc) >= 1
            for links in mc["links"]:
                steps = links.split(" > ")
                assert ferries & set(steps)
                assert not [x for x in steps if x.startswith(("B_RU_", "B_KZ_RU_"))]


def _abs_log(cal, oid):
    r = cal.set_index("observed_id").loc[oid]
    return abs(math.log(r["modelled_tonnes"] / r["observed_tonnes"]))


def test_calibration_rows_move_toward_the_reported_volumes(logit_runs, det_baseline):
    lg = logit_runs["baseline"].tables["calibration"]
    dt = det_baseline.tables["calibration"]
    # ADY (north-south) transit and the Astara terminal, overstated by the deterministic model,
    # and Upper Lars: where the deterministic model misses a row by more than 30 %, the logit
    # model is closer (since the rail rates of 2026-12-03 the deterministic model has Upper Lars
    # within 8 %, and nothing to call for there)
    missed = []
    for oid in ("OBS_ADY_NS_TRANSIT_2024", "OBS_ADY_TRANSIT_2024", "OBS_ASTARA_TERMINAL_2024",
                "OBS_UPPER_LARS_2024"):
        if _abs_log(dt, oid) > math.log(1.3):
            missed.append(oid)
            assert _abs_log(lg, oid) < _abs_log(dt, oid), oid
    assert "OBS_ADY_NS_TRANSIT_2024" in missed and "OBS_ASTARA_TERMINAL_2024" in missed
    # the same table, recomputed: every row compared in one is compared in the other
    assert lg["compared"].tolist() == dt["compared"].tolist()


def test_deterministic_choice_keeps_todays_model(data, det_baseline):
    assert det_baseline.summary["choice"] == "deterministic"
    assert "capacities" not in det_baseline.tables
    assert det_baseline.ue.converged and det_baseline.ue.gap <= 1e-10


def test_manifest_settings_record_the_choice_model(logit_runs):
    s = logit_runs["baseline"].settings
    assert s["choice"] == "logit"
    p = s["choice_parameters"]
    assert p["theta_usd"]["containers"] == pytest.approx(_value("theta", commodity="containers"))
    assert "containers|instc_west_rail" in p["family_terms_usd_per_t"]


# -- the parameter table ------------------------------------------------------------------------


def _model(table):
    data = load_corridor()
    return choice_parameters(table, read_route_families(), data.commodities,
                             link_ids=list(data.links.index))


def _value(parameter, family="*", commodity="*"):
    """The value of one row of the built-in table (calibrated or prior)."""
    t = _table()
    row = t[(t["parameter"] == parameter) & (t["family"] == family) & (t["commodity"] == commodity)]
    return float(row["value"].item())


def test_family_terms_follow_the_table():
    m = _model(_table())
    t = m.family_terms.set_index(["commodity", "family_id"])
    # containers on INSTC West rail: the value of reliability (calibrated: the prior 1.0417
    # USD/t-h times the fitted factor) x 108 h + USD 25/t empty repositioning + the family's
    # constant (calibrated)
    vor = _value("value_of_reliability", commodity="containers")
    assert vor != 1.0417
    assert t.at[("containers", "instc_west_rail"), "total_usd_per_t"] == pytest.approx(
        vor * 108 + 25 + _value("asc_usd_per_t", family="instc_west_rail"))
    # the Black Sea war risk and the Red Sea premium add up on the Suez route from Novorossiysk
    assert t.at[("containers", "sea_suez_black_sea"), "insurance_usd_per_t"] == pytest.approx(
        30.625 + 4.875)
    assert m.theta_usd["grain"] == pytest.approx(_value("theta", commodity="grain"))
    # gauge breaks: grain pays USD 12/t and 24 h where link.csv has USD 8/t and 16 h
    data = load_corridor()
    ids = list(data.links.index)
    extra = m.link_cost_usd_per_t("grain", ids, 0.0575)
    assert extra[ids.index("G_IR_SARAKHS")] == pytest.approx((12 - 8) + 0.0575 * (24 - 16))
    assert extra[ids.index("R_RU_SPB_MOSCOW")] == 0.0


def test_link_gauge_change_component_is_what_link_csv_holds():
    links = load_corridor().links
    g = links[links.index.str.startswith("G_")]
    assert (g["dwell_h"] == LINK_GAUGE_CHANGE_H).all()
    assert (g["tariff_usd_per_t"] == LINK_GAUGE_CHANGE_USD_PER_T).all()


def test_bad_parameter_tables_are_input_errors_with_lines():
    t = _table()
    th = t.index[t["parameter"] == "theta"][0]
    t.loc[th, "value"] = "0"
    asc = t.index[t["parameter"] == "asc_usd_per_t"][0]
    t.loc[asc, "family"] = "sea_via_the_moon"
    sc = t.index[t["parameter"] == "nest_scale"][0]
    t.loc[sc, "nest"] = "empty_nest"
    with pytest.raises(InputError) as e:
        _model(t)
    msg = str(e.value)
    assert f"theta must be > 0 (lines {th + 2})" in msg
    assert "constants for unknown families sea_via_the_moon" in msg and str(asc + 2) in msg
    assert "empty_nest has no member family" in msg and str(sc + 2) in msg
    # a row's unit was not read: a value of reliability per day gave the same answer as one
    # per hour whatever the unit column said
    t = _table()
    vor = t.index[(t["parameter"] == "value_of_reliability") & (t["commodity"] == "containers")]
    t.loc[vor, "value"] = "20.61"
    t.loc[vor, "unit"] = "USD/t-d"
    with pytest.raises(InputError, match=rf"unit 'USD/t-d' on value_of_reliability \(lines "
                                         rf"{vor[0] + 2}\) is not the unit karvan reads it in, "
                                         r"'USD/t-h'"):
        _model(t)
    # other spellings of the parameter's own unit are that unit
    t = _table()
    t.loc[vor, "value"], t.loc[vor, "unit"] = "0.8588", "USD/t/h"
    t.loc[t["parameter"] == "nest_scale", "unit"] = "-"
    _model(t)
    t = _table()
    t = t[~((t["parameter"] == "theta") & (t["commodity"] == "metals"))]
    with pytest.raises(InputError, match="no theta for commodity 'metals'"):
        _model(t)


def test_a_calibrated_table_can_be_passed_in(data):
    t = _table()
    # a large constant against INSTC West rail for every commodity
    t.loc[(t["parameter"] == "asc_usd_per_t") & (t["family"] == "instc_west_rail"),
          "value"] = "500"
    base = run_scenario(data, load_scenario("baseline"), lp=False, backcasts=False)
    r = run_scenario(data, load_scenario("baseline"), lp=False, backcasts=False,
                     choice_parameters=t)

    def share(run):
        fs = run.tables["family_shares"]
        x = fs[(fs["origin_country"] == "RU") & (fs["destination_country"] == "IR")]
        return x.loc[x["family_id"] == "instc_west_rail", "tonnes"].sum() / x["tonnes"].sum()

    assert share(r) < 0.1 * share(base)


def test_the_route_sets_are_built_at_the_prior_dispersion():
    """A calibrated table's theta rows give the route sets' dispersion by their prior_value,
    the choice by their value; without a prior_value both are the value; a bad prior_value is
    an input error with its line."""
    t = _table()
    th = t["parameter"] == "theta"
    assert (t.loc[th, "prior_value"] != "").all()  # the shipped table is calibrated
    m = _model(t)
    for c in m.theta_usd:
        row = t[th & (t["commodity"] == c)].iloc[0]
        assert m.theta_usd[c] == pytest.approx(float(row["value"]))
        assert m.route_theta_usd[c] == pytest.approx(float(row["prior_value"]))
    assert m.route_theta_usd != m.theta_usd
    bare = t.copy()
    bare.loc[th, "prior_value"] = ""
    m2 = _model(bare)
    assert m2.route_theta_usd == m2.theta_usd == m.theta_usd
    bad = t.copy()
    i = bad.index[th][0]
    bad.loc[i, "prior_value"] = "-1"
    with pytest.raises(InputError, match=rf"prior_value must be a number > 0 or blank \(lines "
                                         rf"{i + 2}\)"):
        _model(bad)


def test_a_theta_of_its_own_moves_the_shares_not_the_route_sets(data):
    """The same prior, two values of theta: the same routes in both runs (every class and OD
    pair), their shares different; so the counts are continuous in a fitted theta. A route
    set that followed theta changed the path-size factors of the routes a newly forced route
    overlaps, and the counts jumped where theta crossed its threshold."""
    t = _table()
    th = t["parameter"] == "theta"
    runs = []
    for f in (1.0, 1.3):
        u = t.copy()
        u.loc[th, "value"] = [repr(float(v) * f) for v in t.loc[th, "prior_value"]]
        runs.append(run_scenario(data, load_scenario("baseline"), lp=False, backcasts=False,
                                 choice_parameters=u))

    def route_set(run):
        rs = run.ue.route_set
        od = rs.route_od
        return [(rs.class_names[rs.od_class[w]], rs.zone_ids[rs.od_origin[w]],
                 rs.zone_ids[rs.od_destination[w]], tuple(rs.arcs(r).tolist()))
                for r, w in enumerate(od)]

    a, b = (route_set(r) for r in runs)
    assert len(a) > 10_000 and a == b
    fa, fb = (r.ue.route_flow for r in runs)
    assert np.abs(fa - fb).max() > 1e3  # tonnes: the shares moved with theta
    assert runs[0].settings["choice_parameters"]["route_set_theta_usd"] == \
        runs[1].settings["choice_parameters"]["route_set_theta_usd"]


def test_a_family_with_no_route_for_an_od_it_serves_is_an_input_error(tmp_path, data):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    fam = pd.read_csv(folder / "route_family.csv", dtype=str, keep_default_na=False)
    # a family through a line that is only planned in 2024: no route can use it
    row = fam.iloc[[0]].assign(family_id="rasht_astara_rail", priority="99", nest="instc",
                               via_link_ids="R_IR_RASHT_ASTARA", also_via_link_ids="",
                               serves="RU-IR")
    pd.concat([fam, row]).to_csv(folder / "route_family.csv", index=False)
    line = len(fam) + 2
    d = load_corridor(folder)
    from karvan.freight.corridor import CorridorWarning

    # the family has no row in choice_parameter.csv: warned of, its terms 0
    with (pytest.warns(CorridorWarning, match=r"rasht_astara_rail \(route_family.csv line"),
          pytest.raises(InputError) as e):
        run_scenario(d, load_scenario("baseline"), lp=False, backcasts=False)
    msg = str(e.value)
    assert f"route_family.csv line {line}" in msg and "rasht_astara_rail" in msg
    assert "RU-IR" in msg and "remove the pairs from serves" in msg


def test_unknown_choice_is_an_input_error(data):
    with pytest.raises(InputError, match="unknown choice model"):
        run_scenario(data, load_scenario("baseline"), choice="probit")


def test_a_commodity_constant_replaces_the_family_constant_for_that_commodity_only():
    t = _table()
    fam = (t["parameter"] == "asc_usd_per_t") & (t["family"] == "middle_corridor")
    t.loc[fam & (t["commodity"] == "*"), "value"] = "7.0"
    t.loc[fam & (t["commodity"] == "containers"), "value"] = "-40.0"
    terms = _model(t).family_terms.set_index(["commodity", "family_id"])["asc_usd_per_t"]
    assert terms[("containers", "middle_corridor")] == pytest.approx(-40.0)
    for c in ("grain", "metals", "general_cargo"):
        assert terms[(c, "middle_corridor")] == pytest.approx(7.0)
    # the trucks' family keeps its own constant for containers as for the rest
    road = _value("asc_usd_per_t", family="middle_corridor_road")
    assert terms[("containers", "middle_corridor_road")] == pytest.approx(road)


def test_one_container_constant_for_the_routes_through_russia_and_no_other_term_changed():
    """One row, family ``*`` and nest ``overland_north``, sets the containers' constant of both
    its families (the northern route and the Black Sea ports to the EU) and no other commodity's
    or family's (rule "The northern route's container constant on Europe's trade through
    Russia's Black Sea ports")."""
    from karvan.scenario.calibration import choice_parameters_to_fit

    t = _table()
    params = {p.name: p for p in choice_parameters_to_fit(t)}
    assert "asc_usd_per_t|nest:overland_north|containers" in params
    assert "asc_usd_per_t|northern_rail|containers" not in params
    row = ((t["parameter"] == "asc_usd_per_t") & (t["family"] == "*")
           & (t["nest"] == "overland_north"))
    assert params["asc_usd_per_t|nest:overland_north|containers"].rows(t).tolist() == (
        row.tolist())
    assert t.loc[row, "commodity"].tolist() == ["containers"]
    assert t.loc[row, "prior_std_error"].astype(float).tolist() == pytest.approx([133.2],
                                                                                 abs=0.01)
    t.loc[row, "value"] = "60.0"
    m = _model(t)
    terms = m.family_terms.set_index(["commodity", "family_id"])
    north = [f for f, n in m.nest_of.items() if n == "overland_north"]
    assert sorted(north) == ["black_sea_russia_eu", "northern_rail"]
    for f in north:
        assert terms.loc[("containers", f), "asc_usd_per_t"] == pytest.approx(60.0)
        for c in ("grain", "metals", "general_cargo"):
            assert terms.loc[(c, f), "asc_usd_per_t"] == pytest.approx(0.0)
    for f in ("black_sea_direct", "georgia_ports", "middle_corridor_road"):
        assert terms.loc[("containers", f), "asc_usd_per_t"] == pytest.approx(
            _model(_table()).family_terms.set_index(["commodity", "family_id"]).loc[
                ("containers", f), "asc_usd_per_t"])
    # every term of the Black Sea ports to the EU but the containers' constant is black_sea_direct's
    base = _model(_table()).family_terms.set_index(["commodity", "family_id"])
    cols = ["buffer_h", "reliability_usd_per_t", "insurance_usd_per_t", "sanctions_usd_per_t",
            "empty_repositioning_usd_per_t", "asc_usd_per_t"]
    for c in base.index.get_level_values("commodity").unique():
        a = base.loc[(c, "black_sea_russia_eu"), cols]
        b = base.loc[(c, "black_sea_direct"), cols]
        if c == "containers":
            a, b = a.drop("asc_usd_per_t"), b.drop("asc_usd_per_t")
        assert a.tolist() == pytest.approx(b.tolist()), c


def test_a_table_without_a_familys_rows_is_warned_of_with_the_family_and_its_line():
    """A choice table made before a family was added gave it 0 for every term in silence: EU
    containers by Novorossiysk came out cheaper than by the family they were taken from."""
    from karvan.freight.corridor import CorridorWarning

    t = _table()
    old = t[t["family"] != "black_sea_russia_eu"]
    with pytest.warns(CorridorWarning, match=r"no reliability_buffer_h row for the families "
                      r"black_sea_russia_eu \(route_family.csv line \d+\), so every term"):
        terms = _model(old).family_terms.set_index(["commodity", "family_id"])
    assert terms.loc[("grain", "black_sea_russia_eu"), "total_usd_per_t"] == 0.0
    assert terms.loc[("grain", "black_sea_direct"), "total_usd_per_t"] > 0.0
    # a row of family * reaches every family
    star = pd.concat([old, old[(old["parameter"] == "reliability_buffer_h")].head(1).assign(
        family="*", value="10")])
    assert _model(star).family_terms.set_index(["commodity", "family_id"]).loc[
        ("grain", "black_sea_russia_eu"), "buffer_h"] == pytest.approx(10.0)


def test_routes_by_novorossiysk_to_the_eu_are_their_own_family_and_the_rest_stay_black_sea():
    """The family takes black_sea_direct's routes that reach the EU zone, and no other."""
    from karvan.freight.route_family import classify_routes

    fams = read_route_families()
    eu = ("T_CN_XIAN > R_CN_XIAN_KHORGOS > B_CN_KZ_KHORGOS_RAIL > R_KZ_ALTYNKOL_ALMATY > "
          "R_KZ_ALMATY_SHYMKENT > R_KZ_SHYMKENT_BEINEU > R_KZ_ATYRAU_BEINEU > "
          "R_KZ_GANYUSHKINO_ATYRAU > B_RU_KZ_AKSARAISKAYA_RAIL > R_RU_ASTRAKHAN_AKSARAISKAYA > "
          "R_RU_KRASNODAR_ASTRAKHAN > R_RU_KRASNODAR_NOVOROSSIYSK > P_RU_NOVOROSSIYSK_RAIL > "
          "S_RU_XX_NOVOROSSIYSK_BOSPORUS > S_TR_XX_ISTANBUL_BOSPORUS > P_TR_ISTANBUL_RAIL > "
          "R_TR_ISTANBUL_KAPIKULE > B_TR_EU_KAPIKULE_RAIL > R_EU_KAPIKULE_DUISBURG > T_EU_DUISBURG")
    tr = eu.split(" > P_TR_ISTANBUL_RAIL")[0]  # the same to Istanbul, not on to the EU
    north = ("R_RU_MOSCOW_KRASNOYE > B_RU_BY_KRASNOYE_RAIL > R_BY_OSINOVKA_BREST > "
             "B_BY_EU_BREST_RAIL > R_EU_MALASZEWICZE_DUISBURG > T_EU_DUISBURG")
    got = classify_routes(pd.Series([eu, tr, north]), fams).tolist()
    assert got == ["black_sea_russia_eu", "black_sea_direct", "northern_rail"]


def test_the_tables_path_size_gamma_reaches_the_solver(data):
    """``path_size_gamma`` (0 in the shipped table: Ben-Akiva and Bierlaire's path size) is
    the model's and the manifest's; a positive value changes the shares over the same routes;
    a negative or scoped row is an input error with its line."""
    t = _table()
    gm = t["parameter"] == "path_size_gamma"
    assert gm.sum() == 1 and float(t.loc[gm, "value"].item()) == 0.0
    assert _model(t).gamma == 0.0
    u = t.copy()
    u.loc[gm, "value"] = "4"
    assert _model(u).gamma == 4.0
    runs = [run_scenario(data, load_scenario("baseline"), lp=False, backcasts=False,
                         choice_parameters=x) for x in (t, u)]
    assert runs[1].settings["choice_parameters"]["gamma_path_size"] == 4.0
    a, b = (r.ue for r in runs)
    assert a.route_set.n_routes == b.route_set.n_routes
    assert np.abs(a.route_flow - b.route_flow).max() > 1e3  # tonnes
    i = t.index[gm][0]
    bad = t.copy()
    bad.loc[i, "value"] = "-0.5"
    with pytest.raises(InputError, match=rf"path_size_gamma must be >= 0 \(lines {i + 2}\)"):
        _model(bad)
    bad = t.copy()
    bad.loc[i, ["commodity", "family"]] = ["grain", "middle_corridor"]
    with pytest.raises(InputError, match=rf"applies to every route \(lines {i + 2}\)") as e:
        _model(bad)
    assert str(e.value).count("path_size_gamma") == 1  # one problem for the row, not one a column


def test_a_row_at_a_scope_its_parameter_is_not_read_by_is_an_error_with_its_line():
    """A family's theta, a nest scale of nest *, a constant on named links and a gauge break
    on every link (*) were accepted and not read, in silence; each is an error now, all at
    once, and the shipped table has none."""
    t = _table()
    _model(t)
    bad = t.copy()
    cases = [("theta", "family", "instc_caspian", r"theta is read per commodity, not per "
              r"family \(lines {}\)"),
             ("value_of_reliability", "nest", "instc", r"value_of_reliability is read per "
              r"commodity, not per nest \(lines {}\)"),
             ("nest_scale", "nest", "*", r"nest_scale needs a nest \(lines {}\)"),
             ("nest_scale", "commodity", "grain", r"nest_scale is read per nest, not per "
              r"commodity \(lines {}\)"),
             ("asc_usd_per_t", "link_ids", "B_RU_AZ_SAMUR_RAIL", r"asc_usd_per_t is read per "
              r"family and nest and commodity, not per link_ids \(lines {}\)"),
             ("gauge_break_h", "link_ids", "*", r"gauge_break_h needs a link_ids \(lines {}\)"),
             ("gauge_break_usd_per_t", "family", "instc_caspian", r"gauge_break_usd_per_t is "
              r"read per link_ids and commodity, not per family \(lines {}\)")]
    used, want = set(), []
    for parameter, col, value, said in cases:
        i = next(k for k in t.index[t["parameter"] == parameter] if k not in used)
        used.add(i)
        bad.loc[i, col] = value
        want.append(said.format(i + 2))
    with pytest.raises(InputError) as e:
        _model(bad)
    for said in want:
        assert re.search(said, str(e.value)), (said, str(e.value))


def test_each_familys_least_cost_route_is_in_the_route_set(data):
    """Where the k-route search found a costlier route of a family, the family's least-cost
    route (its forced member) enters too: no family's cheapest route in the set costs more
    than the least-cost route through the family's links (grain and containers, base year).
    A forced member entered only for the families the search had found no route of, and
    798 of 8,989 class-pair-families lacked their least-cost route (Kazakh grain to
    Turkmenistan by the Caspian ferries USD 132/t dearer)."""
    import karvan.scenario.choice_run as cr
    from karvan.network.graph import compile_graph
    from karvan.scenario.run import _engine_inputs, corridor_choice

    model = corridor_choice(data)
    _, net, zc, _, _, demand, classes = _engine_inputs(data, load_scenario("baseline"),
                                                       quiet=True)
    cnet = cr.choice_network(net)
    classes = [c for c in cr.choice_classes(classes, model, cnet.links.index)
               if c.name in ("grain", "containers", "general_cargo")]
    assert len(classes) == 3
    rs, _, _ = cr._search_route_set(cnet, demand, classes, model, zone_country=zc)
    fam = cr.family_classifier(model.families)(rs)
    cost = cr.route_free_costs(rs, cnet, classes)
    z = np.asarray(rs.zone_ids, dtype=object)
    held: dict[tuple, float] = {}
    for r, (f, w) in enumerate(zip(fam, rs.route_od, strict=True)):
        if f >= 0:
            key = (rs.class_names[rs.od_class[w]], z[rs.od_origin[w]],
                   z[rs.od_destination[w]], model.family_ids[f])
            held[key] = min(held.get(key, np.inf), cost[r])
    routes, _, _, _ = cr.forced_routes(cnet, demand, classes, model,
                                       model.route_set_theta_per_hour(classes), zc, {})
    g = compile_graph(cnet)
    classify = cr.arcs_classifier(model.families)
    arc_cost = {c.name: cr._class_arc_costs(cnet, g, c) for c in classes}
    vot = {c.name: c.value_of_time for c in classes}
    checked, gaps = 0, []
    for cls, o, d, arcs in routes:
        arcs = np.asarray(arcs, dtype=np.int64)
        f = int(classify(g, arcs, np.array([0, len(arcs)]))[0])
        if f < 0:
            continue
        key = (cls, o, d, model.family_ids[f])
        assert key in held  # a forced member within reach is in the set
        checked += 1
        gap = (held[key] - arc_cost[cls][arcs].sum()) * vot[cls]
        if gap > 1e-3:  # USD/t
            gaps.append((key, round(gap, 2)))
    assert checked > 1_000
    assert not gaps, gaps[:5]
    # the same for the members the trees cannot give loop-free, from the waypoint search (one
    # search per family, so that each route's forcing family is known): none classified in
    # its own family is cheaper than that family's cheapest route in the set
    from karvan.choice.routes import RouteOptions, generate_route_sets

    wps = cr.forced_routes(cnet, demand, classes, model, model.route_set_theta_per_hour(classes),
                           zc, {})[1]
    searched = 0
    for f in sorted({w.name.split("#")[0] for w in wps}):
        found = generate_route_sets(cnet, demand, classes=classes, options=RouteOptions(
            max_routes=1, waypoints=tuple(w for w in wps if w.name.split("#")[0] == f)))
        wfam = cr.family_classifier(model.families)(found)
        wcost = cr.route_free_costs(found, cnet, classes)
        for r, k in enumerate(cr._family_keys(found, wfam, model)):
            if found.route_source[r] != 1 or k is None or k[0] != f:  # 1: waypoints
                continue
            searched += 1
            gap = (held[(k[1], k[2], k[3], k[0])] - wcost[r]) * vot[k[1]]
            assert gap <= 1e-3, (k, gap)
    assert searched > 10
    # every route the rule adds (against the rule before: forced members only for the
    # families the search found none of) is cheaper than every route of its own family that
    # set holds: a forced member re-searched by waypoints entered whatever it cost (general
    # cargo Far East -> Mumbai: 56 arcs at USD 2,249/t against the family's 944), and one read
    # off the trees entered as the forcing family's though classified in another
    old, _, _ = cr._search_route_set(cnet, demand, classes, model, zone_country=zc,
                                     least_cost_members=False)
    ofam = cr.family_classifier(model.families)(old)
    before = cr._held_costs(old, ofam, cnet, classes, model)
    known = {(k, tuple(old.arcs(r).tolist()))
             for r, k in enumerate(cr._family_keys(old, ofam, model))}
    added = dearer = 0
    per_key: dict = {}
    for r, k in enumerate(cr._family_keys(rs, fam, model)):
        if (k, tuple(rs.arcs(r).tolist())) in known:
            continue
        added += 1
        assert k is not None
        per_key[k] = per_key.get(k, 0) + 1
        if not cost[r] < before.get(k, np.inf) - cr.HAVE_TOL:
            dearer += 1
    assert added > 100 and dearer == 0, (added, dearer)
    # one member per family and pair: the cheapest candidate (a grain pair had a tree route
    # and a waypoint route of one family, both below the set's)
    assert max(per_key.values()) == 1, [k for k, n in per_key.items() if n > 1][:3]


def _search_the_long_way(cnet, demand, classes, model, zc):
    """:func:`karvan.scenario.choice_run._search_route_set` as it was made: every search by
    generate_route_sets (the waypoints' with ``max_routes=1``), the families' cheapest routes
    priced again over the whole set."""
    import karvan.scenario.choice_run as cr
    from karvan.choice.routes import RouteOptions, generate_route_sets

    classify = cr.family_classifier(model.families)

    def one_route(wps):
        return generate_route_sets(cnet, demand, classes=classes, options=RouteOptions(
            max_routes=1, waypoints=tuple(wps)))

    rs = generate_route_sets(cnet, demand, classes=classes, options=RouteOptions(
        max_routes=cr.MAX_ROUTES, penalty=cr.PENALTY))
    have = cr._held_costs(rs, classify(rs), cnet, classes, model)
    routes, wps, missing, checked = cr.forced_routes(
        cnet, demand, classes, model, model.route_set_theta_per_hour(classes), zc, have)
    rs = cr.add_routes_to(rs, routes)
    if wps:
        rs = cr.add_forced(rs, one_route(wps))
    if checked[0] or checked[1]:
        held = cr._held_costs(rs, classify(rs), cnet, classes, model)
        rs = cr._add_least_cost_members(rs, checked[0], one_route(checked[1]) if checked[1]
                                        else None, held, cr.arcs_classifier(model.families),
                                        cnet, classes, model)
    return rs, len(wps) + len(checked[1]), missing


@pytest.fixture(scope="module")
def base_search(data):
    """The inputs of the base year's route-set search: choice network, demand, choice classes,
    model, zones' countries."""
    import karvan.scenario.choice_run as cr
    from karvan.scenario.run import _engine_inputs, corridor_choice

    model = corridor_choice(data)
    _, net, zc, _, _, demand, classes = _engine_inputs(data, load_scenario("baseline"),
                                                       quiet=True)
    cnet = cr.choice_network(net)
    return cnet, demand, cr.choice_classes(classes, model, cnet.links.index), model, zc


def test_route_set_search_equals_the_search_made_the_long_way(base_search):
    """The search compiles the network once, takes the waypoint searches' least-cost routes
    from its own search and prices only the routes it adds: the route sets are those of a
    search by generate_route_sets each time (base year, every class)."""
    import karvan.scenario.choice_run as cr
    from karvan.choice.routes import RouteSet

    cnet, demand, classes, model, zc = base_search
    got, n_got, missing_got = cr._search_route_set(cnet, demand, classes, model, zone_country=zc)
    want, n_want, missing_want = _search_the_long_way(cnet, demand, classes, model, zc)
    assert n_got == n_want > 0
    pd.testing.assert_frame_equal(missing_got, missing_want)
    assert (got.route_source == 1).sum() > 1_000  # forced members entered (1: waypoints)
    for f in RouteSet.__dataclass_fields__:
        if f != "graph":
            a, b = getattr(got, f), getattr(want, f)
            assert (np.array_equal(a, b) and a.dtype == b.dtype if isinstance(a, np.ndarray)
                    else a == b), f


def test_route_keys_are_those_of_each_pair_with_a_new_length(base_search):
    """The routes a new one is checked against, found at once over the set: those of its pair
    of one of the new lengths, as a loop over the pairs finds them."""
    import karvan.scenario.choice_run as cr
    from karvan.choice.routes import RouteOptions, generate_route_sets

    cnet, demand, classes, _, _ = base_search
    rs = generate_route_sets(cnet, demand, classes=classes[:2], options=RouteOptions(
        max_routes=4, penalty=1.3))
    rng = np.random.default_rng(0)
    n = np.diff(rs.route_ptr)
    for _ in range(5):
        ws = rng.choice(rs.n_od, min(rs.n_od, 40), replace=False)
        lengths = {int(w): {int(x) for x in rng.choice(np.r_[n, n.max() + 3], 3)} for w in ws}
        want = set()
        for w, lens in lengths.items():
            for r in range(rs.od_ptr[w], rs.od_ptr[w + 1]):
                if len(rs.arcs(r)) in lens:
                    want.add((w, rs.arcs(r).astype(np.int64).tobytes()))
        assert want and cr._route_keys(rs, lengths) == want
    assert cr._route_keys(rs, {}) == set()


def test_the_arc_classifier_gives_each_route_the_family_of_the_plain_rule(base_search):
    """arcs_classifier (one pass over the routes' arcs for every list of link ids the rules
    name) gives every route of the base year's search the family that classify_routes' plain
    reading of route_family.csv gives its links, with the table as shipped and with a rule
    that needs a second list and avoids a third; a route without arcs (unserved demand) gets
    -1, wherever it is."""
    import karvan.scenario.choice_run as cr
    from karvan.freight.route_family import classify_routes

    cnet, demand, classes, model, zc = base_search
    rs, _, _ = cr._search_route_set(cnet, demand, classes, model, zone_country=zc)
    g = rs.graph
    # the routes with empty ones put first, in the middle and last
    arcs = [list(rs.arcs(i)) for i in range(rs.n_routes)]
    arcs = [[], *arcs[:100], [], [], *arcs[100:], []]
    ptr = np.r_[0, np.cumsum([len(a) for a in arcs])]
    flat = np.asarray([x for a in arcs for x in a], dtype=np.int64)
    links = pd.Series([[str(g.link_ids[g.arc_link[x]]) for x in a] for a in arcs])
    empty = (links.map(len) == 0).to_numpy()
    assert empty.sum() == 4 and (~empty).sum() > 10_000
    fams = model.families.copy()
    used = pd.Series([x for r in links for x in r]).value_counts().index
    fams.loc[len(fams)] = fams.iloc[0]
    fams.loc[len(fams) - 1, ["family_id", "priority", "via_link_ids", "also_via_link_ids",
                             "avoid_link_ids"]] = [
        "test_first", fams["priority"].min() - 1, f"{used[0]};{used[5]}", used[1], used[2]]
    fams = fams.sort_values("priority", kind="stable").reset_index(drop=True)
    for table in (model.families, fams):
        got = cr.arcs_classifier(table)(g, flat, ptr)
        ids = np.asarray(table["family_id"], dtype=object)
        want = classify_routes(links, table).to_numpy(dtype=object)
        assert (got[empty] == -1).all()
        assert (got[~empty] >= 0).all()
        assert (ids[got[~empty]] == want[~empty]).all()
        # family_classifier reads a route set through the same rule
        assert np.array_equal(cr.family_classifier(table)(rs), np.delete(
            got, np.flatnonzero(empty)))
    assert (ids[got] == "test_first").sum() > 0


def test_the_choice_models_deterministic_limit_is_the_lp_it_tends_to(data):
    """The capacities table's ``limit_*`` columns are the LP over the run's route sets at the
    choice model's own costs (no dispersion). It holds every capacity, a capacity it prices is
    full, and as theta grows the logit equilibrium (solved in the dual by projected Newton, not
    by the LP) binds the same capacities at multipliers that tend to the LP's duals, as 1 /
    theta: the equilibrium and the LP agree in the limit on the corridor itself (Iran's land
    borders closed, where three port capacities bind in the limit)."""
    t = _table()
    th = t["parameter"] == "theta"
    err = {}
    for f in (1.0, 100.0, 1000.0):
        u = t.copy()
        u.loc[th, "value"] = [repr(float(v) * f) for v in t.loc[th, "value"]]
        run = run_scenario(data, load_scenario("iran_disrupted"), lp=True, backcasts=False,
                           choice_parameters=u)
        c = run.tables["capacities"].set_index("constraint_id")
        assert (c["limit_tonnes"] <= c["capacity_tpy"] * (1 + REL)).all()
        lim = c[c["limit_binding"]]
        assert len(lim) >= 3
        assert (lim["limit_tonnes"] >= lim["capacity_tpy"] * (1 - REL)).all()
        # the limit's prices are prices of its flows: a route a capacity prices out costs no less
        # than the unpriced route its OD pair takes (checked by HiGHS' optimality), and here the
        # limit's cost of a capacity is positive only where the capacity is full
        assert (c.loc[c["limit_tonnes"] < c["capacity_tpy"] * (1 - 1e-6),
                      "limit_shadow_price_h"] == 0).all()
        assert [b["link_id"] for b in run.summary["limit_binding_capacities"]] == \
            list(lim["link_id"])
        if f == 1:
            # the links and bottlenecks tables carry the limit's price, and list an element
            # that binds in the limit alone (Makhachkala's rail quay: the dispersion spreads
            # freight off it)
            links = run.tables["links"].set_index("link_id")
            bott = run.tables["bottlenecks"].set_index("link_id")
            only = lim.loc[~lim["binding"], "link_id"]
            assert len(only)
            for link in lim["link_id"]:
                assert links.at[link, "limit_shadow_price_usd_per_t"] == pytest.approx(
                    lim.loc[lim["link_id"] == link, "limit_shadow_price_usd_per_t"].max())
            assert set(only) <= set(bott.index)
            assert (bott.loc[list(only), "limit_shadow_price_usd_per_t"] > 0).all()
        if f > 1:
            assert (c["binding"] == c["limit_binding"]).all(), f
            err[f] = (c["shadow_price_h"] - c["limit_shadow_price_h"]).abs()[lim.index]
    # at theta x 1000, within 5 % of the limit's prices, and closer than at theta x 100
    assert (err[1000.0] <= 0.05 * lim["limit_shadow_price_h"]).all()
    assert (err[1000.0] < err[100.0]).all()
