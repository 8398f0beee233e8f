"""The built-in corridor: the dataset's integrity, and scenario effects whose direction follows
from the model's logic."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import (
    CONFIDENCE,
    CorridorWarning,
    builtin_corridor_folder,
    load_corridor,
)
from karvan.freight.units import CAPACITY_UNITS
from karvan.scenario import builtin_scenarios, load_scenario
from karvan.scenario.apply import apply_scenario
from karvan.scenario.choice_run import route_links
from karvan.scenario.reference import reference_scenario
from karvan.scenario.run import run_scenario


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module", params=["deterministic", "logit"])
def runs(data, request):
    """Runs of either choice model: the scenario directions hold under both."""
    cache = {}

    def get(name_or_spec):
        spec = load_scenario(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
        if spec.name not in cache:
            cache[spec.name] = run_scenario(data, spec, lp=False, choice=request.param)
        return cache[spec.name]

    return get


# -- dataset -------------------------------------------------------------------------------------


def test_every_row_of_every_table_has_source_date_confidence():
    folder = builtin_corridor_folder()
    for path in sorted(folder.glob("*.csv")):
        if path.name in ("config.csv", "sources.csv"):
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in ("source", "source_date", "confidence"):
            assert col in df, f"{path.name} lacks {col}"
            assert (df[col].str.strip() != "").all(), f"{path.name}: blank {col}"
        assert df["confidence"].isin(CONFIDENCE).all(), path.name
        if "method" in df:
            assumed = df["confidence"] == "assumption"
            assert (df.loc[assumed, "method"].str.strip() != "").all(), path.name


def test_ids_units_and_references_are_consistent(data):
    nodes, links = data.nodes, data.links
    # node ids carry the ISO code of their country (sea waypoints: SEA_)
    for nid, c in nodes["country"].items():
        assert nid.startswith(f"{c}_") or nid.startswith("SEA_") or c in ("XX", "XC"), nid
    assert set(links["country"]) <= set(nodes["country"]) | {"XX", "XC", "EG"}
    # every source id cited resolves
    known = set(data.sources["source_id"])
    cited = set(pd.concat([links["source"], nodes["source"], data.demand["source"]])
                .str.split(";").explode().str.strip())
    assert cited <= known
    # units: capacities in tonnes, with the original unit recognised where it is given
    units = links["capacity_unit"].dropna().str.lower().str.replace(" ", "")
    assert units.map(lambda u: u in CAPACITY_UNITS or "both_directions" in u
                     or u.endswith("_per_day") or u.endswith("/yr") or u.endswith("/day")).all()
    assert (links["capacity_tpy"].dropna() > 0).all()
    # borders are border links with a border id; transfers have no running speed
    b = links[links["mode"] == "border"]
    assert b["border_id"].notna().all()
    assert links.loc[links["mode"].isin(["border", "transfer"]), "speed_kph"].isna().all()
    # gauges are the two of the region
    assert set(links["gauge_mm"].dropna().astype(int)) <= {1520, 1435}
    # what the scenarios open is not open in the base year
    for name in builtin_scenarios():
        for m in load_scenario(name).modifications:
            if m.action == "open":
                ids = set(m.links) | set(links.index[links["border_id"].isin(m.borders)])
                assert (links.loc[sorted(ids), "status"] != "open").all(), (name, ids)


def test_every_builtin_scenario_applies(data):
    names = builtin_scenarios()
    assert names[:1] == ["baseline"] and len(names) == 7
    for name in names:
        inp = apply_scenario(data, load_scenario(name))
        assert inp.demand["tonnes_per_year"].sum() > 0
        assert re.fullmatch(r"[a-z0-9_]+", name)


_OIL_ZONES = {"Z_KZ_AKTAU_OIL": "S_KZ_AZ_AKTAU_DUBENDI_TANKER",
              "Z_TM_TURKMENBASHI_OIL": "S_TM_AZ_TURKMENBASHI_DUBENDI_TANKER"}
_DUBENDI = {*_OIL_ZONES.values(), "P_AZ_DUBENDI_RAIL", "R_AZ_DUBENDI_BAKU"}


@pytest.mark.parametrize("given", [{"gap": 1e-4}, {"method": "bogus"}, {"max_iter": 10},
                                   {"gap": -1, "method": "bfw"}])
def test_the_logit_model_refuses_the_user_equilibriums_settings(data, given):
    # they were ignored in silence: a logit run asked for gap 1e-4 ran as it always does
    with pytest.raises(InputError, match=f"{next(iter(given))}.* set the deterministic user "
                                          "equilibrium"):
        run_scenario(data, load_scenario("baseline"), **given)


def test_the_tanker_route_to_dubendi_carries_the_caspian_oil_products_and_nothing_else(runs,
                                                                                      data):
    """The engine has no per-commodity link prohibition: the tanker links to Baku's Dubendi oil
    terminal are reserved to the Kazakh and Turkmen oil products for Georgia's ports by origin
    zones of their own, whose centroids touch the tanker link and nothing else. No other freight
    can reach them, and all of that oil takes them (it has no other way out)."""
    links = data.links
    ends = pd.concat([links["from_node_id"], links["to_node_id"]])
    touching = {n: set(ends.index[ends == n]) for n in ends.unique()}
    centroid = dict(zip(data.zones["zone_id"], data.zones["node_id"], strict=True))
    for zone, tanker in _OIL_ZONES.items():
        assert touching[centroid[zone]] == {tanker}
    assert touching["AZ_DUBENDI_PORT"] == {*_OIL_ZONES.values(), "P_AZ_DUBENDI_RAIL"}
    # the oil zones send oil products to Georgia's ports and nothing else, and receive nothing
    d = data.demand
    zones = list(_OIL_ZONES)
    at = d["origin_zone_id"].isin(zones) | d["destination_zone_id"].isin(zones)
    assert sorted(d.loc[at, "origin_zone_id"]) == sorted(_OIL_ZONES)
    assert set(d.loc[at, "commodity_id"]) == {"oil_products"}
    assert set(d.loc[at, "destination_zone_id"]) == {"Z_GE_PORTS"}
    run = runs("baseline")
    r = run.tables["routes"]
    uses = r["links"].str.split(" > ").map(lambda ls: bool(_DUBENDI & set(ls)))
    from_oil = r["origin"].isin(zones)
    assert from_oil.any() and (uses == from_oil).all()
    oil_t = float(r.loc[from_oil, "tonnes"].sum())
    assert oil_t == pytest.approx(float(d.loc[at, "tonnes_per_year"].sum()), rel=1e-6)
    lt = run.tables["links"].set_index("link_id")
    for lid in ("P_AZ_DUBENDI_RAIL", "R_AZ_DUBENDI_BAKU"):
        assert lt.at[lid, "tonnes_tot"] == pytest.approx(oil_t, rel=1e-6)
        assert lt.at[lid, "tonnes_oil_products"] == pytest.approx(oil_t, rel=1e-6)
    assert lt.loc[list(_OIL_ZONES.values()), "tonnes_tot"].sum() == pytest.approx(oil_t, rel=1e-6)


def test_calibration_table_covers_every_observation(runs, data):
    cal = runs("baseline").tables["calibration"]
    assert len(cal) == len(data.observed)
    comparable = cal["modelled_tonnes"].notna()
    assert comparable.sum() >= 10
    assert np.allclose(cal.loc[comparable, "difference_tonnes"],
                       cal.loc[comparable, "modelled_tonnes"] - cal.loc[comparable,
                                                                       "observed_tonnes"])


# -- scenario directions --------------------------------------------------------------------------


def _link_tonnes(run, ids):
    links = run.tables["links"].set_index("link_id")
    return float(links.loc[[i for i in ids if i in links.index], "tonnes_tot"].sum())


def test_rasht_astara_raises_baku_astara_and_lowers_caspian_share(runs, data):
    """Against the reference of its own year (the same demand growth, no Rasht-Astara railway):
    under the calibrated logit model the 2024 baseline is no reference, as the growth to 2028
    fills the Samur rail crossing in both 2028 runs and the Caspian takes the rest (its share of
    Russia-Iran freight is 57.6 % in 2024, 59.9 % in the 2028 reference, 57.7 % with the
    railway)."""
    ra = runs("rasht_astara")
    base = runs(reference_scenario(ra.scenario.year, base_year=data.base_year))
    line = ["R_AZ_ALAT_OSMANLI", "R_AZ_OSMANLI_ASTARA"]
    assert _link_tonnes(ra, line) > _link_tonnes(base, line)
    assert ra.summary["caspian_share_ru_ir"] < base.summary["caspian_share_ru_ir"]
    # the new link carries freight
    assert _link_tonnes(ra, ["R_IR_RASHT_ASTARA"]) > 0
    assert _link_tonnes(base, ["R_IR_RASHT_ASTARA"]) == 0



def test_a_project_keeps_every_route_of_its_reference_and_no_shipper_loses(runs, data):
    """Rasht-Astara only adds to the 2028 reference's network (two links, a terminal's
    capacity), and baku_astara_15mt adds capacity on top of it. Their route sets are the
    reference's plus routes through the new links (a search afresh on the project's network
    dropped some: the Upper Lars road for Mazandaran's containers to Russia's South, the Astara
    terminal's rail route for Chennai's to Moscow). Where the project binds no capacity that
    its reference does not bind at a price as high, no OD pair's expected cost rises (it rose
    by up to USD 22/t for 239 pairs): its costs are those of a larger route set without higher
    surcharges, the reference's those of a smaller one. Where the project fills a capacity the
    reference also fills and raises its price, the costs of the pairs that cross it may rise:
    that case is not asserted."""
    ref = None
    for name in ("rasht_astara", "baku_astara_15mt"):
        ra = runs(name)
        if ra.summary["choice"] != "logit":
            pytest.skip("route sets and expected costs are the logit model's")
        ref = runs(reference_scenario(ra.scenario.year, base_year=data.base_year))
        assert ra.settings["route_sets"]["reference"] == ref.scenario.name == "reference_2028"
        assert ra.settings["route_sets"]["routes_of_the_reference"] > 0
        assert ref.settings["route_sets"]["reference"] is None  # a reference keeps its own
        have, offered = ({(cls, o, d, tuple(steps)) for cls, o, d, steps in
                          route_links(r.ue.route_set, r.ue.route_set.graph)} for r in (ra, ref))
        assert offered <= have, sorted(offered - have)[:3]
        # and of its own routes only those through what it changed: the routes its search found
        # elsewhere were open in the reference too (the reference's search had not found them)
        new = have - offered
        assert new and all({"R_IR_RASHT_ASTARA", "G_IR_ASTARA"} & {x for x, _ in steps}
                           for *_, steps in new)
    # baku_astara_15mt (the last run), Samur at 15 Mt/yr, binds no capacity that its reference
    # does not bind at a price as high (the Lotfabad road crossing, full in both since Turkmen
    # rail took the CAREC-wide rate, is priced lower in the project): no surcharge rises, so no
    # pair's expected cost may
    cp = ra.tables["capacities"].set_index("constraint_id")
    cr = ref.tables["capacities"].set_index("constraint_id")
    bound = cp.index[cp["binding"]]
    assert cr.loc[bound, "binding"].all()
    assert (cp.loc[bound, "shadow_price_h"] <= cr.loc[bound, "shadow_price_h"] * (1 + 1e-9)).all()
    key = ["commodity", "origin", "destination"]
    sk = [r.tables["skims"].set_index(key)["expected_cost_usd_per_t"] for r in (ref, ra)]
    rise = (sk[1] - sk[0].reindex(sk[1].index)).dropna()
    assert len(rise) > 1000
    assert (rise <= 1e-9 * sk[0].reindex(rise.index)).all(), rise.nlargest(5)
    assert (rise < -0.01).sum() > 50  # and many gain


def test_a_closure_lowers_no_shippers_expected_cost(runs, data):
    """Closing Iran's land borders takes routes away. A pair that lost routes takes, of the
    routes searched on the closed network, one in place of each route lost and no cheaper than
    it (family terms included): before, it took every route of the search, some of them open in
    the reference but never found by its search, and 204 of the pairs' expected cost fell (by
    up to USD 17/t), a gain of 11.8 M USD/yr set against the closure's loss."""
    dis = runs("iran_disrupted")
    if dis.summary["choice"] != "logit":
        pytest.skip("route sets and expected costs are the logit model's")
    ref = runs(reference_scenario(dis.scenario.year, base_year=data.base_year))
    assert dis.settings["route_sets"]["reference"] == ref.scenario.name == "reference_2026"
    have, offered = ({(cls, o, d, tuple(steps)) for cls, o, d, steps in
                      route_links(r.ue.route_set, r.ue.route_set.graph)} for r in (dis, ref))
    lost_pairs = {r[:3] for r in offered - have}
    replaced = {r[:3] for r in have - offered}
    assert len(lost_pairs) > 100 and len(replaced & lost_pairs) > 50  # routes in place of lost
    key = ["commodity", "origin", "destination"]
    sk = [r.tables["skims"].set_index(key)["expected_cost_usd_per_t"] for r in (ref, dis)]
    fall = (sk[0].reindex(sk[1].index) - sk[1]).dropna()
    assert len(fall) > 1000
    assert (fall <= 1e-9 * sk[1].reindex(fall.index)).all(), fall.nlargest(5)
    assert (fall < -1.0).sum() > 100  # many lose
    assert not len(dis.tables["choice_unserved"])


