"""Comparators of reported volumes: each counts the scope of its figure (links and borders in a
direction, alternatives counted once, all-of groups, transit by mode, commodity and OD subsets,
trade on demand), on hand-made routes and against independent computations on the corridor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import load_corridor
from karvan.freight.observed import RunFlows, observation_matrix, parse_observations
from karvan.paths import flows_by_destination, flows_by_origin
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def base(data):
    return run_scenario(data, load_scenario("baseline"), lp=False, choice="deterministic")


def _obs(rows):
    cols = ["observed_id", "element_ids", "direction", "commodity_id", "od_countries", "mode",
            "year", "tonnes_per_year", "independent", "role"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


def _parse(data, rows):
    return parse_observations(_obs(rows), data.links, countries=set(data.zone_country().values()),
                              commodities=set(data.commodity_ids))


def _arc(g, link_id, direction):
    lid = np.flatnonzero(g.link_ids == link_id)[0]
    return int(np.flatnonzero((g.arc_link == lid) & (g.arc_dir == direction))[0])


def _hand_flows(base) -> RunFlows:
    """Two demand cells on hand-made routes: Baku -> Moscow general cargo (100 t: 0.6 by rail
    through Samur, 0.4 by road) and Tehran -> Moscow containers (50 t, by rail through Astara
    and Samur)."""
    g = base.flows.graph
    cells = pd.DataFrame({"origin_zone_id": ["Z_AZ_BAKU", "Z_IR_TEHRAN"],
                          "destination_zone_id": ["Z_RU_MOSCOW", "Z_RU_MOSCOW"],
                          "commodity_id": ["general_cargo", "containers"],
                          "tonnes_per_year": [100.0, 50.0]})
    north_rail = _arc(g, "B_RU_AZ_SAMUR_RAIL", -1)  # AZ_YALAMA_RAIL -> RU_SAMUR_RAIL
    north_road = _arc(g, "B_RU_AZ_SAMUR_ROAD", -1)
    astara_north = _arc(g, "B_AZ_IR_ASTARA_RAIL", -1)
    az_rail = _arc(g, "R_AZ_ALAT_OSMANLI", 1)
    routes = pd.DataFrame({
        "class": ["general_cargo", "general_cargo", "containers"],
        "origin": ["Z_AZ_BAKU", "Z_AZ_BAKU", "Z_IR_TEHRAN"],
        "destination": ["Z_RU_MOSCOW"] * 3,
        "arcs": [(az_rail, north_rail), (north_road,), (astara_north, az_rail, north_rail)],
        "share": [0.6, 0.4, 1.0]})
    return RunFlows("hand", 2024, routes, g, base.inputs.links, cells)


def test_matrix_on_hand_made_routes(data, base):
    flows = _hand_flows(base)
    rows = [
        ("rail", "B_RU_AZ_SAMUR_RAIL", "both", "", "", "", 2024, 1, "true", "fit"),
        ("border", "RU-AZ_SAMUR", "both", "", "", "", 2024, 1, "true", "fit"),
        ("south", "B_RU_AZ_SAMUR_RAIL:ab", "element", "", "", "", 2024, 1, "true", "fit"),
        ("north", "B_RU_AZ_SAMUR_RAIL", "AZ_YALAMA_RAIL>RU_SAMUR_RAIL", "", "", "", 2024, 1,
         "true", "fit"),
        ("both_borders", "B_RU_AZ_SAMUR_RAIL+B_AZ_IR_ASTARA_RAIL", "both", "", "", "", 2024, 1,
         "true", "fit"),
        ("alternatives", "B_RU_AZ_SAMUR_ROAD;R_AZ_ALAT_OSMANLI", "both", "", "", "", 2024, 1,
         "true", "fit"),
        ("rail_transit", "*>AZ>*", "element", "", "", "rail", 2024, 1, "true", "fit"),
        ("road_transit", "*>AZ>*", "element", "", "", "road", 2024, 1, "true", "fit"),
        ("from_az", "RU-AZ_SAMUR", "both", "", "AZ>*", "", 2024, 1, "true", "fit"),
        ("either_ir", "RU-AZ_SAMUR", "both", "", "IR", "", 2024, 1, "true", "fit"),
        ("boxes", "RU-AZ_SAMUR", "both", "containers", "", "", 2024, 1, "true", "fit"),
        ("not_ir", "RU-AZ_SAMUR", "both", "", "!IR", "", 2024, 1, "true", "fit"),
        ("not_az_ru", "RU-AZ_SAMUR", "both", "", "!RU<>AZ", "", 2024, 1, "true", "fit"),
        ("not_from_ir", "RU-AZ_SAMUR", "both", "", "!IR>*", "", 2024, 1, "true", "fit"),
        ("trade_pair", "RU<>AZ", "element", "", "", "", 2024, 1, "false", "fit"),
        ("trade_one", "IR>RU", "element", "", "", "", 2024, 1, "false", "fit"),
        ("trade_wrong_way", "RU>IR", "element", "", "", "", 2024, 1, "false", "fit"),
    ]
    obs = _parse(data, rows)
    a = observation_matrix(obs, flows, data.zone_country())
    want = {
        "rail": [0.6, 1.0], "border": [1.0, 1.0], "south": [0.0, 0.0], "north": [0.6, 1.0],
        "both_borders": [0.0, 1.0], "alternatives": [1.0, 1.0], "rail_transit": [0.0, 1.0],
        "road_transit": [0.0, 0.0], "from_az": [1.0, 0.0], "either_ir": [0.0, 1.0],
        "boxes": [0.0, 1.0], "not_ir": [1.0, 0.0], "not_az_ru": [0.0, 1.0],
        "not_from_ir": [1.0, 0.0], "trade_pair": [1.0, 0.0], "trade_one": [0.0, 1.0],
        "trade_wrong_way": [0.0, 0.0],
    }
    for i, r in enumerate(rows):
        assert a[i] == pytest.approx(want[r[0]]), r[0]


def test_a_route_counts_once_whatever_it_crosses_twice_and_rows_sharing_a_term(data, base):
    """An arc a route crosses twice, and one term (link, border, transit by mode) in several
    rows: each row counts the route's share once, as a loop over the routes does."""
    flows = _hand_flows(base)
    g = flows.graph
    az_rail = _arc(g, "R_AZ_ALAT_OSMANLI", 1)
    routes = flows.routes.copy()
    routes.at[0, "arcs"] = (az_rail, az_rail) + tuple(routes.at[0, "arcs"])
    flows = replace(flows, routes=routes)
    rows = [
        ("osmanli", "R_AZ_ALAT_OSMANLI", "both", "", "", "", 2024, 1, "true", "fit"),
        ("osmanli_again", "R_AZ_ALAT_OSMANLI", "both", "", "", "", 2024, 1, "true", "fit"),
        ("osmanli_and_samur", "R_AZ_ALAT_OSMANLI+RU-AZ_SAMUR", "both", "", "", "", 2024, 1,
         "true", "fit"),
        ("rail_transit", "*>AZ>*", "element", "", "", "rail", 2024, 1, "true", "fit"),
        ("any_transit", "*>AZ>*", "element", "", "", "", 2024, 1, "true", "fit"),
    ]
    a = observation_matrix(_parse(data, rows), flows, data.zone_country())
    want = {"osmanli": [0.6, 1.0], "osmanli_again": [0.6, 1.0],
            "osmanli_and_samur": [0.6, 1.0], "rail_transit": [0.0, 1.0],
            "any_transit": [0.0, 1.0]}
    for i, r in enumerate(rows):
        assert a[i] == pytest.approx(want[r[0]], abs=1e-12), r[0]
    # a term built by hand with a list of ids (the parser gives tuples) counts the same
    from karvan.freight.observed import Observation, Term

    by_hand = Observation("by_hand", ((Term("link", ["R_AZ_ALAT_OSMANLI"]),),), 2024, 1.0)
    assert observation_matrix([by_hand], flows, data.zone_country())[0] == pytest.approx(
        want["osmanli"], abs=1e-12)


