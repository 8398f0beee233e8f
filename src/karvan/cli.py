"""The command line: parse, call, print."""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import karvan
from karvan.errors import ConvergenceWarning, KarvanError

app = typer.Typer(
    name="karvan",
    help="karvan: an open freight-corridor network model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()
if not out.is_terminal and not __import__("os").environ.get("COLUMNS"):
    out = Console(width=120)  # files and pipes: wide enough for the summary tables


def _fail(e: Exception) -> None:
    console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A GMNS network folder or a TNTP _net file.")],
    trips: Annotated[Path | None, typer.Option(help="Demand file (TNTP trips or CSV).")] = None,
) -> None:
    """Check a network (and its demand, where there is one) and report every problem found."""
    from karvan.io.problem import read_problem
    from karvan.network import compile_graph

    try:
        prob = read_problem(path, trips, need_demand=False)
        g = compile_graph(prob.network)
    except KarvanError as e:
        _fail(e)
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
    """Assign demand to a network at user equilibrium and write link flows and convergence."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from karvan.io.atomic import atomic_folder
    from karvan.io.problem import read_problem

    try:
        prob = read_problem(network, trips, toll_factor=toll_factor,
                            distance_factor=distance_factor)
    except KarvanError as e:
        _fail(e)
    target = gap
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task(f"{method} {prob.network.name}", total=max_iter, msg="")

        def progress(info: karvan.assign.IterationInfo) -> None:
            bar.update(task, completed=info.iteration,
                       msg=f"iteration {info.iteration}  gap {info.gap:.3e} (target {target:g})")

        try:
            with warnings.catch_warnings():
                # not converging is reported below and in the exit code
                warnings.simplefilter("ignore", ConvergenceWarning)
                res = karvan.assign(prob.network, prob.demand, method=method, gap=gap,
                                    max_iter=max_iter, max_time_s=max_time,
                                    toll_factor=prob.toll_factor,
                                    distance_factor=prob.distance_factor, callback=progress)
        except KarvanError as e:
            _fail(e)
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


data_app = typer.Typer(help="The built-in corridor dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("sources")
def data_sources(
    folder: Annotated[Path | None, typer.Option(help="A corridor dataset folder "
                                                     "(default: built in).")] = None,
    full: Annotated[bool, typer.Option(help="Show every column.")] = False,
) -> None:
    """List the sources of the dataset, with how many rows of each table cite them."""
    from karvan.freight.corridor import load_corridor

    try:
        data = load_corridor(folder)
    except KarvanError as e:
        _fail(e)
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
    conf = pd_concat_confidence(tables)
    out.print("rows by confidence: " + ", ".join(f"{k} {v}" for k, v in conf.items()))


def pd_concat_confidence(tables) -> dict[str, int]:
    import pandas as pd

    c = pd.concat([df["confidence"] for df in tables.values() if "confidence" in df])
    return {str(k): int(v) for k, v in c.value_counts().items()}


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
    lp: Annotated[bool, typer.Option(help="Also solve the capacity LP.")] = True,
    report: Annotated[bool, typer.Option(help="Write <out>/report.html: every scenario run, "
                                              "each against the first.")] = True,
    lang: Annotated[str, typer.Option(help="Language of the report: en, ru or fa.")] = "en",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run corridor scenarios and print a summary; with no argument, every built-in scenario.

    Each run is saved in the run store (``karvan runs list``) and copied to
    ``<out>/<scenario>/``."""
    from karvan.errors import InputError
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios, load_scenario
    from karvan.scenario.run import run_scenario, save_run
    from karvan.scenario.summary import print_summary
    from karvan.store import RunStore

    t0 = time.perf_counter()
    store_dir = store if store is not None else out_dir
    try:
        dataset = load_corridor(data)
        names = [str(s) for s in scenarios] if scenarios else builtin_scenarios()
        specs = [load_scenario(n) for n in names]
        clash = [s.name for s in specs if s.name == "runs"
                 and (out_dir / "runs").resolve() == (store_dir / "runs").resolve()]
        if clash:
            raise InputError(f"scenario name 'runs' would overwrite the run store's runs folder "
                             f"in {out_dir}; rename the scenario or give --store elsewhere.")
    except KarvanError as e:
        _fail(e)
    runs = []
    run_store = None
    with console.status("", spinner="dots") as status:
        for spec in specs:
            def say(msg: str) -> None:
                if not quiet:
                    status.update(msg)
            try:
                r = run_scenario(dataset, spec, gap=gap, method=method, lp=lp, progress=say)
                if run_store is None:  # created with the first result, not before
                    run_store = RunStore(store_dir)
                run_id = save_run(r, run_store, dataset)
                run_store.copy_run(run_id, out_dir / spec.name)
            except KarvanError as e:
                _fail(e)
            runs.append(r)
            if not quiet:
                console.print(f"[green]done[/] {spec.name} ({r.summary['elapsed_s']:.2f} s) -> "
                              f"{out_dir / spec.name}, run {run_id}")
    print_summary(runs, out)
    if report:
        from karvan.report import write_report

        try:
            page = write_report([out_dir / r.scenario.name for r in runs], out_dir / "report.html",
                                lang=lang, dataset=data)
        except KarvanError as e:
            _fail(e)
        out.print(f"report: {page}")
    out.print(f"{len(runs)} scenarios in {time.perf_counter() - t0:.1f} s; results in {out_dir}/"
              f"; every run kept in {store_dir} (karvan runs list)")


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Run A: a run id, its unique start, a scenario name "
                                          "(its latest run) or a results folder.")],
    b: Annotated[str, typer.Argument(help="Run B, given the same way.")],
    store: Annotated[Path, typer.Option(help="Run store to look ids and scenario names up "
                                             "in.")] = Path("results"),
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write the differences as CSV "
                                                               "here.")] = None,
    top: Annotated[int, typer.Option(help="Rows per table.")] = 10,
) -> None:
    """Differences B - A of two scenario results: links, countries, borders, skims."""
    from karvan.io.atomic import atomic_folder
    from karvan.scenario.run import compare_runs, resolve_run
    from karvan.scenario.summary import print_comparison

    try:
        ra, rb = (resolve_run(x, store) for x in (a, b))
        diff = compare_runs(ra, rb)
    except KarvanError as e:
        _fail(e)
    print_comparison(diff, Path(ra.label), Path(rb.label), out, top=top)
    if out_dir is not None:
        with atomic_folder(out_dir) as tmp:
            for name, df in diff.items():
                df.to_csv(tmp / f"{name}_diff.csv", index=False)
        out.print(f"differences written to {out_dir}/")


