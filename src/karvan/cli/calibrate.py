"""``karvan calibrate``: the base-year demand estimated from the ``fit`` rows of observed.csv,
or (``--parameters``) the choice parameters fitted to them, with fit and validation before and
after."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console, invocation, out

#: the OD estimation's defaults (the options below; --procedure's step 3 uses them)
OD_PRIOR_RSE = 0.5
OD_MAX_FACTOR = 3.0
OD_TOL = 1e-3
OD_MAX_ITER = 20


@app.command()
def calibrate(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Corridor dataset folder "
                                                   "(default: built in).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the estimate and its "
                                                        "report.")] = Path("calibration"),
    prior_rse: Annotated[float, typer.Option(help="Relative standard error of each demand "
                                                  "row (the prior).")] = OD_PRIOR_RSE,
    max_factor: Annotated[float, typer.Option(help="A demand row stays within this factor of "
                                                   "its prior.")] = OD_MAX_FACTOR,
    tol: Annotated[float, typer.Option(help="Stop when the assignment of the estimate changes "
                                            "no count by more than this share.")] = OD_TOL,
    max_iter: Annotated[int, typer.Option(min=1, help="Most estimation-assignment "
                                                      "rounds.")] = OD_MAX_ITER,
    gap: Annotated[float | None, typer.Option(
        help="Relative gap of each user equilibrium (--choice deterministic; default 1e-10): "
             "the logit choice model solves none.")] = None,
    parameters: Annotated[bool, typer.Option(
        "--parameters", help="Fit the choice parameters (family constants, dispersion, value "
                             "of reliability) under the logit choice model instead of "
                             "estimating the demand.")] = False,
    fit: Annotated[list[str] | None, typer.Option(
        "--fit", help="With --parameters: a parameter to fit, asc:<family>, "
                      "asc:<family>:<commodity>, asc:nest:<nest>[:<commodity>] (one constant "
                      "for a nest's families), theta or value_of_reliability (repeat; "
                      "default: the constants of the INSTC families, the Middle Corridor (its "
                      "containers apart, its trucks on the ferries), Upper Lars and the "
                      "containers through Russia (asc:nest:overland_north:containers), theta "
                      "and value_of_reliability). "
                      "Parameters not fitted keep their values in "
                      "choice_parameter.csv.")] = None,
    prior: Annotated[bool, typer.Option(
        "--prior/--no-prior", help="With --parameters: add each parameter's prior (its "
                                   "prior_value and prior_std_error, else its value and "
                                   "confidence) as a penalty (maximum a posteriori); "
                                   "--no-prior: plain weighted least squares.")] = True,
    crossval: Annotated[bool, typer.Option(
        "--crossval", help="With --parameters: leave-one-source-out cross-validation of the "
                           "fit (one refit and one run per source of the fit rows).")] = False,
    crossval_evaluations: Annotated[int, typer.Option(min=0,
        help="With --crossval: 0 refits each fold on the fit's linearised model (one run per "
             "fold to predict); N > 0 refits it with the model, at most N evaluations.")] = 0,
    write: Annotated[bool, typer.Option(
        "--write", help="Also write the result into the dataset: the estimated demand as "
                        "od_estimate.csv (every run then uses it), or with --parameters the "
                        "calibrated values into choice_parameter.csv; only a fit or estimation "
                        "that converged is written.")] = False,
    choice: Annotated[str, typer.Option(
        help="Choice model of the OD estimation's assignment: logit (as `karvan run`) or "
             "deterministic (user equilibrium).")] = "logit",
    max_evaluations: Annotated[int | None, typer.Option(min=1,
        help="With --parameters: most evaluations of the objective in each fit (each a run of "
             "every observed year; the Jacobian's runs not counted); a fit that settles the "
             "variance factor in rounds, and every start, has its own.")] = None,
    diff_step: Annotated[float, typer.Option(
        help="With --parameters: finite-difference step, in units of each parameter's "
             "typical change (10 USD/t for a constant, 0.1 for a factor).")] = 0.05,
    start_from: Annotated[list[str] | None, typer.Option(
        "--start-from", help="With --parameters: start the fit from the values of this "
                             "parameter table (an earlier choice_parameter.csv, calibrated "
                             "or not) instead of the priors; the priors stay the dataset's. "
                             "Repeat for several starts (with --variance-factor, so that each "
                             "fit minimises the same objective): the lowest end point is the "
                             "fit, and starts.csv lists them all; 'priors' names the priors "
                             "as one of the starts.")
    ] = None,
    variance_factor: Annotated[float | None, typer.Option(
        "--variance-factor", help="With --parameters: fix the factor on the data's variances "
                                  "(the objective is the weighted sum of squares divided by it "
                                  "plus the prior's penalty) instead of settling it in rounds "
                                  "at the reduced chi-square, so that fits from several starts "
                                  "minimise one objective and can be compared.")] = None,
    settle_factor: Annotated[bool, typer.Option(
        "--settle-factor", help="With --parameters and --variance-factor (the first round's "
                                "factor): fit every start at the factor, then again at the "
                                "lowest end point's reduced chi-square, with that end point as "
                                "a start too, until the factor changes by 2 % or less (at most "
                                "6 rounds), so that the factor is the shipped end point's own "
                                "misfit.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="With --parameters: worker processes that run the columns of each "
             "finite-difference Jacobian (and the cross-validation's folds) side by side "
             "(default 2 where this process may use 2 CPUs; 1: one run after the other in this "
             "process). The fit is the same.")] = None,
    procedure: Annotated[bool, typer.Option(
        "--procedure", help="The dataset's whole estimation procedure (docs/dataset.md, "
                            "Estimation settings), on a copy without its OD estimate: the "
                            "choice parameters from the priors with the variance factor "
                            "settled in rounds, then from three starts (the priors, that fit, "
                            "the dataset's table) with the factor settled at the lowest end "
                            "point, then the OD demand estimated again; --write puts the "
                            "fitted tables and the estimate into the dataset. Reads --data, "
                            "--out, --write, --fit, --diff-step (default 0.5), "
                            "--max-evaluations (default 40), --workers and --quiet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Estimate the base-year OD demand from the fit rows of observed.csv (generalized least
    squares with demand.csv as the prior, alternating with the equilibrium of the base year and
    its back-casts) and report fit and validation before and after.

    Validation rows are never fitted to. Writes demand_estimated.csv (prior, estimate and
    standard error of every demand row), moved_cells.csv (rows moved by more than 50 %),
    counts.csv, iterations.csv, calibration.csv (every observed row against the prior and the
    estimate), calibration_summary.csv, cross_validation.csv and manifest.json to --out;
    --write also puts the estimate into the dataset as od_estimate.csv, which every run then
    uses instead of demand.csv's tonnes (the prior is always demand.csv itself).

    With --parameters, fits the choice parameters to the fit rows instead (bounded weighted
    least squares with each parameter's prior as a penalty, standard errors from the Jacobian
    and the prior, identification diagnostics) and writes choice_parameter.csv (the dataset's
    table with the calibrated values, their standard errors and priors, method calibrated, the
    date and the observations used), parameters.csv, counts.csv, evaluations.csv,
    calibration.csv, calibration_summary.csv and manifest.json to --out (with --crossval also
    crossval.csv, crossval_summary.csv, crossval_folds.csv); --write also puts the table into
    the dataset. The fit starts from the priors (or --start-from's values), so from the priors it
    reproduces the table it wrote; a fit from another start may end elsewhere, and the report says
    which start it took. The factor on the data's variances is settled in rounds (each fit again
    with the reduced chi-square of the one before), so the function minimised depends on the
    path; --variance-factor fixes it, and fits from several starts then minimise one function.
    With several --start-from (and --variance-factor), the fits run one after the other and the
    one with the lowest objective is reported and written (starts.csv and start_evaluations.csv
    hold every start's end point and evaluations). --settle-factor repeats the starts in rounds,
    each at the reduced chi-square of the round before's lowest end point (that end point a start
    as well), until the factor settles; starts.csv then lists every round's end points.

    With --procedure, runs the dataset's whole estimation procedure (docs/dataset.md, Estimation
    settings) on a copy without its OD estimate: the parameters from the priors (the factor settled
    in rounds), then from three starts with --settle-factor, then the OD estimation; --out holds
    the copy, 1-rounds/, 2-parameters/, 3-demand/, choice_parameter_before.csv (the dataset's
    table as it was) and manifest.json, and --write copies the two parameter tables and
    od_estimate.csv into the dataset.

    Raises
    ------
    typer.Exit
        With code 1 when the estimation did not converge in --max-iter rounds (or the
        parameter fit did not succeed).
    typer.BadParameter
        An option of the other mode (--prior-rse, --max-factor, --tol, --max-iter or --choice
        with --parameters; --fit, --prior/--no-prior, --crossval, --max-evaluations,
        --diff-step, --start-from, --variance-factor, --settle-factor or --workers without it;
        --crossval-evaluations without --parameters --crossval), --prior-rse, --max-factor,
        --tol, --gap or --diff-step that is not a finite number in its range, --workers < 1,
        a --variance-factor that is not > 0 or goes with --no-prior, --settle-factor without
        --variance-factor, an option --procedure does not read, an unknown --choice,
        --write on a dataset without a folder, a --start-from file that is missing.
    """
    _refuse_other_modes(ctx, parameters=parameters, crossval=crossval, procedure=procedure)
    if procedure:
        from karvan.cli.calibrate_procedure import calibrate_procedure

        given = {n for n in ("diff_step", "max_evaluations") if _given(ctx, n)}
        calibrate_procedure(data, out_dir, write=write, quiet=quiet, workers=workers, fit=fit,
                            diff_step=diff_step if "diff_step" in given else None,
                            max_evaluations=(max_evaluations if "max_evaluations" in given
                                             else None),
                            invoked=invocation(ctx))
        return
    if not parameters:
        import math

        for flag, value, ok, what in (
                ("--prior-rse", prior_rse, math.isfinite(prior_rse) and prior_rse > 0,
                 "a finite number > 0"),
                ("--max-factor", max_factor, math.isfinite(max_factor) and max_factor >= 1,
                 "a finite number >= 1"),
                ("--tol", tol, math.isfinite(tol) and tol >= 0, "a finite number >= 0")):
            if not ok:
                raise typer.BadParameter(f"{flag} must be {what}, got {value}.")
    if gap is not None and not (gap >= 0 and gap < float("inf")):
        raise typer.BadParameter(f"--gap must be a finite number >= 0, got {gap}.")
    if gap is not None and (parameters or choice == "logit"):
        # it was ignored, and recorded in the manifest as if it had been used
        raise typer.BadParameter("--gap sets the deterministic user equilibrium, which the "
                                 "logit choice model (the default, and the one --parameters "
                                 "fits) does not solve; add --choice deterministic, or leave "
                                 "--gap out.")
    gap = 1e-10 if gap is None else gap
    if parameters:
        from karvan.cli.calibrate_parameters import calibrate_parameters

        calibrate_parameters(data, out_dir, fit=fit, write=write, gap=gap,
                             max_evaluations=max_evaluations, diff_step=diff_step, quiet=quiet,
                             prior=prior, crossval=crossval,
                             crossval_evaluations=crossval_evaluations, workers=workers,
                             start_from=start_from, variance_factor=variance_factor,
                             settle_factor=settle_factor, invoked=invocation(ctx))
        return
    if choice not in ("logit", "deterministic"):
        raise typer.BadParameter(f"--choice {choice!r}: use logit or deterministic.")
    _estimate_od(data, out_dir, prior_rse=prior_rse, max_factor=max_factor, tol=tol,
                 max_iter=max_iter, gap=gap, choice=choice, write=write, quiet=quiet,
                 invoked=invocation(ctx))


