"""Link and node tables that gave a plausible wrong answer without a word: a conical link with
the BPR default beta, a blank ``passable`` cell, a link table without times, a demand row
without its segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, InputError, Network, assign
from karvan.network.graph import compile_graph


def _nodes(passable=None):
    nodes = pd.DataFrame({"node_id": [1, 2, 3, 4], "zone_id": [1, 2, None, None],
                          "x_coord": 0.0, "y_coord": 0.0}).set_index("node_id")
    if passable is not None:
        nodes["passable"] = passable
    return nodes


def _od(volume=10.0):
    return Demand.from_long(pd.DataFrame({"origin": [1], "destination": [2],
                                          "volume": [volume]}), zone_ids=(1, 2))


def test_a_blank_passable_cell_is_passable():
    """``false`` written on the centroids and nothing elsewhere blocked every ordinary node:
    the flow took the 50-unit direct link instead of the 3-unit path through 3 and 4."""
    links = pd.DataFrame({
        "link_id": ["a", "b", "c", "long"], "from_node_id": [1, 3, 4, 1],
        "to_node_id": [3, 4, 2, 2], "free_flow_time": [1.0, 1.0, 1.0, 50.0],
        "vdf": "constant"}).set_index("link_id")
    nodes = _nodes(passable=["false", "false", "", None])
    res = assign(Network(nodes, links), _od(), gap=1e-10)
    flows = dict(zip(res.graph.link_ids, res.graph.to_links(res.flow)[0], strict=True))
    assert flows == pytest.approx({"a": 10.0, "b": 10.0, "c": 10.0, "long": 0.0})
    g = compile_graph(Network(nodes, links))
    assert list(g.blocked) == [True, True, False, False]


def test_a_passable_that_is_neither_true_nor_false_is_named():
    links = pd.DataFrame({"link_id": ["a"], "from_node_id": [1], "to_node_id": [2],
                          "free_flow_time": [1.0], "vdf": "constant"}).set_index("link_id")
    with pytest.raises(InputError, match=r"passable that is neither true nor false.*maybe"):
        compile_graph(Network(_nodes(passable=["maybe", "true", "", ""]), links))


def _conical(beta=None):
    links = pd.DataFrame({
        "link_id": ["direct", "via1", "via2"], "from_node_id": [1, 1, 3],
        "to_node_id": [2, 3, 2], "free_flow_time": [10.0, 4.0, 4.0],
        "capacity": [100.0, 100.0, 100.0], "vdf": "conical", "alpha": 4.0})
    if beta is not None:
        links["beta"] = beta
    return Network(_nodes(), links.set_index("link_id"))


def test_a_conical_link_without_beta_keeps_its_free_flow_time():
    """Beta fell back to the BPR default 4: with alpha 4 the time at zero flow was -0.34 x the
    free-flow time, and the solver reported a gap of 0 with all flow on the dearer link."""
    g = compile_graph(_conical())
    want = (2 * 4.0 - 1) / (2 * 4.0 - 2)
    np.testing.assert_allclose(g.beta, want)
    res = assign(_conical(), _od(50.0), gap=1e-10)
    t = res.time
    assert (t >= np.asarray(g.free_flow_time) - 1e-9).all()  # the delay is never negative
    flows = dict(zip(res.graph.link_ids, res.graph.to_links(res.flow)[0], strict=True))
    assert flows["via1"] > 0 and flows["direct"] == pytest.approx(0.0, abs=1e-6)


def test_a_conical_beta_that_breaks_the_free_flow_time_is_refused():
    with pytest.raises(InputError, match=r"conical links have a beta other than"):
        compile_graph(_conical(beta=4.0))


def test_a_link_table_without_times_is_refused():
    """A misnamed time column made every link free: gap 0, 'converged', any flows."""
    links = pd.DataFrame({"link_id": ["a", "b"], "from_node_id": [1, 1], "to_node_id": [2, 2],
                          "travel_time": [1.0, 2.0], "capacity": [10.0, 10.0]}
                         ).set_index("link_id")
    with pytest.raises(InputError, match=r"no time in any row.*travel_time"):
        assign(Network(_nodes(), links), _od())


def test_a_demand_row_without_its_segment_is_refused():
    """The row went to a matrix named 'nan' that no class carried: 10 t became 7."""
    t = pd.DataFrame({"origin": [1, 2, 1], "destination": [2, 1, 2],
                      "segment": ["car", "truck", None], "volume": [5.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"1 demand rows have no segment \(rows 2\)"):
        Demand.from_long(t, segment="segment", zone_ids=(1, 2))
    t["segment"] = ["1", 1, "1"]
    with pytest.raises(InputError, match="differ only in type"):
        Demand.from_long(t, segment="segment", zone_ids=(1, 2))


def _tolled():
    links = pd.DataFrame({
        "link_id": ["free", "tolled"], "from_node_id": [1, 1], "to_node_id": [2, 2],
        "free_flow_time": [1.0, 1.0], "toll": [10.0, 0.0], "vdf": "constant"}
    ).set_index("link_id")
    return Network(_nodes(), links)


def test_a_link_table_beside_a_compiled_graph_is_read_by_link_id():
    """The table was read by row position: sorted by toll, each link paid the other's toll and
    the flow took the tolled link (cost 11 against 1)."""
    from karvan import TrafficClass
    from karvan.choice import stochastic_equilibrium

    net = _tolled()
    g = compile_graph(net)
    cls = [TrafficClass("all", "demand", cost_fields={"toll": 1.0})]
    shuffled = net.links.sort_values("toll")
    assert list(shuffled.index) != list(g.link_ids)
    for links in (net.links, shuffled):
        res = assign(g, _od(4.0), classes=cls, links=links, gap=1e-10)
        flows = dict(zip(g.link_ids, g.to_links(res.flow)[0], strict=True))
        assert flows == pytest.approx({"free": 0.0, "tolled": 4.0})
        sue = stochastic_equilibrium(g, _od(4.0), theta=5.0, classes=cls, links=links)
        sflows = dict(zip(g.link_ids, g.to_links(sue.flow)[0], strict=True))
        assert sflows["tolled"] > 3.99
    with pytest.raises(InputError, match="lacks 1 of the graph's link ids"):
        assign(g, _od(4.0), classes=cls, links=net.links.iloc[:1], gap=1e-10)


def test_route_choice_refuses_costs_that_are_not_finite():
    """An infinite link cost reached the logit loading (exp of -inf) as it had the assignment."""
    from karvan import TrafficClass
    from karvan.choice import stochastic_equilibrium

    g = compile_graph(_tolled())
    cls = [TrafficClass("all", "demand", link_cost=np.array([np.inf, 0.0]))]
    with pytest.raises(InputError, match="NaN or infinite on 1 links"):
        stochastic_equilibrium(g, _od(4.0), theta=5.0, classes=cls)


def test_a_blank_looking_directed_cell_is_directed_as_a_blank_one():
    """A cell of spaces or 'none' passed the check as blank (directed by default) but compiled
    as undirected."""
    links = pd.DataFrame({"link_id": ["a", "b"], "from_node_id": [1, 3], "to_node_id": [3, 2],
                          "free_flow_time": [1.0, 1.0], "vdf": "constant",
                          "directed": [" ", "none"]}).set_index("link_id")
    g = compile_graph(Network(_nodes(), links))
    assert g.n_arcs == 2  # one arc each: directed
