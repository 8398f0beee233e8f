"""``karvan calibrate --procedure``: the dataset's whole estimation procedure in one command
(docs/dataset.md, Estimation settings): the choice parameters fitted from the priors with the
variance factor settled in rounds, then from three starts with the factor settled at the lowest
end point, then the OD demand estimated again with them; all on a copy of the dataset without its
OD estimate, written into the dataset only at the end and only with ``--write``."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import typer

from karvan.cli._app import console, out

#: the settings of the procedure on the built-in dataset (docs/dataset.md, Estimation settings)
DIFF_STEP = 0.5
MAX_EVALUATIONS = 40
#: the files the procedure writes into the dataset with --write, all in one last step
WRITTEN = ("choice_parameter_correlation.csv", "choice_parameter.csv", "od_estimate.csv")
#: the steps' folders in --out
STEPS = ("1-rounds", "2-parameters", "3-demand")
#: the dataset's table as it was, kept in --out (a start of step 2)
BEFORE = "choice_parameter_before.csv"


def calibrate_procedure(data: Path | None, out_dir: Path, *, write: bool, quiet: bool,
                        workers: int | None, fit: list[str] | None,
                        diff_step: float | None, max_evaluations: int | None,
                        invoked: dict | None = None) -> None:
    """Run the three steps into ``out_dir``, then (``write``) put the fitted tables and the OD
    estimate into the dataset; both in one last step each, whole or not at all.

    ``out_dir`` holds ``dataset/`` (the copy the steps fitted, with their tables), one folder
    per step (``1-rounds``, ``2-parameters``, ``3-demand``: what the step's own command writes
    to its ``--out``, naming ``out_dir``'s paths), ``choice_parameter_before.csv`` (the dataset's
    table as it was, a start of step 2) and ``manifest.json``. With ``write`` the dataset's
    three files are replaced together just before ``out_dir`` is put in place, so a run that
    stops leaves both as they were; without ``data`` that dataset is the installed package's
    built-in one, as for ``karvan calibrate --write``.

    Raises
    ------
    typer.BadParameter
        A --diff-step that is not a finite number > 0; --out and the dataset folder the same,
        or one inside the other; --write on a dataset folder this process may not write to.
    typer.Exit
        With code 1 when a step did not converge (or step 1 left no factor to start from):
        ``out_dir`` and the dataset are left as they were, and the run says at which step.
    """
    from karvan.freight.corridor import builtin_corridor_folder, load_corridor
    from karvan.scenario._signals import sigterm_raises

    ds = DIFF_STEP if diff_step is None else float(diff_step)
    me = MAX_EVALUATIONS if max_evaluations is None else int(max_evaluations)
    if not (math.isfinite(ds) and ds > 0):
        raise typer.BadParameter(f"--diff-step must be a finite number > 0, got {ds}.")
    folder = Path(data) if data is not None else builtin_corridor_folder()
    a, b = folder.resolve(), Path(out_dir).resolve()
    if a == b or a in b.parents or b in a.parents:
        raise typer.BadParameter(
            f"--out {out_dir} and the dataset {folder} "
            + ("are the same folder" if a == b else "lie one inside the other")
            + ": --out is replaced whole, so it must be a folder of its own, outside the "
              "dataset (for example --out calibration beside it).")
    if write and not os.access(folder, os.W_OK):
        raise typer.BadParameter(f"--write: {folder} cannot be written to by this process; "
                                 "copy the dataset (karvan data copy DIR) and give --data DIR.")
    # every problem of the dataset before anything runs, as the steps read it: with --fit a
    # subset, the tables' other fitted rows stay, and step 3 reads them as they are
    load_corridor(folder, refit=() if fit else ("choice_parameter",), estimate=False)
    fits = "".join(f" --fit {f}" for f in fit or [])
    t0 = time.perf_counter()
    at = {"step": 0}

    def step(k: int, what: str) -> None:
        at["step"] = k
        if not quiet:
            console.print(f"[bold]step {k} of 3[/]: {what} ({time.perf_counter() - t0:,.0f} s)",
                          highlight=False)

    if not quiet:
        console.print(f"the steps fit a copy of the dataset ({out_dir}/dataset); "
                      + (f"the fitted tables go into {folder} at the end"
                         if write else "the dataset itself is not changed (no --write)"),
                      highlight=False)
    try:
        with sigterm_raises():
            manifest, third = _steps(folder, Path(out_dir), step, write=write, quiet=quiet,
                                     workers=workers, fit=fit, ds=ds, me=me, fits=fits, t0=t0,
                                     invoked=invoked)
    except typer.Exit as e:
        if e.exit_code:
            out.print(f"the procedure stopped at step {at['step']} of 3: {out_dir} is left as "
                      "it was and nothing is written into the dataset (the step's report is "
                      "above; run its own command, docs/dataset.md, Estimation settings, to "
                      "keep it)", highlight=False)
        raise
    rounds = " → ".join(f"{r['variance_factor']:.4g}" for r in manifest["factor_rounds"])
    out.print(f"the procedure in {manifest['seconds']:,.0f} s: variance factor {rounds} "
              f"({'settled' if manifest['factor_settled'] else 'NOT settled'}), lowest end point "
              f"from {manifest['chosen_start']}, OD demand {third['demand_t']['prior'] / 1e6:,.2f}"
              f" -> {third['demand_t']['estimate'] / 1e6:,.2f} Mt", highlight=False)
    out.print(f"written to {out_dir}/ and "
              + (f"{', '.join(WRITTEN)} of {folder}" if write else
                 "nothing else (the dataset is unchanged; --write puts the three tables into it)"),
              highlight=False)


def _relabel(label: str | None, names: dict[str, str]) -> str | None:
    return names.get(label, label) if label is not None else None


def _steps(folder: Path, out_dir: Path, step, *, write: bool, quiet: bool,
           workers: int | None, fit: list[str] | None, ds: float, me: int, fits: str,
           t0: float, invoked: dict | None):
    """The three steps into ``out_dir`` and (``write``) the dataset's three files, each whole
    or not at all; the procedure's manifest and step 3's.

    Raises
    ------
    typer.Exit
        With code 1 where a step did not converge or step 1 left no factor to start from.
    """
    import datetime

    from karvan._version import __version__
    from karvan.cli import calibrate as cal
    from karvan.cli.calibrate_parameters import PRIORS, calibrate_parameters
    from karvan.io.atomic import atomic_files, atomic_folder
    from karvan.io.hashing import hash_folder

    inputs = hash_folder(folder)
    with atomic_folder(out_dir) as tmp:
        work = tmp / "dataset"
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(
            "od_estimate.csv", "__pycache__", ".*"))
        before = tmp / BEFORE
        shutil.copyfile(work / "choice_parameter.csv", before)
        step(1, "the choice parameters from the priors, the variance factor settled in rounds")
        calibrate_parameters(work, tmp / STEPS[0], fit=fit, write=False, gap=1e-10,
                             max_evaluations=me, diff_step=ds, quiet=quiet, workers=workers,
                             invoked=invoked,
                             recorded_command=f"karvan calibrate --procedure (step 1 of 3: "
                                              f"--parameters{fits} --diff-step {ds:g} "
                                              f"--max-evaluations {me})")
        first = json.loads((tmp / STEPS[0] / "manifest.json").read_text(encoding="utf-8"))
        factor = round(float(first["chi2_scale"]), 2)
        if not (math.isfinite(factor) and factor > 0):
            out.print(f"step 1's last reduced chi-square, {first['chi2_scale']}, is no factor to "
                      "start step 2 from (it must be a finite number >= 0.005): the fit rows "
                      "leave no degree of freedom to measure the data's variances",
                      highlight=False)
            raise typer.Exit(1)
        step(2, f"the choice parameters from three starts (the priors, step 1's end point, "
                f"the dataset's table), the factor settled from {factor:g} at the lowest end "
                "point")
        calibrate_parameters(work, tmp / STEPS[1], fit=fit, write=True, gap=1e-10,
                             max_evaluations=me, diff_step=ds, quiet=quiet, crossval=True,
                             workers=workers,
                             start_from=[PRIORS, str(tmp / STEPS[0] / "choice_parameter.csv"),
                                         str(before)],
                             variance_factor=factor, settle_factor=True, invoked=invoked,
                             recorded_command=f"karvan calibrate --procedure (step 2 of 3: "
                                              f"--parameters{fits} --diff-step {ds:g} "
                                              f"--max-evaluations {me} --crossval "
                                              f"--variance-factor {factor:g} --settle-factor; "
                                              "starts: the priors, step 1's table, the "
                                              "dataset's table before)")
        step(3, "the OD demand estimated again with the fitted parameters")
        cal._estimate_od(work, tmp / STEPS[2], prior_rse=cal.OD_PRIOR_RSE,
                         max_factor=cal.OD_MAX_FACTOR, tol=cal.OD_TOL, max_iter=cal.OD_MAX_ITER,
                         gap=1e-10, choice="logit", write=True, quiet=quiet,
                         invoked=invoked or {})
        # the steps' reports name the folder they were written in; name --out's instead
        for path in (p for s in STEPS for p in (tmp / s).iterdir()
                     if p.suffix in (".json", ".csv")):
            text = path.read_text(encoding="utf-8")
            if str(tmp) in text:
                path.write_text(text.replace(str(tmp), str(out_dir)), encoding="utf-8")
        second = json.loads((tmp / STEPS[1] / "manifest.json").read_text(encoding="utf-8"))
        third = json.loads((tmp / STEPS[2] / "manifest.json").read_text(encoding="utf-8"))
        names = {PRIORS: "the priors",
                 str(out_dir / STEPS[0] / "choice_parameter.csv"): "step 1's table",
                 str(out_dir / BEFORE): "the dataset's table"}
        manifest = {
            "karvan_version": __version__,
            "date": datetime.date.today().isoformat(),
            "method": "the dataset's estimation procedure (docs/dataset.md, Estimation "
                      "settings): choice parameters from the priors with the variance factor "
                      "settled in rounds; from three starts with the factor settled at the "
                      "lowest end point; the OD demand estimated again",
            "command": "karvan calibrate --procedure" + fits + f" --diff-step {ds:g}"
                       + f" --max-evaluations {me}" + (" --write" if write else ""),
            "dataset": str(folder),
            "inputs_sha256_16": inputs,
            "invocation": invoked or {},
            "settings": {"diff_step": ds, "max_evaluations": me, "fit": fit},
            "demand": second.get("demand"),
            "first_factor": factor,
            "factor_rounds": [{**r, "lowest_start": _relabel(r.get("lowest_start"), names)}
                              for r in second.get("factor_rounds", [])],
            "factor": second["chi2_scale"],
            "factor_settled": second.get("factor_settled"),
            "objective": second["objective"],
            "chosen_start": _relabel(second.get("chosen_start"), names),
            "demand_t": third["demand_t"],
            "seconds": round(time.perf_counter() - t0, 1),
            "written_to_dataset": bool(write),
            "steps": list(STEPS),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float),
                                           encoding="utf-8")
        if write:
            # the three files together (a stop leaves the dataset's own three), then --out
            with atomic_files(folder) as stage:
                for name in WRITTEN:
                    shutil.copyfile(work / name, stage / name)
    return manifest, third
