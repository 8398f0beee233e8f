"""Default QGIS styles (QML) for the layers of a run's GeoPackage.

QGIS applies the ``layer_styles`` row of a layer whose ``useAsDefault`` is true when the layer is
opened; :mod:`karvan.io.geopackage` writes one such row per layer with the QML built here.

- ``links``: graduated renderer on ``tonnes_tot`` (flow bands, up to five classes with growing
  line width) whose line colour is a data-defined property of ``utilization``: green below 0.5,
  light green below 0.8, yellow below 0.95, orange below 1, red from 1, grey without capacity.
  Heavier links are drawn on top (``orderby tonnes_tot``).
- ``nodes``: small grey circles.
- ``borders``: circles sized by ``tonnes_tot`` (data-defined size), coloured by ``utilization``
  as links are.
- ``od_lines``: thin graduated purple lines on ``tonnes_tot``.
- ``countries``: pale land with grey borders (context under the network).

Sea and ferry links are dashed (a data-defined stroke style on ``mode``), and the utilization
colours are :data:`karvan.io.colours.UTILIZATION_SCALE`, as on the report's map.

The QML is written with :mod:`xml.etree.ElementTree`, so expressions are escaped properly. Symbol
layer properties are written both as an ``<Option type="Map">`` (QGIS >= 3.26 reads it) and as
legacy ``<prop k= v=>`` elements (older QGIS 3 reads those).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np

from karvan.io.colours import NO_CAPACITY, UTILIZATION_SCALE

QGIS_VERSION = "3.34.0"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"

#: utilization bands of the colour scale (the report's): (upper bound, colour, label)
UTILIZATION_COLOURS = UTILIZATION_SCALE
NO_CAPACITY_COLOUR = NO_CAPACITY
LINK_WIDTHS_MM = (0.3, 0.7, 1.2, 2.0, 3.2)
OD_WIDTHS_MM = (0.1, 0.2, 0.35, 0.55, 0.8)
OD_COLOUR = "118,42,131,150"
COUNTRY_FILL = "242,239,233,255"
COUNTRY_OUTLINE = "176,168,152,255"
#: sea and ferry legs are dashed, as on the report's map
SEA_MODES = ("sea", "ferry")


def utilization_colour_expression(field: str = "utilization") -> str:
    """A QGIS expression giving a colour for ``field``: green -> yellow -> red, grey if null."""
    f = f'"{field}"'
    parts = [f"CASE WHEN {f} IS NULL THEN '{NO_CAPACITY_COLOUR}'"]
    for upper, colour, _ in UTILIZATION_COLOURS[:-1]:
        parts.append(f"WHEN {f} < {upper:g} THEN '{colour}'")
    parts.append(f"ELSE '{UTILIZATION_COLOURS[-1][1]}' END")
    return " ".join(parts)


def sea_dash_expression(field: str = "mode") -> str:
    """A QGIS expression giving the line style: dashed for sea and ferry legs, else solid."""
    modes = ", ".join(f"'{m}'" for m in SEA_MODES)
    return f"CASE WHEN \"{field}\" IN ({modes}) THEN 'dash' ELSE 'solid' END"


def flow_breaks(values: Sequence[float] | np.ndarray, n: int = 5) -> list[float]:
    """Class bounds for flow bands: ``[0, b1, ..., max]`` with at most ``n`` classes.

    Inner bounds are quantiles of the positive values rounded to two significant digits, so the
    legend reads ``0-0.46 Mt``, ``0.46-1.2 Mt`` and so on; repeated bounds are merged.

    Examples
    --------
    >>> flow_breaks([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], n=5)
    [0.0, 28.0, 46.0, 64.0, 82.0, 100.0]
    >>> flow_breaks([0, 1.5e6, 17.4e6], n=2)
    [0.0, 9400000.0, 18000000.0]
    >>> flow_breaks([0, 0])
    [0.0, 0.0]
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top = float(v.max()) if v.size else 0.0
    pos = v[v > 0]
    if top <= 0 or pos.size == 0:
        return [0.0, max(top, 0.0)]
    inner = [_round_sig(float(q)) for q in np.quantile(pos, np.arange(1, n) / n)]
    return [0.0] + sorted({b for b in inner if 0 < b < top}) + [_round_sig(top, up=True)]