def test_a_run_with_two_rows_for_one_cell_or_tonnes_not_a_number_is_an_input_error(data, base):
    """Cells given twice raised pandas' InvalidIndexError from the route lookup, and without
    routes a trade row counted both rows."""
    flows = _hand_flows(base)
    obs = _parse(data, [("trade_pair", "RU<>AZ", "element", "", "", "", 2024, 1, "false",
                         "fit")])
    twice = pd.concat([flows.cells, flows.cells.iloc[[0]]], ignore_index=True)
    for routes in (flows.routes, flows.routes.iloc[:0]):
        bad = replace(flows, cells=twice, routes=routes)
        with pytest.raises(InputError, match=r"run hand \(2024\): 1 OD pairs and commodities "
                           r"have more than one row of demand \(Z_AZ_BAKU->Z_RU_MOSCOW "
                           r"general_cargo\); .* sum the rows of each"):
            observation_matrix(obs, bad, data.zone_country())
    # tonnes that are not a number made every row NaN, those that do not count the cell too
    for bad in (np.nan, np.inf, -1.0):
        nan = flows.cells.assign(tonnes_per_year=[100.0, bad])
        with pytest.raises(InputError, match=r"tonnes_per_year must be a finite number >= 0 in "
                           r"every cell; 1 are not \(Z_IR_TEHRAN->Z_RU_MOSCOW containers\)"):
            observation_matrix(obs, replace(flows, cells=nan), data.zone_country())
    # the same pair of another commodity is another cell
    other = twice.copy()
    other.loc[2, "commodity_id"] = "metals"
    a = observation_matrix(obs, replace(flows, cells=other), data.zone_country())
    assert a[0].tolist() == [1.0, 0.0, 1.0]