@pytest.mark.parametrize("mods", [
    # a closure and a fee raised elsewhere: routes through the dearer link that the reference's
    # search had not found were kept as the scenario's own (26 pairs' cost fell, by up to
    # USD 3.35/t)
    'action = "close"\nlinks = ["B_RU_GE_UPPER_LARS"]\n[[modification]]\naction = "set"\n'
    'links = ["R_RU_MOSCOW_ASTRAKHAN"]\nfield = "fee_usd_per_t"\nvalue = 0.5\n',
    # a transit ban renames its segments' classes: they took every route of a search afresh
    # (24 Armenian pairs' cost fell, by up to USD 6.17/t)
    'action = "ban_transit"\ncountries = ["GE"]\nod_countries = ["AM"]\n'])
def test_taking_options_away_lowers_no_shippers_expected_cost(runs, data, tmp_path, mods):
    if runs("baseline").summary["choice"] != "logit":
        pytest.skip("route sets and expected costs are the logit model's")
    p = tmp_path / "away.toml"
    p.write_text(f'name = "away"\nyear = 2026\nextends = "baseline"\n[[modification]]\n{mods}')
    spec = load_scenario(p)
    run = run_scenario(data, spec, lp=False, backcasts=False)
    ref = runs(reference_scenario(2026, base_year=data.base_year))
    key = ["commodity", "origin", "destination"]
    sk = [r.tables["skims"].set_index(key)["expected_cost_usd_per_t"] for r in (ref, run)]
    fall = (sk[0].reindex(sk[1].index) - sk[1]).dropna()
    assert len(fall) > 1000
    assert (fall <= 1e-9 * sk[1].reindex(fall.index)).all(), fall.nlargest(5)
    assert (fall < -0.1).sum() > 10


