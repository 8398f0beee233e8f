"""unreachable_od_pairs (scipy breadth-first search, for karvan validate) against the assignment's
own check (shortest-path trees of the kernels) on random networks with centroids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, TrafficClass, compile_graph
from karvan.assign.problem import _Problem
from karvan.network.graph import unreachable_od_pairs
from karvan.network.model import complete_links


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n, m, z = 30, 45, 8
    nodes = pd.DataFrame({"node_id": np.arange(1, n + 1),
                          "zone_id": [i + 1 if i < z else None for i in range(n)]})
    # centroids (the zones' nodes) let no path through, as in a network read from GMNS
    nodes["passable"] = [i >= z for i in range(n)]
    tail = rng.integers(1, n + 1, m)
    head = rng.integers(1, n + 1, m)
    keep = tail != head
    links = pd.DataFrame({"link_id": np.arange(keep.sum()), "from_node_id": tail[keep],
                          "to_node_id": head[keep], "free_flow_time": rng.uniform(1, 5,
                                                                                  keep.sum()),
                          "capacity": 100.0, "directed": rng.random(keep.sum()) < 0.7})
    net = Network(nodes.set_index("node_id"), links.set_index("link_id"), {}, "random")
    mats = {s: (rng.random((z, z)) < 0.3) * rng.uniform(1, 9, (z, z)) for s in ("a", "b")}
    for mat in mats.values():
        np.fill_diagonal(mat, 0.0)
    return net, Demand(tuple(range(1, z + 1)), mats)


@pytest.mark.parametrize("seed", range(12))
def test_the_same_pairs_as_the_assignments_own_check(seed):
    net, demand = random_case(seed)
    g = compile_graph(net)
    classes = [TrafficClass(s, s) for s in demand.names]
    want = _Problem(g, demand, classes, complete_links(net.links)).unreachable_pairs()
    got = unreachable_od_pairs(g, demand)
    assert sorted(got) == sorted(want)
    if seed == 0:
        assert want  # the cases hold unreachable pairs, not only reachable ones
