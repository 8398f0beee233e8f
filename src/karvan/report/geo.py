"""Map geometry for the report: the projection, the country outlines and the link lines.

The map is equirectangular with longitudes scaled by cos(lat0) at the middle latitude of the
view: simple, and shapes stay recognisable from the Baltic to the Arabian Sea.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, box

from karvan.io.outlines import REGION_BOX, country_outlines


@dataclass(frozen=True, slots=True)
class Projection:
    """lon/lat -> SVG pixels, equirectangular with cos(lat0) scaling, north up."""

    lon_min: float
    lat_min: float
    lon_max: float
    lat_max: float
    width: float = 1000.0

    @property
    def kx(self) -> float:
        """Horizontal scale of a degree of longitude: cos of the middle latitude."""
        return math.cos(math.radians((self.lat_min + self.lat_max) / 2))

    @property
    def scale(self) -> float:
        """Pixels per degree of latitude."""
        return self.width / ((self.lon_max - self.lon_min) * self.kx)

    @property
    def height(self) -> float:
        """Height of the map in pixels."""
        return (self.lat_max - self.lat_min) * self.scale

    def xy(self, lon, lat):
        """Pixel coordinates of ``lon``, ``lat`` (scalars or arrays)."""
        x = (np.asarray(lon, float) - self.lon_min) * self.kx * self.scale
        y = (self.lat_max - np.asarray(lat, float)) * self.scale
        return x, y


def fit_projection(lon: np.ndarray, lat: np.ndarray, *, pad_deg: float = 1.0,
                   width: float = 1000.0) -> Projection:
    """A projection that shows the points, padded, within the region the outlines cover; the
    points' own box where they lie outside that region (a network elsewhere: no outlines)."""
    m = 0.3  # keep the cut edges of the outlines just outside the view
    box = (float(np.nanmin(lon)) - pad_deg, float(np.nanmin(lat)) - pad_deg,
           float(np.nanmax(lon)) + pad_deg, float(np.nanmax(lat)) + pad_deg)
    lo = max(REGION_BOX[0] + m, box[0])
    hi = min(REGION_BOX[2] - m, box[2])
    la = max(REGION_BOX[1] + m, box[1])
    ha = min(REGION_BOX[3] - m, box[3])
    if lo >= hi or la >= ha:
        lo, la, hi, ha = box
    return Projection(lo, la, hi, ha, width)


def _path(coords: np.ndarray, proj: Projection, closed: bool) -> str:
    x, y = proj.xy(coords[:, 0], coords[:, 1])
    pts = [f"{a:.1f} {b:.1f}" for a, b in zip(x, y, strict=True)]
    out = []
    for p in pts:  # drop repeated points after rounding
        if not out or out[-1] != p:
            out.append(p)
    return "M" + "L".join(out) + ("Z" if closed else "")


def load_outlines() -> list[dict]:
    """The shipped country outlines: ``[{iso3, name, geometry}]`` (shapely, lon/lat)."""
    return country_outlines()


def outline_paths(proj: Projection, *, tolerance_deg: float = 0.03) -> list[dict]:
    """Country outlines clipped to the view, simplified and projected to SVG path data.

    Returns ``[{iso3, name, d, label_xy}]``; ``label_xy`` is a point inside the largest part.
    """
    view = box(proj.lon_min - 1, proj.lat_min - 1, proj.lon_max + 1, proj.lat_max + 1)
    out = []
    for c in load_outlines():
        g = c["geometry"].intersection(view)
        if g.is_empty:
            continue
        g = g.simplify(tolerance_deg, preserve_topology=True)
        parts = []
        polys = list(getattr(g, "geoms", [g]))
        polys = [p for p in polys if p.geom_type == "Polygon" and not p.is_empty]
        for p in polys:
            for ring in [p.exterior, *p.interiors]:
                c_ = np.asarray(ring.coords)
                if len(c_) >= 4:
                    parts.append(_path(c_, proj, closed=True))
        if not parts:
            continue
        big = max(polys, key=lambda p: p.area)
        pt = big.intersection(box(proj.lon_min, proj.lat_min, proj.lon_max, proj.lat_max))
        pt = (pt if not pt.is_empty else big).representative_point()
        lx, ly = proj.xy(pt.x, pt.y)
        out.append({"iso3": c["iso3"], "name": c["name"], "d": "".join(parts),
                    "label_xy": (float(lx), float(ly)), "area": big.area})
    return out


def link_lines(links: pd.DataFrame, nodes: pd.DataFrame, link_ids) -> dict[str, np.ndarray]:
    """lon/lat vertex arrays of each link in ``link_ids``: its WKT geometry where given, else the
    straight line between its end nodes. Links whose geometry cannot be found are left out."""
    out: dict[str, np.ndarray] = {}
    has_geom = "geometry" in links.columns
    ids = list(link_ids)
    pos = links.index.get_indexer(ids) if links.index.is_unique else None
    geom = links["geometry"].to_numpy(dtype=object) if has_geom else None
    ends = links[["from_node_id", "to_node_id"]].to_numpy(dtype=object)
    for i, lid in enumerate(ids):
        if lid not in links.index:
            continue
        if pos is None:  # duplicate ids: as a row lookup would see them
            row = links.loc[lid]
            wkt, a, b = (row["geometry"] if has_geom else None, row["from_node_id"],
                         row["to_node_id"])
        else:
            p = pos[i]
            wkt, (a, b) = (geom[p] if has_geom else None), ends[p]
        coords = None
        if isinstance(wkt, str) and wkt.strip():
            try:
                g = shapely.from_wkt(wkt)
                if isinstance(g, LineString) and not g.is_empty:
                    coords = np.asarray(g.coords)[:, :2]
            except shapely.errors.GEOSException:
                coords = None
        if coords is None:
            if a in nodes.index and b in nodes.index:
                coords = np.array([[nodes.at[a, "x_coord"], nodes.at[a, "y_coord"]],
                                   [nodes.at[b, "x_coord"], nodes.at[b, "y_coord"]]], float)
        if coords is not None and np.isfinite(coords).all():
            out[str(lid)] = coords
    return out


def line_path(coords: np.ndarray, proj: Projection) -> str:
    """SVG path data of a lon/lat polyline."""
    return _path(coords, proj, closed=False)


def midpoint(coords: np.ndarray, proj: Projection) -> tuple[float, float]:
    """Pixel position halfway along a lon/lat polyline (by vertex average for short lines)."""
    x, y = proj.xy(coords[:, 0], coords[:, 1])
    return float(np.mean([x[0], x[-1]])), float(np.mean([y[0], y[-1]]))
