"""Route sets: the kernels against slow obvious code (tests/naive.py), waypoints, storage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, compile_graph
from karvan.choice import RouteOptions, Waypoints, generate_route_sets
from karvan.errors import InputError, NoPathError
from tests import naive


def random_network(seed: int, n: int = 14, n_arcs: int = 40, n_zones: int = 4,
                   block: bool = True) -> tuple[Network, Demand]:
    rng = np.random.default_rng(seed)
    # zones 0..n_zones-1 hang on nodes n_zones.. by connectors; a ring through the other nodes
    # keeps every pair connected
    tails = rng.integers(n_zones, n, n_arcs)
    heads = rng.integers(n_zones, n, n_arcs)
    keep = tails != heads
    tails, heads = tails[keep], heads[keep]
    ring = np.arange(n_zones, n)
    nxt = np.r_[ring[1:], ring[:1]]
    z = np.arange(n_zones)
    tails = np.r_[tails, ring, nxt, z, z + n_zones]
    heads = np.r_[heads, nxt, ring, z + n_zones, z]
    cost = rng.uniform(0.5, 10.0, len(tails))
    nodes = pd.DataFrame({"zone_id": [i + 1 if i < n_zones else None for i in range(n)],
                          "passable": [not (block and i < n_zones) for i in range(n)]},
                         index=pd.Index(np.arange(n) + 100, name="node_id"))
    links = pd.DataFrame({"from_node_id": tails + 100, "to_node_id": heads + 100,
                          "free_flow_time": cost, "vdf": "constant"},
                         index=pd.Index(np.arange(len(tails)), name="link_id"))
    m = rng.uniform(1, 10, (n_zones, n_zones)) * (rng.uniform(size=(n_zones, n_zones)) < 0.8)
    np.fill_diagonal(m, 0)
    return Network(nodes, links), Demand(tuple(range(1, n_zones + 1)), {"demand": m})


@pytest.mark.parametrize("block", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_link_penalty_routes_equal_the_obvious_implementation(seed, block):
    # the zones hang on one connector pair each: dead ends the searches skip (block False:
    # a zone node could be passed through, but only there and back)
    net, dem = random_network(seed, block=block)
    opts = RouteOptions(max_routes=4, penalty=1.3, max_depth=9, max_misses=3)
    rs = generate_route_sets(net, dem, options=opts)
    g = compile_graph(net)
    tails, heads, cost = g.tail.tolist(), g.head.tolist(), g.free_flow_time.tolist()
    for w in range(rs.n_od):
        o = int(g.zone_nodes[rs.od_origin[w]])
        d = int(g.zone_nodes[rs.od_destination[w]])
        want = naive.penalty_routes(g.n_nodes, tails, heads, cost, g.blocked, o, d, 4, 9, 3, 1.3)
        got = [rs.arcs(r).tolist() for r in range(rs.od_ptr[w], rs.od_ptr[w + 1])]
        assert got == want


@pytest.mark.parametrize("seed", range(6))
def test_elimination_routes_are_distinct_loop_free_routes_of_the_pair(seed):
    net, dem = random_network(seed)
    rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=6, method="elimination",
                                                            max_depth=3))
    g = compile_graph(net)
    for w in range(rs.n_od):
        o = int(g.zone_nodes[rs.od_origin[w]])
        d = int(g.zone_nodes[rs.od_destination[w]])
        all_paths = naive.simple_paths(g.n_nodes, g.tail, g.head, g.blocked, o, d)
        got = [rs.arcs(r).tolist() for r in range(rs.od_ptr[w], rs.od_ptr[w + 1])]
        assert 1 <= len(got) <= 6
        assert len({tuple(r) for r in got}) == len(got)
        for r in got:
            assert r in all_paths
        # the first route is a least-cost one
        best = min(naive.path_cost(p, g.free_flow_time) for p in all_paths)
        assert naive.path_cost(got[0], g.free_flow_time) == pytest.approx(best, rel=1e-12)
        # a set that is not full holds, for every arc of the least-cost route, the least-cost
        # route without that arc
        if len(got) < 6:
            for a in got[0]:
                cost = g.free_flow_time.copy()
                cost[a] = np.inf
                dist, pred = naive.dijkstra(g.n_nodes, g.tail, g.head, cost, g.blocked, o)
                if dist[d] < np.inf:
                    assert naive.path_to(pred, g.tail, o, d) in got


def test_elimination_finds_every_one_arc_detour():
    # O -a-> M -b-> D, plus detours around a (O -c-> M) and around b (M -e-> D)
    nodes = pd.DataFrame({"zone_id": ["O", None, "D"]}, index=pd.Index(["O", "M", "D"],
                                                                       name="node_id"))
    links = pd.DataFrame({"from_node_id": ["O", "M", "O", "M"], "to_node_id": ["M", "D", "M", "D"],
                          "free_flow_time": [1.0, 1.0, 2.0, 3.0], "vdf": "constant"},
                         index=pd.Index(list("abce"), name="link_id"))
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 1.0], [0.0, 0.0]])})
    rs = generate_route_sets(Network(nodes, links), dem,
                             options=RouteOptions(max_routes=4, method="elimination",
                                                  max_depth=3))
    assert [tuple(x) for x in rs.table()["links"]] == [("a", "b"), ("c", "b"), ("a", "e"),
                                                       ("c", "e")]


def test_route_storage_is_consistent():
    net, dem = random_network(3)
    rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=5))
    g = compile_graph(net)
    assert rs.od_ptr[0] == 0 and rs.od_ptr[-1] == rs.n_routes
    assert rs.route_ptr[-1] == len(rs.route_arcs)
    assert (np.diff(rs.od_ptr) >= 1).all()
    for r in range(rs.n_routes):
        a = rs.arcs(r)
        w = rs.route_od[r]
        assert g.tail[a[0]] == g.zone_nodes[rs.od_origin[w]]
        assert g.head[a[-1]] == g.zone_nodes[rs.od_destination[w]]
        assert (g.head[a[:-1]] == g.tail[a[1:]]).all()
    m = dem.matrices["demand"]
    assert sorted(rs.od_demand) == sorted(m[m > 0])


def _corridor_like():
    # west: A - W - B; east: A - E - B; sea: A - P - S - B (P, S ports)
    nodes = pd.DataFrame({"zone_id": ["A", None, None, None, None, "B"]},
                         index=pd.Index(["A", "W", "E", "P", "S", "B"], name="node_id"))
    links = pd.DataFrame({
        "from_node_id": ["A", "W", "A", "E", "A", "P", "S"],
        "to_node_id": ["W", "B", "E", "B", "P", "S", "B"],
        "free_flow_time": [1.0, 1.0, 1.5, 1.5, 2.0, 5.0, 2.0],
        "directed": False, "vdf": "constant"},
        index=pd.Index(["aw", "wb", "ae", "eb", "ap", "ps", "sb"], name="link_id"))
    dem = Demand(("A", "B"), {"demand": np.array([[0.0, 5.0], [3.0, 0.0]])})
    return Network(nodes, links), dem


def test_waypoints_add_a_labelled_member_of_each_family():
    net, dem = _corridor_like()
    opts = RouteOptions(max_routes=1, waypoints=(
        Waypoints("sea", ("P",)), Waypoints("east", ("ae",), kind="link", ods=(("A", "B"),))))
    rs = generate_route_sets(net, dem, options=opts)
    tab = rs.table()
    ab = tab[(tab["origin"] == "A") & (tab["destination"] == "B")]
    assert [tuple(x) for x in ab["links"]] == [("aw", "wb"), ("ap", "ps", "sb"), ("ae", "eb")]
    assert list(ab["label"]) == ["", "sea", "east"]
    ba = tab[(tab["origin"] == "B") & (tab["destination"] == "A")]
    # the link waypoint applies to A -> B only; the node waypoint to both directions
    assert [tuple(x) for x in ba["links"]] == [("wb", "aw"), ("sb", "ps", "ap")]


def test_waypoint_equal_to_a_found_route_labels_it_once():
    net, dem = _corridor_like()
    rs = generate_route_sets(net, dem, options=RouteOptions(
        max_routes=2, waypoints=(Waypoints("west", ("W",)),)))
    tab = rs.table()
    ab = tab[(tab["origin"] == "A") & (tab["destination"] == "B")]
    assert [tuple(x) for x in ab["links"]] == [("aw", "wb"), ("ae", "eb")]
    assert list(ab["label"]) == ["west", ""]


def test_waypoints_avoid_links_where_they_can():
    # _corridor_like plus a short cut E - W: through E the cheapest continuation is E - W - B
    nodes = pd.DataFrame({"zone_id": ["A", None, None, None, None, "B"]},
                         index=pd.Index(["A", "W", "E", "P", "S", "B"], name="node_id"))
    links = pd.DataFrame({
        "from_node_id": ["A", "W", "A", "E", "A", "P", "S", "E"],
        "to_node_id": ["W", "B", "E", "B", "P", "S", "B", "W"],
        "free_flow_time": [1.0, 1.0, 1.5, 2.0, 2.0, 5.0, 2.0, 0.6],
        "directed": False, "vdf": "constant"},
        index=pd.Index(["aw", "wb", "ae", "eb", "ap", "ps", "sb", "ew"], name="link_id"))
    dem = Demand(("A", "B"), {"demand": np.array([[0.0, 5.0], [0.0, 0.0]])})
    net = Network(nodes, links)

    def forced(wp):
        tab = generate_route_sets(net, dem, options=RouteOptions(max_routes=1,
                                                                 waypoints=(wp,))).table()
        return [tuple(x) for x in tab[tab["label"] == wp.name]["links"]]

    assert forced(Waypoints("e", ("E",))) == [("ae", "ew", "wb")]
    # around the avoided link where another way exists (E - B, 2.0 against 0.6 + 1.0) ...
    assert forced(Waypoints("e", ("E",), avoid=("wb",))) == [("ae", "eb")]
    assert forced(Waypoints("w", ("W",), avoid=("aw",))) == [("ae", "ew", "wb")]
    # ... and through it where none does
    assert forced(Waypoints("x", ("aw",), kind="link", avoid=("aw",))) == [("aw", "wb")]
    with pytest.raises(InputError, match="unknown link ids to avoid"):
        forced(Waypoints("e", ("E",), avoid=("zz",)))


def _same_route_sets(a, b) -> None:
    from karvan.choice.routes import RouteSet

    for f in RouteSet.__dataclass_fields__:
        if f != "graph":
            x, y = getattr(a, f), getattr(b, f)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y), f
            else:
                assert x == y, f


@pytest.mark.parametrize("seed", range(8))
def test_least_cost_route_set_equals_the_one_route_search(seed):
    """The one route per pair of a ``max_routes=1`` search is the first route of a longer
    search's: with waypoints (several of one via list and of one list to avoid, some equal to
    the least-cost route, which drops them) the route set is the search's, for two classes."""
    from karvan import TrafficClass
    from karvan.choice._setup import setup
    from karvan.choice.routes import build_route_set, least_cost_route_set

    net, dem = random_network(seed, n=16, n_arcs=50)
    rng = np.random.default_rng(seed)
    net = Network(net.nodes, net.links.assign(toll=rng.uniform(0.0, 8.0, len(net.links))))
    classes = [TrafficClass("a"), TrafficClass("b", value_of_time=2.0, cost_fields={"toll": 1.0})]
    ca = setup(net, dem, classes)
    searched = build_route_set(ca, RouteOptions(max_routes=4, penalty=1.3))
    inner = [x for x in net.links.index if net.links.at[x, "from_node_id"] >= 104
             and net.links.at[x, "to_node_id"] >= 104]
    vias = [tuple(int(x) for x in rng.choice(inner, k, replace=False)) for k in (1, 1, 2)]
    avoids = [(), tuple(int(x) for x in rng.choice(inner, 2, replace=False))]
    wps = tuple(Waypoints(f"w{i}", vias[i % 3], kind="link", avoid=avoids[i % 2],
                          classes=None if i % 4 else ("b",)) for i in range(8))
    # through a link of the first pair's least-cost route: that route again (dropped)
    g = ca.graph
    wps += (Waypoints("least", (g.link_ids[g.arc_link[searched.arcs(0)[1]]],), kind="link"),)
    for w in ((), wps[:1], wps):
        want = build_route_set(ca, RouteOptions(max_routes=1, waypoints=w))
        _same_route_sets(least_cost_route_set(ca, searched, w), want)
    assert ((want.route_source == 0) & (want.route_label >= 0)).any()
    with pytest.raises(InputError, match="without waypoints"):
        least_cost_route_set(ca, want, wps)


