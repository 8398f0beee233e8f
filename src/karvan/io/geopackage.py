"""One GeoPackage per scenario run, styled for QGIS.

A run folder (``karvan run``) holds Parquet tables and ``manifest.json``; the network geometry
comes from the GMNS dataset named in the manifest (``inputs.dataset``). :func:`write_geopackage`
joins them into six layers, all in EPSG:4326:

============  ==========  ===================================================================
layer         geometry    fields
============  ==========  ===================================================================
links         LineString  every column of the run's ``links`` table (link_id, mode, country,
                          tonnes_ab/_ba/_tot, tonnes_<commodity>, utilization, time_h_ab/_ba,
                          charge_usd_per_t, lp_*, shadow_price_usd_per_t, ...); a link at one
                          place (a terminal, a gauge break, a port's quay, a short border:
                          both ends at one point) has no geometry here (NULL)
transfers     Point       the links at one place, every column of ``links``, at that point
nodes         Point       node_id, name, node_type, country, zone_id
borders       Point       every column of the ``borders`` table (border_id, link_ids,
                          tonnes_ab/_ba/_tot, capacity_tpy, capacity_hard_tpy, utilization,
                          dwell_h, shadow_price_usd_per_t), at the midpoint of the border's
                          first link
od_lines      LineString  origin, destination, origin_name, destination_name, tonnes_tot,
                          tonnes_<commodity>, time_h, distance_km, charge_usd_per_t,
                          cost_usd_per_t (tonne-weighted means over the commodities' skims)
countries     Polygon     iso3, country (karvan's two-letter code), name, and the run's
                          ``countries`` table (tonnes, tonne_km, revenue_usd, transit_*):
                          the shipped outlines (Natural Earth); the table's rows without
                          an outline (EU, the seas XX and the Caspian XC) are only in
                          ``countries.csv``
============  ==========  ===================================================================

Link geometry is the dataset's WKT ``geometry`` where given (turned to run from ``from_node_id``
to ``to_node_id``, so ``_ab`` is the digitised direction), else a straight line between the end
nodes (schematic: sea and ferry legs cross land). A ``layer_styles`` table (the QGIS convention)
holds one default style per layer, built by :mod:`karvan.io.qgis_styles`, so that QGIS opens the
layers styled; ``gpkg_contents`` gives each layer a description with its units and the run's
scenario, year and id (:data:`LAYER_DESCRIPTIONS`).

The run is read through :class:`~karvan.io.run_folder.RunRecord` and the file written with
:func:`~karvan.io.atomic.atomic_file`: a failed write leaves the previous file (or none) and no
temporary file.
"""

from __future__ import annotations

import os
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from karvan.errors import InputError, catch_warnings, format_ids
from karvan.io import qgis_styles
from karvan.io.atomic import atomic_file
from karvan.io.gmns import GmnsWarning, read_gmns
from karvan.io.gpkg_contents import describe_layers, set_contents
from karvan.io.hashing import changed_files
from karvan.io.outlines import DISCLAIMER, ISO3_TO_2, country_outlines
from karvan.io.run_folder import RunRecord, yes_no_as_boolean

CRS = "EPSG:4326"
LAYERS = ("countries", "od_lines", "links", "transfers", "borders", "nodes")
GEOMETRY_TYPES = {"countries": "MultiPolygon", "od_lines": "LineString", "links": "LineString",
                  "transfers": "Point", "borders": "Point", "nodes": "Point",
                  "benefit": "LineString"}
NODE_FIELDS = ("node_id", "name", "node_type", "country", "zone_id")
GEOMETRY_COLUMN = "geom"  # GDAL's default geometry column name in a GeoPackage
LAYER_STYLES_DDL = """
CREATE TABLE layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)"""
STYLE_DESCRIPTIONS = {
    "links": "karvan: flow bands by tonnes_tot (line width), colour by utilization "
             "(green < 0.5, light green < 0.8, yellow < 0.95, orange < 1, red >= 1, grey: no "
             "capacity)",
    "nodes": "karvan: network nodes",
    "borders": "karvan: border crossings sized by tonnes_tot, coloured by utilization",
    "transfers": "karvan: links at one place (terminals, gauge breaks, port quays) sized by "
                 "tonnes_tot, coloured by utilization",
    "od_lines": "karvan: desire lines, width by tonnes_tot",
    "countries": f"karvan: country outlines (Natural Earth, public domain). {DISCLAIMER}",
}


