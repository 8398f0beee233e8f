"""The one utilisation colour scale, shared by the HTML report's maps and charts and by the QGIS
styles of the GeoPackage, so that a link has the same colour in both.

Utilisation is tonnes over capacity (both directions' larger share, as the ``links`` table gives
it). Five classes from ColorBrewer's RdYlGn, 5 classes (colour-blind safe in its green and red
ends only, so every class also has its label); a link without capacity (sea legs, transfers
without a figure) has no utilisation and is grey.
"""

from __future__ import annotations

import math

#: (upper bound, colour, label) of each class; the last class has no upper bound
UTILIZATION_SCALE: tuple[tuple[float, str, str], ...] = (
    (0.5, "#1a9641", "< 50%"),
    (0.8, "#a6d96a", "50–80%"),
    (0.95, "#f4d03f", "80–95%"),
    (1.0, "#fdae61", "95–100%"),
    (math.inf, "#d7191c", "≥ 100%"),
)
#: colour of a link without capacity (no utilisation)
NO_CAPACITY = "#8c8c8c"


def utilization_colour(u: float | None) -> str:
    """The colour of a utilisation; :data:`NO_CAPACITY` for ``None``, NaN or infinity.

    Examples
    --------
    >>> utilization_colour(0.3), utilization_colour(0.95), utilization_colour(None)
    ('#1a9641', '#fdae61', '#8c8c8c')
    """
    if u is None or not math.isfinite(u):
        return NO_CAPACITY
    for upper, colour, _ in UTILIZATION_SCALE:
        if u < upper:
            return colour
    return UTILIZATION_SCALE[-1][1]


def hex_to_rgba(colour: str, alpha: int = 255) -> str:
    """``"#1a9641"`` -> ``"26,150,65,255"``, the colour form of QGIS style files.

    Examples
    --------
    >>> hex_to_rgba("#1a9641")
    '26,150,65,255'
    """
    h = colour.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"
