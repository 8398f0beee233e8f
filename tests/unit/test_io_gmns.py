"""GMNS reader and writer: lenient reading, strict and atomic writing, one test per class of bad
input (each message names file, line and id), demand tables, and an all-or-nothing assignment on
the hand-made network in ``tests/data/gmns_small`` (its README gives the paths and flows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import karvan
from karvan.errors import InputError, NoPathError
from karvan.io import read_gmns, read_gmns_demand, write_gmns
from karvan.io.gmns import GmnsWarning, links_barring_uses, normalise_config

SMALL = Path(__file__).resolve().parents[1] / "data" / "gmns_small"
EXAMPLES = SMALL.parent / "gmns_examples"

NODES = "node_id,x_coord,y_coord,zone_id\n1,0,0,1\n2,1,0,2\n3,2,0,\n"

#: what read_gmns warns of gmns_small (and its copies) read without saying how: the capacity of
#: its links of two lanes read as the whole link's, and every link read for every use though
#: allowed_uses bars some; test_the_readings_left_unsaid_are_warned_of expects them, the other
#: tests are about other things
pytestmark = [
    pytest.mark.filterwarnings(r"ignore:capacity of \d+ links with more than one lane .* read "
                               "as the whole link's capacity:karvan.io.gmns.GmnsWarning"),
    pytest.mark.filterwarnings(r"ignore:allowed_uses bars some uses from \d+ of \d+ links"
                               ":karvan.io.gmns.GmnsWarning"),
]


def small(tmp_path: Path, files: dict[str, str | None] | None = None) -> Path:
    """A copy of gmns_small; ``files`` maps a file name to new text, or None to delete it."""
    folder = tmp_path / "net"
    shutil.copytree(SMALL, folder)
    for name, text in (files or {}).items():
        if text is None:
            (folder / name).unlink()
        else:
            (folder / name).write_text(text)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact occurrence of ``old`` in a file."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new))


def mini(tmp_path: Path, links: str, *, nodes: str = NODES, config: str | None = None,
         extra: dict[str, str] | None = None) -> Path:
    """A folder with the given node.csv and link.csv text (and config.csv, other tables)."""
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "node.csv").write_text(nodes)
    (folder / "link.csv").write_text(links)
    if config is not None:
        (folder / "config.csv").write_text(config)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def problems_of(folder: Path, **kw) -> list[str]:
    with pytest.raises(InputError) as e:
        read_gmns(folder, **kw)
    return e.value.problems


# -- lenient reading -----------------------------------------------------------------------------


def test_reads_the_small_network():
    net = read_gmns(SMALL)
    assert (len(net.nodes), len(net.links)) == (8, 14)
    assert net.name == "gmns_small"
    assert net.config["long_length"] == "kilometer"
    assert net.config["speed"] == "kilometer/hour"
    assert net.config["crs"] == "EPSG:32638"
    assert net.zones.to_dict() == {10: 1, 20: 3, 30: 7, 40: 8}
    assert net.links["directed"].dtype == bool
    assert net.links.index[~net.links["directed"]].tolist() == [1011]
    assert net.links.loc[1008, "road_class"] == "arterial"  # extra column kept
    assert net.config["derived_columns"] == ["free_flow_time"]


@pytest.mark.parametrize(
    ("spelling", "directed"),
    [("TRUE", True), ("FALSE", False), ("true", True), ("false", False), ("1", True),
     ("0", False), ("t", True), ("f", False), ("yes", True), ("no", False), ("True", True)],
)
def test_directed_spellings(tmp_path, spelling, directed):
    folder = mini(tmp_path, f"link_id,from_node_id,to_node_id,directed\n1,1,2,{spelling}\n")
    assert read_gmns(folder).links.loc[1, "directed"] is np.bool_(directed)


def test_blank_directed_is_directed_with_a_warning(tmp_path):
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed\n1,1,2,false\n2,2,3,\n")
    with pytest.warns(GmnsWarning, match=r"1 links have a blank 'directed' \(link_id 2\)"):
        net = read_gmns(folder)
    assert net.links["directed"].tolist() == [False, True]


def test_a_link_that_copies_another_is_warned_of(tmp_path):
    """A link given again under a new id, or a two-way link also given as its reverse, was read
    as a second road (Sioux Falls 12 % and 4 % less total travel time, in silence); parallel
    links that differ (a cycle track beside a road) stay silent."""
    import warnings

    head = "link_id,from_node_id,to_node_id,directed,length,capacity\n"
    folder = mini(tmp_path, head + "1,1,2,true,1,100\n2,2,3,false,1,100\n3,1,2,true,1,100\n"
                                   "4,3,2,true,1,100\n5,1,2,true,1,50\n")
    with pytest.warns(GmnsWarning, match=r"2 sets of links are copies of one another .*"
                                         r"link_id 1 & 3, 2 & 4\)"):
        read_gmns(folder)
    (tmp_path / "b").mkdir()
    folder = mini(tmp_path / "b", head + "1,1,2,true,1,100\n2,1,2,true,1,50\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_gmns(folder)


def test_an_empty_demand_is_warned_of(tmp_path):
    # it was "valid", then "converged" in 0 iterations with every flow 0
    from karvan.io.gmns import read_gmns_demand

    (tmp_path / "demand.csv").write_text("o_zone_id,d_zone_id,volume\n1,2,0\n")
    with pytest.warns(GmnsWarning, match="no demand"):
        read_gmns_demand(tmp_path / "demand.csv")


def test_missing_directed_column_is_directed_with_a_warning(tmp_path):
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id\n1,1,2\n")
    with pytest.warns(GmnsWarning, match="no 'directed' column"):
        net = read_gmns(folder)
    assert net.links["directed"].tolist() == [True]


def test_allowed_uses_split_on_comma_or_semicolon_in_any_case():
    links = read_gmns(SMALL).links
    assert links.loc[1001, "allowed_uses"] == "auto"
    assert links.loc[1005, "allowed_uses"] == "truck,bus"
    assert links.loc[1008, "allowed_uses"] == "sov,hov2,truck"
    assert links.loc[1014, "allowed_uses"] == "walk,bike"
    assert pd.isna(links.loc[1006, "allowed_uses"])


@pytest.mark.parametrize(
    ("long_length", "speed", "expected"),
    [("mi", "mph", ("mile", "mile/hour")),
     ("miles", "Miles per hour", ("mile", "mile/hour")),
     ("Kilometer", "km/h", ("kilometer", "kilometer/hour")),
     ("km", "KPH", ("kilometer", "kilometer/hour")),
     ("metres", "m/s", ("meter", "meter/second")),
     ("ft", "mph", ("foot", "mile/hour"))],
)
def test_config_units_are_normalised(long_length, speed, expected):
    cfg = normalise_config({"long_length": long_length, "speed": speed, "currency": ""})
    assert (cfg["long_length"], cfg["speed"]) == expected
    assert "currency" not in cfg  # blanks dropped


@pytest.mark.parametrize(("crs", "expected"),
                         [("32619", "EPSG:32619"), ("4326.0", "EPSG:4326"),
                          ("epsg:3857", "EPSG:3857"), ("+proj=longlat", "+proj=longlat")])
def test_crs_is_normalised(crs, expected):
    assert normalise_config({"crs": crs})["crs"] == expected


@pytest.mark.parametrize(
    ("long_length", "speed", "length", "free_speed", "hours"),
    [("mi", "mph", 10, 60, 1 / 6),
     ("km", "km/h", 5, 50, 0.1),
     ("Kilometer", "kilometers per hour", 5, 50, 0.1),
     ("meter", "m/s", 1000, 10, 1 / 36),
     ("foot", "mph", 5280, 30, 1 / 30),
     (None, None, 5, 50, 0.1)],  # no config.csv: km and km/h
)
def test_free_flow_time_from_length_and_speed(tmp_path, long_length, speed, length, free_speed,
                                              hours):
    config = None if long_length is None else f"long_length,speed\n{long_length},{speed}\n"
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,length,free_speed\n"
                            f"1,1,2,true,{length},{free_speed}\n2,2,3,true,0,0\n", config=config)
    t = read_gmns(folder).links["free_flow_time"]
    assert t.tolist() == pytest.approx([hours, 0.0], rel=1e-12)


def test_given_free_flow_time_is_kept(tmp_path):
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,length,free_speed,"
                            "free_flow_time\n1,1,2,true,10,0,0.5\n")
    net = read_gmns(folder)
    assert net.links.loc[1, "free_flow_time"] == 0.5
    assert net.config["derived_columns"] == []


@pytest.mark.parametrize(("unit", "hours"), [("minute", 0.5), ("hour", 30.0), ("s", 30 / 3600)])
def test_a_given_free_flow_time_is_read_in_the_configs_time_unit(tmp_path, unit, hours):
    """config.csv's time_unit was stored and never used: 30 minutes were 30 hours."""
    import warnings

    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,free_flow_time\n"
                            "1,1,2,true,30\n",
                  config=f"dataset_name,time_unit\nt,{unit}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = read_gmns(folder)
    assert net.links.loc[1, "free_flow_time"] == pytest.approx(hours, rel=1e-12)
    assert net.config["time_unit"] == "hour"