@dataclass(frozen=True, slots=True)
class NetworkGeometry:
    """The dataset tables a run's layers are drawn from: nodes (indexed by node_id, with
    x_coord/y_coord), links (indexed by link_id, optional WKT ``geometry``) and zones (zone_id,
    name, node_id)."""

    nodes: pd.DataFrame
    links: pd.DataFrame
    zones: pd.DataFrame


def as_run(run: RunRecord | str | os.PathLike) -> RunRecord:
    """``run`` as a :class:`RunRecord`: a record as itself, a path read as a run folder.

    Raises
    ------
    InputError
        A folder without ``manifest.json``.
    """
    return run if isinstance(run, RunRecord) else RunRecord.from_folder(run)


def network_geometry(run: RunRecord | str | os.PathLike, *, data: Any = None
                     ) -> NetworkGeometry:
    """Nodes, links and zones of the dataset a run was made from.

    ``data`` may be a :class:`~karvan.freight.corridor.CorridorData` (anything with ``nodes``,
    ``links`` and ``zones`` tables); without it the GMNS folder named in the manifest is read,
    and its CSV files are checked against the hashes recorded when the run was made.

    Raises
    ------
    InputError
        Not a run folder; the dataset is gone or changed since the run.
    """
    if data is not None:
        return NetworkGeometry(data.nodes, data.links, data.zones)
    rec = as_run(run)
    dataset = rec.dataset
    if dataset is None or not (dataset / "node.csv").is_file():
        raise InputError(f"{rec.path}: the dataset the run was made from ({dataset}) is not "
                         "there; give its folder where it is now (karvan export and karvan "
                         "report take --data <folder>; in Python "
                         "data=load_corridor(<folder>)).")
    folder = dataset
    changed = changed_files(folder, rec.manifest.get("inputs", {}).get("sha256_16", {}))
    if changed:
        raise InputError(f"{rec.path}: the dataset {folder} changed since the run was made "
                         f"({format_ids(changed)} differ); re-run the scenario, or give "
                         "the dataset as it is now (karvan export and karvan report take "
                         "--data <folder>; in Python data=load_corridor(<folder>)).")
    with catch_warnings():
        warnings.simplefilter("ignore", GmnsWarning)
        net = read_gmns(folder)
    zones = net.config.get("tables", {}).get("zone")
    if zones is None:
        zones = pd.DataFrame(columns=["zone_id", "name", "node_id"])
    return NetworkGeometry(net.nodes, net.links, zones)


def run_layers(run: RunRecord | str | os.PathLike, *, data: Any = None
               ) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a run's GeoPackage as GeoDataFrames (EPSG:4326), not yet written.

    Raises
    ------
    InputError
        Not a run folder, a missing table, links or zones the dataset does not have.
    """
    rec = as_run(run)
    rec.require(("links", "borders", "demand", "skims"))
    geo = network_geometry(rec, data=data)
    links = rec.table("links")
    line_of = _link_lines(geo)
    missing = links.loc[~links["link_id"].isin(line_of.index), "link_id"]
    if len(missing):
        raise InputError(f"{rec.path}: {len(missing)} links of the run are not in the dataset "
                         f"(link_id {format_ids(missing)}); pass the dataset the run was made "
                         "from as data=.")
    lines = line_of.loc[links["link_id"]].to_numpy()
    # a line whose ends are one point is not a valid geometry (GIS checks refuse it, QGIS draws
    # nothing): such a link has no geometry (NULL) there and a point in the transfers layer
    at_point = shapely.length(lines) == 0
    return {
        "countries": countries_layer(rec.table("countries") if rec.has_table("countries")
                                     else None),
        "od_lines": _od_layer(rec.table("demand"), rec.table("skims"), geo),
        "links": gpd.GeoDataFrame(links.copy(), geometry=np.where(at_point, None, lines),
                                  crs=CRS),
        "transfers": gpd.GeoDataFrame(links[at_point].reset_index(drop=True),
                                      geometry=shapely.get_point(lines[at_point], 0), crs=CRS),
        "borders": _borders_layer(rec.table("borders"), line_of),
        "nodes": _nodes_layer(geo),
    }


def countries_layer(results: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The shipped country outlines as a layer: ``iso3``, ``country`` (the two-letter code of
    karvan's tables, empty for an outline the dataset has no code for), ``name``,
    multipolygons; with ``results`` (a table with ``country``, such as a run's ``countries``)
    its other columns joined on ``country`` (empty where a country has no row).

    Examples
    --------
    >>> res = pd.DataFrame({"country": ["AZ"], "transit_tonnes": [1.0e7]})
    >>> layer = countries_layer(res).set_index("iso3")
    >>> str(layer.loc["AZE", "country"]), float(layer.loc["AZE", "transit_tonnes"])
    ('AZ', 10000000.0)
    >>> bool(pd.isna(layer.loc["ARM", "transit_tonnes"]))
    True
    """
    rows = country_outlines()
    geoms = [shapely.multipolygons(shapely.get_parts(r["geometry"])) for r in rows]
    table = pd.DataFrame({"iso3": [r["iso3"] for r in rows],
                          "country": [ISO3_TO_2.get(r["iso3"]) for r in rows],
                          "name": [r["name"] for r in rows]})
    if results is not None:
        extra = results.drop(columns=[c for c in ("iso3", "name") if c in results])
        table = table.merge(extra.drop_duplicates("country"), on="country", how="left")
    return gpd.GeoDataFrame(table, geometry=geoms, crs=CRS)


