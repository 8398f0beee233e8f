"""``karvan compare``: differences between two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Run A: a run id, its unique start, a scenario name "
                                          "(its latest run) or a results folder.")],
    b: Annotated[str | None, typer.Argument(help="Run B, given the same way; without it, run "
                                                 "A is compared with the reference of its own "
                                                 "year in the store.")] = None,
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write the differences as CSV "
                                                               "here.")] = None,
    top: Annotated[int, typer.Option(help="Rows per table.")] = 10,
) -> None:
    """Differences B - A of two scenario results: links, countries, borders, skims; with one run,
    its differences from the reference of its own year (the first table says which)."""
    from karvan.cli.tables import print_tables
    from karvan.io.atomic import atomic_folder
    from karvan.scenario.run import compare_runs, resolve_run
    from karvan.scenario.summary import comparison_tables

    if b is None:
        rb = resolve_run(a, store)
        diff = compare_runs(rb, store=store)
        ra = resolve_run(str(diff["reference"]["reference"].iloc[0]), store)
    else:
        ra, rb = (resolve_run(x, store) for x in (a, b))
        diff = compare_runs(ra, rb)
    print_tables(comparison_tables(diff, ra.label, rb.label, top=top), out)
    if out_dir is not None:
        with atomic_folder(out_dir) as tmp:
            for name, df in diff.items():
                df.to_csv(tmp / f"{name}_diff.csv", index=False)
        out.print(f"differences written to {out_dir}/")
