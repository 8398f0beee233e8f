"""The TNTP reader without pandas (read_tntp_graph): the same graph and demand as the tables
path, the same errors, and no pandas loaded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from karvan.errors import InputError
from karvan.io import read_tntp, read_tntp_graph
from karvan.network import compile_graph
from tests.unit.test_io_tntp import GOOD, net_file, row, trips_file

FIELDS = ("node_ids", "link_ids", "zone_ids", "indptr", "tail", "head", "arc_link", "arc_dir",
          "free_flow_time", "capacity", "alpha", "beta", "vdf", "length", "toll", "blocked",
          "zone_nodes")


def assert_same_graph(a, b) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape, f
        np.testing.assert_array_equal(x, y, err_msg=f)


@pytest.mark.parametrize("name,stem", [("SiouxFalls", "SiouxFalls"), ("Anaheim", "Anaheim"),
                                       ("Braess-Example", "Braess")])
def test_same_graph_demand_and_factors_as_the_tables(tntp_dir, name, stem):
    net = tntp_dir / name / f"{stem}_net.tntp"
    ref = read_tntp(net, toll_factor=0.5)
    fast = read_tntp_graph(net, toll_factor=0.5)
    assert_same_graph(fast.graph, compile_graph(ref.network))
    assert fast.demand.zone_ids == ref.demand.zone_ids
    np.testing.assert_array_equal(fast.demand.matrices["demand"], ref.demand.matrices["demand"])
    assert (fast.toll_factor, fast.distance_factor) == (ref.toll_factor, ref.distance_factor)
    assert fast.name == ref.network.name


def test_factors_from_the_files(tmp_path):
    net = net_file(tmp_path, GOOD, extra="")
    text = net.read_text().replace("<END OF METADATA>", "<TOLL FACTOR> 0.25\n<END OF METADATA>")
    net.write_text(text)
    trips = trips_file(tmp_path, "Origin 1\n 2 : 5.0;\n", total=5.0)
    trips.write_text(trips.read_text().replace("<END OF METADATA>",
                                               "<DISTANCE FACTOR> 0.5\n<END OF METADATA>"))
    fast = read_tntp_graph(net, trips)
    ref = read_tntp(net, trips)
    assert (fast.toll_factor, fast.distance_factor) == (0.25, 0.5)
    assert (ref.toll_factor, ref.distance_factor) == (0.25, 0.5)


@pytest.mark.parametrize("bad,message", [
    # (a capacity of 0 with b = 0 is a constant cost, read and assigned by both:
    # test_io_tntp.test_a_capacity_of_0_where_the_cost_is_constant_is_assigned)
    (row(3, 2, p=0.5), "0 < beta < 1"),
])
def test_what_only_the_network_check_refuses_is_refused_the_same_way(tmp_path, bad, message):
    rows = [GOOD[0], bad, *GOOD[2:]]
    net = net_file(tmp_path, rows)
    trips = trips_file(tmp_path, "Origin 1\n 2 : 5.0;\n", total=5.0)
    with pytest.raises(InputError, match=message) as fast:
        read_tntp_graph(net, trips)
    with pytest.raises(InputError) as ref:
        compile_graph(read_tntp(net, trips).network)
    assert str(fast.value) == str(ref.value)


def test_bad_rows_give_the_readers_messages(tmp_path):
    rows = [row(1, 3, fft=-1.0), *GOOD[1:]]
    net = net_file(tmp_path, rows)
    trips = trips_file(tmp_path, "Origin 1\n 2 : 5.0;\n", total=5.0)
    with pytest.raises(InputError, match=r"free_flow_time is below the minimum 0 on 1 row "
                                         r"\(line 8: '-1.0'\)"):
        read_tntp_graph(net, trips)


def test_no_pandas(tntp_dir):
    net = tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"
    code = ("import sys; from karvan.io import read_tntp_graph; "
            f"p = read_tntp_graph({str(net)!r}); "
            "print(p.graph.n_arcs, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["76", "False"]