def _estimate_od(data: Path | None, out_dir: Path, *, prior_rse: float, max_factor: float,
                 tol: float, max_iter: int, gap: float, choice: str, write: bool, quiet: bool,
                 invoked: dict) -> None:
    """The OD estimation of ``karvan calibrate`` (without ``--parameters``): estimate, report,
    write ``out_dir`` whole, then (``write``) ``od_estimate.csv`` into the dataset.

    Raises
    ------
    typer.BadParameter
        --write on a dataset without a folder.
    typer.Exit
        With code 1 when the estimation did not converge in ``max_iter`` rounds.
    """
    import datetime
    import json

    import pandas as pd

    from karvan._version import __version__
    from karvan.calibrate import calibration_tables, cv_summary, source_family
    from karvan.calibrate.corridor import fixed_proportion_cv
    from karvan.calibrate.statistics import TARGETS, display_summary
    from karvan.cli.tables import print_tables
    from karvan.freight.corridor import load_corridor
    from karvan.io.atomic import atomic_folder, atomic_write_text
    from karvan.io.hashing import hash_folder
    from karvan.scenario.calibration import corridor_runner, estimate_demand, od_estimate_table
    from karvan.scenario.summary import SummaryTable, fit_row_notes

    # the prior is demand.csv; an od_estimate.csv that demand.csv has outgrown is what --write
    # replaces (reading it stopped the command that its message advised)
    dataset = load_corridor(data, estimate=False)
    if write and dataset.folder is None:
        raise typer.BadParameter("--write needs a dataset folder.")
    rounds = []

    def runner_with_progress():
        # the gap is the deterministic model's (the logit model solves no user equilibrium)
        run = corridor_runner(dataset, gap=gap if choice == "deterministic" else None,
                              choice=choice)

        def wrapped(q):
            rounds.append(len(rounds))
            if not quiet:
                console.print(f"assignment {len(rounds)} (base year and back-casts)",
                              highlight=False)
            return run(q)

        return wrapped

    est = estimate_demand(dataset, runner=runner_with_progress(), prior_rse=prior_rse,
                          max_factor=max_factor, tol=tol, max_iter=max_iter)
    kw = dict(link_table=dataset.links, zone_country=dataset.zone_country(),
              commodities=dataset.commodity_ids)
    before, sum_before = calibration_tables(dataset.observed, est.prior_runs, **kw)
    after, sum_after = calibration_tables(dataset.observed, est.runs, **kw)
    table = after.copy()
    table.insert(table.columns.get_loc("modelled_tonnes"), "prior_modelled_tonnes",
                 before["modelled_tonnes"].to_numpy())
    table.insert(table.columns.get_loc("ratio"), "prior_ratio", before["ratio"].to_numpy())
    summary = pd.concat([sum_before.assign(demand="prior"), sum_after.assign(demand="estimate")],
                        ignore_index=True)
    sources = dict(zip(dataset.observed["observed_id"].astype(str),
                       dataset.observed["source"].map(source_family), strict=True))
    cv = fixed_proportion_cv(est, sources, prior_rse=prior_rse, max_factor=max_factor)
    cvs = cv_summary(cv) if len(cv) else pd.DataFrame(columns=["source", "rows",
                                                               "median_abs_log_ratio"])
    moved = est.moved_cells()
    res = est.odme
    manifest = {
        "karvan_version": __version__,
        "date": datetime.date.today().isoformat(),
        "method": "OD estimation, generalized least squares (Cascetta 1984), bi-level with the "
                  + ("logit choice model (nested logit over route families, hard capacities)"
                     if choice == "logit" else "deterministic equilibrium (Algorithm B)"),
        "dataset": str(dataset.folder),
        "inputs_sha256_16": hash_folder(dataset.folder) if dataset.folder else {},
        "settings": {"prior_rse": prior_rse, "max_factor": max_factor, "tol": tol,
                     "max_iter": max_iter, "choice": choice,
                     **({"gap": gap} if choice == "deterministic" else {})},
        "written_to_dataset": bool(write),
        "invocation": invoked,
        "observations_fitted": list(est.counts["observed_id"]),
        "converged": bool(res.converged), "rounds": int(res.iterations),
        "demand_t": {"prior": float(res.prior.sum()), "estimate": float(res.estimate.sum())},
        "cells_moved_over_50pct": int(len(moved)),
        "notes": fit_row_notes(table),
    }
    with atomic_folder(out_dir) as tmp:
        est.demand.to_csv(tmp / "demand_estimated.csv", index=False)
        moved.to_csv(tmp / "moved_cells.csv", index=False)
        est.counts.to_csv(tmp / "counts.csv", index=False)
        res.history.to_csv(tmp / "iterations.csv", index=False)
        table.to_csv(tmp / "calibration.csv", index=False)
        summary.to_csv(tmp / "calibration_summary.csv", index=False)
        cv.to_csv(tmp / "cross_validation.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    if write:
        if not res.converged:
            out.print("the estimation did not converge: od_estimate.csv is not written",
                      highlight=False)
        else:
            atomic_write_text(dataset.folder / "od_estimate.csv",
                              od_estimate_table(est, choice=choice,
                                                date=manifest["date"]).to_csv(index=False))
    shown = pd.concat([display_summary(sum_before, "prior"), display_summary(sum_after,
                                                                             "estimate")],
                      ignore_index=True).rename(columns={"scenario": "demand"})
    pooled = cvs.loc[cvs["source"] == "all", "median_abs_log_ratio"]
    tables = [
        SummaryTable(f"OD estimation: {res.iterations} rounds, "
                     f"{'converged' if res.converged else 'NOT converged'}; demand "
                     f"{res.prior.sum() / 1e6:,.2f} -> {res.estimate.sum() / 1e6:,.2f} Mt, "
                     f"{len(moved)} rows moved by more than 50 %", res.history,
                     {"proportion_change": "{:.2e}", "objective": "{:,.1f}",
                      "count_rmse_rel": "{:.3f}"}),
        SummaryTable(f"Fit and validation, prior and estimate ({TARGETS})", shown,
                     {"median |ln M/C|": "{:.2f}", "GEH<5": "{:.1%}"}),
        SummaryTable("Largest moves (demand rows)", moved.head(10),
                     {"prior": "{:,.0f}", "estimate": "{:,.0f}", "factor": "{:.2f}"}),
    ]
    print_tables([t for t in tables if len(t.data)], out)
    for note in manifest["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    if len(pooled):
        out.print(f"leave-one-source-out (proportions held): median |ln M/C| of the left-out "
                  f"fit rows {float(pooled.iloc[0]):.2f} over {len(cv)} rows", highlight=False)
    out.print(f"written to {out_dir}/ and {dataset.folder / 'od_estimate.csv'} (every run now "
              "uses the estimate)" if write and res.converged else
              f"written to {out_dir}/ (the dataset is unchanged: the estimation did not "
              "converge, so --write wrote nothing)" if write else
              f"written to {out_dir}/ (the dataset is unchanged; --write puts the estimate "
              "into it)", highlight=False)
    if not res.converged:
        raise typer.Exit(1)


#: options of one mode of ``karvan calibrate`` only: the OD estimation's, --parameters' (and
#: --crossval's); given to the other they were ignored and recorded in the manifest as used
_OD_ONLY = {"prior_rse": "--prior-rse", "max_factor": "--max-factor", "tol": "--tol",
            "max_iter": "--max-iter", "choice": "--choice"}
_PARAMETERS_ONLY = {"fit": "--fit", "prior": "--prior/--no-prior", "crossval": "--crossval",
                    "max_evaluations": "--max-evaluations", "diff_step": "--diff-step",
                    "start_from": "--start-from", "variance_factor": "--variance-factor",
                    "settle_factor": "--settle-factor", "workers": "--workers"}


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the command line (or the environment) gave the option, not its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


#: what --procedure reads (besides --procedure itself)
_PROCEDURE_READS = {"data", "out_dir", "write", "fit", "diff_step", "max_evaluations", "workers",
                    "quiet"}


def _refuse_other_modes(ctx: typer.Context, *, parameters: bool, crossval: bool,
                        procedure: bool = False) -> None:
    """Refuse the options the command line gives that the mode it runs does not read.

    Raises
    ------
    typer.BadParameter
        Naming every such option and the mode it belongs to.
    """
    wrong = []
    if procedure:
        flags = {p.name: "/".join(p.opts[:1] + list(getattr(p, "secondary_opts", []))[:1])
                 for p in ctx.command.params if p.opts}
        other = [flags[n] for n in flags if n not in _PROCEDURE_READS | {"procedure"}
                 and _given(ctx, n)]
        if other:
            raise typer.BadParameter(
                f"--procedure runs the dataset's procedure with its own settings: "
                f"{', '.join(other)} {'is' if len(other) == 1 else 'are'} not read by it (it "
                "reads --data, --out, --write, --fit, --diff-step, --max-evaluations, --workers "
                "and --quiet); run the steps' commands (docs/dataset.md, Estimation settings) to "
                "change the others.")
        return
    if parameters:
        od = [flag for name, flag in _OD_ONLY.items() if _given(ctx, name)]
        if od:
            wrong.append(f"{', '.join(od)} {'sets' if len(od) == 1 else 'set'} the OD "
                         "estimation (karvan calibrate without --parameters)")
    else:
        par = [flag for name, flag in _PARAMETERS_ONLY.items() if _given(ctx, name)]
        if par:
            wrong.append(f"{', '.join(par)} {'goes' if len(par) == 1 else 'go'} with "
                         "--parameters")
    if _given(ctx, "crossval_evaluations") and not (parameters and crossval):
        wrong.append("--crossval-evaluations goes with --parameters --crossval")
    if wrong:
        raise typer.BadParameter("; ".join(wrong) + ": add the mode's flag or leave them out "
                                 "(they would be ignored).")
