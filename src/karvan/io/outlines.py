"""The country outlines shipped with karvan (Natural Earth, public domain; see
``data/region/NOTICE.md``), read once for the report's maps and the GeoPackage's ``countries``
layer."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # shapely is loaded when the outlines are read: the constants come without it
    from shapely.geometry.base import BaseGeometry

#: longitude/latitude box that the shipped outlines cover
REGION_BOX = (24.0, 8.0, 80.0, 62.0)
#: what a map drawn on these outlines should say
DISCLAIMER = ("Boundaries are de facto lines as drawn by Natural Earth and imply no judgement on "
              "the legal status of any territory.")
#: ISO3 of the outlines -> the two-letter code karvan's tables use (``country``)
ISO3_TO_2 = {"RUS": "RU", "AZE": "AZ", "IRN": "IR", "GEO": "GE", "ARM": "AM", "TUR": "TR",
             "KAZ": "KZ", "TKM": "TM", "UZB": "UZ", "IND": "IN", "EGY": "EG", "PAK": "PK",
             "AFG": "AF", "IRQ": "IQ", "SAU": "SA", "ARE": "AE", "OMN": "OM", "UKR": "UA",
             "BLR": "BY", "CHN": "CN"}


@lru_cache(maxsize=1)
def _read() -> tuple[tuple[str, str, BaseGeometry], ...]:
    from shapely.geometry import shape

    src = resources.files("karvan") / "data" / "region" / "region_countries.geojson"
    gj = json.loads(src.read_text(encoding="utf-8"))
    return tuple((str(f["properties"]["iso3"]), str(f["properties"]["name"]),
                  shape(f["geometry"])) for f in gj["features"])


def country_outlines() -> list[dict]:
    """The shipped country outlines: ``[{iso3, name, geometry}]``, shapely geometries in
    longitude/latitude (EPSG:4326).

    Examples
    --------
    >>> c = {o["iso3"]: o for o in country_outlines()}
    >>> c["AZE"]["name"], c["AZE"]["geometry"].geom_type in ("Polygon", "MultiPolygon")
    ('Azerbaijan', True)
    """
    return [{"iso3": i, "name": n, "geometry": g} for i, n, g in _read()]
