"""GIS exports of a run: GeoPackage with QGIS styles, OMX matrices, GMNS network.

One real corridor scenario is run once for the module (rasht_astara: it opens links, so the
GMNS statuses differ from the dataset's)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from karvan.cli import app
from karvan.errors import InputError
from karvan.freight.corridor import load_corridor
from karvan.io import geopackage, read_gmns
from karvan.io.geopackage import LAYERS, write_geopackage
from karvan.io.omx import read_omx, write_omx
from karvan.io.qgis_styles import style_fields
from karvan.scenario import load_scenario
from karvan.scenario.apply import apply_scenario
from karvan.scenario.export import export_gmns, export_run, scenario_from_manifest
from karvan.scenario.run import run_scenario, write_run

SCENARIO = "rasht_astara"
GEOMETRY = {"links": "LineString", "nodes": "Point", "borders": "Point", "od_lines": "LineString",
            "countries": "MultiPolygon", "transfers": "Point"}


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    scenario = load_scenario(SCENARIO)
    folder = tmp_path_factory.mktemp("runs") / SCENARIO
    write_run(run_scenario(data, scenario), folder, data)
    return folder


@pytest.fixture(scope="module")
def gpkg(run):
    return write_geopackage(run)


def table(run: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / f"{name}.parquet")


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """Strings as objects with None for missing, so Parquet and GeoPackage reads compare."""
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]) or df[c].dtype == bool:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


# -- GeoPackage ----------------------------------------------------------------------------------


def test_geopackage_layers_geometry_crs_and_fields(run, gpkg):
    assert gpkg == run / "run.gpkg"
    layers = dict(map(tuple, pyogrio.list_layers(gpkg)))
    assert layers == {**GEOMETRY, "layer_styles": None}
    links = table(run, "links")
    expected_fields = {
        "links": list(links.columns),
        "nodes": ["node_id", "name", "node_type", "country", "zone_id"],
        "borders": list(table(run, "borders").columns),
    }
    for name, geom in GEOMETRY.items():
        info = pyogrio.read_info(gpkg, layer=name)
        assert info["geometry_type"] == geom, name
        assert info["crs"] == "EPSG:4326", name
        assert info["features"] > 0, name
        if name in expected_fields:
            assert list(info["fields"]) == expected_fields[name], name
    od = list(pyogrio.read_info(gpkg, layer="od_lines")["fields"])
    commodities = sorted(table(run, "demand")["commodity_id"].unique())
    assert od[:5] == ["origin", "destination", "origin_name", "destination_name", "tonnes_tot"]
    assert sorted(f for f in od if f.startswith("tonnes_") and f != "tonnes_tot") == sorted(
        f"tonnes_{c}" for c in commodities)
    for f in ("tonnes_ab", "tonnes_ba", "tonnes_tot", "utilization", "time_h_ab", "time_h_ba",
              "charge_usd_per_t", *(f"tonnes_{c}" for c in commodities)):
        assert f in expected_fields["links"]
    for f in ("time_h", "distance_km", "cost_usd_per_t"):
        assert f in od


def test_each_layer_says_its_units_and_run(run, gpkg):
    """Files named run.gpkg alike did not tell scenarios apart, and no layer gave its units."""
    from karvan.io.run_folder import RunRecord

    rec = RunRecord.from_folder(run)
    with contextlib.closing(sqlite3.connect(gpkg)) as con:
        rows = dict(((t, (i, d)) for t, i, d in con.execute(
            "SELECT table_name, identifier, description FROM gpkg_contents")))
    name = rec.manifest["scenario"]["name"]
    for layer in LAYERS:
        ident, text = rows[layer]
        assert ident == f"{name} {layer}" and f"scenario {name} (" in text
        assert (rec.run_id or rec.path.name) in text
    assert "t/yr" in rows["links"][1] and "from_node_id to to_node_id" in rows["links"][1]
    assert "schematic" in rows["links"][1] and "capacity_hard_tpy" in rows["borders"][1]


def test_geopackage_opens_with_gdal(gpkg):
    # GDAL's own reader, through pyogrio: every layer with its feature count
    for name in LAYERS:
        assert pyogrio.read_info(gpkg, layer=name, force_feature_count=True)["features"] > 0
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles")
    assert sorted(styles["f_table_name"]) == sorted(LAYERS)
    with contextlib.closing(sqlite3.connect(gpkg)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="the ogrinfo binary is not installed")
def test_geopackage_opens_with_ogrinfo(gpkg):
    res = subprocess.run([shutil.which("ogrinfo"), "-ro", "-so", "-al", str(gpkg)],
                         capture_output=True,
                         text=True, check=True)
    for name in (*LAYERS, "layer_styles"):
        assert f"Layer name: {name}" in res.stdout


def test_layer_styles_one_default_qml_per_layer(gpkg):
    with contextlib.closing(sqlite3.connect(gpkg)) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM layer_styles").fetchall()
        contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
        geom_col = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
    assert contents["layer_styles"] == "attributes"
    assert cols[1:] == ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                        "styleName", "styleQML", "styleSLD", "useAsDefault", "description",
                        "owner", "ui", "update_time"]
    assert sorted(r["f_table_name"] for r in rows) == sorted(LAYERS)
    renderers = {}
    for r in rows:
        name = r["f_table_name"]
        assert r["useAsDefault"] == 1
        assert r["f_geometry_column"] == geom_col[name]
        assert r["update_time"]
        root = ET.fromstring(r["styleQML"])
        assert root.tag == "qgis"
        renderers[name] = root.find("renderer-v2")
        fields = set(pyogrio.read_info(gpkg, layer=name)["fields"])
        used = style_fields(r["styleQML"])
        assert used <= fields, (name, used - fields)
        geom_type = {"LineString": "1", "Point": "0", "MultiPolygon": "2"}[GEOMETRY[name]]
        assert root.findtext("layerGeometryType") == geom_type
    links = renderers["links"]
    assert links.get("type") == "graduatedSymbol" and links.get("attr") == "tonnes_tot"
    ranges = links.findall("ranges/range")
    assert 2 <= len(ranges) <= 5
    widths = [float(s.find("layer/prop[@k='line_width']").get("v"))
              for s in links.findall("symbols/symbol")]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    colour = links.find(".//Option[@name='outlineColor']/Option[@name='expression']").get("value")
    assert '"utilization"' in colour
    top = float(ranges[-1].get("upper"))
    assert top >= table(gpkg.parent, "links")["tonnes_tot"].max()  # the heaviest link is drawn
    assert renderers["od_lines"].get("type") == "graduatedSymbol"
    dash = links.find(".//Option[@name='outlineStyle']/Option[@name='expression']").get("value")
    assert "'sea'" in dash and "'ferry'" in dash and "'dash'" in dash
    assert renderers["countries"].find("symbols/symbol").get("type") == "fill"
    size = renderers["borders"].find(".//Option[@name='size']/Option[@name='expression']")
    assert '"tonnes_tot"' in size.get("value")
    assert renderers["nodes"].get("type") == "singleSymbol"


def test_geopackage_has_the_country_outlines_for_context(run, gpkg):
    countries = pyogrio.read_dataframe(gpkg, layer="countries")
    assert {"AZE", "IRN", "RUS", "KAZ", "TKM", "GEO", "ARM"} <= set(countries["iso3"])
    # the run's figures per country, joined by karvan's two-letter code (the layer had only
    # ISO3 codes, which no run table uses)
    by_code = countries.dropna(subset=["country"]).set_index("country")
    assert by_code.loc["AZ", "iso3"] == "AZE" and by_code.loc["IR", "iso3"] == "IRN"
    results = table(run, "countries").set_index("country")
    shown = results.index.intersection(by_code.index)
    assert {"AZ", "IR", "RU", "GE", "KZ", "TM", "AM", "TR"} <= set(shown)
    for col in ("tonnes", "transit_tonnes", "transit_revenue_usd"):
        np.testing.assert_allclose(by_code.loc[shown, col], results.loc[shown, col], rtol=1e-12)
    assert countries.loc[countries["country"].isna(), "transit_tonnes"].isna().all()
    # yes/no as a boolean field (blank where the run has no row), as in the links layer: it was
    # the text "True"/"False", which a filter reads as text and astype(bool) as all true
    assert pyogrio.read_info(gpkg, layer="countries")["dtypes"][
        list(pyogrio.read_info(gpkg, layer="countries")["fields"]).index("sea_legs_only")
    ] == "bool"
    np.testing.assert_array_equal(by_code.loc[shown, "sea_legs_only"].astype(float) == 1.0,
                                  results.loc[shown, "sea_legs_only"].astype(bool))
    geoms = countries.geometry.to_numpy()
    assert shapely.is_valid(geoms).all() and (shapely.area(geoms) > 0).all()
    links = pyogrio.read_dataframe(gpkg, layer="links")
    # the network lies on the land drawn, apart from sea legs (where land is drawn: the
    # outlines cover the region box, not China, the EU or Russia east of the Urals)
    from karvan.io.outlines import REGION_BOX

    land = shapely.buffer(shapely.union_all(geoms), 0.05)
    inland = links[~links["mode"].isin(["sea", "ferry"])].geometry.to_numpy()
    points = shapely.point_on_surface(inland)
    drawn = shapely.within(points, shapely.box(*REGION_BOX))
    assert drawn.sum() > 150
    assert shapely.within(points[drawn], land).mean() > 0.95


def test_report_and_qgis_share_one_utilization_scale():
    from karvan.io.colours import UTILIZATION_SCALE, utilization_colour
    from karvan.io.qgis_styles import utilization_colour_expression
    from karvan.report.svg import util_colour

    expr = utilization_colour_expression()
    for u in (0.0, 0.49, 0.5, 0.79, 0.8, 0.94, 0.95, 0.99, 1.0, 3.0, float("nan"), None):
        assert util_colour(u) == utilization_colour(u)
        assert f"'{utilization_colour(u)}'" in expr
    # the expression's classes, in order: grey for null, then every class's colour
    assert re.findall(r"'(#[0-9a-f]{6})'", expr) == [
        utilization_colour(None), *(c for _, c, _ in UTILIZATION_SCALE)]


def test_geopackage_values_equal_the_run_tables(run, gpkg, data):
    links = pyogrio.read_dataframe(gpkg, layer="links")
    expected = table(run, "links")
    pd.testing.assert_frame_equal(plain(links.drop(columns="geometry")), plain(expected),
                                  check_dtype=False)
    # every link runs from its from-node to its to-node (a link at one place: at that point)
    xy = data.nodes[["x_coord", "y_coord"]].astype(float)
    lines = links[links.geometry.notna()]
    coords = shapely.get_coordinates(shapely.get_point(lines.geometry.values, 0))
    np.testing.assert_allclose(coords, xy.loc[lines["from_node_id"]].to_numpy(), atol=0.05)
    coords = shapely.get_coordinates(shapely.get_point(lines.geometry.values, -1))
    np.testing.assert_allclose(coords, xy.loc[lines["to_node_id"]].to_numpy(), atol=0.05)
    points = pyogrio.read_dataframe(gpkg, layer="transfers")
    coords = shapely.get_coordinates(points.geometry.values)
    np.testing.assert_allclose(coords, xy.loc[points["from_node_id"]].to_numpy(), atol=0.05)
    np.testing.assert_allclose(coords, xy.loc[points["to_node_id"]].to_numpy(), atol=0.05)

    borders = pyogrio.read_dataframe(gpkg, layer="borders")
    pd.testing.assert_frame_equal(plain(borders.drop(columns="geometry")),
                                  plain(table(run, "borders")), check_dtype=False)
    line = links.set_index("link_id").geometry
    line = line.where(line.notna(), points.set_index("link_id").geometry.reindex(line.index))
    first = borders["link_ids"].str.split(";").str[0]
    dist = shapely.distance(borders.geometry.values, line.loc[first].values)
    assert (dist < 1e-9).all()  # each border point lies on its link (or is its point)

    nodes = pyogrio.read_dataframe(gpkg, layer="nodes")
    assert sorted(nodes["node_id"]) == sorted(data.nodes.index)
    zoned = nodes.dropna(subset=["zone_id"])
    assert set(zoned["zone_id"]) == set(data.zones["zone_id"])

    od = pyogrio.read_dataframe(gpkg, layer="od_lines")
    demand = table(run, "demand")
    demand = demand[demand["tonnes_per_year"] > 0]
    skims = table(run, "skims").set_index(["commodity", "origin", "destination"])
    centroid = dict(zip(data.zones["zone_id"], data.zones["node_id"], strict=True))
    assert od["tonnes_tot"].sum() == pytest.approx(demand["tonnes_per_year"].sum())
    for row in od.sample(25, random_state=1).itertuples():
        rows = demand[(demand["origin_zone_id"] == row.origin)
                      & (demand["destination_zone_id"] == row.destination)]
        assert row.tonnes_tot == pytest.approx(rows["tonnes_per_year"].sum())
        for r in rows.itertuples():
            assert getattr(row, f"tonnes_{r.commodity_id}") == pytest.approx(r.tonnes_per_year)
        num = den = 0.0
        for r in rows.itertuples():
            key = (r.commodity_id, row.origin, row.destination)
            if key in skims.index:
                num += r.tonnes_per_year * skims.loc[key, "time_h"]
                den += r.tonnes_per_year
        assert row.time_h == pytest.approx(num / den)
        ends = shapely.get_coordinates(row.geometry)
        np.testing.assert_allclose(ends[0], xy.loc[centroid[row.origin]].to_numpy())
        np.testing.assert_allclose(ends[-1], xy.loc[centroid[row.destination]].to_numpy())


def test_geopackage_failed_write_leaves_nothing(run, gpkg, tmp_path, monkeypatch):
    before = gpkg.read_bytes()
    listing = sorted(p.name for p in run.iterdir())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(geopackage, "write_layer_styles", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_geopackage(run)  # fails after the layers are written
    assert gpkg.read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == listing
    with pytest.raises(RuntimeError):
        write_geopackage(run, tmp_path / "new.gpkg")
    assert list(tmp_path.iterdir()) == []


def test_geopackage_dataset_checks(run, tmp_path, data):
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("*.gpkg", "*.omx"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["inputs"]["sha256_16"]["link.csv"] = "0" * 16
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="changed since the run"):
        write_geopackage(copy)
    manifest["inputs"]["dataset"] = str(tmp_path / "gone")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="karvan export and karvan report take --data"):
        write_geopackage(copy)
    assert write_geopackage(copy, data=data).is_file()  # the dataset given explicitly
    with pytest.raises(InputError, match="not a karvan run folder"):
        write_geopackage(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


# -- OMX -----------------------------------------------------------------------------------------


def test_omx_layout_and_read_back(run, data):
    path = write_omx(run)
    assert path == run / "run.omx"
    zones = list(data.zones["zone_id"])
    n = len(zones)
    with h5py.File(path, "r") as f:
        assert f.attrs["OMX_VERSION"] == b"0.2"
        assert list(f.attrs["SHAPE"]) == [n, n] and f.attrs["SHAPE"].dtype == np.int32
        assert f["lookup/zones"].dtype == np.uint32 and f["lookup/zones"].ndim == 1
        assert list(f["lookup/zones"][()]) == list(range(1, n + 1))
        assert f["lookup/zone_id"].dtype.kind == "S" and f["lookup/zone_id"].ndim == 1
        assert [z.decode() for z in f["lookup/zone_id"][()]] == zones
        for ds in f["data"].values():
            assert ds.dtype == np.float64 and ds.shape == (n, n)
        assert f["data/demand_total"].attrs["units"] == b"t/yr"
    mats = read_omx(path)
    demand = table(run, "demand")
    skims = table(run, "skims")
    for c, rows in demand.groupby("commodity_id"):
        m = mats[f"demand_{c}"]
        assert list(m.index) == zones and list(m.columns) == zones
        got = [m.at[o, d] for o, d in zip(rows["origin_zone_id"],
                                                rows["destination_zone_id"], strict=True)]
        np.testing.assert_allclose(got, rows["tonnes_per_year"])
        assert m.to_numpy().sum() == pytest.approx(rows["tonnes_per_year"].sum())
    assert mats["demand_total"].to_numpy().sum() == pytest.approx(
        demand["tonnes_per_year"].sum())
    for field in ("time_h", "distance_km", "cost_usd_per_t", "charge_usd_per_t"):
        for c, rows in skims.groupby("commodity"):
            m = mats[f"{field}_{c}"]
            got = [m.at[o, d] for o, d in zip(rows["origin"], rows["destination"],
                                                    strict=True)]
            np.testing.assert_array_equal(got, rows[field].to_numpy())
            assert np.isnan(m.to_numpy()).sum() == n * n - len(rows)  # no skim: NaN


def test_omx_integer_lookup_and_errors(tmp_path):
    # an openmatrix-style file: integer lookup only
    path = tmp_path / "int.omx"
    with h5py.File(path, "w") as f:
        f.attrs["OMX_VERSION"] = np.bytes_(b"0.2")
        f.attrs["SHAPE"] = np.array([2, 2], dtype=np.int32)
        f.create_dataset("data/trips", data=np.array([[0.0, 1.0], [2.0, 0.0]]))
        f.create_dataset("lookup/taz", data=np.array([11, 12], dtype=np.uint32))
    m = read_omx(path)["trips"]
    assert list(m.index) == [11, 12] and m.at[12, 11] == 2.0
    bad = tmp_path / "bad.omx"
    with h5py.File(bad, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(InputError, match="not an OMX file"):
        read_omx(bad)
    (tmp_path / "text.omx").write_text("hello")
    with pytest.raises(InputError, match="not an HDF5"):
        read_omx(tmp_path / "text.omx")


def test_omx_failed_write_leaves_nothing(run, tmp_path, monkeypatch):
    real = h5py.Group.create_dataset

    def failing(self, name, *args, **kwargs):
        if name == "zone_id":
            raise OSError("disk full")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="disk full"):
        write_omx(run, tmp_path / "x.omx")
    assert list(tmp_path.iterdir()) == []


# -- GMNS ----------------------------------------------------------------------------------------


def test_gmns_export_has_the_scenario_statuses(run, tmp_path, data):
    out = export_gmns(run, tmp_path / "gmns")
    net = read_gmns(out)
    scenario = load_scenario(SCENARIO)
    expected = apply_scenario(data, scenario).links
    assert sorted(net.links.index) == sorted(expected.index)
    pd.testing.assert_series_equal(net.links["status"].sort_index(),
                                   expected["status"].sort_index(), check_names=False,
                                   check_dtype=False)
    changed = expected.index[expected["status"] != data.links["status"]]
    assert len(changed) > 0  # the scenario opens links: the export is not the base dataset
    assert (net.links.loc[changed, "status"] == "open").all()
    assert set(table(run, "links")["link_id"]) == set(
        net.links.index[net.links["status"] == "open"])
    assert sorted(net.nodes.index) == sorted(data.nodes.index)
    demand = pd.read_csv(out / "demand.csv")
    no_path = pd.read_csv(out / "no_path.csv")["tonnes_per_year"].sum() \
        if (out / "no_path.csv").stat().st_size > 1 else 0.0
    assert demand["volume"].sum() + no_path == pytest.approx(
        table(run, "demand")["tonnes_per_year"].sum())
    assert (out / "zone.csv").is_file()
    with pytest.raises(InputError, match="exists"):
        export_gmns(run, out)


def test_scenario_from_manifest_matches_the_file(run):
    manifest = json.loads((run / "manifest.json").read_text())
    got = scenario_from_manifest(manifest["scenario"])
    want = load_scenario(SCENARIO)
    assert (got.name, got.year, got.chain) == (want.name, want.year, want.chain)
    assert got.modifications == want.modifications


# -- command line ---------------------------------------------------------------------------------


def test_cli_export(run, tmp_path):
    r = CliRunner().invoke(app, ["export", str(run), "--format", "gpkg", "--out",
                                 str(tmp_path / "a.gpkg")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a.gpkg").is_file()
    done = export_run(run, "all", tmp_path / "all")
    assert sorted(done) == ["gmns", "gpkg", "omx"]
    assert all(p.exists() for p in done.values())
    r = CliRunner().invoke(app, ["export", str(run), "--format", "shp"])
    assert r.exit_code == 2 and "unknown format" in r.output
    r = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "omx"])
    assert r.exit_code == 2 and "not a karvan run folder" in r.output


def test_cli_export_of_a_run_whose_dataset_moved(run, tmp_path):
    """``--data`` gives the dataset where it is now; one that differs from the run's is
    warned of."""
    from karvan.freight.corridor import builtin_corridor_folder

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("*.gpkg", "*.omx", "gmns"))
    moved = tmp_path / "moved"
    shutil.copytree(builtin_corridor_folder(), moved)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["inputs"]["dataset"] = str(tmp_path / "gone")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    r = CliRunner().invoke(app, ["export", str(copy), "-f", "gpkg"], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "karvan export and karvan report take --data <folder>" in " ".join(
        r.output.split())
    r = CliRunner().invoke(app, ["export", str(copy), "-f", "all", "--data", str(moved)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output
    assert {p.name for p in copy.iterdir()} >= {"run.gpkg", "run.omx", "gmns"}
    # the OMX file keeps the dataset's zone order (it fell back to the sorted zones)
    with h5py.File(copy / "run.omx", "r") as f, h5py.File(write_omx(run, tmp_path / "o.omx"),
                                                           "r") as g:
        assert list(f["lookup/zone_id"][:]) == list(g["lookup/zone_id"][:])
        assert list(f["lookup/zone_id"][:]) != sorted(f["lookup/zone_id"][:])
    # a dataset that is not the run's: exported, with a warning naming the files
    node = moved / "node.csv"
    node.write_text(node.read_text() + "\n")
    r = CliRunner().invoke(app, ["export", str(copy), "-f", "gpkg", "--data", str(moved)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "is not the dataset the run was made from (node.csv differ)" in " ".join(
        r.output.split())


def refused_in_another_runs_folder(run, fmt: str, tmp_path) -> None:
    """Export ``fmt`` into a folder holding another run's manifest: refused, nothing written."""
    other = tmp_path / "other_run"
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="is the folder of another run"):
        export_run(run, fmt, other)
    assert sorted(p.name for p in other.iterdir()) == ["manifest.json"]


