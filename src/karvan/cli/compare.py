"""``karvan compare``: differences between two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out


@app.command()
def compare(
    run: Annotated[str, typer.Argument(help="A run: its id, its unique start, a scenario name "
                                            "(its latest run) or a results folder. With RUN2, "
                                            "the run the differences are taken from (RUN2 - "
                                            "RUN); alone, the run compared with the reference "
                                            "of its own year (RUN - reference).")],
    run2: Annotated[str | None, typer.Argument(help="A second run, given the same way: the "
                                                    "differences are RUN2 - RUN.")] = None,
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write the differences here: "
                                                               "one CSV per table and "
                                                               "difference.gpkg for "
                                                               "QGIS.")] = None,
    top: Annotated[int, typer.Option(help="Rows per table.", min=1)] = 10,
) -> None:
    """Differences RUN2 - RUN of two scenario results: the largest of links, borders, the
    choice model's capacities (shadow prices, use) and countries, the columns headed by
    scenario name, and the users' benefit of RUN2 against RUN (shippers' saving in generalized
    cost, by commodity and OD pair); --out writes every table, skims and the shipper
    comparison too, as CSV with _a, _b and _diff columns, benefit.csv, and difference.gpkg.
    With one run, its differences from the reference of its own year (the first table says
    which)."""
    from karvan.cli.tables import print_tables
    from karvan.io.atomic import atomic_folder
    from karvan.scenario.run import compare_runs, resolve_run
    from karvan.scenario.summary import comparison_tables

    if run2 is None:
        rb = resolve_run(run, store)
        diff = compare_runs(rb, store=store)
        ra = resolve_run(str(diff["reference"]["reference"].iloc[0]), store)
    else:
        ra, rb = (resolve_run(x, store) for x in (run, run2))
        diff = compare_runs(ra, rb)
    # the columns by scenario name; two runs of one scenario by their ids or folders
    headings = next(((x, y) for x, y in ((ra.name, rb.name), (ra.label, rb.label)) if x != y),
                    None)
    no_map = None
    if out_dir is not None:
        from karvan.errors import InputError
        from karvan.io.geopackage import write_difference_geopackage

        # written before the tables are printed: a reader that stops early (| head) ended the
        # command before it wrote anything
        with atomic_folder(out_dir) as tmp:
            for name, df in diff.items():
                # the users' benefit is a table of its own, not a difference of one
                df.to_csv(tmp / (f"{name}.csv" if name == "benefit" else f"{name}_diff.csv"),
                          index=False)
            try:  # the differences on the map, for QGIS
                write_difference_geopackage(ra, rb, diff, tmp / "difference.gpkg")
            except InputError as e:  # the runs' dataset is gone or changed: the tables only
                no_map = str(e)
    print_tables(comparison_tables(diff, ra.label, rb.label, top=top, headings=headings), out)
    if out_dir is not None:
        out.print(f"differences written to {out_dir}/ (CSV"
                  + (", and difference.gpkg for QGIS)" if no_map is None else
                     f"; no difference.gpkg: {no_map})"), highlight=False, soft_wrap=True)
