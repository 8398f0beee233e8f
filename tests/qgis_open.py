"""Open a karvan GeoPackage in QGIS, headless, as a user would, and report what QGIS made of it.

Run by ``tests/unit/test_export.py`` with the system's Python where QGIS's Python bindings are
installed (Debian: ``python3-qgis``); it is not imported by the tests themselves. Prints one JSON
object: per layer whether its default style loaded, its renderer and, for the links, the stroke
style QGIS gives a sea link and a rail link; and the most common colours of a rendered map.
Arguments: the GeoPackage and a PNG file to render to.
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRenderContext,
    QgsSymbolLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

LAYERS = ["countries", "od_lines", "links", "transfers", "borders", "nodes"]


def main(gpkg: str, png: str) -> dict:
    out: dict = {"layers": {}}
    layers = []
    for name in LAYERS:
        lyr = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        info = {"valid": lyr.isValid()}
        if lyr.isValid():
            _, ok = lyr.loadDefaultStyle()
            r = lyr.renderer()
            info.update(style=bool(ok), renderer=r.type(), features=lyr.featureCount())
            if r.type() == "graduatedSymbol":
                info.update(attr=r.classAttribute(), classes=len(r.ranges()))
            layers.append(lyr)
            QgsProject.instance().addMapLayer(lyr)
        out["layers"][name] = info
    links = QgsProject.instance().mapLayersByName("links")[0]
    sl = links.renderer().symbols(QgsRenderContext())[0].symbolLayer(0)
    prop = sl.dataDefinedProperties().property(QgsSymbolLayer.PropertyStrokeStyle)
    styles = {}
    for f in links.getFeatures():
        mode = f["mode"]
        if mode in styles:
            continue
        ctx = QgsExpressionContext()
        ctx.appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(links))
        ctx.setFeature(f)
        styles[mode] = prop.valueAsString(ctx, "")[0] if prop.isActive() else None
    out["stroke_style_by_mode"] = styles
    ms = QgsMapSettings()
    ms.setLayers(list(reversed(layers)))  # nodes on top, countries underneath
    extent = links.extent()
    extent.grow(1.0)
    ms.setExtent(extent)
    ms.setOutputSize(QSize(900, 700))
    ms.setBackgroundColor(QColor("#dfe9f2"))
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    img.save(png, "png")
    counts: dict[str, int] = {}
    for x in range(0, img.width(), 2):
        for y in range(0, img.height(), 2):
            c = QColor(img.pixel(x, y)).name()
            counts[c] = counts.get(c, 0) + 1
    out["colours"] = counts
    return out


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps(main(sys.argv[1], sys.argv[2])))
    finally:
        app.exitQgis()
