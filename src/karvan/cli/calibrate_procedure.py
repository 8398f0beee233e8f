"""``karvan calibrate --procedure``: the dataset's whole estimation procedure in one command
(docs/dataset.md, Estimation settings): the choice parameters fitted from the priors with the
variance factor settled in rounds, then from three starts with the factor settled at the lowest
end point, then the OD demand estimated again with them; all on a copy of the dataset without its
OD estimate, written into the dataset only at the end and only with ``--write``."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import typer

from karvan.cli._app import console, out

#: the settings of the procedure on the built-in dataset (docs/dataset.md, Estimation settings)
DIFF_STEP = 0.5
MAX_EVALUATIONS = 40
#: the files the procedure writes into the dataset with --write, in this order: the
#: correlations before the parameters (explore refuses values without their correlations), the
#: OD estimate last (it is estimated with the parameters)
WRITTEN = ("choice_parameter_correlation.csv", "choice_parameter.csv", "od_estimate.csv")
#: the steps' folders in --out
STEPS = ("1-rounds", "2-parameters", "3-demand")


def calibrate_procedure(data: Path | None, out_dir: Path, *, write: bool, quiet: bool,
                        workers: int | None, fit: list[str] | None,
                        diff_step: float | None, max_evaluations: int | None,
                        invoked: dict | None = None) -> None:
    """Run the three steps into ``out_dir`` (written whole, or not at all), then (``write``)
    copy the fitted tables and the OD estimate into the dataset.

    ``out_dir`` holds ``dataset/`` (the copy the steps fitted, with their tables), one folder
    per step (``1-rounds``, ``2-parameters``, ``3-demand``: each what the step's own command
    writes to its ``--out``) and ``manifest.json``.

    Raises
    ------
    typer.BadParameter
        --write on a dataset without a folder, a --diff-step that is not a finite number > 0.
    typer.Exit
        With code 1 when a step did not converge: nothing is written into the dataset, and
        ``out_dir`` is left as it was.
    """
    import math

    from karvan.freight.corridor import builtin_corridor_folder, load_corridor

    ds = DIFF_STEP if diff_step is None else float(diff_step)
    me = MAX_EVALUATIONS if max_evaluations is None else int(max_evaluations)
    if not (math.isfinite(ds) and ds > 0):
        raise typer.BadParameter(f"--diff-step must be a finite number > 0, got {ds}.")
    folder = Path(data) if data is not None else builtin_corridor_folder()
    # every problem of the dataset before anything runs (as --parameters reads it: a table
    # fitted to a row that is now validate is what the procedure replaces)
    load_corridor(folder, refit=("choice_parameter",), estimate=False)
    if write and not folder.is_dir():
        raise typer.BadParameter("--write needs a dataset folder.")
    fits = "".join(f" --fit {f}" for f in fit or [])
    t0 = time.perf_counter()

    at = {"step": 0}

    def step(k: int, what: str) -> None:
        at["step"] = k
        if not quiet:
            console.print(f"[bold]step {k} of 3[/]: {what} ({time.perf_counter() - t0:,.0f} s)",
                          highlight=False)

    try:
        manifest, third = _steps(folder, out_dir, step, write=write, quiet=quiet,
                                 workers=workers, fit=fit, ds=ds, me=me, fits=fits, t0=t0,
                                 invoked=invoked)
    except typer.Exit as e:
        if e.exit_code:
            out.print(f"the procedure stopped at step {at['step']} of 3 (it did not converge): "
                      f"{out_dir} is left as it was and nothing is written into the dataset",
                      highlight=False)
        raise

    if write:
        from karvan.io.atomic import atomic_write_text

        for name in WRITTEN:
            atomic_write_text(folder / name,
                              (out_dir / "dataset" / name).read_text(encoding="utf-8"))
    rounds = " → ".join(f"{r['variance_factor']:.4g}" for r in manifest["factor_rounds"])
    out.print(f"the procedure in {manifest['seconds']:,.0f} s: variance factor {rounds} "
              f"({'settled' if manifest['factor_settled'] else 'NOT settled'}), lowest end point "
              f"from {manifest['chosen_start']}, OD demand {third['demand_t']['prior'] / 1e6:,.2f}"
              f" -> {third['demand_t']['estimate'] / 1e6:,.2f} Mt", highlight=False)
    out.print(f"written to {out_dir}/ and "
              + (f"{', '.join(WRITTEN)} of {folder}" if write else
                 "nothing else (the dataset is unchanged; --write puts the three tables into it)"),
              highlight=False)


def _steps(folder: Path, out_dir: Path, step, *, write: bool, quiet: bool,
           workers: int | None, fit: list[str] | None, ds: float, me: int, fits: str,
           t0: float, invoked: dict | None):
    """The three steps into ``out_dir`` (whole or not at all); the procedure's manifest and
    step 3's."""
    import datetime

    from karvan._version import __version__
    from karvan.cli.calibrate import _estimate_od
    from karvan.cli.calibrate_parameters import PRIORS, calibrate_parameters
    from karvan.io.atomic import atomic_folder
    from karvan.io.hashing import hash_folder

    with atomic_folder(out_dir) as tmp:
        work = tmp / "dataset"
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns("od_estimate.csv",
                                                                    "__pycache__"))
        before = tmp / "choice_parameter_before.csv"
        shutil.copyfile(folder / "choice_parameter.csv", before)
        step(1, "the choice parameters from the priors, the variance factor settled in rounds")
        calibrate_parameters(work, tmp / STEPS[0], fit=fit, write=False, gap=1e-10,
                             max_evaluations=me, diff_step=ds, quiet=quiet, workers=workers,
                             invoked=invoked,
                             recorded_command=f"karvan calibrate --procedure (step 1 of 3: "
                                              f"--parameters{fits} --diff-step {ds:g} "
                                              f"--max-evaluations {me})")
        first = json.loads((tmp / STEPS[0] / "manifest.json").read_text(encoding="utf-8"))
        factor = round(float(first["chi2_scale"]), 2)
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
        _estimate_od(work, tmp / STEPS[2], prior_rse=0.5, max_factor=3.0, tol=1e-3,
                     max_iter=20, gap=1e-10, choice="logit", write=True, quiet=quiet,
                     invoked=invoked or {})
        second = json.loads((tmp / STEPS[1] / "manifest.json").read_text(encoding="utf-8"))
        third = json.loads((tmp / STEPS[2] / "manifest.json").read_text(encoding="utf-8"))
        manifest = {
            "karvan_version": __version__,
            "date": datetime.date.today().isoformat(),
            "method": "the dataset's estimation procedure (docs/dataset.md, Estimation "
                      "settings): choice parameters from the priors with the variance factor "
                      "settled in rounds; from three starts with the factor settled at the "
                      "lowest end point; the OD demand estimated again",
            "dataset": str(folder),
            "inputs_sha256_16": hash_folder(folder),
            "invocation": invoked or {},
            "settings": {"diff_step": ds, "max_evaluations": me, "fit": fit},
            "first_factor": factor,
            "factor_rounds": second.get("factor_rounds", []),
            "factor": second["chi2_scale"],
            "factor_settled": second.get("factor_settled"),
            "objective": second["objective"],
            "chosen_start": {PRIORS: "the priors",
                             str(tmp / STEPS[0] / "choice_parameter.csv"): "step 1's table",
                             str(before): "the dataset's table"}.get(
                                 second.get("chosen_start"), second.get("chosen_start")),
            "demand_t": third["demand_t"],
            "seconds": round(time.perf_counter() - t0, 1),
            "written_to_dataset": bool(write),
            "steps": list(STEPS),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float),
                                           encoding="utf-8")
    return manifest, third
