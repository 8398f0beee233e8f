"""``karvan calibrate --parameters``: the choice parameters fitted to the ``fit`` rows of
observed.csv, with fit and validation before and after (the work of :mod:`karvan.cli.calibrate`
when ``--parameters`` is given)."""

from __future__ import annotations

from pathlib import Path

import typer

from karvan.cli._app import console, out

#: the source id calibrated rows add to their sources (sources.csv)
CALIBRATION_SOURCE = "KV_CALIBRATION"


def calibrate_parameters(data: Path | None, out_dir: Path, *, fit: list[str] | None,
                         write: bool, gap: float, max_evaluations: int | None,
                         diff_step: float, quiet: bool, prior: bool = True,
                         crossval: bool = False, crossval_evaluations: int = 0,
                         workers: int | None = None,
                         start_from: Path | str | list[Path | str] | None = None,
                         variance_factor: float | None = None,
                         settle_factor: bool = False,
                         invoked: dict | None = None,
                         recorded_command: str | None = None) -> None:
    """Fit, report, write ``--out`` whole, then (``--write``) the dataset's table;
    ``invoked`` is the command line as :func:`karvan.cli._app.invocation` gives it, for the
    manifest; ``recorded_command``, where given, is the command the table and the manifest say
    made the fit (a step of ``karvan calibrate --procedure``) instead of this call's own.

    Raises
    ------
    typer.BadParameter
        --write on a dataset without a folder, --workers < 1, a --start-from file that is
        missing or given twice, several starts without --variance-factor (their objectives would
        differ), a --variance-factor that is not a finite number > 0 or comes with --no-prior
        (without a prior the factor does not move the estimate), --settle-factor without
        --variance-factor (the first round's factor).
    InputError
        --start-from tables that do not give every fitted parameter one value, every problem
        of every table at once (:func:`karvan.calibrate.choice.start_from`).
    typer.Exit
        With code 1 when the fit did not succeed.
    """
    import contextlib
    import math
    import time

    from karvan.freight.corridor import load_corridor
    from karvan.scenario._signals import sigterm_raises
    from karvan.scenario.calibration import choice_parameters_to_fit, choice_table
    from karvan.scenario.run_pool import ProcessRunPool, default_workers

    if workers is not None and workers < 1:
        raise typer.BadParameter(f"--workers must be >= 1, got {workers}.")
    if not (math.isfinite(diff_step) and diff_step > 0):
        raise typer.BadParameter(f"--diff-step must be a finite number > 0, got {diff_step} "
                                 "(the finite-difference step, in units of each parameter's "
                                 "typical change).")
    if variance_factor is not None and not (math.isfinite(variance_factor)
                                            and variance_factor > 0):
        raise typer.BadParameter(f"--variance-factor must be a finite number > 0, got "
                                 f"{variance_factor}.")
    if variance_factor is not None and not prior:
        raise typer.BadParameter("--variance-factor goes with the prior: without it the factor "
                                 "does not move the estimate (leave out --no-prior or "
                                 "--variance-factor).")
    if settle_factor and variance_factor is None:
        raise typer.BadParameter("--settle-factor starts its rounds at --variance-factor: give "
                                 "the first round's factor (the last reduced chi-square of the "
                                 "fit from the priors with rounds, the command without either "
                                 "option).")
    # the parameters are fitted anew from their priors: a table fitted to a row that is now
    # validate is what this fit replaces (reading it stopped the command its error advised)
    dataset = load_corridor(data, refit=("choice_parameter",))
    if write and dataset.folder is None:
        raise typer.BadParameter("--write needs a dataset folder.")
    params = choice_parameters_to_fit(choice_table(dataset), fit,
                                      route_families=_families(dataset))
    starts = _read_starts(dataset, params, start_from, variance_factor)
    runs = {"n": 0}
    t0 = time.perf_counter()

    def counted(where: str = "") -> None:
        runs["n"] += 1
        if not quiet:
            console.print(f"run {runs['n']} (base year and back-casts, logit choice{where}) "
                          f"{time.perf_counter() - t0:,.0f} s", highlight=False)

    n_workers = default_workers() if workers is None else int(workers)
    if len(params) < 2 and not crossval:
        n_workers = 1  # a Jacobian of one column: nothing to run side by side
    # the workers start before anything runs here (see karvan.scenario.run_pool); SIGTERM
    # stops them and leaves nothing half-written, then ends the process as SIGTERM ends it
    with sigterm_raises(), contextlib.ExitStack() as stack:
        pool = (stack.enter_context(ProcessRunPool(dataset, workers=n_workers, gap=gap,
                                                   on_run=lambda: counted(", a worker")))
                if n_workers > 1 else None)
        if not quiet and pool is not None:
            console.print(f"{n_workers} worker processes run each Jacobian's runs side by side",
                          highlight=False)
        _fit_and_report(dataset, params, runs, counted, pool, out_dir, fit=fit,
                        write=write, gap=gap, max_evaluations=max_evaluations,
                        diff_step=diff_step, quiet=quiet, prior=prior, crossval=crossval,
                        crossval_evaluations=crossval_evaluations, starts=starts,
                        variance_factor=variance_factor, settle_factor=settle_factor,
                        invoked=invoked, recorded_command=recorded_command)


