"""The shipper comparison reads route_option.csv's optional name: without it, an option is
shown by its id."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario


def test_an_option_without_a_name_is_shown_by_its_id():
    data = load_corridor()
    opts = data.tables["route_option"]
    assert "name" in opts
    tables = dict(data.tables, route_option=opts.drop(columns=["name"]))
    r = run_scenario(replace(data, tables=tables), load_scenario("baseline"), lp=False,
                     backcasts=False, choice="deterministic")
    sh = r.tables["shipper"]
    assert len(sh)
    assert (sh["option"] == sh["option_id"]).all()


def _graph(edges):
    """An undirected toy network: (link_id, a, b, cost)."""
    import numpy as np
    import pandas as pd

    from karvan.network.graph import compile_graph
    from karvan.network.model import Network

    ids = sorted({n for _, a, b, _ in edges for n in (a, b)})
    nodes = pd.DataFrame({"zone_id": [None] * len(ids)}, index=pd.Index(ids, name="node_id"))
    links = pd.DataFrame({"from_node_id": [a for _, a, _, _ in edges],
                          "to_node_id": [b for _, _, b, _ in edges], "directed": False,
                          "free_flow_time": [c for *_, c in edges], "vdf": "constant"},
                         index=pd.Index([e[0] for e in edges], name="link_id"))
    g = compile_graph(Network(nodes, links))
    node = {n: i for i, n in enumerate(g.node_ids)}
    return g, node, lambda lid: np.flatnonzero(g.link_ids[g.arc_link] == lid)


def test_the_best_route_via_a_link_does_not_cross_it_and_come_back():
    """Crossing the via link and coming straight back made a detour look like a route along
    it (the eastern INSTC option of Moscow-Mumbai: 4 links twice, $61/t too cheap)."""
    from karvan.freight.accounting import best_via

    g, node, arcs = _graph([("o2", "o", "x", 1.0), ("via", "x", "y", 1.0), ("x5", "x", "d", 1.0),
                            ("y5", "y", "d", 10.0)])
    cost, path = best_via(g, g.free_flow_time, node["o"], node["d"], arcs("via"))
    used = list(g.link_ids[g.arc_link[path]])
    assert used == ["o2", "via", "y5"] and cost == 12.0  # not o2, via, via, x5 at 4


def test_a_route_through_two_sets_of_links_takes_them_in_either_order():
    from karvan.freight.accounting import best_via

    g, node, arcs = _graph([("ab", "a", "b", 1.0), ("bc", "b", "c", 2.0), ("cd", "c", "d", 3.0),
                            ("ad", "a", "d", 1.0)])
    # from a to d through cd and ab: ab first (the order given is cd, then ab)
    cost, path = best_via(g, g.free_flow_time, node["a"], node["d"], arcs("cd"), arcs("ab"))
    assert list(g.link_ids[g.arc_link[path]]) == ["ab", "bc", "cd"] and cost == 6.0
    # without the second set the direct link wins among routes through cd: a-d-c-d is barred
    cost, path = best_via(g, g.free_flow_time, node["a"], node["d"], arcs("cd"))
    assert list(g.link_ids[g.arc_link[path]]) == ["ab", "bc", "cd"] and cost == 6.0


def test_every_shipped_option_route_is_a_route_of_its_family():
    data = load_corridor()
    r = run_scenario(data, load_scenario("baseline"), lp=False, backcasts=False,
                     choice="deterministic")
    sh = r.tables["shipper"]
    for row in sh[sh["available"]].itertuples():
        links = row.links.split(" > ")
        assert len(links) == len(set(links)), (row.option_id, row.origin)
        if row.option_id == "instc_east":
            assert "B_KZ_TM_BOLASHAK_RAIL" in links
            assert {"B_TM_IR_ETREK_RAIL", "B_TM_IR_SARAKHS_RAIL"} & set(links)


def test_an_od_under_a_transit_ban_is_priced_without_the_banned_links(tmp_path):
    """An Armenian shipper's INSTC West option ran over Azerbaijani links banned to Armenian
    cargo, which none of the model's own routes for the pair use."""
    import shutil

    import pandas as pd

    from karvan.freight.corridor import builtin_corridor_folder
    from karvan.scenario.apply import apply_scenario

    folder = tmp_path / "c"
    shutil.copytree(builtin_corridor_folder(), folder)
    ods = pd.read_csv(folder / "shipper_od.csv", dtype=str, keep_default_na=False)
    row = ods.iloc[0].copy()
    row["origin_zone_id"], row["destination_zone_id"] = "Z_AM_YEREVAN", "Z_RU_MOSCOW"
    row["commodity_id"] = "containers"
    pd.concat([ods, row.to_frame().T]).to_csv(folder / "shipper_od.csv", index=False,
                                              lineterminator="\n")
    data = load_corridor(folder)
    spec = load_scenario("baseline")
    bans = apply_scenario(data, spec).bans
    banned = set().union(*(links for links, countries, _ in bans if "AM" in countries))
    assert banned
    r = run_scenario(data, spec, lp=False, backcasts=False, choice="deterministic")
    sh = r.tables["shipper"]
    am = sh[(sh["origin"] == "Z_AM_YEREVAN") & sh["available"].astype(bool)]
    assert len(am)
    for links in am["links"]:
        assert not set(links.split(" > ")) & banned, links


def test_via_links_in_a_chain_or_in_both_sets_are_crossed_once():
    """A chain of via links (o-L1-m-L2-d) is a route through them (barring every via link from
    the legs found none); a link in both sets meets both by one crossing."""
    from karvan.freight.accounting import best_via

    g, node, arcs = _graph([("L1", "o", "m", 1.0), ("L2", "m", "d", 1.0), ("od", "o", "d", 5.0)])
    both = np.concatenate([arcs("L1"), arcs("L2")])
    cost, path = best_via(g, g.free_flow_time, node["o"], node["d"], both)
    assert list(g.link_ids[g.arc_link[path]]) == ["L1", "L2"] and cost == 2.0
    g, node, arcs = _graph([("ox", "o", "x", 1.0), ("L", "x", "y", 1.0), ("xd", "x", "d", 1.0),
                            ("yd", "y", "d", 10.0)])
    cost, path = best_via(g, g.free_flow_time, node["o"], node["d"], arcs("L"), arcs("L"))
    assert list(g.link_ids[g.arc_link[path]]) == ["ox", "L", "yd"] and cost == 12.0
