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
    gap: Annotated[float | None, typer.Option(
        help="With --choice deterministic: relative gap of the user equilibrium (default "
             "1e-10).")] = None,
    method: Annotated[str | None, typer.Option(
        help="With --choice deterministic: equilibrium method, algorithm-b (the default; route "
             "lists from its bushes), bfw, cfw, fw, msa or aon.")] = None,
    choice: Annotated[str, typer.Option(help="Choice model: logit (nested logit over route "
                                             "families, hard capacities with shadow prices) "
                                             "or deterministic (user equilibrium, BPR "
                                             "delays).")] = "logit",
    lp: Annotated[bool, typer.Option(
        help="Also solve the capacity LP and, under logit, the choice model's deterministic "
             "limit (the limit_* columns).")] = True,
    report: Annotated[bool, typer.Option(
        help="Write <out>/report.html: every scenario's latest run in the store made with "
             "the same --choice and dataset, not only of those run now; each project "
             "scenario against the reference of its own year.")] = True,
    lang: Annotated[str, typer.Option(help="Language of the report: en, ru or fa.")] = "en",
    gpkg: Annotated[bool, typer.Option(help="Write <out>/<scenario>/run.gpkg: the results and "
                                            "the country outlines as layers styled for "
                                            "QGIS.")] = True,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Processes that run scenarios at once (default: the CPUs "
                                    "available, at most the number of scenarios); 1 runs "
                                    "them one after another. The results are the same.")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Run corridor scenarios and print a summary; with no argument, every built-in scenario.

    Each run is saved in the run store (``karvan runs list``) and copied to
    ``<out>/<scenario>/``, with a GeoPackage for QGIS (``run.gpkg``). ``<out>/report.html``
    shows the latest run of every scenario in the store, not only of those run now.

    Raises
    ------
    InputError
        A bad dataset, scenario or language, a scenario named ``runs`` where the store keeps
        its runs, a bad ``--method`` or ``--gap``, or either under ``--choice logit``.
    """
    import time

    from rich.text import Text

    from karvan.cli.tables import print_tables
    from karvan.errors import InputError
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios
    from karvan.scenario._signals import sigterm_raises
    from karvan.scenario.batch import run_scenarios, usable_cpus
    from karvan.scenario.reference import load_scenarios, report_references, with_references
    from karvan.scenario.run import CHOICE_TABLES, corridor_choice
    from karvan.scenario.summary import summary_tables

    t0 = time.perf_counter()
    from karvan.scenario.run import CHOICES

    if choice not in CHOICES:
        raise InputError(f"--choice must be {' or '.join(CHOICES)}, not {choice!r}.")
    equilibrium = _equilibrium_options(choice, gap, method)
    if report:
        from karvan.report.i18n import check_lang

        check_lang(lang)  # before the runs, not after them
    store_dir = store if store is not None else out_dir
    dataset = load_corridor(data)
    names = [str(s) for s in scenarios] if scenarios else builtin_scenarios()
    # every file's problems, schema and ids in the dataset, in one error
    specs = load_scenarios(names, dataset)
    added: set[str] = set()
    if not scenarios:
        # every project scenario gets the reference of its own year (karvan.scenario.reference);
        # those made for the comparison skip the capacity LP
        given = {s.name for s in specs}
        specs = with_references(specs, base_year=dataset.base_year)
        added = {s.name for s in specs} - given
    # the run store's own folders: its runs, and the experiments of `karvan explore`
    clash = [s.name for s in specs if s.name in ("runs", "experiments")
             and (out_dir / s.name).resolve() == (store_dir / s.name).resolve()]
    if clash:
        raise InputError([f"scenario name {n!r} would overwrite the run store's {n} folder "
                          f"in {out_dir}; rename the scenario or give --store elsewhere."
                          for n in dict.fromkeys(clash)])
    from karvan.io.atomic import check_replaceable

    taken = []
    for s in specs:  # before any work: a run is copied to out/<name> once solved and stored
        try:
            check_replaceable(out_dir / s.name)
        except InputError as e:
            taken.extend(f"scenario {s.name}: {p}" for p in e.problems)
    if taken:
        raise InputError(taken)
    workers = max(1, min(jobs if jobs is not None else usable_cpus(), len(specs)))
    if not quiet:  # at once: the first scenario takes a while to finish
        n = len(specs)
        refs = ", ".join(s.name for s in specs if s.name in added)
        console.print(
            f"running {n} scenario{'s' * (n != 1)}"
            + (f" on {workers} processes" if workers > 1 else
               " one after another" if n > 1 else "")
            + (f"; added for the comparisons, as the references of their years: {refs}"
               if added else ""), highlight=False, soft_wrap=True)
    # the choice model's parameters, read once for every run
    model = corridor_choice(dataset) if choice == "logit" and all(
        dataset.folder is not None and (dataset.folder / f).exists()
        for f in CHOICE_TABLES) else None
    status = None

    def say(msg: str) -> None:
        nonlocal status
        if quiet:
            return
        if status is None:  # started once the worker processes are (no thread forked along)
            status = console.status("", spinner="dots")
            status.start()
        status.update(msg)

    def done(r) -> None:
        if not quiet:
            # one line however narrow the terminal (a script reads the run id from it); the
            # folder as text, not markup ("[...]" is a legal folder name)
            console.print(Text.assemble(("done", "green"), f" {r.scenario.name} "
                                        f"({r.summary['elapsed_s']:.2f} s) -> "
                                        f"{out_dir / r.scenario.name}, run {r.run_id}"),
                          highlight=False, soft_wrap=True)

    # SIGTERM: run_scenarios removes what it had not finished, the spinner is stopped (the
    # terminal gets its cursor back), then the process ends as SIGTERM ends it
    with sigterm_raises():
        try:
            runs = run_scenarios(dataset, specs, out_dir=out_dir, store_dir=store_dir,
                                 jobs=workers, gpkg=gpkg,
                                 no_lp=added, done=done, progress=say, lp=lp, choice=choice,
                                 choice_parameters=model, **equilibrium)
        finally:
            if status is not None:
                status.stop()
    _write_timings(out_dir, runs)
    stored, missing = _stored_references(runs, store_dir, choice, dataset)
    print_tables(summary_tables(runs, base_year=dataset.base_year,
                                stored_references=stored), out)
    for text in missing:
        out.print(f"note: {text}", highlight=False, markup=False, soft_wrap=True)
    if report:
        from karvan.report import write_report
        from karvan.report.results import latest_runs

        # every scenario of the store, not only those run now: a run of one scenario does not
        # replace the report of all of them (runs of another model or dataset are left out)
        shown = latest_runs(store_dir, first=[r.run_id for r in runs], choice=choice,
                            dataset=dataset.folder)
        page = write_report(shown.runs, out_dir / "report.html",
                            comparisons=report_references(
                                [(r.name, int(r.manifest["scenario"]["year"]))
                                 for r in shown.runs], base_year=dataset.base_year),
                            lang=lang, dataset=dataset)
        others = len(shown.runs) - len(runs)
        n = len(shown.runs)
        out.print(f"report: {page} ({n} scenario{'s' if n != 1 else ''}"
                  + (f": {len(runs)} run now, the latest stored run of {others} more"
                     if others else "") + ")", highlight=False, soft_wrap=True)
        if shown.left_out:
            why = "; ".join(f"{k}: {v}" for k, v in shown.left_out.items())
            out.print(f"not in the report, made with another model or dataset "
                      f"({len(shown.left_out)}): {why}; `karvan report RUN --store {store_dir}` "
                      "shows any run.", highlight=False, soft_wrap=True)
    n = len(runs)
    out.print(f"{n} scenario{'' if n == 1 else 's'} in {time.perf_counter() - t0:.1f} s; "
              f"results in {out_dir}/; every run kept in {store_dir} (karvan runs list)")
    # explore adds each project's like-year reference itself
    from karvan.scenario.reference import is_reference

    named = [s.name for s in specs if not is_reference(s.name)] or [s.name for s in specs]
    out.print("These are point answers at the dataset's figures; `karvan explore "
              f"{' '.join(named)} --draws 200` gives P5/P50/P95 bands, the probability of "
              "each statement and the inputs that decide it (with each project's like-year "
              "reference, at the same draws).", highlight=False, soft_wrap=True)


def _equilibrium_options(choice: str, gap: float | None, method: str | None) -> dict:
    """``gap`` and ``method`` for :func:`~karvan.scenario.run.run_scenario`, checked: the values
    always, and that they are given only where they are used (the deterministic equilibrium).

    Raises
    ------
    InputError
        A method the engine does not have, a gap that is not a number >= 0, or either given
        under the logit choice model, which solves no user equilibrium and has no gap.
    """
    import math

    from karvan.assign import METHODS
    from karvan.errors import InputError

    problems = []
    if method is not None and method not in METHODS:
        problems.append(f"--method must be one of {', '.join(METHODS)}, not {method!r}.")
    if gap is not None and not (math.isfinite(gap) and gap >= 0):
        problems.append(f"--gap must be a finite number >= 0, got {gap}.")
    given = [o for o, v in (("--method", method), ("--gap", gap)) if v is not None]
    if given and choice == "logit":
        # the logit run's flows are the logit loading at their own costs (gap 0 by
        # construction); its one tolerance is the capacities' relative excess, not a gap
        problems.append(
            f"{' and '.join(given)} set{'s' if len(given) == 1 else ''} the deterministic user "
            "equilibrium, which the logit choice model (the default) does not solve: its flows "
            "are the logit loading at their own costs, with no gap to reach and no method to "
            "choose. Add --choice deterministic to solve the user equilibrium, or leave "
            f"{'it' if len(given) == 1 else 'them'} out.")
    if problems:
        raise InputError(" ".join(problems))
    return {k: v for k, v in (("gap", gap), ("method", method)) if v is not None}


def _write_timings(out_dir: Path, runs) -> None:
    """With ``KARVAN_RUN_TIMINGS`` set (benchmarks/bench_run.py), the phase times of the runs,
    summed over the scenarios, in ``<out>/timings.json``."""
    import os

    if not os.environ.get("KARVAN_RUN_TIMINGS"):
        return
    import json

    tot: dict[str, float] = {}
    for r in runs:
        for k, v in r.timings.items():
            tot[k] = tot.get(k, 0.0) + v
    (out_dir / "timings.json").write_text(json.dumps(tot), encoding="utf-8")


def _stored_references(runs, store_dir, choice: str, dataset) -> tuple[dict, list[str]]:
    """The stored runs of the like-year references of the project runs whose reference was not
    run with them (the latest of the same choice model and dataset), for their users' benefit
    (``karvan run my_case.toml`` printed none though its reference was in the store), and what
    to say of those that have none."""
    from karvan.freight.corridor import is_reference, reference_name
    from karvan.report.results import latest_runs

    have = {r.scenario.name for r in runs}
    want = {r.scenario.name: reference_name(int(r.scenario.year), base_year=dataset.base_year)
            for r in runs if not is_reference(r.scenario.name)}
    want = {s: ref for s, ref in want.items() if ref not in have}
    if not want:
        return {}, []
    shown = latest_runs(store_dir, first=[r.run_id for r in runs], choice=choice,
                        dataset=dataset.folder)
    found = {r.name: r for r in shown.runs if r.name in want.values()}
    notes = []
    for scen, ref in want.items():
        if ref in found:
            continue
        why = shown.left_out.get(ref, "no run of it is in the store")
        notes.append(f"no users' benefit for {scen}: its like-year reference {ref} was not run "
                     f"with it and the store has none to compare with ({why}); run `karvan run "
                     f"{ref}` with the same --out/--store and --choice, or `karvan run` without "
                     "arguments, which adds the references.")
    return found, notes