def test_bad_waypoint_links_are_told_for_each_waypoint():
    """Waypoints share their lookups of links to pass and avoid, not their errors."""
    net, dem = _corridor_like()
    with pytest.raises(InputError) as e:
        generate_route_sets(net, dem, options=RouteOptions(waypoints=(
            Waypoints("x", ("W",), avoid=("zz",)), Waypoints("y", ("E",), avoid=("zz",)),
            Waypoints("p", ("qq",), kind="link"), Waypoints("q", ("qq",), kind="link"))))
    for name in ("'x': unknown link ids to avoid", "'y': unknown link ids to avoid",
                 "'p': unknown link id 'qq'", "'q': unknown link id 'qq'"):
        assert name in str(e.value)


def test_bad_route_options_and_waypoints_are_input_errors():
    net, dem = _corridor_like()
    with pytest.raises(InputError, match="max_routes"):
        generate_route_sets(net, dem, options=RouteOptions(max_routes=0))
    with pytest.raises(InputError, match="penalty"):
        generate_route_sets(net, dem, options=RouteOptions(penalty=0.9))
    with pytest.raises(InputError, match="unknown node ids"):
        generate_route_sets(net, dem, options=RouteOptions(waypoints=(Waypoints("x", ("Q",)),)))
    with pytest.raises(InputError, match="unknown link id"):
        generate_route_sets(net, dem, options=RouteOptions(
            waypoints=(Waypoints("x", ("zz",), kind="link"),)))
    with pytest.raises(InputError, match="not in the demand"):
        generate_route_sets(net, dem, options=RouteOptions(
            waypoints=(Waypoints("x", ("W",), ods=(("A", "Z"),)),)))