def write_geopackage(run: RunRecord | str | os.PathLike, path: str | os.PathLike | None = None,
                     *, data: Any = None) -> Path:
    """Write a run's results as one GeoPackage with default QGIS styles.

    Parameters
    ----------
    run
        A run (:class:`RunRecord`) or a folder written by ``karvan run``.
    path
        The file to write; default ``<run folder>/run.gpkg``. An existing file is replaced.
        A name without the ``.gpkg`` extension is written as given, with a warning.
    data
        The corridor dataset the run was made from (a ``CorridorData``); default: read the
        folder named in the manifest.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        Not a run folder, a missing table, or a dataset that is gone or changed.
    """
    rec = as_run(run)
    target = Path(path) if path is not None else rec.path / "run.gpkg"
    from karvan.io.atomic import check_own_file

    check_own_file(target, "gpkg")  # a GeoPackage of one's own was replaced
    layers = run_layers(rec, data=data)
    styles = {
        "countries": qgis_styles.countries_qml(),
        "od_lines": qgis_styles.od_lines_qml(layers["od_lines"]["tonnes_tot"]),
        "links": qgis_styles.links_qml(layers["links"]["tonnes_tot"]),
        "borders": qgis_styles.borders_qml(layers["borders"]["tonnes_tot"]),
        "transfers": qgis_styles.borders_qml(layers["transfers"]["tonnes_tot"]),
        "nodes": qgis_styles.nodes_qml(),
    }
    if target.suffix.lower() != ".gpkg":
        # once, naming the file asked for: GDAL's own warning comes once per layer and names
        # the temporary file it is written to
        warnings.warn(f"{target}: a GeoPackage's name should end in .gpkg (the GeoPackage "
                      "standard; GDAL and QGIS go by it).", RuntimeWarning, stacklevel=2)
    with atomic_file(target) as tmp, catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning,
                                message=r".*(non conformant file extension|filename extension "
                                        r"should be 'gpkg')")
        for name in LAYERS:
            yes_no_as_boolean(layers[name].copy()).to_file(tmp, layer=name, driver="GPKG",
                                                     engine="pyogrio",
                                                     geometry_type=GEOMETRY_TYPES[name])
        write_layer_styles(tmp, styles, descriptions=STYLE_DESCRIPTIONS)
        describe_layers(tmp, rec)
    return target