def test_an_unknown_time_unit_is_an_error(tmp_path):
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,free_flow_time\n"
                            "1,1,2,true,30\n", config="dataset_name,time_unit\nt,fortnight\n")
    with pytest.raises(InputError, match="time_unit 'fortnight' is not a time unit"):
        read_gmns(folder)


def test_id_type_string_keeps_ids_as_written(tmp_path):
    folder = mini(
        tmp_path,
        "link_id,from_node_id,to_node_id,directed\n01,007,008,true\n02,008,007,true\n",
        nodes="node_id,x_coord,y_coord,zone_id\n007,0,0,007\n008,1,0,08\n",
        config="id_type\nSTRING\n",
    )
    net = read_gmns(folder)
    assert net.nodes.index.tolist() == ["007", "008"]
    assert net.links.index.tolist() == ["01", "02"]
    assert net.links["from_node_id"].tolist() == ["007", "008"]
    assert net.zones.to_dict() == {"007": "007", "08": "008"}
    (folder / "demand.csv").write_text("o_zone_id,d_zone_id,volume\n007,08,5\n")
    assert read_gmns_demand(folder / "demand.csv", net).zone_ids == ("007", "08")


def test_numeric_ids_without_id_type_are_integers():
    net = read_gmns(SMALL)
    assert net.nodes.index.dtype == np.int64 and net.links.index.dtype == np.int64


def test_capacity_per_lane_multiplies_lanes(tmp_path):
    assert read_gmns(SMALL).links.loc[[1001, 1003], "capacity"].tolist() == [100, 200]
    net = read_gmns(SMALL, capacity_per_lane=True)
    assert net.links.loc[[1001, 1003, 1010], "capacity"].tolist() == [200, 200, 600]
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,capacity,lanes\n"
                            "1,1,2,true,500,\n2,2,3,true,500,3\n")
    assert read_gmns(folder, capacity_per_lane=True).links["capacity"].tolist() == [500, 1500]


def test_a_blank_free_flow_time_is_taken_from_length_and_speed(tmp_path):
    # a column present but blank was "2 links have no free_flow_time", though both had a
    # length and a speed
    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,length,free_speed,"
                            "free_flow_time\n1,1,2,true,10,50,\n2,2,3,true,10,50,0.5\n")
    with pytest.warns(GmnsWarning, match=r"free_flow_time blank on 1 links \(link_id 1\)"):
        net = read_gmns(folder)
    assert net.links["free_flow_time"].tolist() == [pytest.approx(0.2), 0.5]