def test_every_target_is_checked_before_any_is_written(run, tmp_path):
    """-f all into a folder whose gmns/ held a user's notes wrote run.gpkg and run.omx, then
    refused gmns/; a folder given for a file wrote <folder>.gpkg beside it; a folder named
    like the file failed on a hidden temporary path."""
    mine = tmp_path / "other"
    (mine / "gmns").mkdir(parents=True)
    (mine / "gmns" / "notes.txt").write_text("mine")
    r = CliRunner().invoke(app, ["export", str(run), "--out", str(mine)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "nothing was written" in r.output, r.output
    assert "notes.txt" in r.output
    assert sorted(p.name for p in mine.iterdir()) == ["gmns"]
    assert (mine / "gmns" / "notes.txt").read_text() == "mine"
    # an existing folder given for a file gets it inside, under the default name
    (tmp_path / "maps").mkdir()
    assert export_run(run, "gpkg", tmp_path / "maps")["gpkg"] == tmp_path / "maps" / "run.gpkg"
    assert export_run(run, "omx", tmp_path / "maps")["omx"] == tmp_path / "maps" / "run.omx"
    assert not (tmp_path / "maps.gpkg").exists()
    # another run's folder is not a place for this run's map (its run.gpkg is that run's)
    refused_in_another_runs_folder(run, "gpkg", tmp_path)
    # a folder in the file's place: named, no temporary path in the message
    (tmp_path / "d.gpkg").mkdir()
    with pytest.raises(InputError, match=r"d.gpkg is a folder; give the path of a file") as e:
        write_geopackage(run, tmp_path / "d.gpkg")
    assert ".tmp-" not in str(e.value)


def test_a_geopackage_named_without_gpkg(run, tmp_path):
    # `--out <name without .gpkg>` printed GDAL's warning six times, each naming the
    # temporary file; the command adds the extension and says so, the writer warns once
    r = CliRunner().invoke(app, ["export", str(run), "--format", "gpkg", "--out",
                                 str(tmp_path / "exp")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "exp.gpkg").is_file() and not (tmp_path / "exp").exists()
    assert f"{tmp_path / 'exp'} has no .gpkg extension" in r.output
    assert f"written as {tmp_path / 'exp.gpkg'}" in r.output and ".tmp-" not in r.output
    assert export_run(run, "gpkg", tmp_path / "b.GPKG")["gpkg"] == tmp_path / "b.GPKG"
    # an OMX file's name gets .omx as well (it was written as given)
    r = CliRunner().invoke(app, ["export", str(run), "-f", "omx", "--out",
                                 str(tmp_path / "skims")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "skims.omx").is_file() and not (tmp_path / "skims").exists()
    assert f"{tmp_path / 'skims'} has no .omx extension" in r.output
    assert export_run(run, "omx", tmp_path / "c.OMX")["omx"] == tmp_path / "c.OMX"
    with pytest.warns(RuntimeWarning) as caught:
        write_geopackage(run, tmp_path / "plain")
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'plain'}: a GeoPackage's name should end in .gpkg (the GeoPackage "
        "standard; GDAL and QGIS go by it)."]
    with contextlib.closing(sqlite3.connect(tmp_path / "plain")) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert tables >= set(LAYERS)


def _qgis_python() -> str | None:
    """A Python that imports QGIS's bindings (Debian's python3-qgis), if there is one."""
    for exe in ("/usr/bin/python3", shutil.which("python3")):
        if exe and subprocess.run([exe, "-c", "import qgis.core"], capture_output=True,
                                  env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}
                                  ).returncode == 0:
            return exe
    return None


@pytest.mark.skipif(_qgis_python() is None, reason="QGIS's Python bindings are not installed "
                                                    "(Debian: python3-qgis)")
def test_qgis_opens_the_geopackage_styled_and_in_context(gpkg, tmp_path):
    from karvan.io.colours import NO_CAPACITY, UTILIZATION_SCALE
    from karvan.io.qgis_styles import COUNTRY_FILL

    script = Path(__file__).resolve().parents[1] / "qgis_open.py"
    res = subprocess.run([_qgis_python(), str(script), str(gpkg), str(tmp_path / "map.png")],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    layers = got["layers"]
    assert all(v["valid"] and v["style"] and v["features"] > 0 for v in layers.values()), layers
    assert layers["links"]["renderer"] == "graduatedSymbol"
    assert layers["links"]["attr"] == "tonnes_tot"
    # sea and ferry legs dashed as on the report's map, land links solid
    styles = got["stroke_style_by_mode"]
    assert {styles[m] for m in ("sea", "ferry") if m in styles} == {"dash"}, styles
    assert styles["rail"] == styles["road"] == "solid", styles
    # drawn: the land of the country outlines, grey links without capacity and the scale's
    # colours on the links and borders that have one
    colours = got["colours"]
    fill = "#" + "".join(f"{int(v):02x}" for v in COUNTRY_FILL.split(",")[:3])
    assert colours.get(fill, 0) > 1000
    assert colours.get(NO_CAPACITY, 0) > 100
    assert sum(colours.get(c, 0) > 10 for _, c, _ in UTILIZATION_SCALE) >= 2


def test_every_geometry_is_valid_and_links_at_one_place_are_points(gpkg):
    """79 links (terminals, gauge breaks, quays, short borders) were lines whose two ends are
    one point: invalid geometries that GIS checks refuse and QGIS does not draw."""
    import geopandas as gpd

    links = gpd.read_file(gpkg, layer="links")
    transfers = gpd.read_file(gpkg, layer="transfers")
    for name in ("links", "transfers", "borders", "nodes", "od_lines"):
        layer = gpd.read_file(gpkg, layer=name)
        drawn = layer.geometry.dropna()
        assert drawn.is_valid.all(), (name, layer.loc[~layer.geometry.is_valid].head())
    empty = links.loc[links.geometry.isna(), "link_id"]
    assert len(empty) and set(empty) == set(transfers["link_id"])
    assert (transfers.geometry.geom_type == "Point").all()
    t = transfers.set_index("link_id")
    lk = links.set_index("link_id")
    assert (t["tonnes_tot"] == lk.loc[t.index, "tonnes_tot"]).all()


def test_all_formats_appear_together_or_not_at_all(run, tmp_path, monkeypatch):
    """-f all interrupted while writing the GMNS folder left the new run.gpkg and run.omx
    beside the old gmns/ (or none)."""
    from karvan.scenario import export as export_module

    out = tmp_path / "all"
    first = export_run(run, "all", out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    (out / "run.gpkg").write_bytes(b"old map")  # an older export's file, to tell it apart
    before["run.gpkg"] = b"old map"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "export_gmns", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_run(run, "all", out)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == ["gmns", "run.gpkg", "run.omx"]
    with pytest.raises(KeyboardInterrupt):
        export_run(run, "all", tmp_path / "new")
    assert not (tmp_path / "new").exists() or list((tmp_path / "new").iterdir()) == []
    monkeypatch.undo()
    assert export_run(run, "all", out) == first
    assert (out / "run.gpkg").read_bytes() != b"old map"
    # another run's folder, and a file, are refused before anything is written
    refused_in_another_runs_folder(run, "all", tmp_path)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="a_file is a file; give a folder"):
        export_run(run, "all", tmp_path / "a_file")


def test_all_formats_refuse_a_geopackage_open_elsewhere_and_take_the_runs_own_copy(
        run, tmp_path):
    """-f all staged its GeoPackage and swapped it in beside a live write-ahead log (QGIS's),
    which -f gpkg refuses; and it refused karvan run's results copy of the same run as
    'another run's folder'."""
    out = tmp_path / "all"
    export_run(run, "all", out)
    con = sqlite3.connect(out / "run.gpkg")
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("UPDATE gpkg_contents SET description = 'edited in QGIS'")
        con.commit()
        assert (out / "run.gpkg-wal").stat().st_size > 0
        before = (out / "run.omx").read_bytes()
        with pytest.raises(InputError, match="is open in another program"):
            export_run(run, "all", out)
        assert (out / "run.omx").read_bytes() == before
    finally:
        con.close()
    # the run's own results copy (same run id in its manifest) is a place for its exports
    copy = tmp_path / "results_copy"
    shutil.copytree(run, copy)
    original = (run / "manifest.json").read_bytes()
    man = json.loads(original)
    man["run_id"] = "20260101-000000-rasht_astara-abcd"
    (copy / "manifest.json").write_text(json.dumps(man))
    (run / "manifest.json").write_text(json.dumps(man))
    try:
        done = export_run(run, "all", copy)
        assert done["gpkg"] == copy / "run.gpkg" and (copy / "gmns").is_dir()
    finally:
        (run / "manifest.json").write_bytes(original)


def test_a_file_of_ones_own_is_not_replaced_by_a_report_or_a_geopackage(run, tmp_path):
    """Report --out notes.txt replaced the notes with the report, and export --out mine.gpkg
    a GeoPackage of one's own; karvan's own report or GeoPackage there is replaced."""
    from karvan.report import write_report

    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(InputError, match="notes.txt exists and karvan did not write it"):
        write_report([run], notes)
    assert notes.read_text() == "mine"
    mine = tmp_path / "mine.gpkg"
    mine.write_bytes(b"SQLite format 3\x00 not a karvan GeoPackage")
    with pytest.raises(InputError, match="mine.gpkg exists and karvan did not write it"):
        write_geopackage(run, mine)
    assert mine.read_bytes().startswith(b"SQLite format 3")
    ours = tmp_path / "ours.gpkg"
    write_geopackage(run, ours)
    write_geopackage(run, ours)  # its own file: replaced
    page = write_report([run], tmp_path / "r.html")
    write_report([run], page)
