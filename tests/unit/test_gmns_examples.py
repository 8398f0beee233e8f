"""Valid GMNS in, whatever wrote it: the eight example networks of the GMNS specification's
repository (copies in tests/data/gmns_examples, Apache-2.0). Each validates, or gets a message
naming its own defect; with the documented defaults Freeway_Interchange and Lima are ready to
assign (with a demand made up here: the examples ship none in GMNS)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import karvan
from karvan.io.gmns import GmnsWarning, read_gmns
from karvan.io.gmns_ready import FACILITY_DEFAULTS, facility_class, prepare_assignment
from karvan.io.problem import read_problem
from karvan.io.validate import validate_input

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "gmns_examples"


def report(name: str):
    return validate_input(EXAMPLES / name)


def joined(lines) -> str:
    return "\n".join(lines)


def test_arlington_signals_names_its_shortened_zone_ids():
    r = report("Arlington_Signals")
    assert not r.valid
    (err,) = r.errors
    assert "zone.csv: zone_id repeats an earlier row on 4 rows (lines 3, 4, 5, 6" in err
    assert "'2.50174E+11 as on line 2'" in err and "shortened by a spreadsheet" in err
    assert "parent_link_id is not a link_id of this table on 4 rows" in joined(r.warnings)
    assert "'NULL'" in joined(r.warnings)


def test_arlington_signals_errors_is_read_and_its_departures_named():
    r = report("Arlington_Signals_Errors")
    assert r.valid and not r.strictly_valid
    w = joined(r.warnings)
    assert "bike_facility is not one of" in w and "'offstreet path', 'bikelane'" in w
    assert "ped_facility is not one of" in w and "'offstreet path'" in w
    assert "super_zone is not a zone_id of this table on 5 rows" in w
    assert any("4 links have capacity 0 (link_id 10, 11, 80, 81)" in n for n in r.notes)


def test_cambridge_intersection_is_valid_and_says_what_assignment_needs():
    r = report("Cambridge_Intersection")
    assert r.strictly_valid and not r.ready
    assert any(n.startswith("39 links have no length") for n in r.needs)


def test_cambridge_multimodal_names_its_truncated_columns():
    r = report("Cambridge_Multimodal_Network")
    assert r.errors == [
        "link.csv: has no column from_node_id (required); column 'from_node_' looks like "
        "from_node_id cut to 10 characters (a shapefile export does that): rename it to "
        "from_node_id."]
    w = joined(r.warnings)
    for cut, full in (("facility_t", "facility_type"), ("allowed_us", "allowed_uses"),
                      ("parent_lin", "parent_link_id")):
        assert f"column '{cut}' looks like {full} cut to 10 characters" in w


def test_cambridge_multimodal_reads_once_its_columns_are_renamed(tmp_path):
    src = EXAMPLES / "Cambridge_Multimodal_Network"
    shutil.copytree(src, tmp_path / "c")
    p = tmp_path / "c" / "link.csv"
    head, rest = p.read_text(encoding="utf-8-sig").split("\n", 1)
    names = {"parent_lin": "parent_link_id", "from_node_": "from_node_id",
             "facility_t": "facility_type", "bike_facil": "bike_facility",
             "ped_facili": "ped_facility", "allowed_us": "allowed_uses",
             "jurisdicti": "jurisdiction"}
    p.write_text(",".join(names.get(h, h) for h in head.split(",")) + "\n" + rest,
                 encoding="utf-8")
    r = validate_input(tmp_path / "c")
    assert r.valid, r.errors  # its byte-order marks and blank-space cells read too
    assert r.counts["nodes"] == "1,693"


def test_conversion_from_osm_reads_lists_and_units_leniently():
    r = report("conv_OSM")
    assert r.valid and not r.strictly_valid
    w = joined(r.warnings)
    assert "lanes is a list of values on 214 rows" in w and "read as the smallest" in w
    assert "free_speed carries a unit on 3977 rows" in w and "'25 mph'" in w
    # every street twice (two geometries, blank capacity and speed): blank cells compare equal
    # (under pandas 3 the copies went unseen, and the message said "0 sets")
    assert "2224 sets of links are copies of one another" in w and "link_id 0 & 4482" in w
    assert any("no long_length in config.csv: kilometer assumed to derive" in n for n in r.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GmnsWarning)
        net = read_gmns(EXAMPLES / "conv_OSM")
    # 25 mph read in the (assumed) km/h of the network; ['2', '3'] lanes read as 2
    assert net.links.loc[2, "free_speed"] == pytest.approx(25 * 1.609344)
    assert net.links.loc[49, "lanes"] == 2


def test_lima_dtalite_names_the_zone_its_demand_lacks():
    r = report("Lima_DTALite")
    assert "link.csv has no 'directed' column (GMNS requires it)" in joined(r.warnings)
    assert any("o_zone_id is not a zone of the network on 55 rows" in e and "'149'" in e
               for e in r.errors)


def make_demand(folder: Path, rows) -> None:
    pd.DataFrame(rows, columns=["o_zone_id", "d_zone_id", "volume"]).to_csv(
        folder / "demand.csv", index=False)


def test_freeway_interchange_is_ready_to_assign_with_the_defaults(tmp_path):
    folder = Path(shutil.copytree(EXAMPLES / "Freeway_Interchange", tmp_path / "f"))
    r = validate_input(folder)
    assert r.strictly_valid
    assert r.needs[0].startswith("no zones") and r.needs[1].startswith("a demand")
    # made-up demand between its external nodes: a network without zones loads it at them
    make_demand(folder, [(12, 1, 3000), (9, 2, 800), (4, 9, 400), (12, 3, 2000)])
    r = validate_input(folder)
    assert r.ready, r.needs
    # the links and the capacities given them are named (a user could not find them before)
    (note,) = r.defaults
    assert note.startswith("capacity of 12 links: capacity per lane by facility type times "
                           "lanes (motorway 8, primary 4; link_id 578653, 578527, ")
    assert ": 2300, 2300, 9200, 5400, 5400 and 7 more)." in note
    # its own defect: lengths in feet under a config.csv that says miles
    assert any("5.29e+03 times the straight-line distance" in n for n in r.notes)
    with pytest.warns(GmnsWarning):
        prob = read_problem(folder)
    links = prob.network.links
    ramp = links.index[links["facility_type"] == "ramp"][0]
    assert links.loc[ramp, "capacity"] == FACILITY_DEFAULTS["motorway"].capacity_per_lane * \
        links.loc[ramp, "lanes"]
    res = karvan.assign(prob.network, prob.demand, gap=1e-8)
    assert res.converged
    _conserves(res, prob)


def test_lima_is_ready_to_assign_through_its_zone_connectors(tmp_path):
    folder = Path(shutil.copytree(EXAMPLES / "Lima_GMNS", tmp_path / "lima"))
    rng = np.random.default_rng(7)
    zones = list(range(1, 41))
    make_demand(folder, [(o, d, float(rng.integers(1, 50))) for o in zones for d in zones
                         if o != d and rng.random() < 0.3])
    r = validate_input(folder)
    assert r.ready and r.valid, (r.errors, r.needs)
    assert "6095 links have a blank 'directed'" in joined(r.warnings)
    assert any("376 zones have more than one node" in n for n in r.notes)
    with pytest.warns(GmnsWarning):
        prob = read_problem(folder)
    res = karvan.assign(prob.network, prob.demand, gap=1e-6)
    assert res.converged
    _conserves(res, prob)


def _conserves(res, prob) -> None:
    """All-or-nothing or not, the flows leave every origin and reach every destination."""
    g = res.graph
    flow = res.flow
    out = np.zeros(g.n_nodes)
    inn = np.zeros(g.n_nodes)
    np.add.at(out, g.tail, flow)
    np.add.at(inn, g.head, flow)
    m = sum(prob.demand.matrices.values())
    zi = g.zone_index(list(prob.demand.zone_ids))
    nodes = g.zone_nodes[zi]
    net = np.zeros(g.n_nodes)
    np.add.at(net, nodes, m.sum(axis=1) - np.diag(m))
    np.add.at(net, nodes, -(m.sum(axis=0) - np.diag(m)))
    assert np.allclose(out - inn, net, atol=1e-6 * max(1.0, m.sum()))


@pytest.mark.parametrize(("facility", "cls"), [
    ("motorway", "motorway"), ("primary_link", "primary"), ("Freeway", "motorway"),
    ("ramp", "motorway"), ("ARTERIAL", "primary"), ("minor arterial", "secondary"),
    ("SIDEWALK", "footway"), ("hot", "other"), (None, "other"), ("", "other"),
])
def test_facility_types_map_to_the_documented_classes(facility, cls):
    assert facility_class(facility) == cls


def test_without_defaults_the_missing_capacities_are_needs(tmp_path):
    folder = Path(shutil.copytree(EXAMPLES / "Freeway_Interchange", tmp_path / "f"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GmnsWarning)
        net = read_gmns(folder)
    r = prepare_assignment(net, defaults=None)
    assert r.needs[0].startswith("12 links have no capacity")