def test_a_link_of_lanes_0_read_per_lane_is_said_to_have_lost_its_capacity_so(tmp_path):
    # the note said "capacity 0" of links whose file gives 12,950 (per lane, x lanes 0)
    from karvan.io.gmns_ready import prepare_assignment

    folder = mini(tmp_path, "link_id,from_node_id,to_node_id,directed,capacity,lanes,"
                            "free_flow_time\n1,1,2,true,500,0,1\n2,2,3,true,500,1,1\n")
    notes = prepare_assignment(read_gmns(folder, capacity_per_lane=True)).notes
    assert any("1 links have capacity 0 (link_id 1) (1 of them read per lane, with lanes 0"
               in n for n in notes), notes


def read_for_use(folder: Path, use: str):
    """read_gmns(folder, use=use), which says which links it left out."""
    with pytest.warns(GmnsWarning, match=rf"use '{use}': \d+ of 14 links admit it"):
        return read_gmns(folder, use=use)


@pytest.mark.parametrize(
    ("use", "dropped"),
    [("truck", [1003, 1004, 1014]),           # car-only and walk/bike links
     ("sov", [1005, 1014]),                   # sov is in car, car in auto: 1003, 1004 kept
     ("CAR", [1005, 1014]),                   # a group: links naming it, a group above it or
                                              # every member (1008: sov, hov2, truck)
     ("walk", [1001, 1002, 1003, 1004, 1005, 1008, 1009, 1010, 1012, 1013])],
)
def test_use_filter_resolves_groups_recursively(use, dropped):
    kept = read_for_use(SMALL, use).links.index
    assert sorted(set(range(1001, 1015)) - set(kept)) == dropped


def test_use_filter_names_the_links_it_leaves_out():
    with pytest.warns(GmnsWarning) as caught:
        read_gmns(SMALL, use="truck")
    assert [str(w.message) for w in caught if "use 'truck'" in str(w.message)] == [
        "use 'truck': 11 of 14 links admit it (allowed_uses); left out: link_id 1003, 1004, "
        "1014."]


def test_use_filter_without_allowed_uses_says_every_link_is_read(tmp_path):
    shutil.copytree(SMALL, tmp_path / "n")
    links = pd.read_csv(tmp_path / "n" / "link.csv").drop(columns="allowed_uses")
    links.to_csv(tmp_path / "n" / "link.csv", index=False)
    with pytest.warns(GmnsWarning, match="link.csv has no allowed_uses, so every link is read"):
        net = read_gmns(tmp_path / "n", use="truck")
    assert len(net.links) == 14


def test_all_that_no_group_defines_admits_every_use(tmp_path):
    # GMNS's own examples write `all` (Freeway_Interchange) or `ALL` without a use_group.csv:
    # read as one more use, --use auto left out the arterials and their OD pair had no path
    folder = Path(shutil.copytree(EXAMPLES / "Freeway_Interchange", tmp_path / "fw"))
    every = read_gmns(folder)
    assert set(every.links["allowed_uses"].dropna()) == {"all", "auto"}
    with pytest.warns(GmnsWarning, match=r"use 'auto': 12 of 12 links admit it"):
        assert len(read_gmns(folder, use="auto").links) == 12
    assert links_barring_uses(every).empty


def test_a_use_no_link_names_is_an_error_without_use_tables(tmp_path):
    folder = Path(shutil.copytree(EXAMPLES / "Freeway_Interchange", tmp_path / "fw"))
    (msg,) = problems_of(folder, use="atuo")
    assert ("use 'atuo' is named by no link's allowed_uses, and no use_definition.csv or "
            "use_group.csv defines it; uses named: all, auto.") in msg


def test_use_counts_leave_the_zones_connectors_out(tmp_path):
    folder = Path(shutil.copytree(SMALL, tmp_path / "n"))
    nodes = pd.read_csv(folder / "node.csv")
    nodes.loc[nodes["node_id"] == 4, "zone_id"] = 10  # zone 10 on two nodes: a centroid
    nodes.to_csv(folder / "node.csv", index=False)
    with pytest.warns(GmnsWarning) as caught:
        net = read_gmns(folder, use="truck")
    assert len(net.config["derived_links"]) == 2
    said = [str(w.message) for w in caught if "use 'truck'" in str(w.message)]
    assert said == ["use 'truck': 11 of 14 links admit it (allowed_uses); left out: link_id "
                    "1003, 1004, 1014."]
    assert set(net.config["derived_links"]) <= set(net.links.index)  # connectors kept


def test_links_barring_uses_count_groups_as_their_members():
    # 1006 (blank), 1007 and 1011 ("All": auto, walk, bike) admit every use
    assert links_barring_uses(read_gmns(SMALL)).tolist() == [
        1001, 1002, 1003, 1004, 1005, 1008, 1009, 1010, 1012, 1013, 1014]


def test_unknown_use_filter_is_an_error():
    (msg,) = problems_of(SMALL, use="tram")
    assert "use 'tram' is in neither use_definition.csv nor use_group.csv" in msg


# -- round trip and writer -----------------------------------------------------------------------