def test_lifting_a_ban_opens_the_routes_it_barred(runs, data, tmp_path):
    """The baseline bans Armenian freight from Azerbaijan and the reverse (until 2025). A 2024
    scenario without the bans is solved on the baseline's route sets: its classes took the
    reference's routes of their commodity, and the routes through the links the bans had
    barred, no link of which the scenario changed, were dropped (5 pairs' cost fell, 38 kt of
    Armenian freight crossed Azerbaijan; with the bans lifted as links opened, 234 and 471
    kt)."""
    base = runs("baseline")
    if base.summary["choice"] != "logit":
        pytest.skip("route sets and expected costs are the logit model's")
    p = tmp_path / "nobans.toml"
    p.write_text('name = "nobans"\nyear = 2024\n')  # no extends: the network without bans
    with pytest.warns(CorridorWarning, match="extends nothing of baseline"):  # as meant here
        run = run_scenario(data, load_scenario(p), lp=False, backcasts=False)
    assert run.settings["route_sets"]["reference"] == "baseline"
    key = ["commodity", "origin", "destination"]
    sk = [r.tables["skims"].set_index(key)["expected_cost_usd_per_t"] for r in (base, run)]
    fall = (sk[0].reindex(sk[1].index) - sk[1]).dropna()
    assert (fall > 1e-6).sum() > 150
    assert (fall >= -1e-9 * sk[1].reindex(fall.index)).all(), fall.nsmallest(5)  # none rises
    r = run.tables["routes"]
    am = r[r["origin"].str.startswith("Z_AM") | r["destination"].str.startswith("Z_AM")]
    assert am.loc[am["countries"].astype(str).str.contains("AZ"), "tonnes"].sum() > 3e5


