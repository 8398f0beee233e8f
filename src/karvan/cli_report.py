"""``karvan report``: the self-contained HTML report of one run, or of two runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from karvan.errors import KarvanError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="A run folder written by `karvan run`.")],
    run2: Annotated[Path | None, typer.Argument(help="A second run folder: the report also "
                                                     "shows its differences against RUN.")]
    = None,
    lang: Annotated[str, typer.Option(help="Language of the labels: en, ru or fa.")] = "en",
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")]
    = Path("report.html"),
) -> None:
    """Write one self-contained HTML report (map, tables, charts) that works offline."""
    from karvan.report import write_report

    runs = [run] if run2 is None else [run, run2]
    try:
        path = write_report(runs, out, lang=lang)
    except KarvanError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    kb = path.stat().st_size / 1e3
    typer.echo(f"report of {len(runs)} run(s) in {lang} -> {path} ({kb:,.0f} kB)")