def test_round_trip_gives_equal_tables(tmp_path):
    a = read_gmns(SMALL)
    out = write_gmns(a, tmp_path / "copy")
    b = read_gmns(out)
    # the writer puts the required columns first; values and dtypes are unchanged
    pd.testing.assert_frame_equal(a.nodes, b.nodes, check_like=True)
    pd.testing.assert_frame_equal(a.links, b.links, check_like=True)
    for key in ("dataset_name", "long_length", "speed", "crs", "currency", "id_type"):
        assert a.config[key] == b.config[key]
    header = (out / "link.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["link_id", "from_node_id", "to_node_id", "directed"]
    assert "road_class" in header  # extra column survives
    assert "free_flow_time" not in header  # derived column is not written
    assert "name" in (out / "node.csv").read_text().splitlines()[0].split(",")


def test_writer_is_strict(tmp_path):
    folder = mini(
        tmp_path,
        "length,link_id,from_node_id,to_node_id,directed,free_speed,allowed_uses\n"
        "10,1,1,2,1,60,AUTO; Walk\n2,2,2,3,0,30,\n",
        config="long_length,speed,crs,version_number\nmi,mph,4326,0.94\n",
    )
    a = read_gmns(folder)
    out = write_gmns(a, tmp_path / "strict")
    links = pd.read_csv(out / "link.csv", dtype=str, keep_default_na=False)
    assert links.columns[:4].tolist() == ["link_id", "from_node_id", "to_node_id", "directed"]
    assert links["directed"].tolist() == ["true", "false"]
    assert links["allowed_uses"].tolist() == ["auto,walk", ""]
    cfg = pd.read_csv(out / "config.csv", dtype=str, keep_default_na=False).iloc[0]
    assert cfg["version_number"] == "0.96"
    assert (cfg["long_length"], cfg["speed"], cfg["crs"]) == ("mile", "mile/hour", "EPSG:4326")
    b = read_gmns(out)
    assert b.links["free_flow_time"].tolist() == pytest.approx([1 / 6, 1 / 15])


def test_writer_refuses_an_existing_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists; pass overwrite=True"):
        write_gmns(read_gmns(SMALL), target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    # overwrite replaces a folder karvan wrote, never one of the user's own files
    with pytest.raises(InputError, match=r"holds files that karvan did not write there "
                                         r"\(keep.txt\)"):
        write_gmns(read_gmns(SMALL), target, overwrite=True)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    (target / "keep.txt").unlink()
    write_gmns(read_gmns(SMALL), target, overwrite=True)
    write_gmns(read_gmns(SMALL), target, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == [
        ".karvan-output", "config.csv", "link.csv", "node.csv", "use_definition.csv",
        "use_group.csv", "zone.csv"]


@pytest.mark.parametrize("existing", [False, True])
def test_a_failing_write_leaves_no_folder(tmp_path, monkeypatch, existing):
    net = read_gmns(SMALL)
    target = tmp_path / "out"
    if existing:
        target.mkdir()  # an earlier write (karvan's mark in it)
        (target / "old.txt").write_text("old")
        (target / ".karvan-output").write_text("written by karvan\nold.txt\n")
    real = pd.DataFrame.to_csv

    def failing(self, path, *args, **kwargs):
        if Path(path).name == "link.csv":
            raise OSError("disk full")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError, match="disk full"):
        write_gmns(net, target, overwrite=True)
    # nothing half-written: no temporary folder, and an old folder as it was
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])
    if existing:
        assert sorted(p.name for p in target.iterdir()) == [".karvan-output", "old.txt"]


def test_writes_a_network_built_in_code(tmp_path):
    nodes = pd.DataFrame({"x_coord": [0.0, 1.0], "y_coord": [0.0, 0.0], "zone_id": [1, 2]},
                         index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1], "to_node_id": [2], "directed": [False],
                          "free_flow_time": [0.25]}, index=pd.Index(["a"], name="link_id"))
    out = write_gmns(karvan.Network(nodes, links, name="toy"), tmp_path / "toy")
    back = read_gmns(out)
    assert back.name == "toy"
    assert back.links.loc["a", "free_flow_time"] == 0.25
    assert not back.links.loc["a", "directed"]


# -- bad input: every message names the file, the line and the id ---------------------------------


def test_not_a_folder(tmp_path):
    with pytest.raises(InputError, match="is not a folder; a GMNS network is a folder"):
        read_gmns(tmp_path / "nowhere")


def test_missing_node_csv(tmp_path):
    (msg,) = problems_of(small(tmp_path, {"node.csv": None}))
    assert msg.startswith("node.csv is missing from") and str(tmp_path) in msg


def test_missing_required_columns(tmp_path):
    folder = small(tmp_path)
    edit(folder / "node.csv", "node_id,name,x_coord", "node_id,name,x")
    edit(folder / "link.csv", "link_id,from_node_id", "link_id,from_node")
    assert problems_of(folder) == [
        "node.csv: has no column x_coord (required); add it to the header (line 1) and give "
        "every row its value: longitude or x in the CRS of config.csv; its columns are node_id, "
        "name, x, y_coord, node_type, zone_id.",
        "link.csv: has no column from_node_id (required); column 'from_node' looks like "
        "from_node_id renamed or misspelt: rename it to from_node_id."]


def test_duplicate_node_id(tmp_path):
    folder = small(tmp_path)
    with (folder / "node.csv").open("a") as f:
        f.write("5,Again,1.0,1.0,intersection,\n")
    (msg,) = problems_of(folder)
    assert msg == ("node.csv: node_id repeats an earlier row on 1 row (line 10; node_id 5: "
                   "'5 as on line 6'); each node_id may appear once.")


def test_duplicate_link_id(tmp_path):
    folder = small(tmp_path)
    with (folder / "link.csv").open("a") as f:
        f.write("1003,4,1,TRUE,3,60,1,200,car,local\n")
    (msg,) = problems_of(folder)
    assert "link.csv: link_id repeats an earlier row on 1 row (line 16; link_id 1003: '1003 as " \
           "on line 4')" in msg


def test_link_to_unknown_node(tmp_path):
    folder = small(tmp_path)
    edit(folder / "link.csv", "1014,8,7,", "1014,8,9,")
    (msg,) = problems_of(folder)
    assert msg == ("link.csv: to_node_id is not a node_id of node.csv on 1 row (line 15; "
                   "link_id 1014: '9'); add the node to node.csv or correct the id.")


def test_non_numeric_capacity(tmp_path):
    folder = small(tmp_path)
    edit(folder / "link.csv", "1006,5,6,TRUE,4,80,1,200", "1006,5,6,TRUE,4,80,1,lots")
    (msg,) = problems_of(folder)
    assert msg == ("link.csv: capacity is not a number on 1 row (line 7; link_id 1006: 'lots'); "
                   "write a number.")