def write_difference_geopackage(a: RunRecord | str | os.PathLike,
                                b: RunRecord | str | os.PathLike,
                                diff: dict[str, pd.DataFrame], path: str | os.PathLike, *,
                                data: Any = None) -> Path:
    """Write the differences B - A of two runs (``diff``: the ``links``, ``borders`` and
    ``countries`` tables of :func:`karvan.scenario.run.compare_runs`) as a GeoPackage for
    QGIS: ``links`` (lines), ``transfers`` (the links at one place, points), ``borders``
    (points) and ``countries``,
    each row with ``<value>_a``, ``<value>_b`` and ``<value>_diff``, styled blue where B gains
    and red where it loses, wider or larger with the change.

    A link of only one run (opened or closed by a scenario) takes its geometry from that run.

    Raises
    ------
    InputError
        A run that is not a run folder, or whose dataset is gone or changed.
    """
    la, lb = run_layers(a, data=data), run_layers(b, data=data)
    shape = pd.concat([la["links"][["link_id", "geometry"]], la["transfers"][["link_id",
                                                                             "geometry"]],
                       lb["links"][["link_id", "geometry"]], lb["transfers"][["link_id",
                                                                             "geometry"]]])
    shape = shape[shape.geometry.notna()].drop_duplicates("link_id", keep="last")
    geom = shape.set_index("link_id").geometry
    links = diff["links"].reset_index(drop=True)
    g = links["link_id"].map(geom)
    point = g.notna() & (shapely.get_type_id(g.fillna(shapely.Point()).to_numpy()) == 0)
    bshape = pd.concat([la["borders"][["border_id", "geometry"]],
                        lb["borders"][["border_id", "geometry"]]]).drop_duplicates(
        "border_id", keep="last").set_index("border_id").geometry
    borders = diff["borders"].reset_index(drop=True)
    layers = {
        "countries": countries_layer(diff.get("countries")),
        "links": gpd.GeoDataFrame(links[~point].reset_index(drop=True),
                                  geometry=g[~point].to_numpy(), crs=CRS),
        "transfers": gpd.GeoDataFrame(links[point].reset_index(drop=True),
                                      geometry=g[point].to_numpy(), crs=CRS),
        "borders": gpd.GeoDataFrame(borders, geometry=borders["border_id"].map(bshape)
                                    .to_numpy(), crs=CRS),
    }
    ben = diff.get("benefit")
    if ben is not None and len(ben):
        # over the country outlines, under the network (as od_lines in a run's GeoPackage)
        layers = {"countries": layers.pop("countries"),
                  "benefit": _benefit_layer(ben, la["od_lines"], lb["od_lines"]), **layers}
    if "mode" not in layers["links"]:  # the style dashes sea legs by mode
        mode = pd.concat([la["links"], lb["links"]]).drop_duplicates("link_id", keep="last") \
            .set_index("link_id")["mode"]
        layers["links"]["mode"] = layers["links"]["link_id"].map(mode).to_numpy()
    styles = {"countries": qgis_styles.countries_qml(),
              "links": qgis_styles.diff_links_qml(layers["links"]["tonnes_tot_diff"]),
              "transfers": qgis_styles.diff_points_qml(layers["transfers"]["tonnes_tot_diff"]),
              "borders": qgis_styles.diff_points_qml(layers["borders"]["tonnes_tot_diff"])}
    if "benefit" in layers:
        styles["benefit"] = qgis_styles.diff_links_qml(layers["benefit"]["benefit_usd"],
                                                       field="benefit_usd", sea_dash=False)
    ra, rb = as_run(a), as_run(b)
    head = f"karvan difference {rb.label} - {ra.label} ({rb.name} - {ra.name}): "
    what = {"links": "links: tonnes_tot, utilization, tonne_km and revenue_usd of A (_a), B (_b) "
                     "and B - A (_diff), t/yr, share of capacity, per year, USD/yr; blue: B "
                     "gains, red: B loses; lines schematic where the dataset draws none",
            "transfers": "links at one place, the columns of links",
            "borders": "border crossings: tonnes_tot and utilization of A, B and B - A (t/yr, "
                       "share of capacity); blue: B gains, red: B loses",
            "countries": "country outlines with tonnes, transit_tonnes (t/yr), tonne_km and "
                         "revenue_usd (USD/yr) of A, B and B - A per country (country: "
                         "karvan's two-letter code; transit empty where every run crosses a "
                         f"country by sea only) ({DISCLAIMER})"}
    if "benefit" in layers:
        what["benefit"] = ("users' benefit of B against A per OD pair, its commodities summed: "
                           "tonnes (the mean of A's and B's demand, t/yr), benefit_usd (the "
                           "saving in shippers' expected generalized cost by the rule of a "
                           "half, USD/yr) and saving_usd_per_t; blue: shippers gain, red: they "
                           "lose; desire lines between the zones' centroids; pairs with a route "
                           "in one run only left out (karvan compare's benefit.csv has them)")
    target = Path(path)
    with atomic_file(target) as tmp:
        for name, layer in layers.items():
            yes_no_as_boolean(layer.copy()).to_file(tmp, layer=name, driver="GPKG",
                                              engine="pyogrio",
                                              geometry_type=GEOMETRY_TYPES[name])
        write_layer_styles(tmp, styles)
        set_contents(tmp, {name: (f"{rb.name} - {ra.name} {name}", head + text + ".")
                            for name, text in what.items()})
    return target