def _round_sig(x: float, digits: int = 2, *, up: bool = False) -> float:
    """``x`` to ``digits`` significant digits (rounded up with ``up``, so the top bound holds
    the largest value)."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x)) - digits + 1
    m = x / 10.0**e
    m = math.ceil(m - 1e-9) if up else round(m)
    return float(m * 10**e) if e >= 0 else round(m * 10.0**e, -e)


def _mt(x: float) -> str:
    return f"{x / 1e6:.2g}"


def links_qml(tonnes_tot: Sequence[float] | np.ndarray) -> str:
    """QML for the ``links`` layer: flow bands by ``tonnes_tot``, colour by ``utilization``."""
    colour = utilization_colour_expression()
    return _graduated(
        "tonnes_tot", flow_breaks(tonnes_tot), LINK_WIDTHS_MM, geometry_type=1,
        symbol=lambda w: _line_symbol(w, "120,120,120,255", colour=colour,
                                      style=sea_dash_expression()),
        unit="Mt/yr", order_by="tonnes_tot")


def od_lines_qml(tonnes_tot: Sequence[float] | np.ndarray) -> str:
    """QML for the ``od_lines`` layer: thin graduated desire lines by ``tonnes_tot``."""
    return _graduated(
        "tonnes_tot", flow_breaks(tonnes_tot), OD_WIDTHS_MM, geometry_type=1,
        symbol=lambda w: _line_symbol(w, OD_COLOUR), unit="Mt/yr", order_by="tonnes_tot")


def countries_qml() -> str:
    """QML for the ``countries`` layer: pale land with grey borders, drawn under the network."""
    props = {"color": COUNTRY_FILL, "style": "solid", "outline_color": COUNTRY_OUTLINE,
             "outline_style": "solid", "outline_width": "0.26", "outline_width_unit": "MM",
             "joinstyle": "bevel", "offset": "0,0", "offset_unit": "MM"}
    return _single(_symbol("fill", "SimpleFill", props, {}), geometry_type=2)


def nodes_qml() -> str:
    """QML for the ``nodes`` layer: small grey circles."""
    return _single(_marker_symbol(1.6, "90,90,90,255"), geometry_type=0)


def borders_qml(tonnes_tot: Sequence[float] | np.ndarray) -> str:
    """QML for the ``borders`` layer: circles sized by ``tonnes_tot`` (2 to 9 mm, by area) and
    coloured by ``utilization``."""
    v = np.asarray(tonnes_tot, dtype=float)
    top = float(np.nanmax(v)) if v.size and np.isfinite(v).any() else 0.0
    size = (f'coalesce(scale_exp("tonnes_tot", 0, {top:.6g}, 2, 9, 0.57), 2)' if top > 0
            else "2")
    return _single(_marker_symbol(2.0, "215,25,28,255", colour=utilization_colour_expression(),
                                  size=size), geometry_type=0)


#: colours of a gain, a loss and no change in a difference layer (as the report's difference map)
GAIN, LOSS, SAME = "33,102,172,255", "178,24,43,255", "170,170,170,255"


def _diff_colour(field: str) -> str:
    return (f"CASE WHEN \"{field}\" > 0 THEN '{GAIN}' WHEN \"{field}\" < 0 THEN '{LOSS}' "
            f"ELSE '{SAME}' END")


def diff_links_qml(diff: Sequence[float] | np.ndarray, field: str = "tonnes_tot_diff", *,
                   sea_dash: bool = True) -> str:
    """QML for a difference layer of links: blue where ``field`` gained, red where it lost,
    the width growing with the size of the change (0.3 to 4 mm up to the largest); sea legs
    dashed by ``mode`` unless ``sea_dash`` is False (desire lines have no mode)."""
    top = _largest(diff)
    width = (f'coalesce(scale_linear(abs("{field}"), 0, {top:.6g}, 0.3, 4), 0.3)' if top > 0
             else "0.3")
    return _single(_line_symbol(0.3, SAME, colour=_diff_colour(field), width=width,
                                style=sea_dash_expression() if sea_dash else None),
                   geometry_type=1)


def diff_points_qml(diff: Sequence[float] | np.ndarray, field: str = "tonnes_tot_diff") -> str:
    """QML for a difference layer of points (borders, transfers): circles sized by the size of
    the change (2 to 9 mm, by area), blue where it gained, red where it lost."""
    top = _largest(diff)
    size = (f'coalesce(scale_exp(abs("{field}"), 0, {top:.6g}, 2, 9, 0.57), 2)' if top > 0
            else "2")
    return _single(_marker_symbol(2.0, SAME, colour=_diff_colour(field), size=size),
                   geometry_type=0)


def _largest(values) -> float:
    v = np.abs(np.asarray(values, dtype=float))
    return float(np.nanmax(v)) if v.size and np.isfinite(v).any() else 0.0


def style_fields(qml: str) -> set[str]:
    """Fields a QML style reads: the renderer's ``attr``, order-by and data-defined expressions.

    Examples
    --------
    >>> sorted(style_fields(links_qml([0.0, 1e6, 2e6])))
    ['mode', 'tonnes_tot', 'utilization']
    """
    root = ET.fromstring(qml)
    out = set()
    for el in root.iter():
        if el.tag == "renderer-v2" and el.get("attr"):
            out.add(el.get("attr"))
        if el.tag == "orderByClause" and el.text:
            out.update(re.findall(r'"([^"]+)"', el.text))
        if el.tag == "Option" and el.get("name") == "expression":
            out.update(re.findall(r'"([^"]+)"', el.get("value", "")))
    return out


# -- builders ------------------------------------------------------------------------------------


def _root() -> ET.Element:
    return ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "Symbology"})


def _finish(root: ET.Element, geometry_type: int) -> str:
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root)
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def _single(symbol: ET.Element, *, geometry_type: int) -> str:
    root = _root()
    r = ET.SubElement(root, "renderer-v2", {"type": "singleSymbol", "symbollevels": "0",
                                            "forceraster": "0", "enableorderby": "0",
                                            "referencescale": "-1"})
    symbols = ET.SubElement(r, "symbols")
    symbol.set("name", "0")
    symbols.append(symbol)
    ET.SubElement(r, "rotation")
    ET.SubElement(r, "sizescale")
    return _finish(root, geometry_type)


def _graduated(attr: str, bounds: list[float], widths: Sequence[float], *, geometry_type: int,
               symbol, unit: str, order_by: str | None = None) -> str:
    root = _root()
    r = ET.SubElement(root, "renderer-v2", {
        "type": "graduatedSymbol", "attr": attr, "graduatedMethod": "GraduatedSize",
        "symbollevels": "0", "forceraster": "0", "enableorderby": "1" if order_by else "0",
        "referencescale": "-1"})
    ranges = ET.SubElement(r, "ranges")
    symbols = ET.SubElement(r, "symbols")
    n = len(bounds) - 1
    # spread the available widths over the classes: the thickest always goes to the top class
    pick = np.round(np.linspace(0, len(widths) - 1, n)).astype(int) if n > 1 else [0]
    for i in range(n):
        lo, hi = bounds[i], bounds[i + 1]
        ET.SubElement(ranges, "range", {"lower": f"{lo:.6f}", "upper": f"{hi:.6f}",
                                        "symbol": str(i), "render": "true",
                                        "label": f"{_mt(lo)} - {_mt(hi)} {unit}"})
        s = symbol(widths[pick[i]])
        s.set("name", str(i))
        symbols.append(s)
    ET.SubElement(r, "mode", {"name": "quantile"})
    ET.SubElement(r, "rotation")
    ET.SubElement(r, "sizescale")
    if order_by:
        ob = ET.SubElement(r, "orderby")
        c = ET.SubElement(ob, "orderByClause", {"asc": "1", "nullsFirst": "1"})
        c.text = f'"{order_by}"'
    return _finish(root, geometry_type)


def _symbol(kind: str, layer_class: str, props: dict[str, str],
            data_defined: dict[str, str]) -> ET.Element:
    sym = ET.Element("symbol", {"type": kind, "alpha": "1", "clip_to_extent": "1",
                                "force_rhr": "0", "is_animated": "0", "frame_rate": "10"})
    _options(sym, {})
    layer = ET.SubElement(sym, "layer", {"class": layer_class, "enabled": "1", "locked": "0",
                                         "pass": "0"})
    opt = ET.SubElement(layer, "Option", {"type": "Map"})
    for k, v in props.items():
        ET.SubElement(opt, "Option", {"name": k, "type": "QString", "value": v})
    for k, v in props.items():
        ET.SubElement(layer, "prop", {"k": k, "v": v})
    _options(layer, data_defined)
    return sym


def _options(parent: ET.Element, expressions: dict[str, str]) -> None:
    """A ``data_defined_properties`` collection of expression-based properties (type 3)."""
    dd = ET.SubElement(parent, "data_defined_properties")
    m = ET.SubElement(dd, "Option", {"type": "Map"})
    ET.SubElement(m, "Option", {"name": "name", "type": "QString", "value": ""})
    if expressions:
        props = ET.SubElement(m, "Option", {"name": "properties", "type": "Map"})
        for key, expr in expressions.items():
            p = ET.SubElement(props, "Option", {"name": key, "type": "Map"})
            ET.SubElement(p, "Option", {"name": "active", "type": "bool", "value": "true"})
            ET.SubElement(p, "Option", {"name": "expression", "type": "QString", "value": expr})
            ET.SubElement(p, "Option", {"name": "type", "type": "int", "value": "3"})
    else:
        ET.SubElement(m, "Option", {"name": "properties"})
    ET.SubElement(m, "Option", {"name": "type", "type": "QString", "value": "collection"})


def _line_symbol(width_mm: float, rgba: str, *, colour: str | None = None,
                 style: str | None = None, width: str | None = None) -> ET.Element:
    props = {"line_color": rgba, "line_width": f"{width_mm:g}", "line_width_unit": "MM",
             "line_style": "solid", "capstyle": "round", "joinstyle": "round",
             "offset": "0", "offset_unit": "MM", "draw_inside_polygon": "0",
             "use_custom_dash": "0"}
    dd = {}
    if colour:
        dd["outlineColor"] = colour
    if style:
        dd["outlineStyle"] = style
    if width:
        dd["outlineWidth"] = width
    return _symbol("line", "SimpleLine", props, dd)


def _marker_symbol(size_mm: float, rgba: str, *, colour: str | None = None,
                   size: str | None = None) -> ET.Element:
    props = {"name": "circle", "color": rgba, "outline_color": "255,255,255,255",
             "outline_width": "0.2", "outline_width_unit": "MM", "outline_style": "solid",
             "size": f"{size_mm:g}", "size_unit": "MM", "angle": "0",
             "scale_method": "diameter", "joinstyle": "bevel"}
    dd = {}
    if colour:
        dd["fillColor"] = colour
    if size:
        dd["size"] = size
    return _symbol("marker", "SimpleMarker", props, dd)