def test_replacements_are_the_largest_matching_of_routes_no_cheaper():
    """:func:`match_replacements` against every assignment of candidates to lost routes."""
    import itertools

    from karvan.scenario.choice_run import match_replacements

    rng = np.random.default_rng(7)
    for _ in range(300):
        lost = rng.integers(0, 6, rng.integers(1, 4)).astype(float)
        cand = rng.integers(0, 6, rng.integers(0, 5)).astype(float)
        got = match_replacements(lost, cand)
        assert len(set(got.tolist())) == len(got)
        # the taken ones can be paired one for one with lost routes no dearer than them
        assert any(all(cand[c] >= lo for c, lo in zip(got, p, strict=False))
                   for p in itertools.permutations(lost, len(got))) or not len(got)
        best = max((n for n in range(min(len(lost), len(cand)) + 1)
                    for cs in itertools.permutations(range(len(cand)), n)
                    if all(cand[c] >= lo for c, lo in zip(cs, sorted(lost), strict=False))),
                   default=0)
        assert len(got) == best
        if len(got):  # and the cheapest such: no candidate left out is cheaper than one taken
            left = np.setdiff1d(np.arange(len(cand)), got)
            eligible = left[cand[left] >= min(lost)]
            assert not len(eligible) or cand[eligible].min() >= cand[got].min() - 1e-12


def test_a_reference_is_searched_once_per_dataset_and_parameters(data):
    # a batch passes each worker's runs a model of their own: equal parameters find the
    # reference searched before; other parameters search again
    from karvan.scenario.run import corridor_choice, reference_routes

    spec = load_scenario("rasht_astara")
    first = reference_routes(data, spec, corridor_choice(data))
    assert first is not None and first.name == "reference_2028" and len(first.routes) > 1000
    assert reference_routes(data, spec, corridor_choice(data)) is first
    assert reference_routes(data, load_scenario("baseline"), corridor_choice(data)) is None

def _sea_share(run, origin_country="RU", destination_country="IN"):
    """Share of the tonnes from one country to the other whose route does not cross Iran: with
    Russia's and India's zones, the all-water routes (through Suez from the Baltic or the Black
    Sea, from Vladivostok across the Indian Ocean, or by rail to a Chinese port and on by sea)."""
    r = run.tables["routes"]
    oc = r["origin"].str.slice(2, 4)
    dc = r["destination"].str.slice(2, 4)
    sel = (oc == origin_country) & (dc == destination_country)
    by_sea = ~r.loc[sel, "countries"].str.split(" > ").map(lambda cs: "IR" in cs)
    return float(r.loc[sel & by_sea, "tonnes"].sum() / r.loc[sel, "tonnes"].sum())


def test_closing_iranian_links_sends_russia_india_freight_to_the_all_water_routes(runs, tmp_path):
    base = runs("baseline")
    dis = runs("iran_disrupted")
    assert _sea_share(dis) >= _sea_share(base) - 1e-9
    p = tmp_path / "iran_closed.toml"
    p.write_text('name = "iran_closed"\nyear = 2026\nextends = "baseline"\n'
                 '[[modification]]\naction = "close"\ncountries = ["IR"]\n')
    closed = runs(load_scenario(p))
    assert _sea_share(base) < 1.0
    assert _sea_share(closed) == pytest.approx(1.0)


