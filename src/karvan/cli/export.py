"""``karvan export``: a run's results for QGIS (GeoPackage), other models (OMX) and GMNS
tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, out


@app.command("export")
def export(
    run: Annotated[str, typer.Argument(help="A run: its id, a unique start of it, a scenario "
                                            "name (its latest run) or a run folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="gpkg (GeoPackage, styled for QGIS), omx (demand and "
                                          "skims), gmns (the scenario network) or all.")] = "all",
    out_path: Annotated[Path | None, typer.Option("--out", "-o",
                                                  help="File (gpkg, omx) or folder (gmns, all) "
                                                       "to write; default: inside the run "
                                                       "folder. An existing folder given for a "
                                                       "file gets it inside (run.gpkg, "
                                                       "run.omx). A GeoPackage's name gets "
                                                       ".gpkg if it has not.")] = None,
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
) -> None:
    """Export a run's results for QGIS (GeoPackage), other models (OMX) and GMNS tools.

    Raises
    ------
    InputError
        An unknown format, a run that cannot be found or exported.
    """
    from karvan.errors import InputError
    from karvan.scenario.export import FORMATS, export_run

    fmt = fmt.lower()
    if fmt not in FORMATS:  # before looking the run up: the cheaper mistake first
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    done = export_run(run, fmt, out_path, store=store)
    if (fmt == "gpkg" and out_path is not None
            and done["gpkg"] == out_path.with_name(f"{out_path.name}.gpkg")):
        console.print(f"[yellow]note:[/] {out_path} has no .gpkg extension, which the "
                      f"GeoPackage standard, GDAL and QGIS expect: written as {done['gpkg']}.",
                      highlight=False, soft_wrap=True)
    for f, p in done.items():
        out.print(f"{f:5} {p}", highlight=False, soft_wrap=True)