def test_a_rows_cells_are_what_its_modelled_tonnes_are_made_of(data, base):
    """calibration_cells: the tonnes of each demand cell a row counts, on hand-made routes
    (rail through Samur: 60 of Baku -> Moscow's 100 t, all 50 of Tehran -> Moscow's)."""
    from karvan.freight.accounting import calibration_with_cells

    flows = _hand_flows(base)
    observed = _obs([
        ("rail", "B_RU_AZ_SAMUR_RAIL", "both", "", "", "", 2024, 200, "true", "fit"),
        ("road", "B_RU_AZ_SAMUR_ROAD", "both", "", "", "", 2024, 40, "true", "validate"),
        ("astara", "B_AZ_IR_ASTARA_RAIL", "both", "general_cargo", "", "", 2024, 1, "true",
         "fit"),
        ("old", "B_RU_AZ_SAMUR_RAIL", "both", "", "", "", 2019, 1, "true", "fit"),
    ])
    table, cell_table = calibration_with_cells(
        observed, {2024: flows}, link_table=data.links, zone_country=data.zone_country(),
        commodities=data.commodity_ids)
    rail = cell_table[cell_table["observed_id"] == "rail"]
    assert list(rail["origin_zone_id"]) == ["Z_AZ_BAKU", "Z_IR_TEHRAN"]  # largest first
    assert rail["modelled_tonnes"].tolist() == pytest.approx([60.0, 50.0])
    assert rail["share_of_modelled"].tolist() == pytest.approx([60 / 110, 50 / 110])
    assert rail["share_of_observed"].tolist() == pytest.approx([0.3, 0.25])
    assert set(rail["origin_country"]) == {"AZ", "IR"} and set(rail["run"]) == {"hand"}
    road = cell_table[cell_table["observed_id"] == "road"]
    assert road["modelled_tonnes"].tolist() == pytest.approx([40.0])
    # nothing counted (a commodity no route of it takes there) and not compared: no cells
    assert not {"astara", "old"} & set(cell_table["observed_id"])
    assert list(table["observed_id"]) == ["rail", "road", "astara", "old"]
    # no run of any row's year: an empty table with the columns' types
    _, empty = calibration_with_cells(observed, {}, link_table=data.links,
                                      zone_country=data.zone_country(),
                                      commodities=data.commodity_ids)
    assert empty.empty and empty["observed_id"].dtype == object
    assert empty["modelled_tonnes"].dtype == float


def test_the_base_years_cells_add_up_to_every_compared_row(base):
    cal = base.tables["calibration"].set_index("observed_id")
    cells = base.tables["calibration_cells"]
    total = cells.groupby("observed_id")["modelled_tonnes"].sum()
    comp = cal[cal["compared"] & (cal["modelled_tonnes"] > 0)]
    assert set(total.index) == set(comp.index)
    assert total.reindex(comp.index).to_numpy() == pytest.approx(
        comp["modelled_tonnes"].to_numpy(), rel=1e-9)
    assert (cells["run"] == cells["observed_id"].map(cal["run"])).all()


def test_bad_rows_are_reported_together(data):
    rows = [
        ("a", "NO_SUCH_LINK", "both", "", "", "", 2024, 1, "true", "fit"),
        ("b", "RU<>AZ+B_RU_AZ_SAMUR_RAIL", "element", "", "", "", 2024, 1, "true", "fit"),
        ("c", "B_RU_AZ_SAMUR_RAIL", "NOWHERE>ELSEWHERE", "", "", "", 2024, 1, "true", "fit"),
        ("d", "B_RU_AZ_SAMUR_RAIL", "both", "gold", "QQ", "", 2024, 0, "maybe", "test"),
        ("e", "B_RU_AZ_SAMUR_RAIL", "both", "", "", "rail", 2024, 1, "false", "validate"),
        ("f", "B_RU_AZ_SAMUR_RAIL", "both", "", "!QQ<>RU", "", 2024, 1, "true", "fit"),
        # a mode no link has counted 0 t; a transit term ending in its own country counted
        # that country's trade
        ("g", "*>AZ>*", "element", "", "", "railway", 2024, 1, "true", "fit"),
        ("h", "IR>IR>*", "element", "", "", "", 2024, 1, "true", "fit"),
        # 'both' with a term that counts one direction: the term was read as written
        ("i", "B_RU_AZ_SAMUR_RAIL:ab+T_AZ_BAKU:ba", "both", "", "", "", 2024, 1, "true", "fit"),
        ("j", "IR>RU", "both", "", "", "", 2024, 1, "false", "fit"),
        # a border's rail nodes as the direction left its road link out of the count
        ("k", "RU-AZ_SAMUR", "AZ_YALAMA_RAIL>RU_SAMUR_RAIL", "", "", "", 2024, 1, "true", "fit"),
    ]
    with pytest.raises(InputError) as e:
        _parse(data, rows)
    msg = str(e.value)
    for part in ("(a)", "NO_SUCH_LINK", "(b)", "cannot be combined", "(c)", "matches neither",
                 "(d)", "gold", "QQ", "tonnes_per_year", "independent", "role", "(e)",
                 "transit terms", "must be independent", "(f)", "!QQ<>RU",
                 "(g)", "mode 'railway' is not a mode of link.csv",
                 "(h)", "starts or ends in the country it crosses",
                 "(i): direction 'both' but B_RU_AZ_SAMUR_RAIL:ab, T_AZ_BAKU:ba in element_ids "
                 "count one direction", "(j): direction 'both' but IR>RU",
                 "(k): direction 'AZ_YALAMA_RAIL>RU_SAMUR_RAIL' matches the ends of "
                 "B_RU_AZ_SAMUR_RAIL but not of B_RU_AZ_SAMUR_ROAD"):
        assert part in msg, part