def test_a_capacity_that_both_directions_share_is_used_and_listed_as_such(runs, data):
    """A port's quay bounds both directions together: its utilization is their sum over it (the
    larger direction alone showed a port at its capacity as 58 % used), and a capacity that
    binds in the choice model is a bottleneck (the report said 'None'). Makhachkala's road quay
    (its rail quay until Turkmen rail took the CAREC-wide rate, 2026-12-08)."""
    port = "P_RU_MAKHACHKALA_ROAD"
    assert str(data.links.at[port, "capacity_both_directions"]).lower() == "true"
    dis = runs("iran_disrupted")
    links = dis.tables["links"].set_index("link_id")
    assert links.at[port, "tonnes_ab"] > 0 and links.at[port, "tonnes_ba"] > 0
    assert links.at[port, "utilization"] == pytest.approx(
        links.at[port, "tonnes_tot"] / links.at[port, "capacity_tpy"], rel=1e-9)
    if "choice_shadow_price_usd_per_t" in links:  # the logit run
        bottle = dis.tables["bottlenecks"].set_index("link_id")
        binding = links.index[links["choice_shadow_price_usd_per_t"].fillna(0) > 0]
        assert port in binding and set(binding) <= set(bottle.index)


def test_the_capacity_lp_bounds_a_shared_capacity_over_both_directions(data):
    """The LP gave each direction the whole throughput of a terminal: Astara's terminal (2
    Mt/yr, both directions) carried 2.83 Mt in the 2028 reference's LP at 'utilization' 1.0."""
    from karvan.freight.costs import hard_capacity

    run = run_scenario(data, "reference_2028", backcasts=False)
    links = run.tables["links"].set_index("link_id")
    both, hard = hard_capacity(run.network.links.loc[links.index])
    lp = links["lp_tonnes_tot"].to_numpy()
    assert (lp[both] <= hard[both] * (1 + 1e-6) + 1e-6).all()
    t = "T_IR_ASTARA_TERMINAL"
    assert links.at[t, "capacity_both_directions"]
    assert links.at[t, "lp_tonnes_tot"] == pytest.approx(2e6, rel=1e-6)  # it binds: at the bound
    assert links.at[t, "lp_utilization"] == pytest.approx(1.0, rel=1e-6)
    assert links.at[t, "shadow_price_usd_per_t"] > 0


def test_loads_borders_and_transit_tables_count_what_they_say(runs):
    """A two-way capacity's load in its published unit is both directions' (Astara road read
    344 trucks a day against 251); a border without capacity is blank, not 0; the sea legs'
    pseudo-countries are not among the transit countries of the summary."""
    from karvan.freight.accounting import SEA_COUNTRIES
    from karvan.scenario.summary import summary_tables

    base = runs("baseline")
    links = base.tables["links"].set_index("link_id")
    astara = links.loc["B_AZ_IR_ASTARA_ROAD"]
    trucks = astara["tonnes_tot"] / (20.0 * 365.0)  # the unit's 20-t trucks, both directions
    assert astara["capacity_unit"] == "trucks_per_day_both_directions"
    assert astara["load_in_capacity_unit"] == pytest.approx(trucks, rel=1e-9)
    borders = base.tables["borders"].set_index("border_id")
    assert np.isnan(borders.at["AZ-GE_RED_BRIDGE", "capacity_tpy"])
    if "capacity_hard_tpy" in links:
        # the bound a crossing's utilization is taken against is in its row: capacity_tpy
        # alone (per direction, halved) read more tonnes than capacity at a utilization < 1
        ast = borders.loc["AZ-IR_ASTARA"]
        ids = ast["link_ids"].split(";")
        assert ast["capacity_hard_tpy"] == pytest.approx(
            links.loc[ids, "capacity_hard_tpy"].sum(min_count=1))
        assert ast["capacity_hard_tpy"] > ast["capacity_tpy"]
        road = links.loc["B_AZ_IR_ASTARA_ROAD"]
        assert road["utilization"] == pytest.approx(road["tonnes_tot"]
                                                    / road["capacity_hard_tpy"])
    transit = [t for t in summary_tables([base]) if t.title.startswith("Transit by country")]
    assert transit and not set(transit[0].data["country"]) & set(SEA_COUNTRIES)


