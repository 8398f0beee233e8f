"""What a run's GeoPackage says of its layers in ``gpkg_contents`` (their identifiers and
descriptions, which QGIS shows as a layer's name and abstract): written with the layers, and
again when the run store gives the run its id (:meth:`karvan.store.RunStore.commit`). Light on
purpose (sqlite3, and the outlines' constants without shapely): the store imports it without
GeoPandas."""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

from karvan.io.outlines import DISCLAIMER

if TYPE_CHECKING:
    from karvan.io.run_folder import RunRecord


#: what each layer holds and in which units (``gpkg_contents.description``, which QGIS shows
#: as the layer's abstract)
LAYER_DESCRIPTIONS = {
    "links": "links of the network: tonnes_* in t/yr (_ab: from_node_id to to_node_id, _ba: "
             "back, _tot: both), utilization as a share of capacity, capacity_tpy in t/yr per "
             "direction, time_h_* in hours, charge_usd_per_t (the link's default) and "
             "charge_paid_usd_per_t (what its freight pays) in USD/t, revenue_usd in USD/yr, "
             "tonne_km per year, shadow prices in USD/t; lines are schematic (straight between "
             "the end nodes) where the dataset draws none, sea and ferry legs too",
    "transfers": "links at one place (terminals, gauge breaks, port quays, short borders), "
                 "the columns and units of links",
    "borders": "border crossings: tonnes_* in t/yr, capacity_tpy in t/yr per direction, "
               "capacity_hard_tpy the bound utilization is taken against (both directions "
               "where they share it), dwell_h in hours, trucks and wagons per day",
    "od_lines": "origin-destination pairs with demand: tonnes_* in t/yr, time_h in hours, "
                "distance_km, charge_usd_per_t and cost_usd_per_t in USD/t (tonne-weighted "
                "over the commodities); straight lines, not routes",
    "nodes": "nodes of the network",
    "countries": "country outlines with the run's figures per country (country: karvan's "
                 "two-letter code): tonnes, transit_tonnes in t/yr, tonne_km per year, "
                 "revenue_usd in USD/yr, empty where the run has no row; sea_legs_only marks "
                 "a country crossed by sea only; the run's rows without an outline (EU, the "
                 f"seas XX, the Caspian XC) are in its countries.csv only ({DISCLAIMER})",
}


def describe_layers(gpkg: str | os.PathLike, run: RunRecord) -> None:
    """Write each layer's description (:data:`LAYER_DESCRIPTIONS`, with the run's scenario,
    year and id, which files named ``run.gpkg`` alike do not tell apart) into
    ``gpkg_contents``, and its identifier as ``<scenario> <layer>``."""
    spec = run.manifest.get("scenario") or {}
    name = str(spec.get("name") or run.name)
    head = (f"karvan run {run.run_id or run.path.name} of scenario {name} "
            f"({spec.get('year', '')}): ")
    set_contents(gpkg, {layer: (f"{name} {layer}", head + text + ".")
                         for layer, text in LAYER_DESCRIPTIONS.items()})


def set_contents(gpkg: str | os.PathLike, rows: dict[str, tuple[str, str]]) -> None:
    """Set the ``identifier`` and ``description`` of layers in ``gpkg_contents`` (layer ->
    (identifier, description))."""
    con = sqlite3.connect(gpkg)
    try:
        with con:
            for layer, (ident, text) in rows.items():
                con.execute("UPDATE gpkg_contents SET description = ?, identifier = ? "
                            "WHERE table_name = ?", (text, ident, layer))
    finally:
        con.close()
