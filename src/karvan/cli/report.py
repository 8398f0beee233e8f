"""``karvan report``: the self-contained HTML report of one run, or of two runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, out
from karvan.errors import catch_warnings


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="A run: its id, a unique start of it, a scenario "
                                            "name (its latest run) or a run folder.")],
    run2: Annotated[str | None, typer.Argument(help="A second run, given the same way: the "
                                                    "report also shows its differences "
                                                    "against RUN.")] = None,
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
    lang: Annotated[str, typer.Option(help="Language of the labels: en, ru or fa.")] = "en",
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")]
    = Path("report.html"),
    data: Annotated[Path | None, typer.Option(
        help="The corridor dataset whose map to draw (default: the one the run was made "
             "from, where it still is).")] = None,
) -> None:
    """Write one self-contained HTML report (map, tables, charts) of a run, or of two, that
    works offline.

    An experiment of ``karvan explore`` has its own page, written with it: DIR/report.html.
    """
    import warnings

    from karvan.cli._app import console
    from karvan.report import write_report
    from karvan.report.i18n import check_lang
    from karvan.store import resolve_run

    check_lang(lang)
    runs = [resolve_run(r, store) for r in ([run] if run2 is None else [run, run2])]
    with catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(runs) == 2:  # as compare says it: the difference holds more than B's changes
            from karvan.store.diff import unlike_runs

            for said in unlike_runs(*runs):
                warnings.warn(said, UserWarning, stacklevel=1)
        path = write_report(runs, out_path, lang=lang, dataset=data)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
    kb = path.stat().st_size / 1e3
    names = " and ".join(r.label for r in runs)
    out.print(f"report of {names} in {lang} -> {path} ({kb:,.0f} kB)", highlight=False,
              soft_wrap=True)