def test_vehicles_per_day_are_counted_at_border_crossings(runs, data):
    """Trucks and wagons a day were blank on border links (their mode is ``border``): a road
    crossing counts trucks, a rail crossing, a gauge break and a rail ferry wagons, each from its
    commodities' payloads; a port counts neither."""
    links = runs("baseline").tables["links"].set_index("link_id")
    pay = data.commodities.set_index("commodity_id")
    coms = [c.removeprefix("tonnes_") for c in links.columns
            if c.startswith("tonnes_") and c.removeprefix("tonnes_") in pay.index]

    def per_day(link, col):
        return sum(links.at[link, f"tonnes_{c}"] / pay.at[c, col] for c in coms) / 365.0

    road, rail = "B_AZ_IR_ASTARA_ROAD", "B_RU_AZ_SAMUR_RAIL"
    assert links.at[road, "tonnes_tot"] > 0 and links.at[rail, "tonnes_tot"] > 0
    assert links.at[road, "trucks_per_day"] == pytest.approx(per_day(road, "t_per_truck"))
    assert np.isnan(links.at[road, "wagons_per_day"])
    assert links.at[rail, "wagons_per_day"] == pytest.approx(per_day(rail, "t_per_wagon"))
    assert np.isnan(links.at[rail, "trucks_per_day"])
    kinds = data.links.loc[links.index]
    gauge = links.index[(kinds["mode"] == "transfer") & (kinds["submode"] == "rail-rail")]
    ferry = links.index[(kinds["mode"] == "ferry") & (kinds["submode"] == "rail")]
    port = links.index[kinds["element"] == "port"]
    assert len(gauge) and len(ferry) and len(port)
    assert links.loc[gauge, "wagons_per_day"].notna().all()
    assert links.loc[ferry, "wagons_per_day"].notna().all()
    assert links.loc[port, ["wagons_per_day", "trucks_per_day"]].isna().all().all()
    borders = runs("baseline").tables["borders"].set_index("border_id")
    b = links.loc[road, "border_id"]
    assert borders.at[b, "trucks_per_day"] == pytest.approx(
        links.loc[links["border_id"] == b, "trucks_per_day"].sum())


def test_skims_and_routes_count_the_costs_the_routes_were_chosen_on(runs):
    """The choice model's gauge-break terms (12 USD/t and 24 h for grain against the link's 8
    and 16) were left out of the reported times and charges: a pair's least-cost skim cost up
    to 4 USD/t more than a route of its own in the baseline, where no capacity binds."""
    base = runs("baseline")
    if "capacities" not in base.tables:
        pytest.skip("the deterministic model has no gauge-break terms of its own")
    assert not base.tables["capacities"]["binding"].any()
    routes = base.tables["routes"]
    cheapest = routes.groupby(["commodity", "origin", "destination"])["cost_usd_per_t"].min()
    skims = base.tables["skims"].set_index(["commodity", "origin", "destination"])
    both = skims.join(cheapest.rename("route_min"), how="inner")
    assert len(both) > 100
    over = both["cost_usd_per_t"] - both["route_min"]
    assert over.max() <= 1e-6 * both["route_min"].max(), over.nlargest(3)


def _share_through(run, origin, destination, country):
    r = run.tables["routes"]
    r = r[(r["origin"] == origin) & (r["destination"] == destination)]
    via = r["countries"].str.split(" > ").map(lambda cs: country in cs)
    return float(r.loc[via, "tonnes"].sum() / r["tonnes"].sum())


def test_meghri_link_moves_nakhchivan_freight_off_iran(runs):
    """Baku-Nakhchivan freight goes round Armenia, through Iran or through Turkiye and Georgia,
    until the Meghri link opens: then it crosses Armenia, and less of it takes either detour.
    With the deterministic model most of it is through Iran in the base year; under the
    calibrated logit model it splits over both detours by their costs (some of it through
    Iran), and after the opening some containers take the short road through Iran's Norduz and
    Armenia's Agarak (so the share through Iran alone may rise; the detours' share falls)."""
    base, open_ = runs("baseline"), runs("south_caucasus_unblocked")
    for o, d in (("Z_AZ_BAKU", "Z_AZ_NAKHCHIVAN"), ("Z_AZ_NAKHCHIVAN", "Z_AZ_BAKU")):
        before = _share_through(base, o, d, "IR")
        if base.summary["choice"] == "deterministic":
            assert before > 0.5
            assert _share_through(open_, o, d, "IR") < before
        else:
            assert before > 0.0
        detour = ("IR", "TR")
        assert _share_through_any(base, o, d, detour) == pytest.approx(1.0)
        assert _share_through_any(open_, o, d, detour) < 0.5
        assert _share_through(open_, o, d, "AM") > 0.5


def _share_through_any(run, origin, destination, countries):
    r = run.tables["routes"]
    r = r[(r["origin"] == origin) & (r["destination"] == destination)]
    via = r["countries"].str.split(" > ").map(lambda cs: any(c in cs for c in countries))
    return float(r.loc[via, "tonnes"].sum() / r["tonnes"].sum())


def _armenia_russia_tonnes(run, link_id):
    r = run.tables["routes"]
    pair = ((r["origin"].str.startswith("Z_AM_") & r["destination"].str.startswith("Z_RU_"))
            | (r["origin"].str.startswith("Z_RU_") & r["destination"].str.startswith("Z_AM_")))
    via = r["links"].str.split(" > ").map(lambda ls: link_id in ls)
    return float(r.loc[pair & via, "tonnes"].sum())


