"""``karvan validate`` and ``karvan assign``: a GMNS or TNTP network, checked or assigned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, out
from karvan.cli._assign_run import read_for_assign, trips_read, use_of, write_results
from karvan.errors import catch_warnings


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A GMNS network folder, a TNTP _net file (or a "
                                              "folder holding one), a corridor dataset "
                                              "folder, a scenario file (.toml) or a built-in "
                                              "scenario's or reference's name.")],
    trips: Annotated[Path | None, typer.Option(help="Demand file (TNTP trips or CSV).")] = None,
    use: Annotated[str | None, typer.Option(help=(
        "GMNS: check the network of the links whose allowed_uses admit this use, as karvan "
        "assign --use reads it."))] = None,
    every_use: Annotated[bool, typer.Option("--every-use", help=(
        "GMNS: check every link for every use, as karvan assign --every-use reads it (as "
        "without --use, but with no note where allowed_uses bars some uses from some "
        "links)."))] = False,
    data: Annotated[Path | None, typer.Option(help=(
        "With a scenario file: the corridor dataset folder to check it against (default: "
        "built in)."))] = None,
) -> None:
    """Check a network (and its demand): is it valid, and can it be assigned as it is.

    A folder with a table that only a corridor dataset has (commodity.csv, tariff.csv,
    growth.csv, ...) is checked as a corridor dataset, every table at once, as ``karvan run
    --data`` reads it. A scenario file (.toml) is checked against a corridor dataset as
    ``karvan run`` checks it before any work (its schema, its parents, its ids, the values its
    modifications give), without running it; so is a built-in scenario or a reference named as
    ``karvan run`` takes it (``iran_disrupted``, ``reference_2028``).

    Exits with 0 when the input is valid (perhaps read leniently, perhaps not yet ready to
    assign: both are said), 2 when it is not.

    Raises
    ------
    InputError
        Every problem found in the input, after all of them have been printed; --use with
        --every-use.
    """
    from rich.table import Table

    from karvan.errors import InputError
    from karvan.io.validate import corridor_tables, validate_input

    if path.suffix.lower() == ".toml" and path.is_file():
        _validate_scenario(path, data, trips=trips, use=use, every_use=every_use)
        return
    if not path.exists() and _scenario_name(str(path)):
        # a built-in scenario or a reference by name, as karvan run takes it ("does not exist")
        _validate_scenario(path, data, trips=trips, use=use, every_use=every_use)
        return
    if (path.is_dir() and len(path.parts) == 1 and _scenario_name(str(path))
            and not _holds_input(path)):
        # a folder of that name here holds no network nor dataset (a run's results folder,
        # `cd results; karvan validate baseline`): the scenario is meant, and it is said
        console.print(f"[yellow]note:[/] the folder {path}/ here holds no network nor corridor "
                      f"dataset; checking the built-in scenario {path} (give the folder as "
                      f"{path.resolve()} to check it)", highlight=False, soft_wrap=True)
        _validate_scenario(path, data, trips=trips, use=use, every_use=every_use)
        return
    if not path.exists() and not path.suffix and len(path.parts) == 1:
        from karvan.scenario import builtin_scenarios
        from karvan.scenario.spec import nearest_name

        near = nearest_name(str(path), builtin_scenarios())
        if near:
            raise InputError(f"{path} does not exist, nor is it a built-in scenario (did you "
                             f"mean {near}?); give a scenario's name or file, a GMNS folder, a "
                             "TNTP _net file or a corridor dataset folder.")
    if data is not None:
        if not path.exists():  # a misspelt scenario, more likely than a network with --data
            raise InputError(f"{path} does not exist, nor is it a built-in scenario or a "
                             "reference; give a scenario file (.toml) or name to check against "
                             "--data.")
        raise InputError(f"--data is the dataset a scenario file is checked against; {path} is "
                         "not a scenario file (.toml): leave --data out.")
    corridor = bool(corridor_tables(path))
    if corridor:
        from karvan.freight.corridor import validate_corridor

        for flag, given, what in (("--trips", trips, "its demand is its demand.csv"),
                                  ("--use", use, "its links' modes are in link.csv"),
                                  ("--every-use", every_use or None,
                                   "its links' modes are in link.csv")):
            if given is not None:
                raise InputError(f"{flag}: {path} is a corridor dataset, {what}; leave {flag} "
                                 "out.")
        rep = validate_corridor(path)
        if not rep.errors:
            rep.errors.extend(_uncertainty_problems(path))
    else:
        rep = validate_input(path, trips, use=use_of(use, every_use))
    if rep.counts:
        out.print(str(path), highlight=False, soft_wrap=True)
        t = Table(show_header=False)
        for k, v in rep.counts.items():
            t.add_row(k, v)
        out.print(t)
    for w in rep.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if corridor:  # with the errors: the notes say which checks wait for them to be fixed
        for n in rep.notes:
            out.print(f"note: {n}", highlight=False, soft_wrap=True)
    if rep.errors:
        raise InputError(rep.errors, str(path))
    if corridor:
        out.print(f"[green]valid corridor dataset[/]: {rep.counts['tables']} tables, "
                  f"{rep.counts['demand rows']} demand rows" + (
                      f" ({len(rep.warnings)} warnings above)" if rep.warnings else "")
                  + f"; run it with karvan run --data {path}", highlight=False, soft_wrap=True)
        return
    for n in rep.notes:
        out.print(f"note: {n}", highlight=False, soft_wrap=True)
    kind = {"gmns": "GMNS", "tntp": "TNTP"}[rep.kind]
    out.print(f"[green]valid {kind}[/]" if rep.strictly_valid else
              f"[green]valid {kind}[/], read leniently ({len(rep.warnings)} warnings above)")
    if rep.ready:
        out.print("[green]ready to assign[/]" + (" with these defaults:" if rep.defaults else ""))
    else:
        out.print("[yellow]not ready to assign[/]; it needs:")
        for n in rep.needs:
            out.print(f"  - {n}", highlight=False, soft_wrap=True)
        if rep.defaults:
            out.print("and would use these defaults:")
    for d in rep.defaults:
        out.print(f"  - {d}", highlight=False, soft_wrap=True)


def _holds_input(folder: Path) -> bool:
    """Whether ``folder`` holds a file that ``karvan validate`` reads as a network or a
    corridor dataset (a GMNS node.csv or link.csv, a TNTP _net file, a corridor table)."""
    from karvan.io.validate import corridor_tables

    return (any((folder / f).exists() for f in ("node.csv", "link.csv"))
            or any(folder.glob("*_net.tntp*")) or bool(corridor_tables(folder)))


def _scenario_name(name: str) -> bool:
    """Whether ``name`` names a built-in scenario, a year's reference or a back-cast."""
    import re

    from karvan.scenario import builtin_scenarios

    return name in builtin_scenarios() or re.fullmatch(
        r"(reference|backcast)_\d{4}", name) is not None