#: the --start-from value that names the dataset's priors as a start
PRIORS = "priors"
#: end points whose objective is within this of the lowest are reported with their spread (one
#: standard error in the likelihood-ratio sense: the objective is -2 log posterior + const)
STARTS_WITHIN = 1.0
#: --settle-factor: the rounds over the starts end when the lowest end point's reduced
#: chi-square is within this of the round's factor (the tolerance of a single fit's rounds),
#: or after this many rounds
FACTOR_RTOL = 0.02
FACTOR_ROUNDS = 6


def _families(dataset):
    """The dataset's route families, or None where it has no folder or no route_family.csv."""
    from karvan.freight.route_family import read_route_families

    folder = getattr(dataset, "folder", None)
    if folder is None or not (Path(folder) / "route_family.csv").is_file():
        return None
    return read_route_families(folder)


def demand_source(dataset) -> tuple[str, ...]:
    """The demand the fit's runs carry (``od_estimate.csv`` where the dataset has one, else
    ``demand.csv``), and where it is the estimate, a note saying so: that demand was estimated
    on the same fit rows (a round of the alternation between the two fits), and how to fit on
    ``demand.csv`` instead."""
    if not getattr(dataset, "demand_estimated", False):
        return ("demand.csv",)
    return ("od_estimate.csv", "the runs carry the demand of od_estimate.csv, estimated on the "
            "same fit rows by `karvan calibrate --write`: this fit is the next round of the "
            "alternation between the two fits, not a fit on demand.csv. To fit on demand.csv, "
            "run on a copy without od_estimate.csv (karvan data copy DIR, delete "
            "DIR/od_estimate.csv, --data DIR).")