def test_unblocking_draws_armenia_russia_freight_off_upper_lars(runs):
    """Against the 2030 no-build case: a shorter route for Armenia-Russia freight through
    Azerbaijan takes tonnes from the Upper Lars road border."""
    ref, open_ = runs("reference_2030"), runs("south_caucasus_unblocked")
    lars = ["B_RU_GE_UPPER_LARS"]
    if ref.summary["choice"] == "logit" and _at_capacity(ref, "B_RU_GE_UPPER_LARS"):
        # a hard capacity that binds in both: the queue (its shadow price) shortens instead
        assert _shadow_h(open_, "B_RU_GE_UPPER_LARS") < _shadow_h(ref, "B_RU_GE_UPPER_LARS")
    else:
        # Armenia-Russia tonnes leave it; under the deterministic model other freight may
        # take their place (Russia-Tbilisi general cargo is on a tie between Samur and Upper
        # Lars to 0.03 USD/t), so the border's total falls under logit only
        assert _armenia_russia_tonnes(open_, lars[0]) < _armenia_russia_tonnes(ref, lars[0])
        if ref.summary["choice"] == "logit":
            assert _link_tonnes(open_, lars) < _link_tonnes(ref, lars)
    for d in ("Z_RU_MOSCOW", "Z_RU_NCAUCASUS"):
        # less of it through Georgia, at a lower cost
        assert _share_through(open_, "Z_AM_YEREVAN", d, "GE") < _share_through(
            ref, "Z_AM_YEREVAN", d, "GE")
        sk = {n: r.tables["skims"].set_index(["commodity", "origin", "destination"])
              for n, r in (("ref", ref), ("open", open_))}
        key = ("general_cargo", "Z_AM_YEREVAN", d)
        if ref.summary["choice"] == "deterministic":
            # Upper Lars' BPR delay falls with the tonnes it loses
            assert sk["open"].at[key, "cost_usd_per_t"] < sk["ref"].at[key, "cost_usd_per_t"]
        else:
            # constant times where no capacity binds: the cheapest route is no dearer, and the
            # pair's expected perceived cost (its logsum, family terms included) falls. The
            # tonne-weighted cost of the routes taken need not: a logit share of the new routes
            # comes from cheaper ones (test_choice_dual, the expected cost's test)
            assert sk["open"].at[key, "cost_usd_per_t"] <= sk["ref"].at[key, "cost_usd_per_t"]
            assert (sk["open"].at[key, "expected_cost_usd_per_t"]
                    < sk["ref"].at[key, "expected_cost_usd_per_t"])


def _at_capacity(run, link_id):
    caps = run.tables["capacities"].set_index("link_id")
    return bool(caps.at[link_id, "binding"])


def _shadow_h(run, link_id):
    return float(run.tables["capacities"].set_index("link_id").at[link_id, "shadow_price_h"])


def test_transit_ban_keeps_armenian_freight_out_of_azerbaijan(runs, data):
    base = runs("baseline")  # 2024: the ban is in force
    r = base.tables["routes"]
    am = r["origin"].str.startswith("Z_AM_") | r["destination"].str.startswith("Z_AM_")
    crosses_az = r["countries"].str.split(" > ").map(lambda cs: "AZ" in cs)
    assert r.loc[am, "tonnes"].sum() > 0
    assert r.loc[am & crosses_az, "tonnes"].sum() == pytest.approx(0.0, abs=1e-6)
    # lifted for 2030: some of it does cross Azerbaijan
    ref = runs("reference_2030").tables["routes"]
    am = ref["origin"].str.startswith("Z_AM_") | ref["destination"].str.startswith("Z_AM_")
    crosses_az = ref["countries"].str.split(" > ").map(lambda cs: "AZ" in cs)
    assert ref.loc[am & crosses_az, "tonnes"].sum() > 0


def test_a_transit_ban_leaves_the_banning_countrys_own_trade_alone(data, tmp_path):
    """Georgia banning Armenian transit keeps Armenia's freight to third countries off Georgia's
    links, and Georgia's own trade with Armenia goes on: freight with an end in a country is not
    in transit there. The ban's segment took Georgia's exports to Armenia too, which could not
    leave Georgia (0.4 Mt/yr unserved)."""
    from karvan.scenario.run import demand_segments

    p = tmp_path / "ge_ban.toml"
    p.write_text('name = "ge_ban"\nyear = 2026\nextends = "baseline"\n[[modification]]\n'
                 'action = "ban_transit"\ncountries = ["GE"]\nod_countries = ["AM"]\n')
    spec = load_scenario(p)
    run = run_scenario(data, spec, lp=False, backcasts=False)
    zc = data.zone_country()
    r = run.tables["routes"]
    oc, dc = r["origin"].map(zc), r["destination"].map(zc)
    crosses_ge = r["countries"].str.split(" > ").map(lambda cs: "GE" in cs)
    own = ((oc == "GE") & (dc == "AM")) | ((oc == "AM") & (dc == "GE"))
    third = (oc == "AM") & ~dc.isin(["GE", "AM"]) | (dc == "AM") & ~oc.isin(["GE", "AM"])
    dem = data.demand
    doc, ddc = dem["origin_zone_id"].map(zc), dem["destination_zone_id"].map(zc)
    want = dem.loc[((doc == "GE") & (ddc == "AM")) | ((doc == "AM") & (ddc == "GE")),
                   "tonnes_per_year"].astype(float).sum()
    assert want > 0
    assert r.loc[own, "tonnes"].sum() >= want  # the 2024 tonnes grown to 2026, all served
    assert r.loc[third, "tonnes"].sum() > 0
    assert r.loc[third & crosses_ge, "tonnes"].sum() == pytest.approx(0.0, abs=1e-6)
    # the segments: Armenia's trade with Georgia keeps its commodity's class
    rows = pd.DataFrame({"origin_zone_id": ["Z_GE_TBILISI", "Z_AM_YEREVAN", "Z_AM_YEREVAN"],
                         "destination_zone_id": ["Z_AM_YEREVAN", "Z_GE_TBILISI", "Z_TR_WEST"],
                         "commodity_id": ["grain"] * 3})
    ban = (frozenset({"X"}), frozenset({"AM"}), frozenset({"GE"}))
    zcs = {"Z_GE_TBILISI": "GE", "Z_AM_YEREVAN": "AM", "Z_TR_WEST": "TR"}
    assert demand_segments(rows, [ban], zcs)["segment"].tolist() == ["grain", "grain",
                                                                      "grain|ban0"]


