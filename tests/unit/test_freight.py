"""Hand-solved toy corridors for each freight element."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import CorridorWarning, load_corridor
from karvan.freight.costs import build_network, link_costs
from karvan.scenario.run import run_scenario
from karvan.scenario.spec import load_scenario
from tests.toy_corridor import write_corridor


def scenario(tmp_path, text: str, name: str = "s"):
    p = tmp_path / f"{name}.toml"
    p.write_text(f'name = "{name}"\n' + text)
    return load_scenario(p)


def rail(i, a, b, km, kph=50.0, **kw):
    return {"link_id": i, "from_node_id": a, "to_node_id": b, "mode": "rail", "length_km": km,
            "speed_kph": kph, "tariff_usd_per_tkm": 0.03, "country": kw.pop("country", "AA"),
            **kw}


def test_transfer_time_and_cost(tmp_path):
    # A --rail 100 km @ 50 km/h, 0.03 $/tkm--> P --port transfer 6 h, 5 $/t--> Q
    #   --sea 300 km @ 20 km/h, 0.01 $/tkm--> B
    # time = 2 + 6 + 15 = 23 h; charge = 3 + 5 + 3 = 11 $/t; cost at 2 $/t/h = 11 + 46 = 57 $/t
    folder = write_corridor(
        tmp_path / "c",
        nodes=[("A", 0, 0, "AA"), ("P", 1, 0, "AA"), ("Q", 2, 0, "AA"), ("B", 3, 0, "AA")],
        links=[rail("r", "A", "P", 100),
               {"link_id": "t", "from_node_id": "P", "to_node_id": "Q", "mode": "transfer",
                "element": "port", "dwell_h": 6, "tariff_usd_per_t": 5, "country": "AA"},
               {"link_id": "s", "from_node_id": "Q", "to_node_id": "B", "mode": "sea",
                "length_km": 300, "speed_kph": 20, "tariff_usd_per_tkm": 0.01, "country": "XX"}],
        zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
        commodities=[("box", 2.0, 1000.0)],
        demand=[("ZA", "ZB", "box", 1000.0)],
    )
    data = load_corridor(folder)
    run = run_scenario(data, scenario(tmp_path, "year = 2024\n"), choice="deterministic")
    sk = run.tables["skims"].iloc[0]
    assert sk["time_h"] == pytest.approx(23.0)
    assert sk["charge_usd_per_t"] == pytest.approx(11.0)
    assert sk["cost_usd_per_t"] == pytest.approx(57.0)
    r = run.tables["routes"]
    assert len(r) == 1 and r["links"].iloc[0] == "r > t > s"
    assert r["tonnes"].iloc[0] == pytest.approx(1000.0)


def _two_borders(tmp_path, vot):
    # two identical rail routes A-X-B and A-Y-B; border X: 20 h, 10 $/t; border Y: 5 h, 40 $/t.
    # generalized cost difference (X - Y) = 15 vot - 30: X is cheaper below vot 2, Y above.
    links = [rail("ax", "A", "X1", 100), rail("ay", "A", "Y1", 100),
             {"link_id": "bx", "from_node_id": "X1", "to_node_id": "X2", "mode": "border",
              "element": "border", "dwell_h": 20, "fee_usd_per_t": 10, "border_id": "AA-BB_X",
              "country": "AA"},
             {"link_id": "by", "from_node_id": "Y1", "to_node_id": "Y2", "mode": "border",
              "element": "border", "dwell_h": 5, "fee_usd_per_t": 40, "border_id": "AA-BB_Y",
              "country": "AA"},
             rail("xb", "X2", "B", 100, country="BB"), rail("yb", "Y2", "B", 100, country="BB")]
    nodes = [("A", 0, 0, "AA"), ("X1", 1, 1, "AA"), ("X2", 2, 1, "BB"), ("Y1", 1, -1, "AA"),
             ("Y2", 2, -1, "BB"), ("B", 3, 0, "BB")]
    folder = write_corridor(tmp_path / f"c{vot}", nodes=nodes, links=links,
                            zones=[("ZA", "A", "AA"), ("ZB", "B", "BB")],
                            commodities=[("slow", vot, 500.0)], demand=[("ZA", "ZB", "slow", 7.0)])
    return load_corridor(folder)


@pytest.mark.parametrize(("vot", "used"), [(1.0, "AA-BB_X"), (3.0, "AA-BB_Y")])
def test_border_dwell_and_fee_decide_the_crossing(tmp_path, vot, used):
    run = run_scenario(_two_borders(tmp_path, vot), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    b = run.tables["borders"].set_index("border_id")
    other = ({"AA-BB_X", "AA-BB_Y"} - {used}).pop()
    assert b.at[used, "tonnes_tot"] == pytest.approx(7.0)
    assert b.at[other, "tonnes_tot"] == pytest.approx(0.0, abs=1e-9)
    sk = run.tables["skims"].iloc[0]
    dwell, fee = (20, 10) if used == "AA-BB_X" else (5, 40)
    assert sk["time_h"] == pytest.approx(2 + dwell + 2)
    assert sk["charge_usd_per_t"] == pytest.approx(3 + fee + 3)


def test_closing_a_border_by_scenario_moves_the_flow(tmp_path):
    data = _two_borders(tmp_path, 1.0)
    s = scenario(tmp_path, 'year = 2026\n[[modification]]\naction = "close"\n'
                           'borders = ["AA-BB_X"]\nyear = 2025\n')
    b = run_scenario(data, s, choice="deterministic").tables["borders"].set_index("border_id")
    assert b.at["AA-BB_Y", "tonnes_tot"] == pytest.approx(7.0)
    assert "AA-BB_X" not in b.index or b.at["AA-BB_X", "tonnes_tot"] == 0
    # a modification dated after the scenario year does nothing
    s2 = scenario(tmp_path, 'year = 2024\n[[modification]]\naction = "close"\n'
                            'borders = ["AA-BB_X"]\nyear = 2025\n', name="s2")
    with pytest.warns(CorridorWarning, match="in force from 2025, not in the scenario's year"):
        b2 = run_scenario(data, s2, choice="deterministic").tables["borders"].set_index(
            "border_id")
    assert b2.at["AA-BB_X", "tonnes_tot"] == pytest.approx(7.0)


def _ferry(tmp_path, freq):
    # ferry 200 km @ 20 km/h (10 h) + wait 0.5 * 168 / freq; rail detour 600 km @ 50 km/h (12 h)
    # with the same per-t-km tariff 0.03. freq 7/week: wait 12 h -> ferry 22 h vs rail 12 h + the
    # tariff difference; freq 42/week: wait 2 h -> ferry 12 h.
    links = [{"link_id": "f", "from_node_id": "A", "to_node_id": "B", "mode": "ferry",
              "element": "ferry", "length_km": 200, "speed_kph": 20, "frequency_per_week": freq,
              "tariff_usd_per_tkm": 0.03, "country": "XC"},
             rail("r", "A", "B", 600)]
    folder = write_corridor(tmp_path / f"f{freq}", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
                            links=links, zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("c", 1.0, 500.0)], demand=[("ZA", "ZB", "c", 1.0)])
    return load_corridor(folder)


def test_ferry_waiting_time_from_frequency(tmp_path):
    data = _ferry(tmp_path, 7)
    costs = link_costs(data, data.links).loc["f"]
    assert costs["wait_h"] == pytest.approx(12.0)
    assert costs["time_h"] == pytest.approx(22.0)
    # rail: 12 h + 18 $/t = 30 $/t at 1 $/t/h; ferry: 22 h + 6 $/t = 28 -> ferry
    run = run_scenario(data, scenario(tmp_path, "year = 2024\n"), choice="deterministic")
    assert run.tables["routes"]["links"].iloc[0] == "f"
    # halve the sailings: wait 24 h, ferry 40 $/t -> rail
    s = scenario(tmp_path, 'year = 2024\n[[modification]]\naction = "set"\nlinks = ["f"]\n'
                           'field = "frequency_per_week"\nvalue = 3.5\n', name="s2")
    assert run_scenario(data, s, choice="deterministic").tables["routes"]["links"].iloc[0] == "r"


def _capacity_toy(tmp_path, cap_cheap, cap_dear, demand):
    # cheap route: 100 km @ 50 km/h and 0.03 $/tkm -> 2 h, 3 $/t; cost at 1 $/t/h = 5 $/t
    # dear route: 300 km @ 50 km/h -> 6 h, 9 $/t; cost 15 $/t
    links = [rail("cheap", "A", "B", 100, capacity_tpy=cap_cheap, vdf="none"),
             rail("dear", "A", "B", 300, capacity_tpy=cap_dear, vdf="none")]
    folder = write_corridor(tmp_path / f"cap{cap_cheap}-{cap_dear}",
                            nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")], links=links,
                            zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", demand)])
    return load_corridor(folder)


def test_capacity_lp_shadow_price_equals_hand_value(tmp_path):
    data = _capacity_toy(tmp_path, 600.0, np.nan, 1000.0)
    run = run_scenario(data, scenario(tmp_path, "year = 2024\n"), choice="deterministic")
    links = run.tables["links"].set_index("link_id")
    assert links.at["cheap", "lp_tonnes_tot"] == pytest.approx(600.0)
    assert links.at["dear", "lp_tonnes_tot"] == pytest.approx(400.0)
    # one more tonne on the cheap route saves 15 - 5 = 10 $/t
    assert links.at["cheap", "shadow_price_usd_per_t"] == pytest.approx(10.0)
    assert run.tables["unserved"].empty
    assert run.lp.total_cost == pytest.approx(600 * 5 + 400 * 15)


def test_unserved_demand_when_capacity_is_short(tmp_path):
    data = _capacity_toy(tmp_path, 600.0, 300.0, 1000.0)
    run = run_scenario(data, scenario(tmp_path, "year = 2024\n"), choice="deterministic")
    un = run.tables["unserved"]
    # the capacities carry 900 of 1000 t: 100 t cannot be carried. The penalty starts at twice
    # the pair's cheapest cost, 2 x 5 = 10, below the dear route's 15: the LP leaves 400 t, more
    # than the 100 the capacities force, so the penalty doubles to 20 and the LP leaves 100
    assert list(un.columns) == ["commodity", "origin", "destination", "demand", "unserved",
                                "penalty"]
    assert un["unserved"].sum() == pytest.approx(100.0)
    assert un["penalty"].tolist() == [20.0]
    links = run.tables["links"].set_index("link_id")
    # the marginal tonne is not carried: each capacity is worth the penalty less its route's
    # cost, a price set by the penalty (not the commodity's value, 100 $/t), and marked so
    assert links.at["cheap", "shadow_price_usd_per_t"] == pytest.approx(20.0 - 5.0)
    assert links.at["dear", "shadow_price_usd_per_t"] == pytest.approx(20.0 - 15.0)
    assert links.loc[["cheap", "dear"], "shadow_price_capped"].tolist() == [True, True]
    assert run.summary["lp_unserved_t"] == pytest.approx(100.0)


def test_a_route_dearer_than_the_goods_value_is_carried(tmp_path):
    # one route, 3,000 km at 50 km/h and 0.03 $/tkm: 60 h + 90 $/t = 150 $/t at 1 $/t/h, above
    # the commodity's value (100 $/t), which was the LP's penalty: the LP left the pair out
    # although nothing limits the route. Unserved is demand the capacities cannot carry.
    links = [rail("long", "A", "B", 3000, capacity_tpy=5000.0, vdf="none")]
    folder = write_corridor(tmp_path / "long", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
                            links=links, zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", 1000.0)])
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    assert run.tables["skims"]["cost_usd_per_t"].iloc[0] == pytest.approx(150.0)
    assert run.tables["unserved"].empty
    assert run.summary["lp_unserved_t"] == 0.0
    links = run.tables["links"].set_index("link_id")
    assert links.at["long", "lp_tonnes_tot"] == pytest.approx(1000.0)
    assert links.at["long", "shadow_price_usd_per_t"] == 0.0
    assert not links.at["long", "shadow_price_capped"]


def test_unserved_of_a_banned_segment_names_its_commodity(tmp_path):
    # AA's freight may not use the dear link (a transit ban): of 1000 t only the cheap link's
    # 600 t can be carried. The LP keeps the segment off the banned link (it costs 1e6 $/t in
    # the equilibrium, finite; the LP closes it) and leaves 400 t, listed under the commodity,
    # not the segment's internal id c|ban0. Penalty 2 x 5 = 10: the cheap capacity is worth
    # 10 - 5 = 5, set by the penalty.
    data = _capacity_toy(tmp_path, 600.0, 300.0, 1000.0)
    s = scenario(tmp_path, 'year = 2024\n[[modification]]\naction = "ban_transit"\n'
                           'links = ["dear"]\nod_countries = ["AA"]\n')
    run = run_scenario(data, s, choice="deterministic")
    un = run.tables["unserved"]
    assert un[["commodity", "origin", "destination"]].values.tolist() == [["c", "ZA", "ZB"]]
    assert un["unserved"].tolist() == pytest.approx([400.0])
    links = run.tables["links"].set_index("link_id")
    assert links.at["dear", "lp_tonnes_tot"] == 0.0
    assert links.at["cheap", "shadow_price_usd_per_t"] == pytest.approx(10.0 - 5.0)
    assert links.at["cheap", "shadow_price_capped"]
    assert not (run.tables["lp_routes"]["commodity"].str.contains("|", regex=False)).any()


def test_transit_accounting(tmp_path):
    # AA -> BB -> CC: BB is crossed in transit; its revenue is the tariff on its link
    links = [rail("a", "A", "M", 100, country="AA"), rail("b", "M", "N", 200, country="BB"),
             rail("c", "N", "C", 50, country="CC")]
    folder = write_corridor(
        tmp_path / "t", nodes=[("A", 0, 0, "AA"), ("M", 1, 0, "BB"), ("N", 2, 0, "BB"),
                               ("C", 3, 0, "CC")],
        links=links, zones=[("ZA", "A", "AA"), ("ZC", "C", "CC"), ("ZM", "M", "BB")],
        commodities=[("c", 1.0, 100.0)],
        demand=[("ZA", "ZC", "c", 10.0), ("ZA", "ZM", "c", 4.0)])
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    c = run.tables["countries"].set_index("country")
    assert c.at["BB", "transit_tonnes"] == pytest.approx(10.0)
    assert c.at["BB", "transit_tonne_km"] == pytest.approx(10.0 * 200)
    assert c.at["BB", "transit_revenue_usd"] == pytest.approx(10.0 * 200 * 0.03)
    assert c.at["AA", "transit_tonnes"] == 0
    assert c.at["AA", "tonnes"] == pytest.approx(14.0)
    # the link in AA is in AA; M is in BB, so ZA->ZM is not transit anywhere
    assert c.at["BB", "tonnes"] == pytest.approx(10.0)  # ZA->ZM ends at M without a BB link


def test_a_country_crossed_only_by_sea_is_marked_and_left_out_of_the_summary(tmp_path):
    # AA -> rail 100 km -> port Q -> sea 200 km through EE's waters (a canal) -> B in BB. EE is
    # crossed in transit, but on a sea leg: its "revenue" is the ocean freight (0.01 $/tkm x 200
    # km x 10 t), not the country's, and the summary's transit tables, whose titles say sea legs
    # are left out, do not list it
    from karvan.scenario.summary import summary_tables

    links = [rail("a", "A", "Q", 100),
             {"link_id": "canal", "from_node_id": "Q", "to_node_id": "B", "mode": "sea",
              "length_km": 200, "speed_kph": 20, "tariff_usd_per_tkm": 0.01, "country": "EE"}]
    folder = write_corridor(
        tmp_path / "sea", nodes=[("A", 0, 0, "AA"), ("Q", 1, 0, "AA"), ("B", 2, 0, "BB")],
        links=links, zones=[("ZA", "A", "AA"), ("ZB", "B", "BB")],
        commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", 10.0)])
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    c = run.tables["countries"].set_index("country")
    assert c.at["EE", "transit_revenue_usd"] == pytest.approx(10.0 * 200 * 0.01)
    assert c["sea_legs_only"].to_dict() == {"AA": False, "EE": True}
    transit = [t for t in summary_tables([run]) if t.title.startswith("Transit")]
    assert len(transit) == 2
    for t in transit:
        assert "sea legs left out" in t.title
        assert "EE" not in set(t.data["country"]), t.title


def test_ue_splits_symmetric_capacitated_routes(tmp_path):
    links = [rail("p", "A", "B", 100, capacity_tpy=100.0), rail("q", "A", "B", 100,
                                                                capacity_tpy=100.0)]
    folder = write_corridor(tmp_path / "u", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
                            links=links, zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", 150.0)])
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    lk = run.tables["links"].set_index("link_id")
    assert lk.at["p", "tonnes_tot"] == pytest.approx(75.0, rel=1e-4)
    assert lk.at["p", "utilization"] == pytest.approx(0.75, rel=1e-4)


def test_growth_by_year(tmp_path):
    links = [rail("p", "A", "B", 100)]
    folder = write_corridor(tmp_path / "g", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "BB")],
                            links=links, zones=[("ZA", "A", "AA"), ("ZB", "B", "BB")],
                            commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", 100.0)],
                            growth=[("*", "*", "*", 0.10), ("AA", "BB", "c", 0.05)])
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2026\n"),
                       choice="deterministic")
    assert run.tables["links"]["tonnes_tot"].iloc[0] == pytest.approx(100 * 1.05**2)


def test_dataset_errors_are_collected(tmp_path):
    folder = write_corridor(
        tmp_path / "bad", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
        links=[rail("p", "A", "B", 100, source="NOPE"), rail("q", "A", "Z", -5)],
        zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")], commodities=[("c", 1.0, 100.0)],
        demand=[("ZA", "ZX", "c", 1.0)])
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "to_node_id is not a node_id of node.csv" in msg and "link_id q" in msg
    assert "length_km is below the minimum 0" in msg and msg.count("length_km") == 2
    # problems of different tables come together too
    folder = write_corridor(
        tmp_path / "bad2", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
        links=[rail("p", "A", "B", 100, source="NOPE")],
        zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")], commodities=[("c", 1.0, 100.0)],
        demand=[("ZA", "ZX", "c", 1.0)])
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "NOPE" in msg and "sources.csv" in msg
    assert "destination_zone_id is not a zone_id of zone.csv" in msg and "ZX" in msg


def test_missing_provenance_is_an_error(tmp_path):
    folder = write_corridor(tmp_path / "p", nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")],
                            links=[rail("p", "A", "B", 100, confidence="assumption", method="")],
                            zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("c", 1.0, 100.0)], demand=[("ZA", "ZB", "c", 1.0)])
    with pytest.raises(InputError, match="method is blank on an assumption on 1 row .*link_id p"):
        load_corridor(folder)


def test_network_uses_only_open_links(tmp_path):
    data = _capacity_toy(tmp_path, 600.0, np.nan, 10.0)
    links = data.links.copy()
    links.loc["dear", "status"] = "planned"
    net = build_network(data, links)
    assert list(net.links.index) == ["cheap"]
    assert net.links.loc["cheap", "capacity"] == 600.0


def _own_speed(tmp_path, speeds):
    # rail r 600 km @ 20 km/h (30 h), 0.03 $/tkm (18 $/t); road d 600 km @ 40 km/h (15 h),
    # 0.05 $/tkm (30 $/t); value of time 2 $/t/h for both commodities: rail 78, road 60 $/t.
    # With box at 60 km/h on AA's rail lines: 10 h, 18 + 20 = 38 $/t, below the road's 60.
    links = [rail("r", "A", "B", 600, kph=20.0),
             {"link_id": "d", "from_node_id": "A", "to_node_id": "B", "mode": "road",
              "element": "road", "length_km": 600, "speed_kph": 40, "tariff_usd_per_tkm": 0.05,
              "country": "AA"}]
    extra = {}
    if speeds:
        extra["speed_commodity"] = pd.DataFrame(
            [{"mode": m, "country": c, "commodity_id": k, "speed_kph": v,
              "source": "TEST", "source_date": "2024", "confidence": "assumption",
              "method": "hand-built test case"} for m, c, k, v in speeds])
    folder = write_corridor(tmp_path / f"s{len(speeds)}",
                            nodes=[("A", 0, 0, "AA"), ("B", 1, 0, "AA")], links=links,
                            zones=[("ZA", "A", "AA"), ("ZB", "B", "AA")],
                            commodities=[("box", 2.0, 1000.0), ("bulk", 2.0, 200.0)],
                            demand=[("ZA", "ZB", "box", 10.0), ("ZA", "ZB", "bulk", 20.0)],
                            extra=extra)
    return load_corridor(folder)


def test_a_commodity_with_its_own_speed_takes_the_faster_rail(tmp_path):
    s = scenario(tmp_path, "year = 2024\n")
    # bulk's own speed is below the link's: it keeps the link's 20 km/h (and is warned about)
    with pytest.warns(CorridorWarning, match="changes nothing"):
        data = _own_speed(tmp_path, [("rail", "AA", "box", 60.0), ("rail", "AA", "bulk", 10.0)])
    net = build_network(data, data.links)
    assert net.links.at["r", "extra_time_h__box"] == pytest.approx(10.0 - 30.0)
    assert net.links.at["d", "extra_time_h__box"] == 0.0  # a road link: the row is rail's
    assert (net.links["extra_time_h__bulk"] == 0.0).all()
    assert net.links.at["r", "free_flow_time"] == pytest.approx(30.0)  # the link's own time
    run = run_scenario(data, s, choice="deterministic")
    sk = run.tables["skims"].set_index("commodity")
    assert sk.at["box", "time_h"] == pytest.approx(10.0)
    assert sk.at["box", "charge_usd_per_t"] == pytest.approx(18.0)
    assert sk.at["box", "cost_usd_per_t"] == pytest.approx(38.0)
    assert sk.at["bulk", "time_h"] == pytest.approx(15.0)
    assert sk.at["bulk", "cost_usd_per_t"] == pytest.approx(60.0)
    links = run.tables["links"].set_index("link_id")
    assert links.at["r", "tonnes_box"] == pytest.approx(10.0)
    assert links.at["r", "tonnes_bulk"] == pytest.approx(0.0, abs=1e-9)
    assert links.at["d", "tonnes_bulk"] == pytest.approx(20.0)
    routes = run.tables["routes"].set_index("commodity")
    assert routes.at["box", "time_h"] == pytest.approx(10.0)
    # without the table both take the road
    base = run_scenario(_own_speed(tmp_path, []), s, choice="deterministic")
    lk = base.tables["links"].set_index("link_id")
    assert lk.at["d", "tonnes_tot"] == pytest.approx(30.0)


@pytest.mark.parametrize(("change", "box_h", "box_cost", "bulk_h"), [
    # the line at 100 km/h: faster than box's own 60, for both; both take the rail
    ('action = "set"\nlinks = ["r"]\nfield = "speed_kph"\nvalue = 100\n', 6.0, 18 + 12, 6.0),
    # the line at half speed (10 km/h): box's own 60 km/h halved too, 600 / 30 = 20 h at
    # 18 + 40 = 58 $/t, still below the road's 60; bulk keeps the road (15 h)
    ('action = "scale"\nlinks = ["r"]\nfield = "speed_kph"\nfactor = 0.5\n', 20.0, 58.0, 15.0),
])
def test_a_scenario_that_changes_a_line_speed_changes_a_commodity_speed(tmp_path, change, box_h,
                                                                        box_cost, bulk_h):
    data = _own_speed(tmp_path, [("rail", "AA", "box", 60.0)])
    s = scenario(tmp_path, "year = 2024\n[[modification]]\n" + change)
    sk = run_scenario(data, s, choice="deterministic").tables["skims"].set_index("commodity")
    assert sk.at["box", "time_h"] == pytest.approx(box_h)
    assert sk.at["box", "cost_usd_per_t"] == pytest.approx(box_cost)
    assert sk.at["bulk", "time_h"] == pytest.approx(bulk_h)


def test_a_commodity_speed_that_changes_nothing_is_warned_about(tmp_path):
    # the rail line runs at 20 km/h: box at 15 (a slip for 150?) and a country without rail
    with pytest.warns(CorridorWarning) as rec:
        data = _own_speed(tmp_path, [("rail", "AA", "box", 15.0), ("rail", "ZZ", "bulk", 60.0)])
    text = "\n".join(str(w.message) for w in rec)
    assert "speed_commodity.csv" in text
    assert "line 2" in text and "speed_kph changes nothing: it is not above the speed of any " \
        "rail link of AA (20–20 km/h)" in text
    assert "line 3" in text and "speed_kph changes nothing: no rail link of ZZ has a speed" in text
    # and it changes nothing indeed
    net = build_network(data, data.links)
    assert (net.links["extra_time_h__box"] == 0).all()


def test_a_commodity_speed_has_the_bounds_of_a_link_speed(tmp_path):
    # a scenario may set a line to 300 km/h (warned above 150): so may a commodity's own speed
    with pytest.warns(CorridorWarning, match="speed_commodity.csv.*150"):
        data = _own_speed(tmp_path, [("rail", "AA", "box", 300.0)])
    net = build_network(data, data.links)
    assert net.links.at["r", "extra_time_h__box"] == pytest.approx(600 / 300 - 30.0)


def test_overseas_cargo_through_a_port_is_transit_where_it_crosses_the_country_by_land(tmp_path):
    # ZA (AA) -- rail a 100 km (AA) --> M (BB) -- rail b 200 km (BB) --> P, a port of BB with
    # zone ZP; or ZA -- sea s 300 km (XX) --> Q, the quay -- port transfer t (BB, 5 $/t) --> P.
    # By land: 6 h, 3 + 6 = 9 $/t; by sea: 15 h, 3 + 5 = 8 $/t. Goods of a high value of time
    # go by land, of a low one by sea. Of ZA -> ZP, 60 % goes on overseas from P; of ZP -> ZA,
    # 50 % came from overseas through P
    import pandas as pd

    from tests.toy_corridor import PROV

    links = [rail("a", "A", "M", 100), rail("b", "M", "P", 200, country="BB"),
             {"link_id": "s", "from_node_id": "A", "to_node_id": "Q", "mode": "sea",
              "length_km": 300, "speed_kph": 20, "tariff_usd_per_tkm": 0.01, "country": "XX"},
             {"link_id": "t", "from_node_id": "Q", "to_node_id": "P", "mode": "transfer",
              "length_km": 0, "speed_kph": 1, "fee_usd_per_t": 5.0, "country": "BB"}]
    demand = pd.DataFrame([
        {"origin_zone_id": o, "destination_zone_id": d, "commodity_id": c, "tonnes_per_year": t,
         "overseas_origin_share": so, "overseas_destination_share": sd, **PROV}
        for o, d, c, t, so, sd in [("ZA", "ZP", "fast", 10.0, 0, 0.6),
                                   ("ZA", "ZP", "slow", 10.0, 0, 0.6),
                                   ("ZP", "ZA", "fast", 4.0, 0.5, "")]])
    folder = write_corridor(
        tmp_path / "gw", nodes=[("A", 0, 0, "AA"), ("M", 1, 0, "BB"), ("P", 2, 0, "BB"),
                                ("Q", 2, 1, "BB")],
        links=links, zones=[("ZA", "A", "AA"), ("ZP", "P", "BB")],
        commodities=[("fast", 1.0, 100.0), ("slow", 0.01, 100.0)], demand=[],
        extra={"demand": demand})
    nodes = pd.read_csv(folder / "node.csv")
    nodes.loc[nodes["node_id"] == "Q", "node_type"] = "port"  # the quay: P is a port's zone
    nodes.to_csv(folder / "node.csv", index=False)
    run = run_scenario(load_corridor(folder), scenario(tmp_path, "year = 2024\n"),
                       choice="deterministic")
    r = run.tables["routes"]
    assert set(r[r["commodity"] == "slow"]["links"]) == {"s > t"}  # by sea: not transit
    c = run.tables["countries"].set_index("country")
    assert c.at["BB", "tonnes"] == pytest.approx(24.0)
    assert c.at["BB", "transit_tonnes"] == pytest.approx(10.0 * 0.6 + 4.0 * 0.5)
    assert c.at["BB", "transit_tonne_km"] == pytest.approx(8.0 * 200)
    assert c.at["BB", "transit_revenue_usd"] == pytest.approx(8.0 * 200 * 0.03)
    assert c.at["BB", "revenue_usd"] == pytest.approx(14.0 * 6.0 + 10.0 * 5.0)
    assert c.at["AA", "transit_tonnes"] == 0  # its own trade, whoever the partner
    assert c.at["XX", "transit_tonnes"] == pytest.approx(10.0)
    # the run's demand keeps the shares (a blank is 0)
    d = run.tables["demand"]
    assert d["overseas_origin_share"].tolist() == [0.0, 0.0, 0.5]
    assert d["overseas_destination_share"].tolist() == [0.6, 0.6, 0.0]
