"""``karvan data ...``: the built-in corridor dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out

data_app = typer.Typer(help="The built-in corridor dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("sources")
def data_sources(
    folder: Annotated[Path | None, typer.Option(help="A corridor dataset folder "
                                                     "(default: built in).")] = None,
    full: Annotated[bool, typer.Option(help="Show every column.")] = False,
) -> None:
    """List the sources of the dataset, with how many rows of each table cite them."""
    import pandas as pd
    from rich.table import Table

    from karvan.freight.corridor import load_corridor

    data = load_corridor(folder)
    tables = {"node": data.nodes, "link": data.links, "demand": data.demand,
              "commodity": data.commodities, "tariff": data.tariffs, "growth": data.growth,
              "observed": data.observed}
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