def test_negative_length(tmp_path):
    folder = small(tmp_path)
    edit(folder / "link.csv", "1009,7,6,TRUE,6,", "1009,7,6,TRUE,-6,")
    (msg,) = problems_of(folder)
    assert msg == ("link.csv: length is below the minimum 0 on 1 row (line 10; link_id 1009: "
                   "'-6'); length must be >= 0.")


def test_unknown_allowed_use(tmp_path):
    folder = small(tmp_path)
    edit(folder / "link.csv", "1007,6,3,TRUE,2,50,1,200,All", "1007,6,3,TRUE,2,50,1,200,All;Tram")
    (msg,) = problems_of(folder)
    assert msg == ("link.csv: allowed_uses names uses that are in neither use_definition.csv "
                   "nor use_group.csv on 1 row (line 8; link_id 1007: 'tram'); add them to "
                   "use_definition.csv or correct them.")


def test_zone_not_in_zone_csv(tmp_path):
    folder = small(tmp_path)
    edit(folder / "node.csv", "centroid,40", "centroid,50")
    (msg,) = problems_of(folder)
    assert msg == ("node.csv: zone_id is not a zone_id of zone.csv on 1 row (line 9; node_id 8: "
                   "'50'); add it to zone.csv or correct it.")


def test_two_nodes_with_one_zone(tmp_path):
    folder = small(tmp_path)
    edit(folder / "node.csv", "5,Centre,10.0,10.0,intersection,", "5,Centre,10.0,10.0,x,30")
    (msg,) = problems_of(folder, zone_nodes="strict")
    assert msg.startswith("node.csv: 1 zones have more than one node (zone_id 30; node_id 5, 7)")
    with pytest.warns(GmnsWarning, match=r"zone_id 30\); each is loaded at a centroid of its own "
                                         r"\(node_id 9\)"):
        net = read_gmns(folder)
    assert net.zones[30] == 9 and not net.nodes.loc[9, "passable"]
    conn = net.links[net.links["facility_type"] == "connector"]
    assert sorted(conn["to_node_id"]) == [5, 7] and (conn["from_node_id"] == 9).all()
    assert (conn["free_flow_time"] == 0).all() and (~conn["directed"]).all()
    assert net.nodes.loc[9, ["x_coord", "y_coord"]].tolist() == [10.0, 15.0]
    # written back as it was read: the zone on both nodes, no centroid, no connectors
    write_gmns(net, tmp_path / "back")
    back = pd.read_csv(tmp_path / "back" / "node.csv")
    assert back.loc[back["zone_id"] == 30, "node_id"].tolist() == [5, 7]
    assert len(pd.read_csv(tmp_path / "back" / "link.csv")) == 14
    with pytest.warns(GmnsWarning, match="loaded at the first of its nodes"):
        assert read_gmns(folder, zone_nodes="first").zones[30] == 5


def test_zero_free_speed_with_positive_length_has_no_time(tmp_path):
    # GMNS allows free_speed 0; such a link cannot be traversed: it gets no time, never 0
    folder = small(tmp_path)
    edit(folder / "link.csv", "1012,7,1,TRUE,30,100,", "1012,7,1,TRUE,30,0,")
    net = read_gmns(folder)
    assert np.isnan(net.links.loc[1012, "free_flow_time"])
    assert net.links.loc[1001, "free_flow_time"] == pytest.approx(0.1)


def test_bad_config_units(tmp_path):
    folder = small(tmp_path)
    edit(folder / "config.csv", "meter,km,km/h", "meter,furlong,furlongs per fortnight")
    assert problems_of(folder) == [
        "config.csv: long_length 'furlong' is not a known length unit; use one of mile, "
        "kilometer, meter, foot.",
        "config.csv: speed 'furlongs per fortnight' is not a known speed unit; use mile/hour, "
        "kilometer/hour or meter/second.",
    ]


def test_bad_directed_value(tmp_path):
    folder = small(tmp_path)
    edit(folder / "link.csv", "1004,4,5,TRUE", "1004,4,5,maybe")
    (msg,) = problems_of(folder)
    assert msg == ("link.csv: directed is not true or false on 1 row (line 5; link_id 1004: "
                   "'maybe'); write true or false (TRUE/FALSE, 1/0, t/f, yes/no are read too).")


def test_every_problem_is_reported_at_once(tmp_path):
    folder = small(tmp_path)
    edit(folder / "config.csv", "meter,km,km/h", "meter,furlong,km/h")
    with (folder / "node.csv").open("a") as f:
        f.write("5,Again,1.0,1.0,intersection,\n")
    edit(folder / "link.csv", "1014,8,7,", "1014,8,9,")
    edit(folder / "link.csv", "1006,5,6,TRUE,4,80,1,200", "1006,5,6,TRUE,4,80,1,lots")
    edit(folder / "link.csv", "1009,7,6,TRUE,6,", "1009,7,6,TRUE,-6,")
    edit(folder / "link.csv", "1007,6,3,TRUE,2,50,1,200,All", "1007,6,3,TRUE,2,50,1,200,Tram")
    with pytest.raises(InputError) as e:
        read_gmns(folder)
    assert len(e.value.problems) == 6
    text = str(e.value)
    assert text.startswith(f"{folder}: 6 problems:")
    for part in ("furlong", "node_id repeats an earlier row", "link_id 1014: '9'",
                 "capacity is not a number", "length is below the minimum 0", "'tram'"):
        assert part in text
    assert {v.file for v in e.value.violations} >= {"node.csv", "link.csv"}


# -- demand --------------------------------------------------------------------------------------


EXPECTED_OD = {(10, 20): 100.0, (10, 30): 50.0, (20, 10): 80.0, (30, 40): 30.0, (40, 20): 20.0}