def _read_starts(dataset, params, start_from, variance_factor):
    """The starts of the fit: a list of (label, start values or None for the priors); one
    start ``(None, None)`` without --start-from.

    Raises
    ------
    typer.BadParameter
        Missing files, a start given twice, several starts without --variance-factor (all of
        them in one message).
    InputError
        Tables that do not give every fitted parameter one value: every problem of every
        table at once.
    """
    import pandas as pd

    from karvan.calibrate.choice import start_from as start_values_from
    from karvan.errors import InputError
    from karvan.scenario.calibration import choice_table

    if start_from is None or (isinstance(start_from, list) and not start_from):
        return [(None, None)]
    labels = [str(x) for x in (start_from if isinstance(start_from, list) else [start_from])]
    problems = []
    for x in labels:
        if x != PRIORS and not Path(x).is_file():
            what = "a folder, not a file" if Path(x).is_dir() else "no such file"
            problems.append(f"--start-from {x}: {what}; give a choice_parameter.csv (or "
                            f"{PRIORS} for the dataset's priors).")
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        problems.append(f"--start-from {', '.join(twice)} given more than once; give each "
                        "start once.")
    if len(labels) > 1 and variance_factor is None:
        problems.append(f"{len(labels)} starts need --variance-factor: with the factor settled "
                        "in rounds each fit minimises a function of its own, and their end "
                        "points cannot be compared.")
    if problems:
        raise typer.BadParameter(" ".join(problems))
    table = choice_table(dataset)
    starts, bad = [], []
    for label in labels:
        if label == PRIORS:
            starts.append((label, None))
            continue
        try:
            starts.append((label, start_values_from(
                table, pd.read_csv(label, dtype=str, keep_default_na=False), params)))
        except InputError as e:
            bad.extend(f"{label}: {m}" for m in e.problems)
    if bad:
        raise InputError(bad, "--start-from")
    return starts


