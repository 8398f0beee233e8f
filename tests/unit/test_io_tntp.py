"""TNTP reader: one test per class of bad input, checking the message; the first-thru-node rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import karvan
from karvan.errors import InputError, NoPathError
from karvan.io import read_tntp, read_tntp_flow, read_tntp_net, read_tntp_trips

HEAD = """<NUMBER OF ZONES> {z}
<NUMBER OF NODES> {n}
<FIRST THRU NODE> {ftn}
<NUMBER OF LINKS> {m}
<END OF METADATA>

~ init_node term_node capacity length free_flow_time b power speed toll link_type ;
"""


def net_file(tmp_path, rows, *, z=2, n=4, ftn=1, m=None, name="T_net.tntp", extra=""):
    text = HEAD.format(z=z, n=n, ftn=ftn, m=len(rows) if m is None else m) + extra
    text += "\n".join("\t" + "\t".join(map(str, r)) + "\t;" for r in rows) + "\n"
    p = tmp_path / name
    p.write_text(text)
    return p


def trips_file(tmp_path, body, *, z=2, total=None, name="T_trips.tntp"):
    tot = f"<TOTAL OD FLOW> {total}\n" if total is not None else ""
    p = tmp_path / name
    p.write_text(f"<NUMBER OF ZONES> {z}\n{tot}<END OF METADATA>\n\n{body}")
    return p


def row(a, b, cap=10.0, length=1.0, fft=1.0, b_=0.15, p=4, toll=0.0):
    return (a, b, cap, length, fft, b_, p, 0, toll, 1)


GOOD = [row(1, 3), row(3, 2), row(1, 4), row(4, 2), row(2, 4)]


def test_reads_a_small_network(tmp_path):
    net, factors = read_tntp_net(net_file(tmp_path, GOOD))
    assert len(net.links) == 5 and factors == {}
    assert list(net.zones.index) == [1, 2]
    assert net.links.loc[1, "from_node_id"] == 1 and net.links.loc[1, "alpha"] == 0.15


def test_link_count_must_match_metadata(tmp_path):
    with pytest.raises(InputError, match=r"<NUMBER OF LINKS> says 7 but 5 link rows"):
        read_tntp_net(net_file(tmp_path, GOOD, m=7))


def test_short_row_names_the_line(tmp_path):
    p = net_file(tmp_path, GOOD)
    p.write_text(p.read_text() + "\t1\t2\t3\t;\n")
    with pytest.raises(InputError, match=r"line 13: 3 fields, expected 10"):
        read_tntp_net(p)


def test_non_numeric_field(tmp_path):
    rows = [*GOOD[:-1], (2, 4, "ten", 1, 1, 0.15, 4, 0, 0, 1)]
    with pytest.raises(InputError, match=r"capacity is not a number on 1 row \(line 12: 'ten'\)"):
        read_tntp_net(net_file(tmp_path, rows))


def test_negative_values_and_zero_capacity_all_reported(tmp_path):
    rows = [row(1, 3, fft=-1.0), row(3, 2, cap=0.0), *GOOD[2:]]
    with pytest.raises(InputError) as e:
        read_tntp_net(net_file(tmp_path, rows))
    assert "free_flow_time is below the minimum 0 on 1 row (line 8: '-1.0')" in str(e.value)
    assert "capacity is not above 0 on a link with a delay function (b > 0) on 1 row (line 9" \
        in str(e.value)
    assert len(e.value.problems) == 2


def test_unknown_node(tmp_path):
    with pytest.raises(InputError, match=r"nodes outside 1..4 .*: 9"):
        read_tntp_net(net_file(tmp_path, [*GOOD, row(2, 9)]))


def test_missing_metadata(tmp_path):
    p = tmp_path / "x_net.tntp"
    p.write_text("<NUMBER OF NODES> 2\n<END OF METADATA>\n\t1\t2\t1\t1\t1\t0\t1\t0\t0\t1\t;\n")
    with pytest.raises(InputError) as e:
        read_tntp_net(p)
    assert "<NUMBER OF ZONES> is missing" in str(e.value)
    assert "<NUMBER OF LINKS> is missing" in str(e.value)


def test_trips_total_disagrees_with_metadata(tmp_path):
    p = trips_file(tmp_path, "Origin 1\n  2 : 5.0;\n", total=6.0)
    with pytest.raises(InputError, match=r"sum to 5.000000 but <TOTAL OD FLOW> says 6.0"):
        read_tntp_trips(p)


def test_trips_for_unknown_zone(tmp_path):
    p = trips_file(tmp_path, "Origin 1\n  3 : 5.0;\nOrigin 7\n 1 : 1;\n")
    with pytest.raises(InputError) as e:
        read_tntp_trips(p)
    assert "destination 3 is outside zones 1..2" in str(e.value)
    assert "origin 7 is outside zones 1..2" in str(e.value)


def test_trips_bad_entry(tmp_path):
    p = trips_file(tmp_path, "Origin 1\n  2 : five;\n")
    with pytest.raises(InputError,
                       match=r"line 5: cannot read '2 : five' as 'destination : flow;'"):
        read_tntp_trips(p)


def test_trips_zone_count_must_match_network(tmp_path):
    net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 1;\n", z=3)
    with pytest.raises(InputError, match=r"<NUMBER OF ZONES> is 3 but the network has 2"):
        read_tntp(tmp_path / "T_net.tntp")


def test_od_pair_without_path(tmp_path):
    # node 2 has no link to 1: demand 2 -> 1 cannot be carried
    net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 1;\nOrigin 2\n 1 : 3;\n", total=4)
    p = read_tntp(tmp_path / "T_net.tntp")
    with pytest.raises(NoPathError, match=r"1 OD pairs with demand \(3 in all\) have no path "
                                          r"\(2->1\)"):
        karvan.assign(p.network, p.demand)


def test_first_thru_node_blocks_paths_through_zones(tmp_path):
    # zones 1, 2, 3; the only way from 1 to 2 passes through zone 3 (1 -> 3 -> 2), and the
    # other way 1 -> 4 -> 2 is dearer. With FIRST THRU NODE 4, zone 3 cannot be passed.
    rows = [row(1, 3, fft=1, b_=0), row(3, 2, fft=1, b_=0), row(1, 4, fft=5, b_=0),
            row(4, 2, fft=5, b_=0)]
    for ftn, expected in ((1, [1.0, 1.0, 0.0, 0.0]), (4, [0.0, 0.0, 1.0, 1.0])):
        net_file(tmp_path, rows, z=3, ftn=ftn)
        trips_file(tmp_path, "Origin 1\n 2 : 1;\n", z=3)
        p = read_tntp(tmp_path / "T_net.tntp")
        r = karvan.assign(p.network, p.demand, method="aon")
        assert r.link_table()["flow"].tolist() == expected


def test_a_first_thru_node_past_the_zones_warns_and_past_the_nodes_is_an_error(tmp_path):
    # 2 zones, 4 nodes: FIRST THRU NODE 4 makes node 3 neither a zone nor passable
    with pytest.warns(karvan.io.tntp.TntpWarning, match=r"makes node 3, which is not a zone"):
        read_tntp_net(net_file(tmp_path, GOOD, ftn=4))
    with pytest.raises(InputError, match=r"<FIRST THRU NODE> 9 is beyond the last node \(4\)"):
        read_tntp_net(net_file(tmp_path, GOOD, ftn=9))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for ftn in (1, 3):  # the usual values: all passable, or zones not passable
            read_tntp_net(net_file(tmp_path, GOOD, ftn=ftn))


def test_a_first_thru_node_past_every_node_when_every_node_is_a_zone_warns(tmp_path):
    # Sioux Falls with <FIRST THRU NODE> 25: validate said valid, assign said 452 pairs have no
    # path, naming no tag
    with pytest.warns(karvan.io.tntp.TntpWarning, match=r"<FIRST THRU NODE> 5 with every node "
                                                         r"a zone .* lets no node pass"):
        read_tntp_net(net_file(tmp_path, GOOD, z=4, n=4, ftn=5))


def test_an_empty_trips_file_is_warned_of(tmp_path):
    # it was "valid", then "converged" in 0 iterations with every flow 0
    with pytest.warns(karvan.io.tntp.TntpWarning, match="no trips"):
        read_tntp_trips(trips_file(tmp_path, "Origin 1\n 2 : 0;\n"))


def test_a_misspelt_metadata_tag_is_an_error_and_an_unknown_one_a_warning(tmp_path):
    """<FIRST THROUGH NODE> was ignored: Anaheim read with every node passable, its objective 6 %
    lower, and validate said "ready to assign"."""
    import warnings

    p = net_file(tmp_path, GOOD, ftn=3)
    p.write_text(p.read_text().replace("<FIRST THRU NODE>", "<FIRST THROUGH NODE>"))
    with pytest.raises(InputError, match=r"metadata <FIRST THROUGH NODE> is not a TNTP tag "
                                         r"karvan reads; did you mean <FIRST THRU NODE>\?"):
        read_tntp_net(p)
    for tag in ("<CREATED BY>", "<ORIGINAL SOURCE>", "<LENGTH FACTOR>"):
        # a note beside <ORIGINAL HEADER>, or a tag far from any karvan reads, is only unknown
        p.write_text(net_file(tmp_path, GOOD, ftn=3).read_text().replace(
            "<FIRST THRU NODE> 3", f"{tag} 3"))
        with pytest.warns(karvan.io.tntp.TntpWarning, match=rf"{tag} is not a tag karvan "
                                                             r"reads .* it is ignored"):
            read_tntp_net(p)
    t = trips_file(tmp_path, "Origin 1\n 2 : 1;\n")
    t.write_text(t.read_text().replace("<END OF METADATA>",
                                       "<TOTAL OD FLOWS> 1\n<END OF METADATA>"))

    with pytest.raises(InputError, match=r"did you mean <TOTAL OD FLOW>"):
        read_tntp_trips(t)
    # a trips file's own factors are tags karvan reads
    t.write_text("<NUMBER OF ZONES> 2\n<TOLL FACTOR> 0.5\n<END OF METADATA>\n"
                 "Origin 1\n 2 : 1;\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_tntp_trips(t)


def test_a_repeated_link_row_is_warned_of(tmp_path):
    """Repeated rows were read as parallel roads: Sioux Falls with three rows repeated had 12 %
    less total travel time, without a word. Parallel links that differ stay silent."""
    import warnings

    with pytest.warns(karvan.io.tntp.TntpWarning, match=r"2 link rows repeat an earlier row in "
                                                         r"every field \(lines 13, 14\)"):
        net, _ = read_tntp_net(net_file(tmp_path, [*GOOD, GOOD[0], GOOD[0]]))
    assert len(net.links) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_tntp_net(net_file(tmp_path, [*GOOD, row(1, 3, fft=2.0)]))


def test_cost_factors_from_metadata_and_caller(tmp_path):
    from karvan.choice import stochastic_equilibrium

    rows = [row(1, 2, fft=1, b_=0, toll=10.0, length=3.0), row(1, 2, fft=2, b_=0, length=1.0)]
    extra = "<TOLL FACTOR> 0.5\n<DISTANCE FACTOR> 0.25\n"
    p = net_file(tmp_path, rows, n=2, extra="")
    text = p.read_text().replace("<END OF METADATA>", extra + "<END OF METADATA>")
    p.write_text(text)
    trips_file(tmp_path, "Origin 1\n 2 : 1;\n")
    prob = read_tntp(p)
    assert (prob.toll_factor, prob.distance_factor) == (0.5, 0.25)
    r = karvan.assign(prob.network, prob.demand, method="aon", toll_factor=prob.toll_factor,
                      distance_factor=prob.distance_factor)
    # link 1: 1 + 5 + 0.75 = 6.75; link 2: 2 + 0.25 = 2.25
    assert r.link_table()["cost"].tolist() == pytest.approx([6.75, 2.25])
    assert r.flow.tolist() == [0.0, 1.0]
    prob0 = read_tntp(p, toll_factor=0.0, distance_factor=0.0)
    assert (prob0.toll_factor, prob0.distance_factor) == (0.0, 0.0)
    # the network carries the factors its reader resolved; an assignment that leaves them out
    # weighs time alone and says so (it did in silence), one given 0 says nothing
    from karvan.errors import CostFactorWarning

    with pytest.warns(CostFactorWarning, match=r"toll_factor=0.5, distance_factor=0.25, which "
                                               r"this assignment leaves out"):
        r = karvan.assign(prob.network, prob.demand, method="aon")
    assert r.link_table()["cost"].tolist() == pytest.approx([1.0, 2.0])
    with pytest.warns(CostFactorWarning, match="toll_factor=0.5") as said:
        stochastic_equilibrium(prob.network, prob.demand, theta=50.0, max_iter=5)
    assert [Path(w.filename).name for w in said] == [Path(__file__).name]  # the user's line
    # classes of one's own: the factors shape no class, nothing to say
    own = [karvan.TrafficClass("all", "demand", cost_fields={"toll": 0.5})]
    r = karvan.assign(prob.network, prob.demand, method="aon", classes=own)
    assert r.link_table()["cost"].tolist() == pytest.approx([6.0, 2.0])
    stochastic_equilibrium(prob.network, prob.demand, theta=50.0, max_iter=5, classes=own)
    # a GMNS copy cannot keep them: said when written
    from karvan.io import write_gmns
    from karvan.io.gmns import GmnsWarning

    nodes = prob.network.nodes.assign(x_coord=[0.0, 1.0], y_coord=[0.0, 0.0])
    with pytest.warns(GmnsWarning, match=r"does not keep the TNTP cost weights \(toll_factor "
                                         r"0.5, distance_factor 0.25\)"):
        write_gmns(karvan.Network(nodes, prob.network.links, prob.network.config,
                                  prob.network.name), tmp_path / "g")
    r = karvan.assign(prob.network, prob.demand, method="aon", toll_factor=0.0,
                      distance_factor=0.0)
    assert r.link_table()["cost"].tolist() == pytest.approx([1.0, 2.0])
    assert "toll_factor" not in prob0.network.config  # given 0 to read_tntp: nothing to say
    karvan.assign(prob0.network, prob0.demand, method="aon")
    # the trips file's own factor reaches the network as well, and a CSV demand's problem
    p.write_text(text.replace(extra, ""))
    (tmp_path / "T_trips.tntp").write_text("<NUMBER OF ZONES> 2\n<TOLL FACTOR> 0.5\n"
                                           "<END OF METADATA>\n\nOrigin 1\n 2 : 1;\n")
    assert read_tntp(p).network.config["toll_factor"] == 0.5
    p.write_text(text)
    csv = tmp_path / "d.csv"
    csv.write_text("o_zone_id,d_zone_id,volume\n1,2,1\n")
    from karvan.io.problem import read_problem

    q = read_problem(p, csv, toll_factor=0.0)
    assert q.toll_factor == 0.0 and "toll_factor" not in q.network.config
    assert read_problem(p, csv).network.config["toll_factor"] == 0.5
    karvan.assign(q.network, q.demand, method="aon", distance_factor=q.distance_factor)


def test_flow_file(tmp_path):
    p = tmp_path / "T_flow.tntp"
    p.write_text("From \tTo \tVolume \tCost\n1\t2\t4494.6\t6.0\n1\t3\t8119.1\t4.0\n")
    f = read_tntp_flow(p)
    assert f["volume"].tolist() == [4494.6, 8119.1]
    assert np.array_equal(f["from_node_id"].to_numpy(), [1, 1])


def test_a_flow_row_with_a_typo_is_an_error_not_skipped(tmp_path):
    """Flow rows are matched to links by order: a skipped row moved every later row one link up."""
    p = tmp_path / "T_flow.tntp"
    p.write_text("From To Volume Cost\n1 2 100 5\nl 3 50 2\n3 4 20 1\n")
    with pytest.raises(InputError, match=r"T_flow.tntp line 3: expected 'from to volume cost'"):
        read_tntp_flow(p)


def test_a_node_row_with_a_typo_is_an_error_and_strange_nodes_are_warned_about(tmp_path):
    from karvan.io.tntp import TntpWarning, read_tntp_node

    p = tmp_path / "T_node.tntp"
    p.write_text("Node X Y ;\n1 0 0 ;\n2 1 x ;\n3 2 2 ;\n")
    with pytest.raises(InputError, match=r"T_node.tntp line 3: expected 'node x y'"):
        read_tntp_node(p)
    # a node file whose nodes are not the network's
    net_file(tmp_path, [row(1, 3), row(3, 2), row(1, 4), row(4, 2)])
    trips_file(tmp_path, "Origin 1\n2 : 5.0;\n")
    p.write_text("Node X Y ;\n1 0 0 ;\n2 1 1 ;\n3 2 2 ;\n99 5 5 ;\n")
    with pytest.warns(TntpWarning, match=r"nodes 99 are not in T_net.tntp.*nodes 4 of T_net.tntp"
                                         r" have no coordinates"):
        read_tntp(tmp_path / "T_net.tntp")


def test_the_trips_file_beside_a_net_whose_name_has_net_twice(tmp_path):
    net_file(tmp_path, [row(1, 3), row(3, 2)], n=3, name="test_network_net.tntp")
    trips_file(tmp_path, "Origin 1\n2 : 5.0;\n", name="test_network_trips.tntp")
    prob = read_tntp(tmp_path / "test_network_net.tntp")
    assert prob.demand.total() == pytest.approx(5.0)


@pytest.mark.parametrize(("value", "fix"), [
    ("-1", "capacity must be >= 0"), ("2e12", "a capacity above 1e12 is no road's")])
def test_a_range_error_gives_the_fix_of_its_own_bound(tmp_path, value, fix):
    """A negative capacity was told that 'a capacity above 1e12 is no road's'."""
    p = net_file(tmp_path, [row(1, 3, cap=value), row(3, 2)], n=3)
    with pytest.raises(InputError) as e:
        read_tntp_net(p)
    (msg,) = [m for m in e.value.problems if "capacity" in m]
    assert fix in msg and (value == "2e12" or "no road" not in msg)


def test_a_capacity_of_0_where_the_cost_is_constant_is_assigned(tmp_path):
    """The validator accepted it (the schema does: b = 0) and assign refused it, with no line
    and the advice 'leave it blank', which TNTP cannot."""
    net_file(tmp_path, [row(1, 3, cap=0, b_=0), row(3, 2), row(1, 4), row(4, 2)])
    trips_file(tmp_path, "Origin 1\n2 : 5.0;\n")
    prob = read_tntp(tmp_path / "T_net.tntp")
    res = karvan.assign(prob.network, prob.demand, gap=1e-10)
    assert res.converged
    from karvan.io.tntp import read_tntp_graph

    g = read_tntp_graph(tmp_path / "T_net.tntp")
    res2 = karvan.assign(g.graph, g.demand, gap=1e-10)
    assert np.allclose(res.flow, res2.flow)
