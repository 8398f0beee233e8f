"""``karvan run``: corridor scenarios, saved in the run store, with a summary and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, out


@app.command()
def run(
    scenarios: Annotated[list[Path] | None, typer.Argument(
        help="Scenario files (.toml) or built-in scenario names; none: every built-in one.")]
    = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Results folder; each scenario gets a "
                                                        "subfolder with its latest run.")]
    = Path("results"),
    store: Annotated[Path | None, typer.Option(help="Run store that keeps every run "
                                                    "(default: the --out folder).")] = None,
    data: Annotated[Path | None, typer.Option(help="Corridor dataset folder "
                                                   "(default: built in).")] = None,
    gap: Annotated[float, typer.Option(help="Relative gap of the user equilibrium.")] = 1e-10,
    method: Annotated[str, typer.Option(help="Equilibrium method: algorithm-b (route lists "
                                             "from its bushes) or bfw.")] = "algorithm-b",
    choice: Annotated[str, typer.Option(help="Choice model: logit (nested logit over route "
                                             "families, hard capacities with shadow prices) "
                                             "or deterministic (user equilibrium, BPR "
                                             "delays).")] = "logit",
    lp: Annotated[bool, typer.Option(help="Also solve the capacity LP.")] = True,
    report: Annotated[bool, typer.Option(help="Write <out>/report.html: every scenario run, "
                                              "each against the first.")] = True,
    lang: Annotated[str, typer.Option(help="Language of the report: en, ru or fa.")] = "en",
    gpkg: Annotated[bool, typer.Option(help="Write <out>/<scenario>/run.gpkg: the results and "
                                            "the country outlines as layers styled for "
                                            "QGIS.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run corridor scenarios and print a summary; with no argument, every built-in scenario.

    Each run is saved in the run store (``karvan runs list``) and copied to
    ``<out>/<scenario>/``, with a GeoPackage for QGIS (``run.gpkg``).

    Raises
    ------
    InputError
        A bad dataset, scenario or language, or a scenario named ``runs`` where the store
        keeps its runs.
    """
    import time

    from karvan.cli.tables import print_tables
    from karvan.errors import InputError
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios, load_scenario
    from karvan.scenario.reference import report_references, with_references
    from karvan.scenario.run import CHOICE_TABLES, corridor_choice, run_scenario, save_run
    from karvan.scenario.summary import summary_tables
    from karvan.store import RunStore

    t0 = time.perf_counter()
    from karvan.scenario.run import CHOICES

    if choice not in CHOICES:
        raise InputError(f"--choice must be {' or '.join(CHOICES)}, not {choice!r}.")
    if report:
        from karvan.report.i18n import check_lang

        check_lang(lang)  # before the runs, not after them
    store_dir = store if store is not None else out_dir
    dataset = load_corridor(data)
    names = [str(s) for s in scenarios] if scenarios else builtin_scenarios()
    specs = [load_scenario(n) for n in names]
    added: set[str] = set()
    if not scenarios:
        # every project scenario gets the reference of its own year (karvan.scenario.reference);
        # those made for the comparison skip the capacity LP
        given = {s.name for s in specs}
        specs = with_references(specs, base_year=dataset.base_year)
        added = {s.name for s in specs} - given
    clash = [s.name for s in specs if s.name == "runs"
             and (out_dir / "runs").resolve() == (store_dir / "runs").resolve()]
    if clash:
        raise InputError(f"scenario name 'runs' would overwrite the run store's runs folder "
                         f"in {out_dir}; rename the scenario or give --store elsewhere.")
    # the choice model's parameters, read once for every run
    model = corridor_choice(dataset) if choice == "logit" and all(
        dataset.folder is not None and (dataset.folder / f).exists()
        for f in CHOICE_TABLES) else None
    runs = []
    run_store = None
    with console.status("", spinner="dots") as status:
        for spec in specs:
            def say(msg: str) -> None:
                if not quiet:
                    status.update(msg)
            r = run_scenario(dataset, spec, gap=gap, method=method,
                             lp=lp and spec.name not in added, progress=say, choice=choice,
                             choice_parameters=model)
            if run_store is None:  # created with the first result, not before
                run_store = RunStore(store_dir)
            run_id = save_run(r, run_store, dataset)
            run_store.copy_run(run_id, out_dir / spec.name)
            if gpkg:
                from karvan.io.geopackage import write_geopackage

                say(f"{spec.name}: GeoPackage")
                write_geopackage(out_dir / spec.name, data=dataset)
            runs.append(r)
            if not quiet:
                console.print(f"[green]done[/] {spec.name} ({r.summary['elapsed_s']:.2f} s) -> "
                              f"{out_dir / spec.name}, run {run_id}")
    print_tables(summary_tables(runs), out)
    if report:
        from karvan.report import write_report

        page = write_report([out_dir / r.scenario.name for r in runs], out_dir / "report.html",
                            comparisons=report_references(
                                [(r.scenario.name, r.scenario.year) for r in runs],
                                base_year=dataset.base_year),
                            lang=lang, dataset=data)
        out.print(f"report: {page}")
    out.print(f"{len(runs)} scenarios in {time.perf_counter() - t0:.1f} s; results in {out_dir}/"
              f"; every run kept in {store_dir} (karvan runs list)")
    out.print("These are point answers at the dataset's figures; `karvan explore "
              f"{' '.join(s.name for s in specs)} --draws 1000` gives P5/P50/P95 bands, the "
              "probability of each statement and the inputs that decide it.")