def _fit_and_report(dataset, params, runs, counted, pool, out_dir: Path, *,
                    fit: list[str] | None, write: bool, gap: float,
                    max_evaluations: int | None, diff_step: float, quiet: bool, prior: bool,
                    crossval: bool, crossval_evaluations: int, starts,
                    variance_factor: float | None = None, settle_factor: bool = False,
                    invoked: dict | None = None, recorded_command: str | None = None) -> None:
    import datetime
    import json

    import numpy as np
    import pandas as pd

    from karvan._version import __version__
    from karvan.calibrate import calibrated_correlation, calibrated_table, calibration_tables
    from karvan.calibrate.choice import identification, merged_correlation
    from karvan.calibrate.statistics import TARGETS, display_summary
    from karvan.cli.tables import print_tables
    from karvan.explore.choice_inputs import CORRELATION_FILE, read_choice_correlation
    from karvan.io.atomic import atomic_folder, atomic_write_text
    from karvan.io.hashing import hash_folder
    from karvan.scenario.calibration import calibrate_choice, choice_runner, choice_table
    from karvan.scenario.summary import SummaryTable, fit_row_notes

    base_runner = choice_runner(dataset, gap=gap)

    def runner(table):
        counted()
        return base_runner(table)

    # the objective the fit minimises: the weighted sum of squares divided by the factor on the
    # data's variances of the current round, plus the prior's penalty (see fit_parameters); a
    # new round changes the factor, so "the best so far" starts again with each round
    from karvan.calibrate.choice import parameter_priors

    mu, sd = parameter_priors(choice_table(dataset), params) if prior else (None, None)
    history: list[dict] = []
    best = {"objective": np.inf, "n": 0,
            "c": 1.0 if variance_factor is None else float(variance_factor)}

    def on_round(k: int, c: float) -> None:
        best.update(objective=np.inf, n=0, c=float(c))
        if not quiet and k > 0:
            console.print(f"round {k + 1} of the fit: the data's variances x {c:.3g} (the reduced "
                          "chi-square of the round before), so that the prior weighs against "
                          "data as uncertain as they turn out to be", highlight=False)

    def progress(n, x, ssq):
        if mu is None:
            penalty = 0.0
        else:
            has = np.isfinite(sd) & (sd > 0)
            penalty = float(np.sum(((np.asarray(x, float)[has] - mu[has]) / sd[has]) ** 2))
        objective = ssq / best["c"] + penalty
        history.append({"evaluation": n, "weighted_ssq": ssq, "prior_penalty": penalty,
                        "variance_factor": best["c"], "objective": objective,
                        **{p.name: float(v) for p, v in zip(params, x, strict=True)}})
        if quiet:
            return
        # one line per evaluation; the parameters only where the fit improves (every
        # evaluation's parameters are in evaluations.csv)
        what = (f"objective {objective:,.2f} (weighted sum of squares {ssq:,.2f}"
                + (f" / {best['c']:.3g}" if best["c"] != 1.0 else "")
                + (f" + prior penalty {penalty:,.2f})" if mu is not None else ")"))
        if objective < best["objective"]:
            best.update(objective=objective, n=n)
            console.print(f"evaluation {n}: {what}, the best so far, at "
                          + ", ".join(f"{p.name}={float(v):.4g}"
                                      for p, v in zip(params, x, strict=True)),
                          highlight=False)
        else:
            console.print(f"evaluation {n}: {what} (best {best['objective']:,.2f}, "
                          f"evaluation {best['n']})", highlight=False)

    if not quiet and variance_factor is not None and not settle_factor:
        console.print(f"the data's variances x {variance_factor:.6g}, fixed (--variance-factor): "
                      "one objective, no rounds", highlight=False)
    elif not quiet and settle_factor:
        console.print(f"the data's variances x {variance_factor:.6g} in the first round "
                      "(--variance-factor), then x the lowest end point's reduced chi-square "
                      f"until it settles within {FACTOR_RTOL:.0%} (--settle-factor; at most "
                      f"{FACTOR_ROUNDS} rounds)", highlight=False)
    if not quiet:
        console.print(f"fitting {len(params)} parameters: "
                      f"{', '.join(p.name for p in params)}", highlight=False)
    # (label, start, its ParameterFit, its evaluations) of every start, in the order given; the
    # whole fit (with its runs) only of the lowest so far: one objective for every start
    # (--variance-factor), the lowest end point is the fit, the first of equal ones
    def fit_starts(round_starts, c, k_round):
        fits, pick, cf = [], 0, None
        for k, (label, start) in enumerate(round_starts):
            if not quiet and len(round_starts) > 1:
                console.print((f"round {k_round}, " if settle_factor else "")
                              + f"start {k + 1} of {len(round_starts)}: "
                              + ("the priors" if start is None else f"the values of {label}"),
                              highlight=False)
            elif not quiet and start is not None:
                console.print(f"starting from the values of {label}", highlight=False)
            history.clear()
            best.update(objective=np.inf, n=0, c=1.0 if c is None else float(c))
            got = calibrate_choice(dataset, params, runner=runner,
                                   max_evaluations=max_evaluations, diff_step=diff_step,
                                   callback=progress, on_round=on_round, use_prior=prior,
                                   pool=pool, start=start, chi2_scale=c)
            fits.append((label, start, got.fit, list(history)))
            if cf is None or got.fit.objective < cf.fit.objective:
                pick, cf = k, got
        return fits, pick, cf

    # --settle-factor: rounds over the starts, each at the factor the lowest end point of the
    # round before measured (its own reduced chi-square), that end point a start of the next
    # round, until the factor settles (docs/dataset.md, rule "The variance factor settled at
    # the shipped end point"); without it one round at --variance-factor (or the single fit's
    # own rounds)
    factor, factor_rounds, earlier, carried = variance_factor, [], [], None
    unsettled = None  # why the rounds stopped without settling (--settle-factor)
    for k_round in range(1, (FACTOR_ROUNDS if settle_factor else 1) + 1):
        if settle_factor and not quiet:
            console.print(f"round {k_round} of the variance factor: the data's variances x "
                          f"{factor:.6g} for every start", highlight=False)
        round_starts = starts + ([carried] if carried is not None else [])
        fits, pick, cf = fit_starts(round_starts, factor, k_round)
        lowest = fits[pick][2]
        measured = float(lowest.reduced_chi2)
        settled = bool(np.isfinite(measured) and abs(measured - factor) <= FACTOR_RTOL * factor
                       ) if settle_factor else None
        factor_rounds.append({"round": k_round, "variance_factor": factor,
                              "lowest_start": fits[pick][0] if fits[pick][1] is not None
                              else PRIORS, "objective": 2 * lowest.objective,
                              "weighted_ssq": 2 * lowest.cost, "reduced_chi2": measured,
                              "settled": settled})
        if not settle_factor or settled:
            break
        if not (np.isfinite(measured) and measured > 0):
            unsettled = ("the lowest end point's reduced chi-square is not a finite number > 0 "
                         "(no degree of freedom left to measure the data's variances)")
            break
        if k_round == FACTOR_ROUNDS:
            unsettled = (f"not within {FACTOR_RTOL:.0%} after {FACTOR_ROUNDS} "
                         + ("round" if FACTOR_ROUNDS == 1 else "rounds"))
            break
        if not quiet:
            console.print(f"the lowest end point's reduced chi-square is {measured:.6g}, "
                          f"not within {FACTOR_RTOL:.0%} of {factor:.6g}: another round at "
                          "it, with that end point as a start as well", highlight=False)
        earlier.extend((k_round, f) for f in fits)
        end = np.asarray(lowest.values, dtype=float)
        # an end point that is one of the starts' own values (a start already at the optimum)
        # is that start: not fitted twice
        same = [lb for lb, st in starts if st is not None and np.allclose(
            end, np.asarray(st, dtype=float), rtol=1e-12, atol=1e-12)]
        carried = None if same else (f"round {k_round}'s end point", end)
        if same and not quiet:
            console.print(f"round {k_round}'s end point is the values of {same[0]}, a start "
                          "already: not fitted twice", highlight=False)
        factor = measured
    if settle_factor and not quiet:
        console.print(f"variance factor {factor:.6g}: "
                      + ("settled" if unsettled is None else f"[yellow]not settled[/]: "
                         f"{unsettled} (the last round's lowest end point is the fit, at its "
                         "factor)"), highlight=False)
    label, start, _, evaluations = fits[pick]
    start_label = None if start is None else label
    date = datetime.date.today().isoformat()
    command = ("karvan calibrate --parameters" + "".join(f" --fit {n}" for n in fit or [])
               + ("" if prior else " --no-prior") + f" --diff-step {diff_step:g}"
               + ("" if max_evaluations is None else f" --max-evaluations {max_evaluations}")
               + "".join(f" --start-from {lb}" for lb, _ in starts if lb is not None)
               + ("" if variance_factor is None else f" --variance-factor {variance_factor:.10g}")
               + (" --settle-factor" if settle_factor else ""))
    command = recorded_command or command
    table = calibrated_table(cf, date=date, source=CALIBRATION_SOURCE, command=command)
    corr_table = merged_correlation(
        read_choice_correlation(dataset.folder / CORRELATION_FILE) if dataset.folder else None,
        calibrated_correlation(cf, date=date, source=CALIBRATION_SOURCE, command=command),
        table, cf.fit.names)
    kw = dict(link_table=dataset.links, zone_country=dataset.zone_country(),
              commodities=dataset.commodity_ids)
    before, sum_before = calibration_tables(dataset.observed, cf.prior_runs, **kw)
    after, sum_after = calibration_tables(dataset.observed, cf.runs, **kw)
    cal = after.copy()
    cal.insert(cal.columns.get_loc("modelled_tonnes"), "prior_modelled_tonnes",
               before["modelled_tonnes"].to_numpy())
    cal.insert(cal.columns.get_loc("ratio"), "prior_ratio", before["ratio"].to_numpy())
    summary = pd.concat([sum_before.assign(parameters="prior"),
                         sum_after.assign(parameters="calibrated")], ignore_index=True)
    ptab = cf.parameter_table()
    ident = identification(cf)
    f = cf.fit
    cv = None
    if crossval:
        from karvan.calibrate.choice_crossval import crossvalidate_choice

        if not quiet:
            console.print("leave-one-source-out cross-validation", highlight=False)
        cv = crossvalidate_choice(cf, dataset.observed, runner, diff_step=diff_step,
                                  max_evaluations=crossval_evaluations, pool=pool, **kw)
    starts_table = None
    # every round's end points (one round without --settle-factor), the last round's last
    all_fits = [*earlier, *((len(factor_rounds), x) for x in fits)]
    if len(all_fits) > 1:
        starts_table = pd.DataFrame([
            {"round": rnd, "variance_factor": factor_rounds[rnd - 1]["variance_factor"],
             "start": lb if st is not None else PRIORS, "objective": 2 * g.objective,
             "weighted_ssq": 2 * g.cost, "prior_penalty": g.prior_penalty,
             "reduced_chi2": g.reduced_chi2, "evaluations": g.evaluations,
             "success": g.success, "message": g.message,
             "chosen": rnd == len(factor_rounds) and k == pick + len(earlier),
             **{p.name: float(v) for p, v in zip(params, g.values, strict=True)}}
            for k, (rnd, (lb, st, g, _)) in enumerate(all_fits)])
    # a fit that did not end (scipy's least squares unsuccessful, or values not finite) is
    # reported and kept in --out, never written into the dataset (as the OD estimation)
    fit_ok = bool(f.success and np.all(np.isfinite(f.values)))
    demand = demand_source(dataset)
    manifest = {
        "karvan_version": __version__,
        "date": date,
        "method": "choice parameters by bounded weighted least squares on the fit rows of "
                  "observed.csv (scipy least_squares, trust-region reflective); standard errors "
                  "from the Jacobian at the solution scaled by the reduced chi-square; the "
                  "model: the corridor's base year and back-casts under the logit choice model",
        "dataset": str(dataset.folder),
        "inputs_sha256_16": hash_folder(dataset.folder) if dataset.folder else {},
        "command": command,
        "invocation": invoked or {},
        "demand": demand[0],
        "notes": [*fit_row_notes(cal), *demand[1:],
                  *([f"the variance factor did not settle: {unsettled}; the fit is the last "
                     f"round's lowest end point, at its factor {factor:.6g}"]
                    if unsettled is not None else [])],
        "workers": 1 if pool is None else pool.workers,
        "settings": {"max_evaluations": max_evaluations, "diff_step": diff_step,
                     "prior": prior, "crossval": crossval,
                     "crossval_evaluations": crossval_evaluations,
                     "variance_factor": variance_factor, "settle_factor": settle_factor,
                     "start": "priors" if start is None else
                     {"table": start_label, **{p.name: float(v)
                                               for p, v in zip(params, start, strict=True)}}},
        "parameters": [p.name for p in params],
        "observations_fitted": list(f.observation_ids),
        "success": f.success, "message": f.message, "evaluations": f.evaluations,
        "runs": runs["n"], "weighted_ssq": 2 * f.cost, "objective": 2 * f.objective,
        "prior_penalty": f.prior_penalty, "chi2_scale": f.chi2_scale,
        "scale_rounds": f.scale_rounds, "chi2_scale_fixed": f.chi2_scale_fixed,
        "reduced_chi2": f.reduced_chi2,
        "effective_parameters": f.effective_parameters,
        "at_bound": [n for n, b in zip(f.names, f.at_bound, strict=True) if b],
        "identification": ident,
        "written_to_dataset": bool(write and fit_ok),
    }
    if starts_table is not None:
        manifest["starts"] = starts_table.to_dict(orient="records")
        manifest["chosen_start"] = str(starts_table.loc[starts_table["chosen"], "start"].item())
    if settle_factor:
        manifest["factor_rounds"] = factor_rounds
        manifest["factor_settled"] = unsettled is None
    with atomic_folder(out_dir) as tmp:
        table.to_csv(tmp / "choice_parameter.csv", index=False)
        corr_table.to_csv(tmp / CORRELATION_FILE, index=False)
        ptab.to_csv(tmp / "parameters.csv", index=False)
        cf.counts.to_csv(tmp / "counts.csv", index=False)
        pd.DataFrame(evaluations).to_csv(tmp / "evaluations.csv", index=False)
        if starts_table is not None:
            starts_table.to_csv(tmp / "starts.csv", index=False)
            pd.concat([pd.DataFrame(ev).assign(round=rnd,
                                               start=lb if st is not None else PRIORS)
                       for rnd, (lb, st, _, ev) in all_fits], ignore_index=True).to_csv(
                tmp / "start_evaluations.csv", index=False)
        cal.to_csv(tmp / "calibration.csv", index=False)
        summary.to_csv(tmp / "calibration_summary.csv", index=False)
        if cv is not None:
            cv[0].to_csv(tmp / "crossval.csv", index=False)
            cv[1].to_csv(tmp / "crossval_summary.csv", index=False)
            cv[2].to_csv(tmp / "crossval_folds.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float),
                                           encoding="utf-8")
    if write and not fit_ok:
        out.print("the fit did not converge: choice_parameter.csv is not written into the "
                  "dataset", highlight=False)
    elif write:
        # the correlations first: a run stopped between the two leaves the previous values
        # with the new fit's correlations, which explore refuses with a fix where the names
        # differ; never new values drawn without their fit's correlations
        atomic_write_text(dataset.folder / CORRELATION_FILE, corr_table.to_csv(index=False))
        atomic_write_text(dataset.folder / "choice_parameter.csv",
                          table.to_csv(index=False))
    shown = pd.concat([display_summary(sum_before, "prior"),
                       display_summary(sum_after, "calibrated")],
                      ignore_index=True).rename(columns={"scenario": "parameters"})
    fmt = {"prior": "{:.4g}", "prior_std_error": "{:.3g}", "value": "{:.4g}",
           "std_error": "{:.3g}", "shrinkage": "{:.2f}", "lower": "{:g}", "upper": "{:g}"}
    rows = cf.counts.assign(ratio_prior=cf.counts["modelled_prior"] / cf.counts["observed"],
                            ratio=cf.counts["modelled"] / cf.counts["observed"])
    how = "maximum a posteriori with each parameter's prior" if prior else "no prior"
    tables = [
        SummaryTable(f"Choice parameters ({how}): {f.evaluations} evaluations, {runs['n']} "
                     f"runs, {'converged' if f.success else 'NOT converged'} ({f.message}); "
                     f"weighted sum of squares of the fit rows {2 * f.cost:,.1f}, prior "
                     f"penalty {f.prior_penalty:,.1f}, data variances x {f.chi2_scale:.3g} "
                     + (f"(fixed; the reduced chi-square at the solution is "
                        f"{f.reduced_chi2:.3g})" if f.chi2_scale_fixed else
                        f"(reduced chi-square, {f.scale_rounds} repeated fits)")
                     + "; shrinkage = standard error / prior standard error", ptab, fmt),
        SummaryTable(f"Fit and validation, prior and calibrated parameters ({TARGETS})", shown,
                     {"median |ln M/C|": "{:.2f}", "GEH<5": "{:.1%}"}),
        SummaryTable("Fit rows used", rows[["observed_id", "year", "observed", "modelled_prior",
                                            "modelled", "ratio_prior", "ratio"]],
                     {"observed": "{:,.0f}", "modelled_prior": "{:,.0f}", "modelled": "{:,.0f}",
                      "ratio_prior": "{:.2f}", "ratio": "{:.2f}"}),
    ]
    if cv is not None:
        how_cv = ("linearised refit" if crossval_evaluations <= 0 else
                  f"refit with the model, at most {crossval_evaluations} evaluations")
        tables.append(SummaryTable(
            f"Leave-one-source-out ({how_cv}): each source's fit rows predicted by a fit "
            "without them", cv[1], {"median_abs_log_ratio": "{:.2f}",
                                    "in_sample_median_abs_log_ratio": "{:.2f}"}))
    if starts_table is not None:
        shown_starts = starts_table[(["round", "variance_factor"] if settle_factor else [])
                                    + ["start", "objective", "weighted_ssq", "prior_penalty",
                                       "reduced_chi2", "evaluations", "success", "chosen"]]
        how_c = (f"one objective per round (weighted sum of squares / the round's factor, "
                 f"{factor:.6g} in the last" if settle_factor else
                 f"one objective (weighted sum of squares / {variance_factor:.6g}")
        tables.insert(0, SummaryTable(
            f"Starts: {how_c} + prior penalty); the lowest end point is the fit "
            f"({manifest['chosen_start']})",
            shown_starts, {"variance_factor": "{:.4g}", "objective": "{:,.2f}",
                           "weighted_ssq": "{:,.1f}", "prior_penalty": "{:,.1f}",
                           "reduced_chi2": "{:.3g}"}))
    print_tables(tables, out)
    for note in manifest["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    if starts_table is not None:
        # the last round's end points: one objective (earlier rounds minimised another)
        last = starts_table[starts_table["round"] == len(factor_rounds)]
        near = last[last["objective"] <= last["objective"].min() + STARTS_WITHIN]
        if len(near) > 1:
            span = {p.name: float(near[p.name].max() - near[p.name].min()) for p in params}
            out.print(f"end points within {STARTS_WITHIN:g} of the lowest objective "
                      f"({', '.join(near['start'])}): each parameter's range, "
                      + ", ".join(f"{n} {v:.3g}" for n, v in span.items())
                      + " (a spread the standard errors of one end point do not show)",
                      highlight=False)
        else:
            out.print(f"no other end point within {STARTS_WITHIN:g} of the lowest objective",
                      highlight=False)
    if manifest["at_bound"]:
        out.print(f"at a bound (no standard error): {', '.join(manifest['at_bound'])}",
                  highlight=False)
    for a, b, r in ident["correlated"]:
        out.print(f"weakly identified apart: {a} and {b} (correlation {r:+.2f})",
                  highlight=False)
    if ident["no_rows"]:
        out.print(f"moves no fit row: {', '.join(ident['no_rows'])}", highlight=False)
    moved = dict(ident.get("moved_unidentified", []))
    held = [n for n in ident["not_identified"] if n not in moved]
    if held:
        tail = (" (at the solution they reduce its prior's standard error by less than 10 %: "
                "it is held by the prior, with about the prior's standard error)" if prior else
                " (no standard error; use the prior)")
        out.print("not identified by the fit rows: " + ", ".join(held) + tail, highlight=False)
    if moved:
        out.print("not identified by the fit rows at the solution, yet moved from the prior: "
                  + ", ".join(f"{n} ({d:.1f} prior standard errors)" for n, d in moved.items())
                  + " (the rows pin it only together with other parameters, or the objective is "
                  "far from quadratic there; its standard error says little: read the value "
                  "with care)", highlight=False)
    out.print(f"rank of the weighted Jacobian (columns in prior standard errors): "
              f"{ident['rank']} of {ident['parameters']}; singular values "
              + ", ".join(f"{v:.3g}" for v in ident["singular_values"])
              + f"; condition number {ident['condition']:.3g}", highlight=False)
    for wd in ident["weak_directions"]:
        what = ("below the rank tolerance" if wd["below_rank_tolerance"] else
                "the fit rows know less than the prior")
        out.print(f"  weak direction (singular value {wd['singular_value']:.3g}, {what}): "
                  + ", ".join(f"{n} {v:+.2f}" for n, v in wd["parameters"]), highlight=False)
    if ident["unmoved_rows"]:
        out.print(f"fit rows moved by no parameter: {', '.join(ident['unmoved_rows'])}",
                  highlight=False)
    where = (f"{out_dir}/ and {dataset.folder / 'choice_parameter.csv'}" if write and fit_ok
             else f"{out_dir}/ (the dataset is unchanged: the fit did not converge, so --write "
                  "wrote nothing)" if write
             else f"{out_dir}/ (the dataset is unchanged; --write puts the values into it)")
    out.print(f"written to {where}", highlight=False)
    if not fit_ok:
        raise typer.Exit(1)