runs_app = typer.Typer(help="The run store: every saved run, its manifest and tables.",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")

from karvan.cli_export import app as _export_app  # noqa: E402  (sub-app: `karvan export`)

app.add_typer(_export_app)

from karvan.cli_report import app as _report_app  # noqa: E402  (sub-app: `karvan report`)

app.add_typer(_report_app)

from karvan.cli_serve import app as _serve_app  # noqa: E402  (sub-app: `karvan serve`)

app.add_typer(_serve_app)
StoreOption = Annotated[Path, typer.Option("--store", help="Run store folder.")]


def _open_store(root: Path):
    from karvan.store import RunStore

    try:
        return RunStore(root, create=False)
    except KarvanError as e:
        _fail(e)


@runs_app.command("list")
def runs_list(
    store: StoreOption = Path("results"),
    scenario: Annotated[str | None, typer.Option(help="Only runs of this scenario.")] = None,
) -> None:
    """List the stored runs, oldest first."""
    import pandas as pd

    df = _open_store(store).list(scenario=scenario)
    if not len(df):
        out.print(f"no runs in {store}" + (f" for scenario {scenario}" if scenario else ""))
        return
    from rich import box

    t = Table(title=f"runs in {store}", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, padding=(0, 1, 0, 0))
    for c in ("run id", "scenario", "year", "created UTC", "status", "demand Mt", "converged",
              "title"):
        t.add_column(c, justify="right" if c == "demand Mt" else "left", no_wrap=c != "title",
                     min_width=12 if c == "title" else None)
    for r in df.itertuples(index=False):
        s = r.summary
        conv = s.get("ue_converged")
        dem = s.get("demand_t")
        t.add_row(r.run_id, r.scenario, "" if pd.isna(r.year) else str(r.year),
                  str(r.created)[:16].replace("T", " "), r.status,
                  "-" if dem is None else f"{dem / 1e6:,.2f}",
                  "-" if conv is None else ("yes" if conv else "[yellow]no[/]"), r.title)
    out.print(t)
    out.print(f"{len(df)} runs")


@runs_app.command("show")
def runs_show(
    ref: Annotated[str, typer.Argument(help="A run id, its unique start, a scenario name (its "
                                            "latest run) or a run folder.")],
    store: StoreOption = Path("results"),
) -> None:
    """Show a run's manifest (scenario, versions, settings, convergence, summary) and tables."""
    import pyarrow.parquet as pq

    try:
        rec = _open_store(store).resolve(ref)
    except KarvanError as e:
        _fail(e)
    m = rec.manifest
    spec = m.get("scenario") or {}
    t = Table(title=f"run {rec.label}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    rows = [("scenario", f"{spec.get('name', '')}: {spec.get('title', '')}"),
            ("year", str(spec.get("year", ""))),
            ("modifications", str(len(spec.get("modifications", [])))),
            ("created", str(m.get("created", "-"))), ("status", str(m.get("status", "-"))),
            ("karvan version", str(m.get("karvan_version", "-"))),
            ("schema version", str(m.get("schema_version", "-"))),
            ("folder", str(rec.path))]
    inputs = m.get("inputs") or {}
    if inputs:
        rows.append(("inputs", f"{inputs.get('dataset')} "
                               f"({len(inputs.get('sha256_16') or {})} files hashed)"))
    for key in ("settings", "convergence", "summary"):
        for k, v in (m.get(key) or {}).items():
            rows.append((f"{key}.{k}", f"{v:.6g}" if isinstance(v, float) else str(v)))
    for k, v in rows:
        t.add_row(k, v)
    out.print(t)
    tt = Table(title="tables", title_justify="left")
    for c in ("table", "rows", "columns"):
        tt.add_column(c, justify="left" if c == "table" else "right")
    for name in rec.table_names:
        p = rec.path / f"{name}.parquet"
        if p.is_file():
            md = pq.read_metadata(p)
            tt.add_row(name, f"{md.num_rows:,}", str(md.num_columns))
        else:
            tt.add_row(name, "missing", "-")
    out.print(tt)


@runs_app.command("rm")
def runs_rm(
    refs: Annotated[list[str], typer.Argument(help="Run ids or unique starts of run ids.")],
    store: StoreOption = Path("results"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
) -> None:
    """Remove stored runs (their folders and catalog rows)."""
    rs = _open_store(store)
    try:
        ids = list(dict.fromkeys(rs.match(r) for r in refs))
    except KarvanError as e:
        _fail(e)
    if not yes and not typer.confirm(f"remove {len(ids)} run(s) from {store}: "
                                     f"{', '.join(ids)}?", default=False):
        out.print("nothing removed")
        raise typer.Exit(1)
    for i in ids:
        try:
            rs.remove(i)
        except KarvanError as e:
            _fail(e)
        out.print(f"removed {i}")


def main() -> None:
    """Entry point of the ``karvan`` command."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]; no partial results were written.")
        sys.exit(130)


if __name__ == "__main__":
    main()
