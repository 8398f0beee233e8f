"""``karvan data ...``: the built-in corridor dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, out

data_app = typer.Typer(help="The built-in corridor dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _data_option(text: str):
    """``--data DIR``, as every other command names a dataset folder; ``--folder``, its former
    name, still works."""
    return typer.Option("--data", "--folder", help=f"{text} --folder: the same (its former "
                                                   "name).")


@data_app.command("copy")
def data_copy(
    dest: Annotated[Path, typer.Argument(help="The new folder (it must not exist, or be "
                                              "empty).")],
) -> None:
    """Copy the built-in corridor dataset to a folder of your own, to edit (new figures, your
    own counts, another demand) and run with --data; the built-in one stays as shipped.

    Raises
    ------
    InputError
        ``dest`` is a file, or a folder that holds anything.
    """
    import shutil

    from karvan.errors import InputError
    from karvan.freight.corridor import builtin_corridor_folder

    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} {'is a file' if not dest.is_dir() else 'is not empty'}; "
                         "give a new folder (nothing of yours is replaced).")
    src = builtin_corridor_folder()
    tmp = dest.with_name(f".{dest.name}.copying")
    shutil.rmtree(tmp, ignore_errors=True)
    try:  # whole or not at all
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n = sum(1 for _ in dest.rglob("*.csv"))
    out.print(f"copied the built-in dataset ({n} CSV files) from {src} to {dest}; check it with "
              f"`karvan validate {dest}`, run it with `karvan run --data {dest}`",
              highlight=False, soft_wrap=True)


@data_app.command("sources")
def data_sources(
    folder: Annotated[Path | None, _data_option("A corridor dataset folder (default: built "
                                                "in).")] = None,
    full: Annotated[bool, typer.Option(help="Show every column.")] = False,
) -> None:
    """List the sources of the dataset, with how many rows of each table cite them."""
    import pandas as pd
    from rich.table import Table

    from karvan.freight.corridor import load_corridor

    data = load_corridor(folder)
    tables = {name: df for name, df in data.tables.items()
              if name != "sources" and "source" in df}
    counts: dict[str, dict[str, int]] = {}
    for name, df in tables.items():
        refs = df["source"].dropna().astype(str).str.split(";").explode().str.strip()
        for ref, n in refs.value_counts().items():
            counts.setdefault(ref, {})[name] = int(n)
    t = Table(title=f"sources of {data.folder}")
    for c in ("source_id", "title", "date", "cited by") + (("url",) if full else ()):
        t.add_column(c, overflow="fold")
    for r in data.sources.itertuples(index=False):
        used = ", ".join(f"{k} {v}" for k, v in counts.get(str(r.source_id), {}).items())
        row = [str(r.source_id), str(r.title)[:70], str(r.date), used or "-"]
        if full:
            row.append(str(r.url))
        t.add_row(*row)
    out.print(t)
    conf = pd.concat([df["confidence"] for df in tables.values() if "confidence" in df])
    out.print("rows by confidence: " + ", ".join(f"{k} {v}" for k, v in
                                                 conf.value_counts().items()))


@data_app.command("build-demand")
def data_build_demand(
    folder: Annotated[Path | None, _data_option("A corridor dataset folder whose "
                                                "demand_inputs/ are read (default: built "
                                                "in).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of the "
                                                                "folder's demand.csv.")] = None,
    check: Annotated[bool, typer.Option(help="Write nothing; exit 1 if demand.csv differs from "
                                             "what the inputs give.")] = False,
) -> None:
    """Rebuild demand.csv from the sourced trade flows, commodity mixes and zone shares in
    demand_inputs/ (written whole or not at all).

    Raises
    ------
    typer.Exit
        With ``--check``: 0 when demand.csv is what the inputs give, 1 when it differs.
    """
    from karvan.freight.corridor import builtin_corridor_folder
    from karvan.freight.demand_build import build_demand, demand_csv_text, write_demand

    folder = folder or builtin_corridor_folder()
    target = out_file or folder / "demand.csv"
    if check:
        text = demand_csv_text(build_demand(folder))
        same = target.is_file() and target.read_text(encoding="utf-8") == text
        out.print(f"{target}: " + ("as the inputs give it" if same else
                                   "differs from what the inputs give; rebuild it with "
                                   "karvan data build-demand"))
        raise typer.Exit(0 if same else 1)
    path = write_demand(folder, out=target)
    import pandas as pd

    dem = pd.read_csv(path, keep_default_na=False)
    out.print(f"wrote {path}: {len(dem):,} rows, {dem['tonnes_per_year'].sum() / 1e6:,.2f} Mt/yr "
              f"from {dem['flow_ids'].str.split(';').explode().nunique()} flows; "
              f"{int((dem['observed_ids'] != '').sum()):,} rows rest on observed.csv figures")
    estimate = folder / "od_estimate.csv"
    if path == folder / "demand.csv" and estimate.is_file():
        from karvan.freight.corridor import OD_KEY, prior_differs

        try:  # as loading the dataset judges it (_check_od_estimate)
            est = pd.read_csv(estimate, keep_default_na=False)
            prior = est.set_index(OD_KEY)["prior_tonnes_per_year"].astype(float)
            now = dem.set_index(OD_KEY)["tonnes_per_year"].astype(float)
            same = prior.index.sort_values().equals(now.index.sort_values()) and not (
                prior_differs(prior, now.reindex(prior.index)).any())
        except (ValueError, KeyError, pd.errors.ParserError):
            same = False
        if not same:
            console.print(f"[yellow]note:[/] {estimate} was estimated from the demand.csv "
                          "before this one, and the dataset does not load until it is "
                          f"estimated again: `karvan calibrate --data {folder} --write`, or "
                          "delete it to run on demand.csv.", highlight=False, soft_wrap=True)


@data_app.command("demand-tables")
def data_demand_tables(
    folder: Annotated[Path | None, _data_option("A corridor dataset folder whose "
                                                "demand_inputs/ are read (default: built "
                                                "in).")] = None,
) -> None:
    """Print the demand's tables (flows, totals by country pair and commodity) as Markdown,
    as docs/dataset.md shows them for the built-in dataset."""
    import sys

    from karvan.freight.corridor import builtin_corridor_folder
    from karvan.freight.demand_build import build_demand, demand_csv_text, demand_tables_markdown

    sys.stdout.write(demand_tables_markdown(folder))
    # the tables are of the inputs: a demand.csv edited by hand is not what they show
    target = (folder or builtin_corridor_folder()) / "demand.csv"
    if (target.is_file() and target.read_text(encoding="utf-8")
            != demand_csv_text(build_demand(folder))):
        console.print(f"[yellow]note:[/] {target} differs from what its demand_inputs/ build: "
                      "these tables are of the inputs, not of the demand the runs use; "
                      f"`karvan data build-demand --data {target.parent}` rebuilds it from "
                      "them.", highlight=False, soft_wrap=True)