@pytest.mark.parametrize("where", ['links = ["R_GE_TBILISI_POTI", "R_AZ_ALAT_GANJA"]',
                                   'countries = ["AZ", "GE"]'])
def test_a_ban_leaves_each_countrys_own_trade_alone_on_that_countrys_links(data, tmp_path,
                                                                         where):
    """A ban is split by the country of its links: Georgia's trade with Armenia may use Georgia's
    links and not Azerbaijan's, Azerbaijan's the reverse, Russia's neither. Written by links,
    the ban exempted no one; written for two countries, it exempted Armenia's trade with either
    on the links of both (Armenian freight to Azerbaijan could cross Georgia)."""
    from karvan.scenario.run import banned_links, demand_segments

    p = tmp_path / "ban2.toml"
    p.write_text('name = "ban2"\nyear = 2026\nextends = "baseline"\n[[modification]]\n'
                 f'action = "ban_transit"\n{where}\nod_countries = ["AM"]\n')
    inputs = apply_scenario(data, load_scenario(p))
    zc = data.zone_country()
    mine = [b for b in inputs.bans if b[1] == {"AM"}]
    ge = set().union(*(b[0] for b in mine if b[2] == {"GE"}))
    az = set().union(*(b[0] for b in mine if b[2] == {"AZ"}))
    assert "R_GE_TBILISI_POTI" in ge and "R_AZ_ALAT_GANJA" in az and not ge & az
    rows = pd.DataFrame({"origin_zone_id": ["Z_GE_TBILISI", "Z_AM_YEREVAN", "Z_AM_YEREVAN"],
                         "destination_zone_id": ["Z_AM_YEREVAN", "Z_AZ_BAKU", "Z_RU_MOSCOW"],
                         "commodity_id": ["grain"] * 3})
    seg = demand_segments(rows, inputs.bans, zc)["segment"].tolist()
    barred = [banned_links(x, inputs.bans) for x in seg]
    assert ge.isdisjoint(barred[0]) and az <= barred[0]  # Georgia -> Armenia
    assert az.isdisjoint(barred[1]) and ge <= barred[1]  # Armenia -> Azerbaijan
    assert (ge | az) <= barred[2]  # Armenia -> Russia


def test_calibration_reads_directions_and_counts_transit_routes_once(runs):
    base = runs("baseline")
    cal = base.tables["calibration"].set_index("observed_id")
    links = base.tables["links"].set_index("link_id")
    # loading onto rail in the Northern section: the ba direction of the Baku terminal link
    # (road side AZ_BAKU -> rail side AZ_BAKU_RAIL) and the ab direction of the Dubendi oil
    # terminal (tanker -> tank cars), alternatives that no route combines;
    # tests/unit/test_observed.py checks it origin by origin
    north = cal.at["OBS_ADY_NORTH_LOADING_2024", "modelled_tonnes"]
    loading = links.at["T_AZ_BAKU", "tonnes_ba"] + links.at["P_AZ_DUBENDI_RAIL", "tonnes_ab"]
    assert links.at["P_AZ_DUBENDI_RAIL", "tonnes_ab"] > 0
    assert north == pytest.approx(loading, rel=1e-9)
    # all transit through Azerbaijan equals the countries table, not a sum over borders
    az = base.tables["countries"].set_index("country").at["AZ", "transit_tonnes"]
    assert cal.at["OBS_AZ_TRANSIT_2024", "modelled_tonnes"] == pytest.approx(az)


def test_the_documented_row_counts_are_the_tables():
    """docs/dataset.md's contents table had fallen behind (link.csv 298 rows against 325,
    sources.csv 197 against 264) and left four tables out."""
    import csv
    import re
    from pathlib import Path

    from karvan.freight.corridor import builtin_corridor_folder

    doc = Path(__file__).resolve().parents[2] / "docs" / "dataset.md"
    if not doc.is_file():
        pytest.skip("docs/dataset.md is not beside the tests (an installed package)")
    text = doc.read_text(encoding="utf-8")
    contents = text[text.index("## Contents"):text.index("## Conventions")]
    shown = {m.group(1): int(m.group(2))
             for m in re.finditer(r"^\| `([a-z_]+\.csv)` \| (\d+) \|", contents, re.M)}
    folder = builtin_corridor_folder()
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows = sum(1 for _ in csv.reader(fh)) - 1
        assert shown.get(path.name) == rows, (path.name, shown.get(path.name), rows)
