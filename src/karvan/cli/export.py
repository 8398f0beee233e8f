"""``karvan export``: a run's results for QGIS (GeoPackage), other models (OMX) and GMNS
tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out


@app.command("export")
def export(
    run_folder: Annotated[Path, typer.Argument(help="A run folder written by `karvan run`.")],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="gpkg (GeoPackage, styled for QGIS), omx (demand and "
                                          "skims), gmns (the scenario network) or all.")] = "all",
    out_path: Annotated[Path | None, typer.Option("--out", "-o",
                                                  help="File (gpkg, omx) or folder (gmns, all) "
                                                       "to write; default: inside the run "
                                                       "folder.")] = None,
) -> None:
    """Export a run's results for QGIS (GeoPackage), other models (OMX) and GMNS tools."""
    from karvan.scenario.export import export_run

    done = export_run(run_folder, fmt.lower(), out_path)
    for f, p in done.items():
        out.print(f"{f:5} {p}", highlight=False, soft_wrap=True)