def test_corridor_comparators_agree_with_bush_flows(data, base):
    cal = base.tables["calibration"].set_index("observed_id")
    links = base.tables["links"].set_index("link_id")
    zc = data.zone_country()
    ue = base.ue
    by_o = flows_by_origin(ue)
    by_d = flows_by_destination(ue)
    # one link, both directions: the link's tonnes
    assert cal.at["OBS_BOLASHAK_2024", "modelled_tonnes"] == pytest.approx(
        links.at["B_KZ_TM_BOLASHAK_RAIL", "tonnes_tot"], rel=1e-6, abs=1e-3)
    # loading onto rail in Azerbaijan's Northern section: the origin-based flows of every origin
    # on the to -> from (road -> rail) arc of the Baku rail-road terminal, plus those on the
    # from -> to (tanker -> tank car) arc of the Dubendi oil terminal; no route uses both
    zones = by_o.columns[2:]
    road = by_o[(by_o["link_id"] == "T_AZ_BAKU") & (by_o["direction"] == -1)]
    oil = by_o[(by_o["link_id"] == "P_AZ_DUBENDI_RAIL") & (by_o["direction"] == 1)]
    oil_back = by_o[(by_o["link_id"] == "P_AZ_DUBENDI_RAIL") & (by_o["direction"] == -1)]
    assert float(road[zones].to_numpy().sum()) > 0
    assert float(oil[zones].to_numpy().sum()) > 0
    assert float(oil_back[zones].to_numpy().sum()) == pytest.approx(0.0, abs=1e-6)
    # the oil loaded at Dubendi is all from the two oil-terminal zones
    oil_zones = [z for z in zones if z in ("Z_KZ_AKTAU_OIL", "Z_TM_TURKMENBASHI_OIL")]
    assert float(oil[oil_zones].to_numpy().sum()) == pytest.approx(
        float(oil[zones].to_numpy().sum()), rel=1e-9)
    assert cal.at["OBS_ADY_NORTH_LOADING_2024", "modelled_tonnes"] == pytest.approx(
        float(road[zones].to_numpy().sum() + oil[zones].to_numpy().sum()), rel=1e-6, abs=1e-3)
    # Armenian OD at Upper Lars: from Armenian origins plus to Armenian destinations
    lars_o = by_o[by_o["link_id"] == "B_RU_GE_UPPER_LARS"]
    lars_d = by_d[by_d["link_id"] == "B_RU_GE_UPPER_LARS"]
    am_o = [z for z in lars_o.columns[2:] if zc.get(z) == "AM"]
    am_d = [z for z in lars_d.columns[2:] if zc.get(z) == "AM"]
    expect = float(lars_o[am_o].to_numpy().sum() + lars_d[am_d].to_numpy().sum())
    assert expect > 0
    assert cal.at["OBS_UPPER_LARS_AM_2024", "modelled_tonnes"] == pytest.approx(
        expect, rel=1e-6)
    assert cal.at["OBS_UPPER_LARS_AM_2024", "modelled_tonnes"] < cal.at[
        "OBS_UPPER_LARS_2024", "modelled_tonnes"]
    # a trade row compares the demand of its pair in the run of its year
    trade = cal.loc["OBS_TRADE_IR_AM_2024"]
    dem = base.inputs.demand
    pair = dem["origin_zone_id"].map(zc).isin(["AM", "IR"]) & dem["destination_zone_id"].map(
        zc).isin(["AM", "IR"]) & (dem["origin_zone_id"].map(zc) != dem[
            "destination_zone_id"].map(zc))
    assert trade["modelled_tonnes"] == pytest.approx(dem.loc[pair, "tonnes_per_year"].sum())