def write_layer_styles(gpkg: str | os.PathLike, styles: dict[str, str], *,
                       descriptions: dict[str, str] | None = None) -> None:
    """Write QGIS default styles (layer name -> QML) into the ``layer_styles`` table of a
    GeoPackage, creating the table and registering it in ``gpkg_contents`` as QGIS does.

    An existing default style of the same layer is replaced.

    Raises
    ------
    InputError
        A style for a layer the GeoPackage does not have.
    """
    descriptions = descriptions or {}
    con = sqlite3.connect(gpkg)
    try:
        with con:
            geom_col = dict(con.execute(
                "SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
            unknown = [n for n in styles if n not in geom_col]
            if unknown:
                raise InputError(f"{gpkg}: no spatial layer {format_ids(unknown)} to style.")
            exists = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                 "name='layer_styles'").fetchone()
            if not exists:
                con.execute(LAYER_STYLES_DDL)
                con.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'QGIS layer styles', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
            for name, qml in styles.items():
                con.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?",
                            (name, name))
                con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?",
                            (name,))
                con.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                    "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                    "description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'karvan', "
                    "NULL)",
                    (name, geom_col[name], name, qml, descriptions.get(name, "")))
    finally:
        con.close()


# -- layers --------------------------------------------------------------------------------------


def _link_lines(geo: NetworkGeometry) -> pd.Series:
    """link_id -> LineString for every dataset link, oriented from from_node to to_node."""
    nodes, links = geo.nodes, geo.links
    xy = nodes[["x_coord", "y_coord"]].astype(float)
    a = xy.reindex(links["from_node_id"]).to_numpy()
    b = xy.reindex(links["to_node_id"]).to_numpy()
    straight = shapely.linestrings(np.stack([a, b], axis=1))
    wkt = links["geometry"] if "geometry" in links else pd.Series(None, index=links.index)
    wkt = wkt.where(wkt.notna() & (wkt.astype(str).str.strip() != ""), None)
    given = shapely.from_wkt(wkt.to_numpy(dtype=object), on_invalid="ignore")
    bad = ~shapely.is_missing(given) & (shapely.get_type_id(given) != 1)
    given[bad] = None
    ok = ~shapely.is_missing(given)
    if ok.any():
        first = shapely.get_point(given[ok], 0)
        pa = shapely.points(a[ok])
        pb = shapely.points(b[ok])
        flip = shapely.distance(first, pb) < shapely.distance(first, pa)
        idx = np.flatnonzero(ok)[flip]
        given[idx] = shapely.reverse(given[idx])
    lines = np.where(ok, given, straight)
    return pd.Series(lines, index=links.index, dtype=object)


def _nodes_layer(geo: NetworkGeometry) -> gpd.GeoDataFrame:
    nodes = geo.nodes
    df = pd.DataFrame({"node_id": nodes.index.astype(str)})
    for c in NODE_FIELDS[1:]:
        df[c] = nodes[c].to_numpy() if c in nodes else None
    if "zone_id" not in nodes or nodes["zone_id"].isna().all():
        zone_of = dict(zip(geo.zones["node_id"], geo.zones["zone_id"], strict=True))
        df["zone_id"] = [zone_of.get(n) for n in df["node_id"]]
    pts = shapely.points(nodes[["x_coord", "y_coord"]].astype(float).to_numpy())
    return gpd.GeoDataFrame(df, geometry=pts, crs=CRS)