@pytest.mark.parametrize(
    "header",
    ["o_zone_id,d_zone_id,volume", "orig_taz,dest_taz,total", "ORIG_TAZ,Dest_TAZ,Total",
     "origin,destination,demand"],
)
def test_demand_column_names(tmp_path, header):
    net = read_gmns(SMALL)
    rows = (SMALL / "demand.csv").read_text().splitlines()[1:]
    p = tmp_path / "trips.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    d = read_gmns_demand(p, net)
    assert d.zone_ids == (10, 20, 30, 40) and d.total() == 280.0
    (m,) = d.matrices.values()
    got = {(d.zone_ids[i], d.zone_ids[j]): m[i, j] for i, j in zip(*np.nonzero(m), strict=True)}
    assert got == EXPECTED_OD


def test_two_columns_for_one_field_are_an_error(tmp_path):
    # flow and total are both names of volume: which one the file means cannot be told
    p = tmp_path / "trips.csv"
    p.write_text("origin,destination,flow,total\n10,20,100,999\n10,30,50,999\n")
    with pytest.raises(InputError) as e:
        read_gmns_demand(p, read_gmns(SMALL))
    assert e.value.problems == ["trips.csv: volume is given by 2 columns that differ ('total', "
                                "'flow'); keep one of them, or name it volume."]
    # two columns with the same values (as karvan's GMNS export writes segment and
    # commodity_id) are read
    p.write_text("origin,destination,flow,total\n10,20,100,100.0\n10,30,50,5e1\n")
    assert read_gmns_demand(p, read_gmns(SMALL)).total() == 150.0
    # a column named as the field itself is the one read
    p.write_text("origin,destination,volume,total\n10,20,100,999\n10,30,50,999\n")
    assert read_gmns_demand(p, read_gmns(SMALL)).total() == 150.0


