"""What an experiment says: percentile bands, scenario effects, probabilities of statements and
the inputs that decide each answer.

- **Bands**: per scenario and output, the central value (the dataset's figures) and the mean,
  standard deviation and percentiles p5, p25, p50, p75, p95 over the draws.
- **Effects**: a scenario against its like-year reference, draw by draw (both are evaluated at
  the same input values, so the difference carries no sampling noise of its own), as outputs
  ``effect:<output>`` with their bands; ``effect:users_benefit_usd`` is the fall of
  ``total:expected_cost_usd`` (the demand times each pair's expected generalized cost), the
  users' benefit, where the scenario carries the reference's demand.
- **Statements**: claims a summary makes ("INSTC West is cheaper than Suez for Moscow-Mumbai",
  "Rasht-Astara moves freight west"), each a comparison of two outputs or of an effect with 0,
  with the share of draws in which it holds.
- **Sensitivity** of each statement's quantity: Sobol first and total order indices (Saltelli
  design) or Morris mu* and sigma (Morris design) by SALib, per factor or group, with
  confidence intervals; on a Latin hypercube, Spearman rank correlations (any number of factors,
  few draws). Factors that draw together (a fit's correlated parameters,
  :class:`~karvan.explore.inputs.Correlation`): a rank correlation is read on the drawn value,
  so it includes what the factor shares with those it is correlated with; a Sobol or Morris
  index on the design's independent dimension, which for a correlated factor is the part of its
  draw that the factors before it (in the fit's order) do not give, with what that part moves in
  the factors after it (:class:`~karvan.explore.inputs.Correlation`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, catch_warnings
from karvan.explore.experiment import Experiment
from karvan.freight.accounting import SEA_COUNTRIES, sea_leg_countries

log = logging.getLogger(__name__)

PERCENTILES = (5, 25, 50, 75, 95)
#: outputs whose scenario effect is a headline (statements are built for them)
WEST_OUTPUTS = ("border:AZ-IR_ASTARA:tonnes", "share:RU-IN:instc_west",
                "family:RU-IN:instc_west_rail")

#: how much a scenario must move freight west for the statements of :data:`WEST_OUTPUTS` to
#: hold in a draw: 10 kt/yr across Astara, 0.1 percentage point of a share (an effect of
#: 1e-11 held in half the draws, and +2.4 kt across Astara in 81 %: rounding, not a move)
WEST_LEAST = {"border:AZ-IR_ASTARA:tonnes": 10_000.0, "share:RU-IN:instc_west": 0.001,
              "family:RU-IN:instc_west_rail": 0.001}


#: the effect that is the users' benefit of a scenario against its reference (USD/yr)
BENEFIT = "users_benefit_usd"


def _outputs(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("out:")]


def effects_frame(draws: pd.DataFrame, references: dict[str, str | None]) -> pd.DataFrame:
    """Draw-by-draw differences scenario - reference, as rows of scenario ``<S>`` with columns
    ``out:effect:<output>``. A link's or border's tonnes where one side has no such link or
    keeps the border closed (blank in every draw of that side: a project's new link, a border
    the scenario opens, or one it closes) count as 0 there, so that the link or border has an
    effect band; their utilization and prices have none (no capacity to compare with)."""
    frames = []
    for scen, ref in references.items():
        if not ref:
            continue
        a = draws[draws["scenario"] == scen].set_index("draw")
        b = draws[draws["scenario"] == ref].set_index("draw")
        # tonnes of a link or border one side lacks: a column blank in all its draws, or none
        # at all
        flows = [c for c in dict.fromkeys([*_outputs(a), *_outputs(b)])
                 if c.startswith(("out:link:", "out:border:")) and c.endswith(":tonnes")]
        cols = [c for c in _outputs(a) if c in b] + [c for c in flows
                                                     if not (c in a and c in b)]
        ids = a.index.intersection(b.index)
        if not len(ids):
            continue
        mine = a.reindex(index=ids, columns=cols).astype(float)
        base = b.reindex(index=ids, columns=cols).astype(float)
        for side in (mine, base):
            side[[c for c in flows if side[c].isna().all()]] = 0.0
        x = mine.to_numpy(dtype=float) - base.to_numpy(dtype=float)
        d = pd.DataFrame(x, columns=[f"out:effect:{c[4:]}" for c in cols])
        if {"out:total:expected_cost_usd", "out:total:demand_t"} <= set(cols):
            # the users' benefit: the fall of the demand's expected cost, where the scenario
            # carries the reference's demand (else the rule of a half, pair by pair, would be
            # needed: karvan compare gives it)
            dem = mine["out:total:demand_t"].to_numpy()
            same = np.abs(dem - base["out:total:demand_t"].to_numpy()) <= 1e-9 * np.abs(dem)
            d[f"out:effect:{BENEFIT}"] = np.where(
                same, -d["out:effect:total:expected_cost_usd"].to_numpy(), np.nan)
        head = pd.DataFrame({"draw": np.asarray(ids), "scenario": scen})
        frames.append(pd.concat([head, d], axis=1))
    if not frames:
        return pd.DataFrame(columns=["scenario", "draw"])
    return pd.concat(frames, ignore_index=True)


def unconverged_draws(draws: pd.DataFrame) -> dict[str, set[int]]:
    """The draws (>= 0) of each scenario whose equilibrium did not reach its gap (column
    ``_converged`` 0); their outputs count in the bands like the others, and the bands and
    statements say how many there were."""
    if "_converged" not in draws:
        return {}
    bad = draws[(draws["draw"] >= 0) & (pd.to_numeric(draws["_converged"]) == 0)]
    return {str(s): set(g["draw"].astype(int)) for s, g in bad.groupby("scenario")}


def bands(draws: pd.DataFrame, references: dict[str, str | None] | None = None) -> pd.DataFrame:
    """Bands of every output (and effect) of every scenario.

    Returns
    -------
    DataFrame
        ``scenario, output, kind (level | effect), reference, central, mean, sd, p5, p25,
        p50, p75, p95, n, n_unconverged, central_percentile, central_in_band`` (n: draws with a
        finite value; n_unconverged: those of them whose equilibrium, or for an effect the
        scenario's or its reference's, did not reach its gap; central_percentile: the share of
        those draws below the central case, in %, ties counted half; central_in_band: whether
        P5 <= central <= P95, to rounding, blank where either is not finite).

    Notes
    -----
    The central case takes every input at its median (the dataset's figure, a factor of 1),
    but the median of a sum of many inputs is not the sum of their medians: each lognormal
    factor has mean ``exp(sigma^2 / 2)`` (1.13 at sigma 0.5), and a total over many
    independent factors concentrates near the sum of their means. Bands of totals sit above
    the central case, which can fall outside P5-P95 (``central_in_band`` False).
    """
    references = references or {}
    eff = effects_frame(draws, references)
    bad = unconverged_draws(draws)
    rows = []
    for kind, df in (("level", draws), ("effect", eff)):
        if not len(df):
            continue
        for scen, sub in df.groupby("scenario", sort=False):
            central = sub[sub["draw"] == -1]
            d = sub[sub["draw"] >= 0]
            cols = _outputs(sub)
            x = d[cols].to_numpy(dtype=float)
            fin = np.isfinite(x)
            n = fin.sum(axis=0)
            # columns without a finite value (or, for sd, with one) stay NaN: computed only
            # where they are defined, so that no warning needs catching (filters are the
            # process's, and the dashboard analyses in a thread beside running jobs)
            q = np.full((len(PERCENTILES), len(cols)), np.nan)
            mean = np.full(len(cols), np.nan)
            sd = np.full(len(cols), np.nan)
            some, two = n > 0, n > 1
            if some.any():
                q[:, some] = np.nanpercentile(x[:, some], PERCENTILES, axis=0)
                mean[some] = np.nanmean(x[:, some], axis=0)
            if two.any():
                sd[two] = np.nanstd(x[:, two], axis=0, ddof=1)
            cen = central[cols].to_numpy(dtype=float)[0] if len(central) else np.full(
                len(cols), np.nan)
            off = bad.get(str(scen), set())
            if kind == "effect":
                off = off | bad.get(str(references.get(scen)), set())
            ids = d["draw"].astype(int).isin(off).to_numpy()
            n_bad = (fin & ids[:, None]).sum(axis=0)
            # where the central case lies among the draws (ties count half)
            below = (fin & (x < cen[None, :])).sum(axis=0)
            tied = (fin & (x == cen[None, :])).sum(axis=0)
            at = np.where((n > 0) & np.isfinite(cen), 100.0 * (below + 0.5 * tied)
                          / np.maximum(n, 1), np.nan)
            for j, c in enumerate(cols):
                rows.append((scen, c[4:], kind, references.get(scen) if kind == "effect" else None,
                             cen[j], mean[j], sd[j], *q[:, j], int(n[j]), int(n_bad[j]), at[j]))
    out = pd.DataFrame(rows, columns=["scenario", "output", "kind", "reference", "central",
                                      "mean", "sd"] + [f"p{p}" for p in PERCENTILES]
                       + ["n", "n_unconverged", "central_percentile"])
    out["central_in_band"] = central_in_band(out["central"], out["p5"], out["p95"])
    return out


def central_in_band(central, low, high) -> pd.Series:
    """Whether each ``central`` lies in ``low..high`` (P5..P95), to rounding (1e-9 of the
    largest of the three; an effect that is the same in every draw is in its band); NA where
    one of them is not finite."""
    c, lo, hi = (np.asarray(x, dtype=float) for x in (central, low, high))
    fin = np.isfinite(c) & np.isfinite(lo) & np.isfinite(hi)
    with np.errstate(invalid="ignore"):
        tol = 1e-9 * np.fmax(np.fmax(np.abs(c), np.abs(lo)), np.abs(hi))
        inside = (lo - tol <= c) & (c <= hi + tol)
    return pd.Series(pd.array(np.where(fin, inside, None), dtype="boolean"),
                     index=getattr(central, "index", None))


@dataclass(frozen=True, slots=True)
class Statement:
    """A claim: ``left op right`` in a scenario, ``left``/``right`` output names (``effect:...``
    for effects) or numbers."""

    statement_id: str
    text: str
    scenario: str
    left: str
    op: str
    right: str | float


#: the countries whose transit a scenario changes most, at the central values, that get a
#: statement of their own, and the least change that counts (t/yr)
TRANSIT_STATEMENTS, TRANSIT_LEAST_T = 3, 10_000.0


def default_statements(outputs: dict[str, list[str]], references: dict[str, str | None],
                       names: dict[str, str] | None = None,
                       central: pd.DataFrame | None = None,
                       sea_countries: Collection[str] = SEA_COUNTRIES) -> list[Statement]:
    """The statements of the corridor summary for the outputs each scenario has: every route
    option against Suez for each shipper pair, and, for each scenario with a reference, whether
    it moves freight west (more tonnes across Astara, a larger INSTC West share of Russia-India
    freight) and, given the bands' ``central`` effects, whether it raises (or lowers) the
    transit of the :data:`TRANSIT_STATEMENTS` countries whose transit it changes most in the
    central case (by :data:`TRANSIT_LEAST_T` or more; not ``sea_countries``, whose links are
    all sea legs: the Caspian, the open sea, Egypt's Suez Canal): how sure Armenia's gain from
    an opened border is, say."""
    names = names or {}
    out = []
    moved: dict[str, list[tuple[str, float]]] = {}
    sea = set(sea_countries)
    if central is not None and len(central):
        c = central[central["output"].astype(str).str.fullmatch(
            r"effect:country:[^:]+:transit_tonnes")]
        for scen, g in c.groupby("scenario", sort=False):
            g = g.assign(_v=pd.to_numeric(g["central"], errors="coerce"))
            g = g[g["_v"].abs() >= TRANSIT_LEAST_T]  # (assigned to none, a column made rows)
            g = g.iloc[np.argsort(-g["_v"].abs().to_numpy(), kind="stable")]
            found = [(str(o).split(":")[2], float(x))
                     for o, x in zip(g["output"], g["_v"], strict=True)]
            moved[str(scen)] = [(k, x) for k, x in found if k not in sea][:TRANSIT_STATEMENTS]
    for scen, outs in outputs.items():
        have = set(outs)
        for o in outs:
            if not (o.startswith("shipper:") and o.endswith(":suez:cost_usd_per_t")):
                continue
            base = o[: -len(":suez:cost_usd_per_t")]
            _, od, com = base.split(":")
            for alt in sorted(x for x in have if x.startswith(base + ":")
                              and x.endswith(":cost_usd_per_t") and x != o):
                opt = alt[len(base) + 1: -len(":cost_usd_per_t")]
                label = names.get(opt, opt)
                out.append(Statement(f"{scen}:{od}:{com}:{opt}_cheaper_than_suez",
                                     f"{label} is cheaper than Suez for {od} ({com})", scen, alt,
                                     "<", o))
        ref = references.get(scen)
        if ref and "total:expected_cost_usd" in have:
            out.append(Statement(f"{scen}:users_benefit",
                                 f"{scen} lowers shippers' expected generalized cost against "
                                 f"{ref} (a users' benefit)", scen, f"effect:{BENEFIT}", ">",
                                 0.0))
        if ref:
            for o in WEST_OUTPUTS:
                if o in have:
                    what = ("raises tonnes across Astara (AZ-IR) by 10 kt/yr or more"
                            if o.startswith("border")
                            else "raises INSTC West's share of Russia-India freight by 0.1 "
                            "percentage point or more"
                            if o.startswith("share:") else "raises the share of Russia-India "
                            "freight that chooses INSTC West by rail (logit) by 0.1 percentage "
                            "point or more")
                    out.append(Statement(f"{scen}:moves_west:{o}",
                                         f"{scen} {what} against {ref}", scen, f"effect:{o}",
                                         ">", WEST_LEAST[o]))
            for country, x in moved.get(scen, []):
                o = f"country:{country}:transit_tonnes"
                if o in have:
                    up = x > 0
                    out.append(Statement(
                        f"{scen}:transit:{country}",
                        f"{scen} {'raises' if up else 'lowers'} {country}'s transit tonnes "
                        f"against {ref}", scen, f"effect:{o}", ">" if up else "<", 0.0))
    return out


def _quantity(df: pd.DataFrame, s: Statement) -> np.ndarray:
    left = df[f"out:{s.left}"].to_numpy(dtype=float)
    right = (df[f"out:{s.right}"].to_numpy(dtype=float) if isinstance(s.right, str)
             else np.full(len(df), float(s.right)))
    return left - right if s.op == ">" else right - left


def statement_table(draws: pd.DataFrame, statements: list[Statement],
                    references: dict[str, str | None]) -> tuple[pd.DataFrame, dict]:
    """Probability of each statement (share of draws where it holds) and its value in the
    central case; also the quantity (> 0 where the statement holds) per draw, for
    sensitivity."""
    eff = effects_frame(draws, references)
    bad = unconverged_draws(draws)
    rows, quantities = [], {}
    for s in statements:
        src = eff if s.left.startswith("effect:") else draws
        sub = src[src["scenario"] == s.scenario].sort_values("draw")
        need = [f"out:{s.left}"] + ([f"out:{s.right}"] if isinstance(s.right, str) else [])
        if not len(sub) or any(c not in sub for c in need):
            continue
        q = _quantity(sub, s)
        draw = sub["draw"].to_numpy()
        d = draw >= 0
        fin = np.isfinite(q) & d
        central = q[draw == -1]
        p = float((q[fin] > 0).mean()) if fin.any() else float("nan")
        off = bad.get(str(s.scenario), set())
        if s.left.startswith("effect:"):
            off = off | bad.get(str(references.get(s.scenario)), set())
        n_bad = int(np.isin(draw[fin], list(off)).sum()) if off else 0
        rows.append((s.statement_id, s.text, s.scenario, s.left, s.op, s.right, p,
                     int(fin.sum()), n_bad, bool(central[0] > 0) if len(central) and np.isfinite(
                         central[0]) else None))
        quantities[s.statement_id] = (draw[d], q[d])
    df = pd.DataFrame(rows, columns=["statement_id", "text", "scenario", "left", "op", "right",
                                     "probability", "n", "n_unconverged", "central_holds"])
    return df, quantities


def sensitivity(design_u: np.ndarray, problem: dict, sampler: str, y: np.ndarray, *,
                seed: int = 0) -> pd.DataFrame:
    """Sensitivity indices of one output ``y`` (one value per design point, in design order).

    Returns
    -------
    DataFrame
        One row per factor (or group): ``factor``, ``method`` and, for ``sobol``: ``S1``,
        ``S1_conf``, ``ST``, ``ST_conf``; ``morris``: ``mu_star``, ``mu_star_conf``,
        ``sigma``; ``lhs``: ``rho``, ``rho2``, ``rho_low``, ``rho_high`` (rank correlation).
        An output that does not vary, or has non-finite values, gives no rows.
    """
    y = np.asarray(y, dtype=float)
    if not np.isfinite(y).all() or np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        return pd.DataFrame(columns=["factor", "method"])
    names = list(dict.fromkeys(problem.get("groups", problem["names"])))
    with catch_warnings():
        # SALib's own notes and its numpy warnings only: a filter on every warning of a
        # category hid, for its duration, what other threads (the dashboard's jobs) warned of
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=SALIB)
        warnings.filterwarnings("ignore", category=UserWarning, module=SALIB)
        if sampler == "sobol":
            from SALib.analyze import sobol

            # SALib takes a seed of 0 for none (its intervals then change from one analysis to
            # the next): a seed that is never 0
            r = sobol.analyze(problem, y, calc_second_order=False,
                              seed=int(seed) % (2**31 - 1) + 1)
            return pd.DataFrame({"factor": names, "method": "sobol", "S1": r["S1"],
                                 "S1_conf": r["S1_conf"], "ST": r["ST"],
                                 "ST_conf": r["ST_conf"]})
        if sampler == "morris":
            from SALib.analyze import morris

            from karvan.explore.sampling import MORRIS_LEVELS

            r = morris.analyze(problem, design_u, y, num_levels=MORRIS_LEVELS, seed=seed)
            # the design's steps span 1 - 1/levels of the grid's (its levels are strata
            # centres): effects per unit of each input's probability range, as on SALib's grid
            k = 1.0 / (1.0 - 1.0 / MORRIS_LEVELS)
            return pd.DataFrame({"factor": list(r["names"]), "method": "morris",
                                 "mu_star": k * np.asarray(r["mu_star"]),
                                 "mu_star_conf": k * np.asarray(r["mu_star_conf"]),
                                 "sigma": k * np.asarray(r["sigma"])})
    return rank_correlation(design_u, y, list(problem["names"]))


#: the modules whose warnings the sensitivity analysis silences (``warnings`` filters' module)
SALIB = r"SALib(\.|$)"


#: the fewest draws whose rank correlations get an interval (Fisher's z needs about ten)
MIN_DRAWS_RANK = 10


def rank_correlation(u: np.ndarray, y: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Spearman rank correlation of ``y`` with each factor of a Latin hypercube, its square
    ``rho2`` (the share of the ranks' variance one factor explains alone, for independent
    factors) and a confidence interval from Fisher's z at 95 % for all factors together
    (Bonferroni: each at 1 - 0.05 / n_factors, so that among hundreds of factors a few do not
    look influential by chance), with Fieller, Hartley and Pearson's variance 1.06 / (n - 3)
    for a rank correlation; cheap for any number of factors.

    Below :data:`MIN_DRAWS_RANK` draws no interval is given (-1 to 1): Fisher's z does not hold
    there, and at 2 draws every factor had rho = +-1 and looked influential; at 8 it called a
    rho of 0.976 significant among 491 factors, which the exact null of the ranks (2 of the
    8! orders reach it) puts at a chance of about 0.2 for some factor.
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    n = len(y)
    ru = rankdata(u, axis=0)
    ry = rankdata(y)
    ru = (ru - ru.mean(axis=0)) / ru.std(axis=0)
    ry = (ry - ry.mean()) / ry.std()
    rho = np.clip((ru * ry[:, None]).mean(axis=0), -1.0, 1.0)
    if n < MIN_DRAWS_RANK:
        lo, hi = np.full(len(names), -1.0), np.full(len(names), 1.0)
    else:
        half = float(ndtri(1.0 - 0.05 / (2 * max(len(names), 1)))) * np.sqrt(1.06 / (n - 3))
        z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
        lo, hi = np.tanh(z - half), np.tanh(z + half)
    return pd.DataFrame({"factor": names, "method": "spearman", "rho": rho, "rho2": rho**2,
                         "rho_low": lo, "rho_high": hi})


def significant(sens: pd.DataFrame) -> np.ndarray:
    """Rows whose index is distinguishable from 0 at 95 %: ST - ST_conf > 0, mu* - conf > 0,
    or a rank correlation whose interval excludes 0."""
    if "ST" in sens:
        return (sens["ST"] - sens["ST_conf"] > 0).to_numpy()
    if "mu_star" in sens:
        return (sens["mu_star"] - sens["mu_star_conf"] > 0).to_numpy()
    if "rho_low" in sens:
        return ((sens["rho_low"] > 0) | (sens["rho_high"] < 0)).to_numpy()
    return np.zeros(len(sens), dtype=bool)


def importance(sens: pd.DataFrame) -> pd.Series:
    """One number per row to rank factors: ST (Sobol), mu* (Morris), rho^2 (rank
    correlation)."""
    for col in ("ST", "mu_star", "rho2"):
        if col in sens:
            return sens[col].astype(float)
    return pd.Series(np.nan, index=sens.index)


def _sea_countries(folder) -> list[str]:
    """The countries whose links are all sea legs (mode sea or ferry) in the dataset
    ``folder`` an experiment records, else :data:`SEA_COUNTRIES` (a folder gone or none)."""
    path = Path(str(folder)) / "link.csv" if folder else None
    if path is None or not path.is_file():
        return list(SEA_COUNTRIES)
    return sea_leg_countries(pd.read_csv(path, usecols=["country", "mode"], dtype=str))


def analyse_experiment(exp: Experiment, *, statements: list[Statement] | None = None,
                       option_names: dict[str, str] | None = None, top: int = 5,
                       sea_countries: Collection[str] | None = None) -> dict:
    """Write the bands, statements, sensitivity and chart tables of a complete experiment and
    return them.

    The tables are written together (:meth:`~karvan.explore.experiment.Experiment.write_tables`):
    an analysis that fails or is interrupted leaves the experiment's previous tables, every one.

    Raises
    ------
    InputError
        A Morris experiment whose design is not of this karvan's version
        (:data:`~karvan.explore.sampling.DESIGN_VERSION`; one drawn on SALib's grid, before the
        strata centres, must be run again), before anything is written.
    """
    m = exp.manifest()
    design = pd.read_parquet(exp.folder / "design.parquet")
    u = design[[c for c in design.columns if c.startswith("u:")]].to_numpy(dtype=float)
    if m.get("sampler") == "morris":
        _check_morris_design(exp, m, u)
    u = _ranked_u(m, design, u)
    draws = exp.draws()
    refs = {s: r for s, r in m.get("references", {}).items()}
    if sea_countries is None:
        sea_countries = _sea_countries(m.get("dataset"))
    for scen, ids in unconverged_draws(draws).items():
        log.warning("%s: %d of %d draws did not reach the equilibrium's gap; they count in the "
                    "bands and probabilities (column n_unconverged)", scen, len(ids),
                    int(((draws["scenario"] == scen) & (draws["draw"] >= 0)).sum()))
    b = bands(draws, refs)
    outs = {s: [c[4:] for c in _outputs(draws[draws["scenario"] == s].dropna(axis=1, how="all"))]
            for s in m.get("scenarios", [])}
    stmts = statements if statements is not None else default_statements(
        outs, refs, option_names, central=b[["scenario", "output", "central"]],
        sea_countries=sea_countries)
    st, quantities = statement_table(draws, stmts, refs)
    problem = _problem(exp, m, design)
    sens_rows = []
    for sid, (draw, q) in quantities.items():
        if len(draw) != len(u) or not np.array_equal(draw, np.arange(len(u))):
            continue
        s = sensitivity(u, problem, m.get("sampler", "lhs"), q, seed=int(m.get("seed", 0)))
        if len(s):
            s.insert(0, "statement_id", sid)
            sens_rows.append(s)
    sens = pd.concat(sens_rows, ignore_index=True) if sens_rows else pd.DataFrame(
        columns=["statement_id", "factor", "method"])
    if len(st):
        deciders = []
        for sid in st["statement_id"]:
            s = sens[sens["statement_id"] == sid]
            s = s[significant(s)]
            order = importance(s).sort_values(ascending=False).index[:3]
            deciders.append("; ".join(s.loc[order, "factor"].astype(str)))
        st["deciding_inputs"] = deciders
    tables = {"bands": b, "statements": st, "sensitivity": sens,
              "fan_chart": fan_chart_data(b, sea_countries=sea_countries),
              "tornado": tornado_data(sens, top=top)}
    # every table computed, then written together: a failure leaves the previous set whole
    exp.write_tables(tables, parquet=("bands",))
    return tables


def _ranked_u(manifest: dict, design: pd.DataFrame, u: np.ndarray) -> np.ndarray:
    """The points whose ranks a Latin hypercube's rank correlations read: the design's, with
    the factors that draw together (the manifest's ``correlation``) made dependent, so that a
    correlated factor's rho is its drawn value's (the part it shares with the factors it is
    correlated with included); other designs' indices are read on the design's own points."""
    from karvan.explore.inputs import Correlation

    corr = Correlation.from_manifest(manifest.get("correlation"))
    if corr is None or manifest.get("sampler", "lhs") != "lhs":
        return u
    return corr.apply(u, [c[2:] for c in design.columns if c.startswith("u:")])


def _problem(exp: Experiment, manifest: dict, design: pd.DataFrame) -> dict:
    """SALib's problem of an experiment's design: its factors, and its groups where the design
    drew by group (the manifest's ``design_group_of``, each factor's group; an experiment
    stored before it has only ``design_groups``, grouped by table and field or not at all)."""
    factors = [c[2:] for c in design.columns if c.startswith("u:")]
    groups = manifest.get("design_groups", factors)
    problem = {"num_vars": len(factors), "names": factors, "bounds": [[0.0, 1.0]] * len(factors)}
    group_of = manifest.get("design_group_of")
    if group_of is not None and len(group_of) == len(factors):
        if len(set(group_of)) != len(factors):
            problem["groups"] = list(group_of)
        return problem
    if len(groups) != len(factors):
        inp = pd.read_csv(exp.folder / "inputs.csv").drop_duplicates("factor").set_index(
            "factor")
        problem["groups"] = [f"{inp.at[f, 'table']}.{inp.at[f, 'field']}" for f in factors]
    return problem


def _output_values(exp: Experiment, scenario: str, outputs: list[str]
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str | None]]:
    """The draws of ``scenario`` and of its like-year reference as written, the rows of
    ``scenario`` (every draw, -1 the central case) with the columns ``out:<output>`` of
    ``outputs`` (levels, or ``effect:...`` against the reference), and the reference.

    Raises
    ------
    InputError
        An unknown scenario or output, naming the nearest ones.
    """
    import difflib

    m = exp.manifest()
    scenarios = list(m.get("scenarios", []))
    if scenario not in scenarios:
        raise InputError(f"{exp.folder}: no scenario {scenario!r} in this experiment; its "
                         f"scenarios are {', '.join(scenarios) or 'none'}.")
    ref = dict(m.get("references", {})).get(scenario)
    raw = exp.draws(scenario)
    rows = raw
    if any(o.startswith("effect:") for o in outputs):
        if not ref:
            raise InputError(f"scenario {scenario} has no like-year reference in this "
                             "experiment, so no effect: ask about its levels (the output names "
                             "without effect:).")
        raw = pd.concat([raw, exp.draws(ref)], ignore_index=True)
        eff = effects_frame(raw, {scenario: ref})
        rows = rows.merge(eff.drop(columns="scenario"), on="draw", how="left")
    missing = [o for o in outputs if f"out:{o}" not in rows]
    if missing:
        known = [c[4:] for c in _outputs(rows)]
        hints = []
        for o in missing:
            near = difflib.get_close_matches(o, known, n=3)
            hints.append(f"{o!r}" + (f" (nearest: {', '.join(near)})" if near else ""))
        raise InputError(f"scenario {scenario} has no output {'; '.join(hints)}; the output "
                         "names are those of the bands table's column output (docs/explore.md, "
                         "Output names).")
    return raw, rows, {scenario: ref}


def probability(exp: Experiment, scenario: str, left: str, op: str,
                right: str | float, *, text: str = "") -> pd.Series:
    """How likely a statement of your own is: ``left op right`` in ``scenario``, over the draws
    of a complete experiment (nothing is written; the experiment's ``statements`` table keeps
    the summary's).

    Parameters
    ----------
    scenario
        A scenario of the experiment.
    left, right
        Output names as in the bands table's ``output`` column (``effect:<output>`` for the
        scenario's effect against its like-year reference); ``right`` may be a number.
    op
        ``">"`` or ``"<"``.

    Returns
    -------
    Series
        ``probability`` (the share of draws with a finite value in which the statement holds),
        ``n`` (those draws), ``n_unconverged``, ``central_holds`` (whether it holds in the
        central case), and the statement's ``scenario``, ``left``, ``op``, ``right``, ``text``.

    Raises
    ------
    InputError
        An unknown scenario or output (with the nearest names), an ``op`` other than > or <.

    Examples
    --------
    >>> probability(exp, "rasht_astara", "link:T_IR_ASTARA_TERMINAL:utilization", ">",
    ...             0.999)  # doctest: +SKIP
    """
    if op not in (">", "<"):
        raise InputError(f"op must be '>' or '<', got {op!r}.")
    if isinstance(right, str) and right.startswith("effect:") != left.startswith("effect:"):
        raise InputError(f"compare an effect with an effect or a number, a level with a level "
                         f"or a number: {left!r} {op} {right!r}.")
    names = [left] + ([right] if isinstance(right, str) else [])
    raw, _, refs = _output_values(exp, scenario, names)
    s = Statement("asked", text or f"{left} {op} {right}", scenario, left, op,
                  right if isinstance(right, str) else float(right))
    st, _ = statement_table(raw, [s], refs)
    if not len(st):
        raise InputError(f"{exp.folder}: no draws of scenario {scenario} written yet (run the "
                         "experiment again to resume it).")
    return st.iloc[0].drop("statement_id")


def output_sensitivity(exp: Experiment, scenario: str, output: str) -> pd.DataFrame:
    """The inputs that decide one output (level or ``effect:...``) of a scenario: the
    experiment's sensitivity method (rank correlations on a Latin hypercube, Sobol or Morris
    indices) applied to that output, whether or not a statement of the summary is about it.

    Returns
    -------
    DataFrame
        The columns of the ``sensitivity`` table (without ``statement_id``), then
        ``importance`` (rho^2, ST or mu*) and ``significant`` (distinguishable from 0 at 95 %),
        one row per factor or group, most important first; no rows where the output does not
        vary or is not finite in every draw.

    Raises
    ------
    InputError
        An unknown scenario or output (with the nearest names).
    """
    m = exp.manifest()
    design = pd.read_parquet(exp.folder / "design.parquet")
    u = design[[c for c in design.columns if c.startswith("u:")]].to_numpy(dtype=float)
    u = _ranked_u(m, design, u)
    _, rows, _ = _output_values(exp, scenario, [output])
    d = rows[rows["draw"] >= 0].set_index("draw").reindex(np.arange(len(u)))
    s = sensitivity(u, _problem(exp, m, design), m.get("sampler", "lhs"),
                    d[f"out:{output}"].to_numpy(dtype=float), seed=int(m.get("seed", 0)))
    if not len(s):
        return s.assign(importance=pd.Series(dtype=float), significant=pd.Series(dtype=bool))
    s["importance"] = importance(s)
    s["significant"] = significant(s)
    return s.sort_values("importance", ascending=False, ignore_index=True)


def _check_morris_design(exp: Experiment, manifest: dict, u: np.ndarray) -> None:
    """Refuse a Morris experiment whose design is not of this karvan's version
    (:data:`~karvan.explore.sampling.DESIGN_VERSION`): its elementary effects would be scaled
    for another grid. The version is the manifest's, or, for experiments stored before the
    manifest recorded it, that of the stored design's levels.

    Raises
    ------
    InputError
        Another design version, or none that can be told; with the remedy.
    """
    from karvan.explore.sampling import DESIGN_VERSION, morris_design_version

    version = manifest.get("design_version")
    if version is None:
        version = morris_design_version(u)
    if version == DESIGN_VERSION:
        return
    again = ("Run the experiment again with this karvan (karvan explore ... --sampler morris "
             "with a new --out folder) to analyse it.")
    if version == 1:
        why = ("its Morris design is on SALib's grid 0, 1/3, 2/3, 1 (design version 1, before "
               "the grid moved to the centres of its strata): its inputs were drawn at the ends "
               "of their distributions, and this karvan would scale its mu* and sigma for the "
               "other grid (by 4/3).")
    elif version is None:
        why = ("its manifest records no design version and its stored design is on neither "
               "Morris grid (the strata centres 1/8..7/8, or SALib's levels 0..1).")
    else:
        why = (f"its design is of version {version} (karvan "
               f"{manifest.get('karvan_version', '?')} made it), which this karvan (design "
               f"version {DESIGN_VERSION}) does not know; analyse it with the karvan that made "
               "it.")
        again = "Or run the experiment again with this karvan (a new --out folder)."
    raise InputError(f"{exp.folder}: cannot analyse this experiment: {why} {again}")


def fan_chart_data(b: pd.DataFrame, outputs: tuple[str, ...] = (BENEFIT,) + WEST_OUTPUTS + (
        "total:tonne_km",), *, sea_countries: Collection[str] = SEA_COUNTRIES) -> pd.DataFrame:
    """The effect bands of headline outputs, one row per scenario and output, for fan charts:
    central and p5, p25, p50, p75, p95 of the effect against the like-year reference. Besides
    ``outputs`` (the users' benefit first), each country's transit tonnes and revenue where
    some scenario's central case changes its transit by :data:`TRANSIT_LEAST_T` or more (not
    ``sea_countries``), the countries by their largest change."""
    e = b[b["kind"] == "effect"]
    o = e["output"].str.removeprefix("effect:")
    tonnes = e[o.str.fullmatch(r"country:[^:]+:transit_tonnes")]
    country = tonnes["output"].str.split(":").str[2]
    moved = (tonnes["central"].abs().groupby(country.to_numpy()).max()
             .drop(list(sea_countries), errors="ignore"))
    moved = moved[moved >= TRANSIT_LEAST_T].sort_values(ascending=False, kind="stable")
    wanted = [f"effect:{x}" for x in outputs] + [
        f"effect:country:{c}:{what}" for c in moved.index
        for what in ("transit_tonnes", "transit_revenue_usd")]
    e = e[e["output"].isin(wanted)]
    e = e.iloc[np.argsort([wanted.index(x) for x in e["output"]], kind="stable")]
    cols = ["scenario", "reference", "output", "central"] + [f"p{p}" for p in PERCENTILES]
    return e[cols].reset_index(drop=True)


def tornado_data(sens: pd.DataFrame, *, top: int = 5) -> pd.DataFrame:
    """The ``top`` inputs of each statement by importance (ST, mu* or rho^2), with the index
    and its confidence half-width (Sobol, Morris) and whether it is distinguishable from 0,
    for tornado charts."""
    rows = []
    for sid, s in sens.groupby("statement_id", sort=False):
        imp = importance(s)
        conf_col = next((c for c in ("ST_conf", "mu_star_conf") if c in s), None)
        sig = pd.Series(significant(s), index=s.index)
        for i in imp.sort_values(ascending=False).index[:top]:
            rows.append((sid, s.at[i, "factor"], s.at[i, "method"], float(imp[i]),
                         float(s.at[i, conf_col]) if conf_col else float("nan"), bool(sig[i])))
    return pd.DataFrame(rows, columns=["statement_id", "factor", "method", "importance",
                                       "conf", "significant"])
