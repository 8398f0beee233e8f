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
                                          "skims), gmns (the scenario network; karvan assign on it "
                                          "reproduces a --choice deterministic run, not the "
                                          "logit model's flows) or all.")] = "all",
    out_path: Annotated[Path | None, typer.Option("--out", "-o",
                                                  help="File (gpkg, omx) or folder (gmns, all) "
                                                       "to write; default: inside the run "
                                                       "folder. An existing folder given for a "
                                                       "file gets it inside (run.gpkg, "
                                                       "run.omx). A file's name gets .gpkg "
                                                       "or .omx if it has not.")] = None,
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
    data: Annotated[Path | None, typer.Option(
        help="The corridor dataset for the map, the network and the zone order (gpkg, gmns, "
             "omx), where it has moved since the run (default: the folder the run was made "
             "from).")] = None,
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
    dataset = None
    if data is not None:
        from karvan.freight.corridor import load_corridor
        from karvan.io.hashing import changed_files
        from karvan.store import resolve_run

        rec = resolve_run(run, store)
        dataset = load_corridor(data)
        changed = changed_files(data, rec.manifest.get("inputs", {}).get("sha256_16", {}))
        if changed:
            console.print(f"[yellow]warning:[/] {data} is not the dataset the run was "
                          f"made from ({', '.join(changed)} differ): the map and network are "
                          "those of the dataset as it is now.", highlight=False, soft_wrap=True)
    done = export_run(run, fmt, out_path, store=store, data=dataset)
    if (fmt in ("gpkg", "omx") and out_path is not None
            and done[fmt] == out_path.with_name(f"{out_path.name}.{fmt}")):
        who = ("the GeoPackage standard, GDAL and QGIS expect" if fmt == "gpkg" else
               "OMX tools and other models look for")
        console.print(f"[yellow]note:[/] {out_path} has no .{fmt} extension, which {who}: "
                      f"written as {done[fmt]}.",
                      highlight=False, soft_wrap=True)
    for f, p in done.items():
        out.print(f"{f:5} {p}", highlight=False, soft_wrap=True)