def test_a_cited_flows_pair_level_is_its_growth_where_the_pair_has_no_level_row():
    """_at_pair_level: the flows a trade row cites move as their pair does (its ``*`` level
    row, else its growth rule back from the base year); the cell's own level is the
    commodity's row. A share that would exceed the cell is cut to 1 with a warning."""
    import warnings

    from karvan.freight.corridor import CorridorWarning, _at_pair_level

    country = {"ZK": "KZ", "ZI": "IR"}
    cell = ("ZK", "ZI", "grain")
    growth = pd.DataFrame({"origin_country": ["*", "KZ"], "destination_country": ["*", "IR"],
                           "commodity_id": ["*", "*"], "growth_per_year": [0.03, 0.05]})
    levels = pd.DataFrame({"origin_country": ["KZ"], "destination_country": ["IR"],
                           "commodity_id": ["grain"], "year": [2023], "index": [2.0]})
    got = _at_pair_level({cell: 0.5}, 2023, levels, country, growth, 2024)[cell]
    assert got == pytest.approx(0.5 * 1.05 ** -1 / 2.0, rel=1e-12)
    # two years back: the growth rule twice
    lv2 = levels.assign(year=2022)
    got = _at_pair_level({cell: 0.5}, 2022, lv2, country, growth, 2024)[cell]
    assert got == pytest.approx(0.5 * 1.05 ** -2 / 2.0, rel=1e-12)
    # with the pair's own * row, its index
    star = pd.concat([levels, levels.assign(commodity_id="*", index=0.8)], ignore_index=True)
    assert _at_pair_level({cell: 0.5}, 2023, star, country, growth, 2024)[cell] == \
        pytest.approx(0.2, rel=1e-12)
    # a commodity's own level far below the pair's: the cited flows cannot exceed the cell
    low = pd.concat([levels.assign(index=0.1), levels.assign(commodity_id="*", index=1.0)],
                    ignore_index=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert _at_pair_level({cell: 0.5}, 2023, low, country, growth, 2024, "OBS_X")[cell] == 1
    assert any(issubclass(x.category, CorridorWarning) and "OBS_X" in str(x.message)
               for x in w)
    # a year without levels, or a cell without its own row: unchanged
    assert _at_pair_level({cell: 0.5}, 2021, levels, country, growth, 2024)[cell] == 0.5
    other = ("ZK", "ZI", "metals")
    assert _at_pair_level({other: 0.5}, 2023, levels, country, growth, 2024)[other] == 0.5


def test_alternatives_count_a_route_once(data, base):
    links = base.tables["links"].set_index("link_id")
    both = links.loc[["B_TM_IR_SARAKHS_RAIL", "G_IR_SARAKHS"], "tonnes_tot"].to_numpy()
    assert both[0] > 0 and both[0] == pytest.approx(both[1], rel=1e-9)  # the same routes
    obs = _parse(data, [("s", "B_TM_IR_SARAKHS_RAIL;G_IR_SARAKHS", "both", "", "", "", 2024, 1,
                         "true", "fit")])
    a = observation_matrix(obs, base.flows, data.zone_country())
    m = float((a @ base.flows.cells["tonnes_per_year"].to_numpy())[0])
    assert m == pytest.approx(both[0], rel=1e-6)  # once, not twice
    cal = base.tables["calibration"].set_index("observed_id")
    assert cal.at["OBS_AZ_TRANSIT_2024", "modelled_tonnes"] == pytest.approx(
        base.tables["countries"].set_index("country").at["AZ", "transit_tonnes"])


def test_rows_are_compared_only_with_a_run_of_their_year(base):
    cal = base.tables["calibration"]
    comp = cal[cal["compared"]]
    names = {2024: "baseline", 2023: "backcast_2023", 2022: "backcast_2022"}
    assert (comp["run"] == comp["year"].map(names)).all()
    rest = cal[~cal["compared"]]
    # a row is left out exactly when no run has its year (2019, 2020, 2021 in the shipped table)
    assert rest["year"].size and not set(rest["year"]) & set(names)
    assert rest["modelled_tonnes"].isna().all() and rest["ratio"].isna().all()
    summary = base.tables["calibration_summary"].set_index("set")
    assert summary["compared"].sum() == len(comp)
    assert base.summary["calibration"]["validate"]["compared"] == int(
        (comp["role"] == "validate").sum())


def test_back_cast_scales_demand_back_by_its_level(data, base):
    cal = base.tables["calibration"].set_index("observed_id")
    # a trade row of 2022 is the 2024 demand of its pair (the part of each cell that its own
    # flows carry) times the pair's level of 2022 (demand_level.csv: Iran's customs count of
    # that year), each direction by its own
    zc = data.zone_country()
    shares = data.observed.set_index("observed_id").at["OBS_TRADE_IR_TM_2022", "cell_shares"]
    dem = base.inputs.demand
    dem = dem.assign(tonnes_per_year=dem["tonnes_per_year"] * [shares.get(k, 0.0) for k in zip(
        dem["origin_zone_id"], dem["destination_zone_id"], dem["commodity_id"], strict=True)])
    oc, dc = dem["origin_zone_id"].map(zc), dem["destination_zone_id"].map(zc)
    level = data.demand_levels.set_index(
        ["origin_country", "destination_country", "commodity_id", "year"])["index"]
    grow = data.growth.set_index(["origin_country", "destination_country", "commodity_id"])
    rate = grow.at[("TM", "IR", "*"), "growth_per_year"]
    want = 0.0
    for a, b in (("TM", "IR"), ("IR", "TM")):
        assert level[(a, b, "*", 2022)] != pytest.approx(1 / (1 + rate) ** 2, rel=1e-3)
        want += dem.loc[(oc == a) & (dc == b), "tonnes_per_year"].sum() * level[(a, b, "*", 2022)]
    assert cal.at["OBS_TRADE_IR_TM_2022", "modelled_tonnes"] == pytest.approx(want)


def test_a_trade_row_keeps_its_pairs_level_where_a_commodity_has_its_own(data, base):
    """Kazakhstan -> Iran grain of 2022 has a level of its own (Kazakhstan's count, rule
    "Grain to Iran at the exporters' counts"), 3.6 times the base year's; the trade row of
    2022 (Iran's customs count) still counts the flows it built at the pair's level of that
    year, not at the grain's."""
    from karvan.freight.demand_build import observed_shares, read_demand_inputs

    zc = data.zone_country()
    sh = observed_shares(read_demand_inputs())
    sh = sh[sh["observed_id"] == "OBS_TRADE_IR_KZ_2022"]
    base_share = dict(zip(zip(sh["origin_zone_id"], sh["destination_zone_id"],
                              sh["commodity_id"], strict=True), sh["share"], strict=True))
    lv = data.demand_levels.set_index(["origin_country", "destination_country",
                                       "commodity_id", "year"])["index"]
    assert lv[("KZ", "IR", "grain", 2022)] > 3 * lv[("KZ", "IR", "*", 2022)]
    dem = base.inputs.demand
    want = 0.0
    for r in dem.itertuples():
        k = (r.origin_zone_id, r.destination_zone_id, r.commodity_id)
        if k in base_share:
            want += r.tonnes_per_year * base_share[k] * lv[(zc[k[0]], zc[k[1]], "*", 2022)]
    cal = base.tables["calibration"].set_index("observed_id")
    assert cal.at["OBS_TRADE_IR_KZ_2022", "modelled_tonnes"] == pytest.approx(want, rel=1e-9)
    # and the grain cells themselves carry the exporters' count in the back-cast
    shares = data.observed.set_index("observed_id").at["OBS_TRADE_IR_KZ_2022", "cell_shares"]
    k = next(k for k in shares if k[2] == "grain")
    assert shares[k] == pytest.approx(
        base_share[k] * lv[("KZ", "IR", "*", 2022)] / lv[("KZ", "IR", "grain", 2022)])


def test_run_summary_shows_fit_and_validation_apart(base):
    from karvan.scenario.summary import summary_tables

    tables = summary_tables([base])
    cal = next(t for t in tables if t.title.startswith("Calibration"))
    assert "ln 1.3" in cal.title and "30 %" in cal.title
    by = cal.data.set_index("rows")
    summary = base.tables["calibration_summary"].set_index("set")
    assert by.at["validate", "compared"] == summary.at["validate", "compared"]
    assert by.at["fit (independent)", "median |ln M/C|"] == pytest.approx(
        summary.at["fit", "median_abs_log_ratio"])
    assert set(by["target met"]) <= {"yes", "no", "-"}
    # the built-in total of fit rows (OBS_INSTC_2023) is a set of its own, named in the heading,
    # with no target; a run without such rows says fit and validation only
    assert by.at["check (totals of fit rows)", "compared"] == summary.at["check", "compared"] == 1
    assert by.at["check (totals of fit rows)", "target met"] == "-"
    assert "fit, validation and checks (totals of fit rows, not fitted) apart" in cal.title
    cal_table = base.tables["calibration"]
    no_check = replace(base, tables={
        **base.tables, "calibration": cal_table[cal_table["set"] != "check"],
        "calibration_summary": base.tables["calibration_summary"].query("set != 'check'")})
    plain = next(t for t in summary_tables([no_check]) if t.title.startswith("Calibration"))
    assert "fit and validation apart" in plain.title
    assert "check (totals of fit rows)" not in set(plain.data["rows"])


def _trade_modelled(obs, graph, links, cells, zone_country):
    """Modelled tonnes of trade observations on demand cells (no routes: trade counts demand)."""
    routes = pd.DataFrame({"class": [], "origin": [], "destination": [], "arcs": [], "share": []})
    flows = RunFlows("demand", 2024, routes, graph, links, cells)
    return observation_matrix(obs, flows, zone_country) @ cells["tonnes_per_year"].to_numpy(float)


def test_a_trade_row_counts_the_flows_it_built_not_the_pairs_transit(data, base):
    from karvan.freight.demand_build import flow_tonnes, read_demand_inputs

    ft = flow_tonnes(read_demand_inputs())
    cited = ft[ft["flow_id"].isin(["RU>IR", "IR>RU"])]["tonnes_per_year"].sum()
    transit = ft[ft["flow_id"].isin(["RU>GULF", "GULF>RU"])]["tonnes_per_year"].sum()
    assert transit > 0.05 * cited  # the pair's cells hold Iran's transit as well
    obs = parse_observations(data.observed, data.links,
                             countries=set(data.zone_country().values()),
                             commodities=set(data.commodity_ids))
    row = next(o for o in obs if o.observed_id == "OBS_TRADE_IR_RU_2023")
    assert row.cell_share is not None
    whole = _parse(data, [("pair", "RU<>IR", "element", "", "", "", 2024, 1, "false", "fit")])
    cells = data.prior_demand[["origin_zone_id", "destination_zone_id", "commodity_id",
                               "tonnes_per_year"]]
    got, pair = _trade_modelled([row, *whole], base.flows.graph, base.inputs.links, cells,
                                data.zone_country())
    # against the generator's country-level tonnes (demand rows are rounded to 10 t); the row
    # is of 2023, where grain has a level of its own (the exporters' count): the flows the row
    # built keep the pair's level, so on these base-year cells their grain counts at the ratio
    # of the pair's level to the grain's (test_a_trade_row_keeps_its_pairs_level_...)
    lv = data.demand_levels.set_index(["origin_country", "destination_country",
                                       "commodity_id", "year"])["index"]
    mix = read_demand_inputs().mix
    grain = ft.loc[ft["flow_id"] == "RU>IR", "tonnes_per_year"].sum() * float(mix.loc[
        (mix["flow_id"] == "RU>IR") & (mix["commodity_id"] == "grain"), "share"].item())
    ratio = lv[("RU", "IR", "*", 2023)] / lv[("RU", "IR", "grain", 2023)]
    assert ratio < 0.95
    assert got == pytest.approx(cited - grain * (1 - ratio), rel=1e-4)
    assert pair == pytest.approx(cited + transit
                                 + ft.loc[ft["flow_id"] == "RU>IR_GRAIN",
                                          "tonnes_per_year"].sum(), rel=1e-4)


def test_without_the_generator_inputs_a_trade_row_counts_the_pair(tmp_path, data, base):
    import shutil

    from karvan.freight.corridor import builtin_corridor_folder

    plain = tmp_path / "plain"
    shutil.copytree(builtin_corridor_folder(), plain)
    shutil.rmtree(plain / "demand_inputs")
    ds = load_corridor(plain)
    assert "cell_shares" not in ds.observed
    obs = parse_observations(ds.observed, ds.links, countries=set(ds.zone_country().values()),
                             commodities=set(ds.commodity_ids))
    row = next(o for o in obs if o.observed_id == "OBS_TRADE_IR_RU_2023")
    assert row.cell_share is None
    pair = _parse(ds, [("pair", "RU<>IR", "element", "", "", "", 2024, 1, "false", "fit")])
    cells = ds.prior_demand[["origin_zone_id", "destination_zone_id", "commodity_id",
                             "tonnes_per_year"]]
    got = _trade_modelled([row, *pair], base.flows.graph, base.inputs.links, cells,
                          ds.zone_country())
    assert got[0] == pytest.approx(got[1]) and got[0] > 0


def test_routes_with_arcs_not_of_the_runs_graph_are_an_input_error(data, base):
    """Routes paired with another graph: the incidence is built unchecked, so an arc past the
    graph's last counted another link's tonnes or read past the matrix's ends."""
    flows = _hand_flows(base)
    obs = _parse(data, [("rail", "B_RU_AZ_SAMUR_RAIL", "both", "", "", "", 2024, 1, "true",
                         "fit")])
    for arc in (flows.graph.n_arcs, flows.graph.n_arcs + 3, -1, 10**9):
        routes = flows.routes.copy()
        routes.at[1, "arcs"] = (arc,)
        with pytest.raises(InputError, match=rf"1 routes have arcs that are not arcs of the "
                                             rf"run's graph .*e.g. arc {arc} of route 1 "
                                             r"\(Z_AZ_BAKU -> Z_RU_MOSCOW\)"):
            observation_matrix(obs, replace(flows, routes=routes), data.zone_country())


def test_a_transit_row_counts_overseas_cargo_that_crosses_the_ports_country_by_land(data, base):
    """Moscow -> Bandar Abbas, 30 % of it to go on overseas: half by land (Samur, Azerbaijan's
    railway, Astara, Iran's railway to the port), half by sea (the Red Sea lane and the port's
    transfer, an Iranian link but not rail or road); Bandar Abbas -> Moscow, 40 % of it from
    overseas, by land. Only the overseas part counts as Iran's transit, and only by land."""
    g = base.flows.graph
    cells = pd.DataFrame({"origin_zone_id": ["Z_RU_MOSCOW", "Z_IR_BANDAR_ABBAS"],
                          "destination_zone_id": ["Z_IR_BANDAR_ABBAS", "Z_RU_MOSCOW"],
                          "commodity_id": ["general_cargo", "general_cargo"],
                          "tonnes_per_year": [100.0, 50.0],
                          "overseas_origin_share": [0.0, 0.4],
                          "overseas_destination_share": [0.3, 0.0]})
    land = (_arc(g, "B_RU_AZ_SAMUR_RAIL", 1), _arc(g, "R_AZ_ALAT_OSMANLI", -1),
            _arc(g, "B_AZ_IR_ASTARA_RAIL", 1), _arc(g, "R_IR_BAFQ_BANDAR_ABBAS", 1))
    sea = (_arc(g, "S_XX_BAB_EL_MANDEB_BANDAR_ABBAS", 1), _arc(g, "P_IR_BANDAR_ABBAS_ROAD", 1))
    back = tuple(_arc(g, lk, -d) for lk, d in (("R_IR_BAFQ_BANDAR_ABBAS", 1),
                                               ("B_AZ_IR_ASTARA_RAIL", 1),
                                               ("R_AZ_ALAT_OSMANLI", -1),
                                               ("B_RU_AZ_SAMUR_RAIL", 1)))
    routes = pd.DataFrame({"class": ["general_cargo"] * 3,
                           "origin": ["Z_RU_MOSCOW", "Z_RU_MOSCOW", "Z_IR_BANDAR_ABBAS"],
                           "destination": ["Z_IR_BANDAR_ABBAS", "Z_IR_BANDAR_ABBAS",
                                           "Z_RU_MOSCOW"],
                           "arcs": [land, sea, back], "share": [0.5, 0.5, 1.0]})
    flows = RunFlows("gateway", 2024, routes, g, base.inputs.links, cells)
    rows = [(i, e, "element", "", "", m, 2024, 1, "true", "fit") for i, e, m in (
        ("from_ru", "RU>IR>*", ""), ("any", "*>IR>*", ""), ("to_ru", "*>IR>RU", ""),
        ("to_india", "RU>IR>IN", ""), ("by_rail", "*>IR>*", "rail"),
        ("by_road", "*>IR>*", "road"), ("azerbaijan", "*>AZ>*", ""),
        ("ru_az_ir", "RU>AZ>IR", ""), ("ir_az_ru", "IR>AZ>RU", ""))]
    a = observation_matrix(_parse(data, rows), flows, data.zone_country())
    want = {"from_ru": [0.5 * 0.3, 0.0], "any": [0.15, 0.4], "to_ru": [0.0, 0.4],
            "to_india": [0.0, 0.0], "by_rail": [0.15, 0.4], "by_road": [0.0, 0.0],
            # crossed between two other countries: every tonne of the land route, whatever
            # comes after the port, also where the term names the port's country
            "azerbaijan": [0.5, 1.0], "ru_az_ir": [0.5, 0.0], "ir_az_ru": [0.0, 1.0]}
    for i, r in enumerate(rows):
        assert a[i] == pytest.approx(want[r[0]]), r[0]
    # without the shares, Iran's transit is none of it
    plain = replace(flows, cells=cells.drop(columns=["overseas_origin_share",
                                                     "overseas_destination_share"]))
    b = observation_matrix(_parse(data, rows), plain, data.zone_country())
    assert b[0] == pytest.approx([0.0, 0.0]) and b[6] == pytest.approx([0.5, 1.0])
    assert b[7] == pytest.approx([0.5, 0.0]) and b[8] == pytest.approx([0.0, 1.0])


def test_a_countrys_transit_row_counts_what_the_countries_table_counts(data, base):
    """``*>C>*`` counts the tonnes the accounting calls C's transit, overseas cargo through C's
    ports included: two implementations of one rule, on every route of the base year."""
    rows = [(c, f"*>{c}>*", "element", "", "", "", 2024, 1, "true", "fit")
            for c in ("IR", "GE", "AZ", "RU", "KZ", "TM")]
    a = observation_matrix(_parse(data, rows), base.flows, data.zone_country())
    got = a @ base.flows.cells["tonnes_per_year"].to_numpy(dtype=float)
    ct = base.tables["countries"].set_index("country")["transit_tonnes"]
    for (c, *_), v in zip(rows, got, strict=True):
        assert v == pytest.approx(ct[c], rel=1e-9), c
    # the ports' countries carry overseas cargo: without the shares both counts are lower
    cells = base.flows.cells.drop(columns=["overseas_origin_share", "overseas_destination_share"])
    plain = observation_matrix(_parse(data, rows), replace(base.flows, cells=cells),
                               data.zone_country()) @ cells["tonnes_per_year"].to_numpy(float)
    assert plain[0] < got[0] - 1e6 and plain[1] < got[1] - 1e6  # Iran, Georgia: > 1 Mt each
    assert plain[2] == pytest.approx(got[2], rel=1e-12)  # Azerbaijan has no port zone