def test_no_route_for_an_od_pair_with_demand_is_reported():
    nodes = pd.DataFrame({"zone_id": [1, 2, 3]}, index=pd.Index([1, 2, 3], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1], "to_node_id": [2], "free_flow_time": [1.0],
                          "vdf": "constant"}, index=pd.Index(["a"], name="link_id"))
    m = np.zeros((3, 3))
    m[0, 1] = 1.0
    m[0, 2] = 2.0
    with pytest.raises(NoPathError, match="1->3"):
        generate_route_sets(Network(nodes, links), Demand((1, 2, 3), {"demand": m}))


def test_dead_ends_are_the_nodes_no_route_passes_through():
    from karvan.kernels.routesets import dead_ends

    # 0 <-> 1 (connector pair), 1 <-> 2, 2 -> 3 (a sink), 4 -> 2 (a source with one
    # neighbour: nothing enters it), 2 <-> 5 with two arcs out (parallel arcs to one
    # neighbour), 1 -> 6 -> 2 (a node between two neighbours)
    tails = np.array([0, 1, 1, 2, 2, 4, 2, 5, 5, 1, 6])
    heads = np.array([1, 0, 2, 1, 3, 2, 5, 2, 2, 6, 2])
    order = np.argsort(tails, kind="stable")
    tails, heads = tails[order], heads[order]
    n = 7
    indptr = np.searchsorted(tails, np.arange(n + 1)).astype(np.int64)
    rorder = np.argsort(heads, kind="stable")
    rindptr = np.searchsorted(heads[rorder], np.arange(n + 1)).astype(np.int64)
    got = dead_ends(indptr, heads.astype(np.int64), rindptr, rorder.astype(np.int64),
                    tails.astype(np.int64))
    assert got.tolist() == [True, False, False, True, True, True, False]


