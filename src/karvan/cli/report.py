"""``karvan report``: the self-contained HTML report of one run, or of two runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="A run folder written by `karvan run`.")],
    run2: Annotated[Path | None, typer.Argument(help="A second run folder: the report also "
                                                     "shows its differences against RUN.")]
    = None,
    lang: Annotated[str, typer.Option(help="Language of the labels: en, ru or fa.")] = "en",
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")]
    = Path("report.html"),
) -> None:
    """Write one self-contained HTML report (map, tables, charts) that works offline."""
    from karvan.report import write_report

    runs = [run] if run2 is None else [run, run2]
    path = write_report(runs, out_path, lang=lang)
    kb = path.stat().st_size / 1e3
    out.print(f"report of {len(runs)} run(s) in {lang} -> {path} ({kb:,.0f} kB)",
              highlight=False, soft_wrap=True)