def _validate_scenario(path: Path, data: Path | None, *, trips, use, every_use) -> None:
    """``karvan validate`` of a scenario file: loaded and applied to its dataset as ``karvan
    run`` does before any work (every problem of the file and its parents at once; what it
    warns of, printed), not run.

    Raises
    ------
    InputError
        Every problem of the scenario; ``--trips``, ``--use`` or ``--every-use`` given with it.
    """
    from karvan.errors import InputError
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import applied_and_said
    from karvan.scenario.reference import load_scenarios

    for flag, given in (("--trips", trips), ("--use", use), ("--every-use", every_use or None)):
        if given is not None:
            raise InputError(f"{flag}: {path} is a scenario, which takes the demand and "
                             f"links of its dataset; leave {flag} out.")
    dataset = load_corridor(data)
    with catch_warnings(record=True) as caught:
        (s,) = load_scenarios([str(path)], dataset)
    said = list(dict.fromkeys(str(w.message) for w in caught))
    # and what applying it warns of (two scales that compound, ...), as its run would
    said += [t for t in applied_and_said(dataset, s)[1] if t not in said]
    for w in said:
        console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    parents = f", extending {' > '.join(s.chain[1:])}" if len(s.chain) > 1 else ""
    where = f" --data {data}" if data is not None else ""
    out.print(f"[green]valid scenario[/] {s.name} ({s.year}{parents}): {len(s.active())} of its "
              f"{len(s.modifications)} modifications in force in {s.year}"
              + (f" ({len(said)} warnings above)" if said else "")
              + f"; run it with karvan run {path}{where}", highlight=False, soft_wrap=True)