def _slow_walk(pred, tails, heads, o, d, via):
    """Tree path o -> each via arc -> d, None where a leg is unreachable or a node repeats."""
    out, at = [], o
    for a in [*via, None]:
        to = tails[a] if a is not None else d
        if to != at and pred[at][to] < 0:
            return None
        out += naive.path_to(pred[at], tails, at, to)
        if a is not None:
            out.append(a)
            at = heads[a]
    nodes = [o, *(heads[e] for e in out)]
    return out if len(set(nodes)) == len(nodes) else None


@pytest.mark.parametrize("seed", range(8))
def test_routes_through_the_trees_equal_the_obvious_walk(seed):
    from karvan.paths.trees import shortest_path_trees, tree_routes_through

    net, _ = random_network(seed, block=False)
    g = compile_graph(net)
    _, pred = shortest_path_trees(g, np.ascontiguousarray(g.free_flow_time),
                                  np.arange(g.n_nodes), threads=1)
    rng = np.random.default_rng(seed)
    n = 300
    o, d = rng.integers(0, g.n_nodes, n), rng.integers(0, g.n_nodes, n)
    via = np.full((n, 2), -1, dtype=np.int64)
    k = rng.integers(0, 3, n)  # no, one or two via arcs
    via[k >= 1, 0] = rng.integers(0, g.n_arcs, (k >= 1).sum())
    via[k == 2, 1] = rng.integers(0, g.n_arcs, (k == 2).sum())
    ok, n_arcs, flat = tree_routes_through(g, pred, o, d, via)
    starts = np.r_[0, np.cumsum(n_arcs)]
    tails, heads, p = g.tail.tolist(), g.head.tolist(), pred.tolist()
    for i in range(n):
        want = _slow_walk(p, tails, heads, int(o[i]), int(d[i]), [int(a) for a in via[i] if a >= 0])
        assert bool(ok[i]) == (want is not None)
        assert flat[starts[i]:starts[i + 1]].tolist() == (want or [])
    assert ok.any() and not ok.all()  # both outcomes were tested