def _borders_layer(borders: pd.DataFrame, line_of: pd.Series) -> gpd.GeoDataFrame:
    first = borders["link_ids"].astype(str).str.split(";").str[0].str.strip()
    unknown = first[~first.isin(line_of.index)]
    if len(unknown):
        raise InputError(f"borders table names links not in the dataset ({format_ids(unknown)}).")
    lines = line_of.loc[first].to_numpy()
    pts = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    return gpd.GeoDataFrame(borders.reset_index(drop=True), geometry=pts, crs=CRS)


def _benefit_layer(benefit: pd.DataFrame, *od_lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The users' benefit per OD pair (its commodities summed; comparable pairs only) on the
    pair's desire line, largest gain or loss first."""
    b = benefit[benefit["comparable"].astype(bool)]
    b = b.assign(tonnes=0.5 * (b["tonnes_a"] + b["tonnes_b"]))
    g = b.groupby(["origin", "destination"], sort=False).agg(
        origin_country=("origin_country", "first"),
        destination_country=("destination_country", "first"),
        tonnes=("tonnes", "sum"), benefit_usd=("benefit_usd", "sum")).reset_index()
    g["saving_usd_per_t"] = g["benefit_usd"] / g["tonnes"].where(g["tonnes"] > 0)
    g = g.iloc[np.argsort(-g["benefit_usd"].abs().to_numpy(), kind="stable")]
    shape = pd.concat([x[["origin", "destination", "geometry"]] for x in od_lines])
    shape = shape.drop_duplicates(["origin", "destination"], keep="last").set_index(
        ["origin", "destination"]).geometry
    geom = shape.reindex(pd.MultiIndex.from_frame(g[["origin", "destination"]])).to_numpy()
    return gpd.GeoDataFrame(g.reset_index(drop=True), geometry=geom, crs=CRS)


def _od_layer(demand: pd.DataFrame, skims: pd.DataFrame,
              geo: NetworkGeometry) -> gpd.GeoDataFrame:
    d = demand[demand["tonnes_per_year"] > 0]
    wide = d.pivot_table(index=["origin_zone_id", "destination_zone_id"],
                         columns="commodity_id", values="tonnes_per_year", aggfunc="sum",
                         fill_value=0.0)
    commodities = list(dict.fromkeys(d["commodity_id"]))
    wide = wide.reindex(columns=commodities)
    od = pd.DataFrame({"origin": wide.index.get_level_values(0).astype(str),
                       "destination": wide.index.get_level_values(1).astype(str)})
    zname = dict(zip(geo.zones["zone_id"], geo.zones.get("name", geo.zones["zone_id"]),
                     strict=True))
    od["origin_name"] = od["origin"].map(zname)
    od["destination_name"] = od["destination"].map(zname)
    od["tonnes_tot"] = wide.sum(axis=1).to_numpy()
    for c in commodities:
        od[f"tonnes_{c}"] = wide[c].to_numpy()
    # tonne-weighted means of the commodities' skims
    s = d.merge(skims, left_on=["origin_zone_id", "destination_zone_id", "commodity_id"],
                right_on=["origin", "destination", "commodity"], how="inner")
    key = ["origin_zone_id", "destination_zone_id"]
    for col in ("time_h", "distance_km", "charge_usd_per_t", "cost_usd_per_t"):
        if col not in s:
            continue
        ok = s[col].notna()
        w = s["tonnes_per_year"].where(ok, 0.0)
        num = (s[col].fillna(0.0) * w).groupby([s[k] for k in key]).sum()
        den = w.groupby([s[k] for k in key]).sum()
        mean = (num / den.where(den > 0)).reindex(wide.index)
        od[col] = mean.to_numpy()
    zone_node = dict(zip(geo.zones["zone_id"], geo.zones["node_id"], strict=True))
    xy = geo.nodes[["x_coord", "y_coord"]].astype(float)
    on = od["origin"].map(zone_node)
    dn = od["destination"].map(zone_node)
    lost = od["origin"][on.isna()].tolist() + od["destination"][dn.isna()].tolist()
    if lost:
        raise InputError(f"demand names zones without a centroid node in the dataset "
                         f"({format_ids(sorted(set(lost)))}).")
    a = xy.reindex(on).to_numpy()
    b = xy.reindex(dn).to_numpy()
    lines = shapely.linestrings(np.stack([a, b], axis=1)) if len(od) else np.array([], object)
    return gpd.GeoDataFrame(od, geometry=lines, crs=CRS)