@app.command()
def assign(
    network: Annotated[Path, typer.Argument(help="A GMNS network folder, a TNTP _net file, or a "
                                                 "folder that holds one TNTP _net file (its "
                                                 "_trips file beside it).")],
    trips: Annotated[Path | None, typer.Option(help="Demand: TNTP trips file or CSV "
                                                    "(default: beside the network).")] = None,
    method: Annotated[str, typer.Option(help="algorithm-b (origin-based, the default), bfw, cfw, "
                                             "fw, msa or aon; sue: stochastic user equilibrium "
                                             "with path-size logit route choice (needs "
                                             "--theta).")] = "algorithm-b",
    theta: Annotated[float | None, typer.Option(help=(
        "With --method sue: logit dispersion per unit of cost, in the network's time unit "
        "(per minute on TNTP, per hour on GMNS: the same spread of routes needs a theta 60 "
        "times larger on GMNS)."))] = None,
    path_size_gamma: Annotated[float | None, typer.Option(
        help="With --method sue: exponent of the generalized path size (Ramming 2002); 0, "
             "the default, is Ben-Akiva and Bierlaire's path size.")] = None,
    gap: Annotated[float, typer.Option(help="Target relative gap.")] = 1e-4,
    max_iter: Annotated[int, typer.Option(help="Most iterations.")] = 1000,
    max_time: Annotated[float | None, typer.Option(help="Most seconds.")] = None,
    toll_factor: Annotated[float | None, typer.Option(help="Cost per unit of toll "
                                                           "(default: from the file, else 0).")]
    = None,
    distance_factor: Annotated[float | None, typer.Option(help="Cost per unit of length "
                                                               "(default: from the file, else "
                                                               "0).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help=(
        "Folder for link_flows.csv, convergence.csv and manifest.json (with --method sue also "
        "routes.csv); replaced whole by the next run, so it must be new, empty or an earlier "
        "output of karvan."))] = Path("karvan-out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    capacity_per_lane: Annotated[bool | None, typer.Option(
        "--capacity-per-lane/--capacity-per-link",
        help="GMNS: read capacity per lane (as GMNS 0.96 defines it; times lanes) or as the "
             "whole link's (the default, with a note where links have more than one "
             "lane).")] = None,
    use: Annotated[str | None, typer.Option(help=(
        "GMNS: assign on the links whose allowed_uses admit this use (or a group holding it; "
        "blank allowed_uses admit every use), e.g. truck; default: every link."))] = None,
    every_use: Annotated[bool, typer.Option("--every-use", help=(
        "GMNS: assign every class on every link, as without --use, and say so: no note where "
        "allowed_uses bars some uses from some links; the manifest records use \"*\"."))]
    = False,
) -> None:
    """Assign demand to a network at user equilibrium and write link flows and convergence.

    Exits with 1 when the equilibrium did not reach the gap (the results are still written);
    ``--method aon`` is one loading at free-flow costs, exit 0, its gap reported.

    Raises
    ------
    InputError
        An unknown ``--method``, ``--use`` with ``--every-use``, or an ``--out`` that is a file
        or holds files karvan did not write, before anything is read.
    typer.Exit
        With 1 when the equilibrium did not reach the gap.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    import karvan
    from karvan.assign import METHODS
    from karvan.cli._assign_run import read_with_notes, solve_and_write, summary
    from karvan.errors import InputError
    from karvan.io.atomic import check_replaceable

    if method not in (*METHODS, "sue"):  # before reading or drawing anything
        raise InputError(f"unknown --method {method!r}; use one of "
                         f"{', '.join(METHODS)} or sue (stochastic user "
                         "equilibrium, with --theta).")
    use = use_of(use, every_use)
    check_replaceable(out_dir)  # before the solve: a folder of the user's own files is refused
    for given in (network, trips):
        if given is not None and (Path(given).resolve() == out_dir.resolve()
                                  or out_dir.resolve() in Path(given).resolve().parents):
            raise InputError(f"--out {out_dir} holds the input {given}: the results replace "
                             "their folder whole; give them a folder of their own.")
    prob, notes = read_with_notes(network, trips, toll_factor, distance_factor,
                                  capacity_per_lane, use)
    for n in notes:
        console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
    classes = [karvan.TrafficClass(**c) for c in prob.classes] or None
    if method == "sue" or theta is not None or path_size_gamma is not None:
        _sue(prob, classes, prob.source, trips, theta, method, gap, max_iter, max_time, out_dir,
             quiet, path_size_gamma)
        return
    target = gap
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task(f"{method} {prob.name}", total=max_iter, msg="")

        def progress(info: karvan.assign.IterationInfo) -> None:
            bar.update(task, completed=info.iteration,
                       msg=f"iteration {info.iteration}  gap {info.gap:.3e}"
                       + ("" if method == "aon" else f" (target {target:g})"))

        res, elapsed = solve_and_write(prob, classes, network=prob.source, trips=trips,
                                       method=method, gap=gap, max_iter=max_iter,
                                       max_time=max_time, out_dir=out_dir, callback=progress,
                                       say=lambda line: console.print(line, highlight=False))
    if method == "aon":
        # one loading at free-flow costs, as asked: no equilibrium to converge to (its gap
        # says how far it is from one)
        out.print(f"[green]loaded all-or-nothing[/]: {summary(res, elapsed, out_dir)}")
        return
    state = "[green]converged[/]" if res.converged else "[yellow]not converged[/]"
    out.print(f"{state}: {summary(res, elapsed, out_dir)}")
    if not res.converged:
        raise typer.Exit(1)


# kept under their old names (benchmarks and tests read files through them)
_read_for_assign = read_for_assign
_write_results = write_results


def _sue(prob, classes, network: Path, trips: Path | None, theta: float | None, method: str,
         gap: float, max_iter: int, max_time: float | None, out_dir: Path, quiet: bool,
         path_size_gamma: float | None = None) -> None:
    """``karvan assign --method sue --theta T``: link flows, convergence and routes.

    Raises
    ------
    InputError
        Without --theta, or with --theta or --path-size-gamma and another method.
    typer.Exit
        With 1 when the equilibrium did not reach the gap.
    """
    import json
    import time
    import warnings

    import karvan
    from karvan.choice import stochastic_equilibrium
    from karvan.errors import ConvergenceWarning, InputError
    from karvan.io.atomic import atomic_folder

    if method != "sue":
        what = "--theta" if theta is not None else "--path-size-gamma"
        raise InputError(f"{what} goes with --method sue, not {method}.")
    if theta is None:
        raise InputError("--method sue needs --theta (the logit dispersion per unit of cost).")
    t0 = time.perf_counter()

    def progress(info) -> None:
        if not quiet:
            console.print(f"iteration {info.iteration}  gap {info.gap:.3e} (target {gap:g})  "
                          f"{info.routes} routes", highlight=False)

    with catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = stochastic_equilibrium(prob.network, prob.demand, theta=theta, classes=classes,
                                     gamma=path_size_gamma or 0.0, gap=gap, max_iter=max_iter,
                                     max_time_s=max_time,
                                     toll_factor=prob.toll_factor,
                                     distance_factor=prob.distance_factor, callback=progress)
    elapsed = time.perf_counter() - t0
    with atomic_folder(out_dir) as tmp:
        res.link_table().to_csv(tmp / "link_flows.csv", index=False)
        res.convergence.to_csv(tmp / "convergence.csv", index=False)
        routes = res.route_table(min_share=1e-9)
        routes["links"] = routes["links"].map(lambda ls: " ".join(map(str, ls)))
        routes.drop(columns=["arcs"]).to_csv(tmp / "routes.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps({
            "karvan_version": karvan.__version__,
            "network": str(network), "trips": trips_read(prob, trips),
            "toll_factor": prob.toll_factor, "distance_factor": prob.distance_factor,
            **({"use": prob.use} if prob.use is not None else {}),
            "theta": theta, "iterations": res.iterations, "converged": res.converged,
            "elapsed_s": elapsed, **res.params,
            # the gap reached; "gap", from the settings, is the target (the reached one was
            # written under that name and overwritten by it)
            "sue_gap": res.gap,
        }, indent=2, default=str))
    state = "[green]converged[/]" if res.converged else "[yellow]not converged[/]"
    out.print(f"{state}: {res.iterations} iterations, SUE gap {res.gap:.3e}, "
              f"{res.route_set.n_routes} routes, {elapsed:.2f} s -> {out_dir}")
    if not res.converged:
        raise typer.Exit(1)


def _uncertainty_problems(folder: Path) -> list[str]:
    """What ``karvan explore`` refuses in the dataset's own ``uncertainty.csv`` (ranges far
    from their figures, a sigma that is a percent), so that validate does not say "valid" of
    a dataset that every experiment refuses."""
    own = Path(folder) / "uncertainty.csv"
    if not own.is_file():
        return []
    from karvan.errors import InputError
    from karvan.explore.inputs import corridor_inputs
    from karvan.freight.corridor import load_corridor

    try:
        corridor_inputs(load_corridor(folder), own)
    except InputError as e:
        return [p if p.startswith("uncertainty.csv") else f"uncertainty.csv: {p}"
                for p in e.problems]
    return []