@pytest.mark.parametrize("seed", range(4))
def test_least_cost_through_link_pairs_equals_every_combination_in_order(seed):
    from karvan.paths.trees import shortest_path_trees
    from karvan.scenario.choice_run import _pair_legs, _through, _through_pairs

    net, _ = random_network(seed, block=False)
    g = compile_graph(net)
    cost = np.ascontiguousarray(np.round(g.free_flow_time))  # ties occur: the order decides
    dist, _ = shortest_path_trees(g, cost, np.arange(g.n_nodes), threads=1)
    rng = np.random.default_rng(seed)
    o, d = rng.integers(0, g.n_nodes, 60), rng.integers(0, g.n_nodes, 60)
    sets = [rng.choice(g.n_arcs, rng.integers(1, 3), replace=False) for _ in range(4)]
    pairs = [(sets[0], sets[2]), (sets[1], sets[2]), (sets[1], sets[3])]
    got_cost, got_arcs = _through_pairs(dist, cost, g, dist[o], dist[:, d], *_pair_legs(pairs))
    one_cost, one_arcs = _through(cost, g, dist[o], dist[:, d], np.r_[sets[0], sets[1]])
    for i in range(len(o)):
        best, arcs = np.inf, None
        for x, y in pairs:
            for s1, s2 in ((x, y), (y, x)):
                for a in s1:
                    for b in s2:
                        c = (dist[o[i], g.tail[a]] + cost[a] + dist[g.head[a], g.tail[b]]
                             + cost[b] + dist[g.head[b], d[i]])
                        if c < best:
                            best, arcs = c, [a, b]
        assert got_cost[i] == pytest.approx(best)
        if np.isfinite(best):
            assert got_arcs[i].tolist() == arcs
        best, arcs = np.inf, None
        for a in np.r_[sets[0], sets[1]]:
            c = dist[o[i], g.tail[a]] + cost[a] + dist[g.head[a], d[i]]
            if c < best:
                best, arcs = c, [a]
        assert one_cost[i] == pytest.approx(best)
        if np.isfinite(best):
            assert one_arcs[i].tolist() == arcs


def test_tree_routes_refuse_arcs_and_shapes_outside_the_graph():
    from karvan.paths.trees import shortest_path_trees, tree_routes_through

    net, _ = random_network(0, block=False)
    g = compile_graph(net)
    _, pred = shortest_path_trees(g, np.ascontiguousarray(g.free_flow_time),
                                  np.arange(g.n_nodes), threads=1)
    with pytest.raises(InputError, match="arc positions outside"):
        tree_routes_through(g, pred, [0], [1], [[g.n_arcs, -1]])
    with pytest.raises(InputError, match="one of each per route"):
        tree_routes_through(g, pred, [0], [1], [[0, -1], [1, -1]])
    with pytest.raises(InputError, match="trees of every node"):
        tree_routes_through(g, pred[:2], [0], [1], [[-1]])
    ok, n_arcs, arcs = tree_routes_through(g, pred, [], [], np.zeros((0, 2), dtype=np.int64))
    assert len(ok) == len(n_arcs) == len(arcs) == 0
