"""``karvan validate`` and ``karvan assign``: a GMNS or TNTP network, checked or assigned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, out


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A GMNS network folder or a TNTP _net file.")],
    trips: Annotated[Path | None, typer.Option(help="Demand file (TNTP trips or CSV).")] = None,
) -> None:
    """Check a network (and its demand, where there is one) and report every problem found."""
    from rich.table import Table

    from karvan.io.problem import read_problem
    from karvan.network import compile_graph

    prob = read_problem(path, trips, need_demand=False)
    g = compile_graph(prob.network)
    t = Table(title=f"{path}", show_header=False)
    t.add_row("nodes", f"{g.n_nodes:,}")
    t.add_row("links", f"{g.n_links:,} ({g.n_arcs:,} directed arcs)")
    t.add_row("zones", f"{len(g.zone_ids):,}")
    if prob.demand is not None:
        t.add_row("demand", f"{prob.demand.total():,.2f} in {len(prob.demand.names)} matrix(es)")
    out.print(t)
    out.print("[green]valid[/]")


@app.command()
def assign(
    network: Annotated[Path, typer.Argument(help="A GMNS network folder or a TNTP _net file.")],
    trips: Annotated[Path | None, typer.Option(help="Demand: TNTP trips file or CSV "
                                                    "(default: beside the network).")] = None,
    method: Annotated[str, typer.Option(help="algorithm-b (origin-based, the default), bfw, cfw, "
                                             "fw, msa or aon.")] = "algorithm-b",
    gap: Annotated[float, typer.Option(help="Target relative gap.")] = 1e-4,
    max_iter: Annotated[int, typer.Option(help="Most iterations.")] = 1000,
    max_time: Annotated[float | None, typer.Option(help="Most seconds.")] = None,
    toll_factor: Annotated[float | None, typer.Option(help="Cost per unit of toll "
                                                           "(default: from the file, else 0).")]
    = None,
    distance_factor: Annotated[float | None, typer.Option(help="Cost per unit of length "
                                                               "(default: from the file, else "
                                                               "0).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for link_flows.csv and "
                                                        "convergence.csv.")] = Path("karvan-out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Assign demand to a network at user equilibrium and write link flows and convergence.

    Exits with 1 when the equilibrium did not reach the gap (the results are still written).
    """
    import json
    import time
    import warnings

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    import karvan
    from karvan.errors import ConvergenceWarning
    from karvan.io.atomic import atomic_folder
    from karvan.io.problem import read_problem

    prob = read_problem(network, trips, toll_factor=toll_factor, distance_factor=distance_factor)
    target = gap
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task(f"{method} {prob.network.name}", total=max_iter, msg="")

        def progress(info: karvan.assign.IterationInfo) -> None:
            bar.update(task, completed=info.iteration,
                       msg=f"iteration {info.iteration}  gap {info.gap:.3e} (target {target:g})")

        with warnings.catch_warnings():
            # not converging is reported below and in the exit code
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = karvan.assign(prob.network, prob.demand, method=method, gap=gap,
                                max_iter=max_iter, max_time_s=max_time,
                                toll_factor=prob.toll_factor,
                                distance_factor=prob.distance_factor, callback=progress)
    elapsed = time.perf_counter() - t0
    table = res.link_table()
    with atomic_folder(out_dir) as tmp:
        table.to_csv(tmp / "link_flows.csv", index=False)
        res.convergence.to_csv(tmp / "convergence.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps({
            "karvan_version": karvan.__version__,
            "network": str(network), "trips": str(trips) if trips else None,
            "toll_factor": prob.toll_factor, "distance_factor": prob.distance_factor,
            "iterations": res.iterations, "relative_gap": res.gap, "converged": res.converged,
            "objective": res.objective, "elapsed_s": elapsed, **res.params,
        }, indent=2, default=str))
    state = "[green]converged[/]" if res.converged else "[yellow]not converged[/]"
    out.print(f"{state}: {res.iterations} iterations, relative gap {res.gap:.3e}, "
              f"objective {res.objective:.10g}, {elapsed:.2f} s -> {out_dir}")
    if not res.converged:
        raise typer.Exit(1)