def test_demand_for_unknown_zones(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text((SMALL / "demand.csv").read_text() + "10,99,5\n77,20,1\n")
    with pytest.raises(InputError) as e:
        read_gmns_demand(p, read_gmns(SMALL))
    fix = "correct the zone id, or give the node where that zone is its zone_id in node.csv."
    assert e.value.problems == [
        f"demand.csv: o_zone_id is not a zone of the network on 1 row (line 8: '77'); {fix}",
        f"demand.csv: d_zone_id is not a zone of the network on 1 row (line 7: '99'); {fix}",
    ]
    # the heading is the folder: the file is named once, in each problem
    assert e.value.source == str(tmp_path)


def test_negative_demand(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text("o_zone_id,d_zone_id,volume\n10,20,5\n10,30,-1\n20,10,many\n30,40,inf\n")
    with pytest.raises(InputError) as e:
        read_gmns_demand(p, read_gmns(SMALL))
    assert e.value.problems == [
        "demand.csv: volume is not a number on 1 row (line 4: 'many'); write a number.",
        "demand.csv: volume is not finite on 1 row (line 5: 'inf'); write a finite number, or "
        "leave the cell blank where the table allows it.",
        "demand.csv: volume is below the minimum 0 on 1 row (line 3: '-1'); volume must be >= 0."]


def test_repeated_demand_rows_are_an_error_not_a_sum(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text("o_zone_id,d_zone_id,volume\n10,20,5\n10,20,7\n")
    with pytest.raises(InputError, match=r"\(o_zone_id, d_zone_id\) repeats an earlier row on 1 "
                                         r"row \(line 3: '10, 20 as on line 2'\)"):
        read_gmns_demand(p, read_gmns(SMALL))


def test_demand_problems_are_reported_together(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text("o_zone_id,d_zone_id,volume\n10,20,-5\n10,99,5\n")
    with pytest.raises(InputError) as e:
        read_gmns_demand(p, read_gmns(SMALL))
    assert len(e.value.problems) == 2
    assert "volume is below the minimum 0 on 1 row (line 2" in e.value.problems[0]
    assert "(line 3: '99')" in e.value.problems[1]


def test_demand_without_recognised_columns(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text("from,to,volume\n10,20,5\n")
    with pytest.raises(InputError, match=r"no column for origin \(o_zone_id\), destination "
                                         r"\(d_zone_id\); columns are from, to, volume"):
        read_gmns_demand(p)


# -- assignment on the small network -------------------------------------------------------------


AON_FLOWS = {  # (link_id, direction): flow, worked out in tests/data/gmns_small/README.md
    (1001, 1): 100, (1002, 1): 100, (1003, 1): 50, (1004, 1): 50, (1005, 1): 80, (1006, 1): 0,
    (1007, 1): 50, (1008, 1): 130, (1009, 1): 30, (1010, 1): 30, (1011, 1): 0, (1011, -1): 20,
    (1012, 1): 80, (1013, 1): 80, (1014, 1): 0,
}


def aon(net):
    demand = read_gmns_demand(SMALL / "demand.csv", net)
    return karvan.assign(net, demand, method="aon").link_table()


def test_all_or_nothing_on_the_small_network():
    table = aon(read_gmns(SMALL))
    got = {(r.link_id, r.direction): r.flow for r in table.itertuples()}
    assert got == pytest.approx(AON_FLOWS)
    # conservation at every node: inflow - outflow = demand in - demand out
    net_in = pd.Series(0.0, index=range(1, 9))
    net_in = net_in.add(table.groupby("to_node_id")["flow"].sum(), fill_value=0)
    net_in = net_in.sub(table.groupby("from_node_id")["flow"].sum(), fill_value=0)
    zone_node = read_gmns(SMALL).zones
    balance = pd.Series(0.0, index=range(1, 9))
    for (o, d), v in EXPECTED_OD.items():
        balance[zone_node[d]] += v
        balance[zone_node[o]] -= v
    pd.testing.assert_series_equal(net_in, balance, check_names=False)


def test_use_filter_changes_the_paths():
    # without the car-only links 1003 and 1004, 10 -> 30 goes 1-2-5-7
    got = {(r.link_id, r.direction): r.flow
           for r in aon(read_for_use(SMALL, "truck")).itertuples()}
    assert (1003, 1) not in got
    assert got[(1001, 1)] == pytest.approx(150) and got[(1005, 1)] == pytest.approx(130)


def test_od_pairs_without_a_path():
    net = read_for_use(SMALL, "walk")  # zone 10's node has no walk link out
    demand = read_gmns_demand(SMALL / "demand.csv", net)
    with pytest.raises(NoPathError, match=r"OD pairs with demand \(.* in all\) have no path "
                                          r"\(.*10->20"):
        karvan.assign(net, demand, method="aon")


def test_zone_and_use_tables_survive_a_round_trip(tmp_path):
    net = read_for_use(SMALL, "truck")
    write_gmns(read_gmns(SMALL), tmp_path / "out")
    again = read_for_use(tmp_path / "out", "truck")
    assert sorted(again.links.index) == sorted(net.links.index)
    assert (tmp_path / "out" / "zone.csv").read_text() == (SMALL / "zone.csv").read_text()


def test_per_lane_capacity_is_written_back_per_lane(tmp_path):
    lanes = read_gmns(SMALL, capacity_per_lane=True)
    write_gmns(lanes, tmp_path / "out")
    plain = read_gmns(SMALL)
    again = read_gmns(tmp_path / "out")
    pd.testing.assert_series_equal(again.links["capacity"], plain.links["capacity"],
                                   check_dtype=False)


def test_length_without_speed_gives_no_time_and_assignment_refuses_it(tmp_path):
    folder = small(tmp_path)
    links = pd.read_csv(folder / "link.csv", dtype=str)
    links.loc[0, "free_speed"] = ""
    links.to_csv(folder / "link.csv", index=False)
    net = read_gmns(folder)
    assert np.isnan(net.links.loc[1001, "free_flow_time"])
    demand = read_gmns_demand(SMALL / "demand.csv", net)
    with pytest.raises(InputError, match=r"1 links have no free_flow_time \(link_id 1001\)"):
        karvan.assign(net, demand, method="aon")


def test_demand_rows_whose_ids_are_one_number_are_repeats_not_summed(tmp_path):
    """``20`` and ``20.0`` are one zone: the second row repeats the first (it was summed)."""
    folder = small(tmp_path, {"demand.csv": "o_zone_id,d_zone_id,volume\n10,20,100\n"
                                            "10,20.0,100\n10,30,50\n"})
    net = read_gmns(folder)
    with pytest.raises(InputError) as e:
        read_gmns_demand(folder / "demand.csv", net)
    msg = str(e.value)
    assert "line 3" in msg and "line 2" in msg and "not summed" in msg


@pytest.mark.parametrize(("name", "old", "new"), [
    ("node.csv", "2,South,", "01,South,"),
    ("link.csv", "1002,2,3,", "1001.0,2,3,"),
])
def test_ids_that_are_one_number_are_duplicates_with_their_lines(tmp_path, name, old, new):
    folder = small(tmp_path)
    edit(folder / name, old, new)
    with pytest.raises(InputError) as e:
        read_gmns(folder)
    msg = str(e.value)
    assert name in msg and "line 3" in msg and "as on line 2" in msg


def test_a_capacity_on_links_of_several_lanes_is_read_as_the_user_says(tmp_path):
    """GMNS defines capacity per lane, karvan reads the whole link's: unsaid, a note says which
    reading was taken; --capacity-per-lane multiplies by lanes (link 1001: 2 lanes, 100)."""
    import warnings

    from karvan.io.problem import read_problem
    from karvan.io.validate import validate_input

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        prob = read_problem(SMALL)
    notes = [str(w.message) for w in seen if "more than one lane" in str(w.message)]
    assert len(notes) == 1 and "1001" in notes[0] and "--capacity-per-lane" in notes[0]
    assert prob.network.links.at[1001, "capacity"] == 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said: no note
        warnings.filterwarnings("ignore", "allowed_uses bars some uses")  # another note
        per_lane = read_problem(SMALL, capacity_per_lane=True)
        per_link = read_problem(SMALL, capacity_per_lane=False)
    assert per_lane.network.links.at[1001, "capacity"] == 200
    assert per_link.network.links.at[1001, "capacity"] == 100
    assert any("more than one lane" in n for n in validate_input(SMALL).notes)


def test_the_readings_left_unsaid_are_warned_of():
    """read_gmns read gmns_small's capacities of two-lane links as the whole link's, and every
    link for every use though allowed_uses bars some, in silence: karvan assign and karvan
    validate said so in a note, a Python user was not told."""
    import warnings

    from karvan.io.problem import read_problem

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        read_gmns(SMALL)
    said = [str(w.message) for w in seen if issubclass(w.category, GmnsWarning)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        read_problem(SMALL)  # what karvan assign prints as notes
    notes = [str(w.message) for w in seen if "more than one lane" in str(w.message)
             or "allowed_uses bars" in str(w.message)]
    assert len(notes) == 2 and said == notes
    assert "(link_id 1001, 1002, 1010, 1013)" in said[0] and "capacity_per_lane=True" in said[0]
    assert "from 11 of 14 links" in said[1] and "read_gmns(..., use=USE)" in said[1]
    # said how: no warning of it
    for how in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.warns(GmnsWarning, match="allowed_uses bars some uses") as seen:
                read_gmns(SMALL, capacity_per_lane=how)
        assert len(seen) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.warns(GmnsWarning) as seen:
            read_gmns(SMALL, capacity_per_lane=False, use="truck")
    assert [str(w.message) for w in seen] == [
        "use 'truck': 11 of 14 links admit it (allowed_uses); left out: link_id 1003, 1004, "
        "1014."]


def test_every_use_said_reads_every_link_without_the_note():
    """Every link for every use could only be read with the note of it, an error under warnings
    as errors (as on most of GMNS's own examples): use=EVERY_USE says so, and reads what
    use=None reads."""
    import warnings

    from karvan.io.gmns import EVERY_USE, inspect_gmns, uses_note

    with pytest.warns(GmnsWarning, match="allowed_uses bars some uses from 11 of 14 links"):
        unsaid = read_gmns(SMALL, capacity_per_lane=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        said = read_gmns(SMALL, capacity_per_lane=False, use=EVERY_USE)
    pd.testing.assert_frame_equal(said.links, unsaid.links)
    pd.testing.assert_frame_equal(said.nodes, unsaid.nodes)
    assert len(said.links) == 14
    assert not any("allowed_uses" in n for n in inspect_gmns(SMALL, use=EVERY_USE).notes)
    # the note names the way to say so
    note = uses_note(unsaid)
    assert "--every-use" in note and "use=karvan.io.gmns.EVERY_USE" in note
    # not `all`, a use group of gmns_small (auto, walk, bike), nor any use a file may name
    assert EVERY_USE.lower() != "all" and "," not in EVERY_USE and ";" not in EVERY_USE


def test_every_use_keeps_the_zones_connectors(tmp_path):
    from karvan.io.gmns import EVERY_USE

    folder = Path(shutil.copytree(SMALL, tmp_path / "n"))
    nodes = pd.read_csv(folder / "node.csv")
    nodes.loc[nodes["node_id"] == 4, "zone_id"] = 10  # zone 10 on two nodes: a centroid
    nodes.to_csv(folder / "node.csv", index=False)
    with pytest.warns(GmnsWarning) as caught:
        net = read_gmns(folder, capacity_per_lane=False, use=EVERY_USE)
    assert not any("allowed_uses" in str(w.message) for w in caught)
    assert len(net.links) == 16 and set(net.config["derived_links"]) <= set(net.links.index)


def test_every_use_is_taken_by_every_reader_that_takes_a_use(tmp_path):
    """read_problem and validate_input take use= as read_gmns does, and EVERY_USE with it: no
    note, the same network, and (unlike a use) no refusal of a TNTP network or of classes of
    several uses."""
    import warnings

    from karvan.io.gmns import EVERY_USE
    from karvan.io.problem import read_problem
    from karvan.io.tntp import read_tntp_net
    from karvan.io.validate import validate_input
    from tests.unit.test_io_tntp import GOOD, net_file, trips_file

    with pytest.warns(GmnsWarning, match="allowed_uses bars some uses"):
        unsaid = read_problem(SMALL, capacity_per_lane=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        said = read_problem(SMALL, capacity_per_lane=False, use=EVERY_USE)
    pd.testing.assert_frame_equal(said.network.links, unsaid.network.links)
    assert said.demand.total() == unsaid.demand.total()
    assert any("allowed_uses bars" in n for n in validate_input(SMALL).notes)
    rep = validate_input(SMALL, use=EVERY_USE)
    assert not rep.errors and rep.ready
    assert not any("allowed_uses" in n for n in rep.notes)
    # a TNTP network: every link is for every use
    net = net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 5;\n", total=5)
    assert len(read_problem(net, use=EVERY_USE).network.links) == len(
        read_tntp_net(net)[0].links)
    assert not validate_input(net, use=EVERY_USE).errors
    # classes of several uses on every link: what use=None does, said
    folder = Path(shutil.copytree(SMALL, tmp_path / "classes"))
    (folder / "use_definition.csv").write_text(
        "use,persons_per_vehicle,pce,value_of_time,cost_field\nsov,1,1,10,toll\n"
        "hov2,2,1,,\ntruck,1,2,30,toll\nbus,10,2,,\nwalk,1,0,,\nbike,1,0.5,,\n")
    links = pd.read_csv(folder / "link.csv")
    links["toll"] = 0.0
    links.to_csv(folder / "link.csv", index=False)
    (folder / "demand.csv").write_text("o_zone_id,d_zone_id,volume,use\n10,30,50,sov\n"
                                       "20,10,80,truck\n")
    with pytest.raises(InputError, match="the demand has classes of other uses"), \
            pytest.warns(GmnsWarning, match="use 'truck': 11 of 14 links admit it"):
        read_problem(folder, capacity_per_lane=False, use="truck")
    prob = read_problem(folder, capacity_per_lane=False, use=EVERY_USE)
    assert [c["name"] for c in prob.classes] == ["sov", "truck"] and len(prob.network.links) == 14


def test_a_network_without_coordinates_is_not_written_as_gmns(tmp_path):
    """GMNS requires coordinates: the folder written was refused by its own reader."""
    from karvan.io.tntp import read_tntp_net

    braess = tmp_path / "B_net.tntp"
    braess.write_text("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n"
                      "<NUMBER OF LINKS> 2\n<END OF METADATA>\n\n~ a b c l t b p s t k ;\n"
                      "\t1\t3\t10\t1\t1\t0.15\t4\t0\t0\t1\t;\n\t3\t2\t10\t1\t1\t0.15\t4\t0\t0\t1\t;\n")
    net, _ = read_tntp_net(braess)
    with pytest.raises(InputError, match="3 nodes have no coordinates.*_node.tntp"):
        write_gmns(net, tmp_path / "g")
    assert not (tmp_path / "g").exists()


def test_defaults_standing_in_for_a_misspelt_column_say_so(tmp_path):
    """'capcity' was kept as an extra column and every capacity came from the defaults, with a
    note that did not name it."""
    from karvan.io.gmns_ready import prepare_assignment

    folder = small(tmp_path)
    text = (folder / "link.csv").read_text().replace(",capacity,", ",capcity,", 1)
    (folder / "link.csv").write_text(text)
    net = read_gmns(folder)
    ready = prepare_assignment(net)
    (note,) = [d for d in ready.defaults if d.startswith("capacity of")]
    assert "'capcity'" in note and "rename it to capacity" in note
