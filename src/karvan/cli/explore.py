"""``karvan explore``: scenario x draw experiments on Dask, with bands, probabilities and the
inputs that decide each answer."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from karvan.cli._app import app, console, out

if TYPE_CHECKING:
    import pandas as pd


@app.command()
def explore(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Built-in scenario names or scenario files; none: every built-in one. Each "
             "scenario's like-year reference is added.")] = None,
    draws: Annotated[int | None, typer.Option(
        help="Draws (lhs), base sample, a power of 2 (sobol: N x (groups + 2) evaluations, "
             "at least 2 groups), or trajectories (morris: N x (groups + 1)).")] = None,
    sampler: Annotated[str, typer.Option(help="lhs, sobol or morris.")] = "lhs",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the design (0 or more).")] = 0,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes of a local Dask cluster (default 2; 0: in this process).")]
    = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (tcp://host:8786) instead of a local "
             "cluster.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Experiment folder (default: a new one under <store>/experiments; the "
                      "same command again resumes it).")] = None,
    store: Annotated[Path, typer.Option(help="Run store that keeps experiments.")]
    = Path("results"),
    data: Annotated[Path | None, typer.Option(help="Corridor dataset folder "
                                                   "(default: built in).")] = None,
    uncertainty: Annotated[Path | None, typer.Option(
        help="Uncertainty table (default: the dataset's uncertainty.csv).")] = None,
    choice: Annotated[str | None, typer.Option(
        help="Choice model of each draw: logit (nested logit over route families with "
             "capacities; its parameters are uncertain inputs too) or deterministic (user "
             "equilibrium); default what karvan run uses.")] = None,
    choice_parameters: Annotated[Path | None, typer.Option(
        help="Under logit: a choice parameter table instead of the dataset's (the "
             "choice_parameter.csv of karvan calibrate --parameters; its std_error set the "
             "parameters' distributions, and the choice_parameter_correlation.csv beside it "
             "their correlations).")] = None,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="Vary only these factors (names or patterns such as 'demand.*', "
                        "or drawn_jointly for the fitted choice parameters that draw "
                        "together); repeat the option.")] = None,
    groups: Annotated[str | None, typer.Option(
        help="Sensitivity groups of a sobol or morris design: factor or field (default "
             "field); either way the factors that draw jointly (the fitted choice "
             "parameters) are one group, drawn_jointly; lhs ranks every factor apart and "
             "takes factor only.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Draws per Dask task.")] = None,
    gap: Annotated[float | None, typer.Option(
        help="Relative gap of each draw's user equilibrium (--choice deterministic; default "
             "1e-8); the logit model solves none, and refuses it.")] = None,
    list_inputs: Annotated[bool, typer.Option(
        "--list-inputs", help="List the uncertain inputs (of --data under --uncertainty and "
                              "--choice; --input selects) with their ranges and sources, and "
                              "stop.")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run corridor scenarios at many draws of their uncertain inputs: P5/P50/P95 bands of the
    headline figures, each scenario's effect against its like-year reference, the probability
    of each statement of the summary and the inputs that decide it.

    Raises
    ------
    InputError
        Unknown scenarios, inputs or options, or an uncertainty table that does not hold.
    """
    import pandas as pd
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table
    from rich.text import Text

    from karvan.errors import InputError
    from karvan.explore.study import (
        check_choice,
        choice_correlation,
        choice_table,
        experiment_inputs,
    )
    from karvan.freight.corridor import load_corridor

    choice = check_choice(choice)
    dataset = load_corridor(data)
    if list_inputs:
        table = corr = None
        if choice == "logit":
            table = choice_table(dataset, choice_parameters)
            corr = choice_correlation(dataset, choice_parameters)
        ins = experiment_inputs(dataset, uncertainty, choice=choice, table=table,
                                correlation=corr)
        if inputs:
            ins = ins.select(inputs)
        # plain lines, one input each, so that names can be copied whole into --input
        out.print(f"{len(ins)} uncertain inputs in {len(ins.factors)} factors under the "
                  f"{choice} choice model (input, rows, distribution, drawn as, factor, "
                  "sources); a range is in its column's units (capacity t/yr, growth a "
                  "fraction per year, value of time % of value per day), a factor multiplies "
                  "the figure:", highlight=False, soft_wrap=True)
        for r in ins.table().itertuples(index=False):
            out.print(f"{r.input}\t{r.rows}\t{r.distribution}\t{r.drawn}\t{r.factor}\t"
                      f"{r.source}", highlight=False, soft_wrap=True, markup=False)
        if ins.correlation is not None:
            out.print(f"{len(ins.correlation.factors)} of these factors draw jointly, with the "
                      "correlations of their fit (choice_parameter_correlation.csv beside the "
                      "parameter table), one sensitivity group (drawn_jointly) under sobol "
                      f"and morris: {', '.join(ins.correlation.factors)}",
                      highlight=False, soft_wrap=True, markup=False)
        return
    if draws is None:
        raise InputError("give --draws N (an integer >= 2), or --list-inputs.")
    if gap is not None and choice != "deterministic":
        # it was accepted and ignored: the logit draws solve no user equilibrium
        raise InputError("--gap sets each draw's user equilibrium, which only --choice "
                         "deterministic solves; the logit model takes no gap: leave --gap out, "
                         "or add --choice deterministic.")
    if gap is not None and not (gap >= 0 and gap < float("inf")):
        raise InputError(f"--gap must be a finite number >= 0, got {gap}.")
    from karvan.explore.study import DEFAULT_GAP
    from karvan.explore.study import explore as run

    gap = DEFAULT_GAP if gap is None else gap

    with contextlib.ExitStack() as stack:
        bar: list = []  # the progress bar, started by the first report of progress

        def progress(done: int, total: int, note: str) -> None:
            # the experiment reports progress only once its inputs, options and scenarios are
            # checked: a bad one is an error on its own, with no empty bar printed before it
            if not bar:
                p = stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    disable=quiet, transient=False))
                bar.extend((p, p.add_task("explore", total=total)))
            bar[0].update(bar[1], completed=done, total=total, description=f"explore {note}")

        res = run(scenarios or None, draws=draws, sampler=sampler, seed=seed, data=dataset,
                  uncertainty=uncertainty, choice=choice,
                  choice_parameters=choice_parameters, select=inputs, groups=groups,
                  workers=workers,
                  scheduler=scheduler, out=out_dir, store=store, batch_size=batch_size,
                  gap=gap, progress=progress)
    exp = res.experiment
    st = exp.table("statements")
    if len(st):
        t = Table(title="Statements: share of draws in which each holds", title_justify="left")
        for c in ("scenario", "statement", "P", "central", "deciding inputs"):
            t.add_column(c, justify="right" if c == "P" else "left", overflow="fold")
        for r in st.itertuples(index=False):
            # names as written (Text): as markup, "[containers+5]" was dropped as a tag
            t.add_row(Text(r.scenario), Text(r.text), f"{r.probability:.2f}",
                      {True: "yes", False: "no"}.get(r.central_holds, "-"),
                      Text(r.deciding_inputs if isinstance(r.deciding_inputs, str) else ""))
        out.print(t)
        m = exp.manifest()
        n, k = int(m.get("n_draws") or 0), len(m.get("inputs") or [])
        if 0 < n < k:
            out.print(f"[yellow]note:[/] {n} draws for {k} uncertain inputs: the deciding inputs "
                      "are rank correlations over so few draws that chance ranks unrelated "
                      "inputs high (none is named below 10 draws); read them from an experiment "
                      "of several hundred draws (or --sampler morris, whose inputs are grouped "
                      "by field, to rank fewer groups with fewer draws).",
                      highlight=False, soft_wrap=True)
    b = exp.table("bands")
    # P5 <= central <= P95 (blank where not known, in experiments analysed before the column)
    inside = (b["central_in_band"] if "central_in_band" in b else pd.Series(
        pd.NA, index=b.index)).astype("boolean")
    in_band = inside.map({True: "yes", False: "[yellow]no[/]"}).fillna("-")
    key = b[b["output"].str.startswith(("border:", "effect:border:", "share:RU-IN",
                                        "effect:share:RU-IN", "family:RU-IN",
                                        "effect:family:RU-IN", "effect:users_benefit_usd"))]
    key = key[key["p95"].abs() > 0]
    at = (b["central_percentile"].map(lambda v: f"P{v:.0f}" if pd.notna(v) else "-")
          if "central_percentile" in b else pd.Series("-", index=b.index))
    if len(key):
        t = Table(title="Bands (P5 / P50 / P95; tonnes in Mt, shares in %, the users' benefit "
                  "in M USD/yr; in band: the central case within P5-P95; at: the share of "
                  "draws below the central case)", title_justify="left")
        for c in ("scenario", "output", "central", "p5", "p50", "p95", "in band", "at"):
            t.add_column(c, justify="left" if c in ("scenario", "output") else "right")
        for i, r in zip(key.index, key.itertuples(index=False), strict=True):
            f = (lambda v: f"{100 * v:.1f}") if ("share:" in r.output
                                                 or "family:" in r.output) else (
                lambda v: f"{v / 1e6:,.1f}") if r.output.endswith("_usd") else (
                lambda v: f"{v / 1e6:,.2f}")
            # as Text: as markup, ":family:" in an output's name was printed as an emoji
            t.add_row(Text(r.scenario), Text(r.output), f(r.central), f(r.p5), f(r.p50),
                      f(r.p95), in_band[i], at[i])
        out.print(t)
    sp_ = binding_shadow_prices(b)
    if len(sp_):
        t = Table(title="Shadow prices of hard capacities that bind in some draws (P5 / P50 / "
                  "P95; USD/t or h)", title_justify="left")
        for c in ("scenario", "output", "central", "p5", "p50", "p95", "in band"):
            t.add_column(c, justify="left" if c in ("scenario", "output") else "right")
        for i, r in zip(sp_.index, sp_.itertuples(index=False), strict=True):
            t.add_row(Text(r.scenario), Text(r.output),
                      *(f"{v:,.2f}" for v in (r.central, r.p5, r.p50, r.p95)), in_band[i])
        out.print(t)
    from karvan.report.uncertainty import (
        joint_note,
        off_centre_note,
        outside_note,
        write_experiment_page,
    )

    note = outside_note(b)
    if note:
        out.print(f"note: {note}", highlight=False, markup=False)
    for note in (off_centre_note(exp.folder), joint_note(exp.folder)):
        if note:
            out.print(f"note: {note}", highlight=False, markup=False)
    if "n_unconverged" in b and (b["n_unconverged"] > 0).any():
        worst = b[b["kind"] == "level"].groupby("scenario")["n_unconverged"].max()
        worst = worst[worst > 0]
        console.print("[yellow]warning:[/] draws whose equilibrium did not reach its gap count "
                      "in the bands and probabilities: "
                      + ", ".join(f"{s} {int(n)}" for s, n in worst.items())
                      + " (column n_unconverged of bands.csv and statements.csv)",
                      highlight=False, soft_wrap=True)
    page = write_experiment_page(exp.folder)
    out.print(f"report: {page}")
    m = exp.manifest()
    n_scen = len(m.get("scenarios") or [])
    out.print(f"{res.computed} draws computed, {res.resumed} resumed (each scenario's "
              f"{m.get('n_draws', '?')} draws and its central case, {n_scen} scenarios with the "
              f"references), in {res.elapsed_s:.1f} s; experiment in {exp.folder} (bands.csv, "
              "statements.csv, sensitivity.csv, draws/)", highlight=False, soft_wrap=True)


def binding_shadow_prices(bands: pd.DataFrame) -> pd.DataFrame:
    """The bands of the shadow prices of hard capacities that bind in some draws: a price is
    never negative, so a mean above 0 is a price in at least one draw (a capacity that binds in
    fewer than one draw in twenty has P95 0 and was left out)."""
    out = bands["output"].astype(str)
    return bands[out.str.startswith("capacity:") & out.str.endswith(
        (":shadow_price_usd_per_t", ":shadow_price_h")) & (bands["mean"] > 0)]
