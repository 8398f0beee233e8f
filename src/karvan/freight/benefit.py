"""Users' benefit of one run against another: what shippers save in expected generalized cost.

Per OD pair and commodity the benefit of B against A is, by the rule of a half,

    benefit = (T_a + T_b) / 2 * (C_a - C_b)    [USD/yr]

with ``T`` the pair's demand (t/yr) and ``C`` its expected generalized cost (USD/t: the skims'
``expected_cost_usd_per_t``). Under the choice model ``C`` is the pair's nested logsum over its
routes, taken without the path-size terms (they correct the shares for overlap and have no
consumer surplus of their own: counted, a route added beside a cheaper one it overlaps raised
the expected cost). With the same demand in both runs (a project against its like-year
reference) the formula is then the change of the shippers' consumer surplus of a nested logit
over the same routes (Small & Rosen 1981; de Jong, Daly, Pieters & van der Hoorn 2007): exact
where the model runs without path size (``beta`` 0), and an approximation of the surplus of the
path-size logit whose shares the model uses (5.6 % above the integral of its shares on a
hand-built pair of overlapping routes, tests/unit/test_benefit.py). Under ``--choice
deterministic`` ``C`` is the least cost and the formula is the classic rule of a half. Where the
demand differs (two years, or a scenario that scales it), the rule of a half is the usual
first-order approximation, and it counts the change of cost only: a scenario that grows demand
on unchanged costs has a benefit of 0, not the value of the tonnes added
(:func:`benefit_totals`' ``pairs_demand_changed``; the summary, compare and the report say so).

What it is not: the welfare of the project. The generalized cost holds what a shipper pays and
bears (charges and fees, time at its value, reliability, the family constants and, under the
choice model, the capacities' multipliers, counted as queueing that shippers bear rather than a
rent someone collects), so the operators' and countries' revenue from those charges, the cost
of building, and external costs are outside it. A pair without a cost in one run (no route
there, or no demand there: skims are written for pairs with demand) has no benefit
(``comparable`` False), and a pair whose demand a capacity turns away in either run
(``unserved``) is left out of the totals: its turned-away tonnes would count at the model's
cost of unserved demand, a device that keeps the model solvable, not a price.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from karvan.errors import InputError
from karvan.freight.corridor import CorridorWarning

KEYS = ["commodity", "origin", "destination"]

#: the cost a benefit is taken on: the expected cost where both runs have it, else the least
COSTS = ("expected_cost_usd_per_t", "cost_usd_per_t")

#: the columns of :func:`users_benefit`'s table, in order
COLUMNS = [*KEYS, "origin_country", "destination_country", "tonnes_a", "tonnes_b",
           "cost_a_usd_per_t", "cost_b_usd_per_t", "saving_usd_per_t", "benefit_usd",
           "comparable", "unserved"]


def _tonnes(demand: pd.DataFrame) -> pd.Series:
    need = ["origin_zone_id", "destination_zone_id", "commodity_id", "tonnes_per_year"]
    missing = [c for c in need if c not in demand]
    if missing:
        raise InputError(f"users_benefit: the demand table lacks {', '.join(missing)}; give a "
                         "run's demand table (demand.csv's columns).")
    d = demand.rename(columns={"origin_zone_id": "origin", "destination_zone_id": "destination",
                               "commodity_id": "commodity"})
    return d.groupby(KEYS, sort=False)["tonnes_per_year"].sum()


def users_benefit(skims_a: pd.DataFrame, demand_a: pd.DataFrame, skims_b: pd.DataFrame,
                  demand_b: pd.DataFrame, *, unserved_a: pd.DataFrame | None = None,
                  unserved_b: pd.DataFrame | None = None,
                  choice: str | None = None) -> pd.DataFrame:
    """The users' benefit of run B against run A per OD pair and commodity (module docstring).

    Parameters
    ----------
    skims_a, skims_b
        The runs' ``skims`` tables (``commodity``, ``origin``, ``destination``, the costs in
        USD/t; ``origin_country`` and ``destination_country`` where the run has them).
    demand_a, demand_b
        The runs' ``demand`` tables (``origin_zone_id``, ``destination_zone_id``,
        ``commodity_id``, ``tonnes_per_year``).
    unserved_a, unserved_b
        The runs' tables of demand a capacity turned away (``choice_unserved``: ``commodity``,
        ``origin``, ``destination``, ``unserved``), to flag those pairs.
    choice
        The choice model both runs were made with (``logit`` or ``deterministic``; their
        summaries' ``choice``), kept in ``attrs["choice"]`` for the tables' wording.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per pair with demand in either run, largest benefit first by
        absolute value; ``saving_usd_per_t`` is ``C_a - C_b`` and ``benefit_usd`` the yearly
        benefit (both NaN where the pair is not ``comparable``). ``attrs["cost"]`` names the
        skims column the costs are from, ``attrs["choice"]`` the choice model.

    Warns
    -----
    CorridorWarning
        One run has the expected cost and the other not (a run of an older karvan): both are
        taken on the least cost, which under logit is another measure.

    Raises
    ------
    InputError
        A table without the columns it needs.

    Examples
    --------
    >>> sk = lambda c: pd.DataFrame({"commodity": ["grain"], "origin": ["X"],
    ...                              "destination": ["Y"], "cost_usd_per_t": [c]})
    >>> dem = lambda t: pd.DataFrame({"origin_zone_id": ["X"], "destination_zone_id": ["Y"],
    ...                               "commodity_id": ["grain"], "tonnes_per_year": [t]})
    >>> float(users_benefit(sk(50.0), dem(100.0), sk(40.0), dem(120.0))["benefit_usd"][0])
    1100.0
    """
    for name, s in (("skims_a", skims_a), ("skims_b", skims_b)):
        missing = [c for c in KEYS if c not in s]
        if missing or not any(c in s for c in COSTS):
            raise InputError(f"users_benefit: {name} lacks {', '.join(missing) or COSTS[1]}; "
                             "give a run's skims table.")
    cost = next(c for c in COSTS if c in skims_a and c in skims_b)
    if cost != COSTS[0] and (COSTS[0] in skims_a or COSTS[0] in skims_b):
        warnings.warn(f"users_benefit: run {'A' if COSTS[0] not in skims_a else 'B'} has no "
                      f"{COSTS[0]} (a run of an older karvan): the benefit is taken on the "
                      "least cost of both runs, which under the choice model is another "
                      "measure than its expected cost; run it again for a comparable one.",
                      CorridorWarning, stacklevel=2)
    ta, tb = _tonnes(demand_a), _tonnes(demand_b)
    t = pd.concat({"tonnes_a": ta, "tonnes_b": tb}, axis=1).fillna(0.0)
    t = t[(t["tonnes_a"] > 0) | (t["tonnes_b"] > 0)]
    ca = skims_a.groupby(KEYS, sort=False)[cost].first().rename("cost_a_usd_per_t")
    cb = skims_b.groupby(KEYS, sort=False)[cost].first().rename("cost_b_usd_per_t")
    out = t.join(ca).join(cb)
    countries = [c for c in ("origin_country", "destination_country")
                 if c in skims_a or c in skims_b]
    for c in countries:
        both = pd.concat([s.set_index(KEYS)[c] for s in (skims_b, skims_a) if c in s])
        out[c] = both[~both.index.duplicated()].reindex(out.index)
    out = out.reset_index()
    for c in ("origin_country", "destination_country"):
        if c not in out:
            out[c] = None
    finite = np.isfinite(out[["cost_a_usd_per_t", "cost_b_usd_per_t"]].to_numpy(float))
    out["comparable"] = finite.all(axis=1)
    saving = out["cost_a_usd_per_t"] - out["cost_b_usd_per_t"]
    out["saving_usd_per_t"] = saving.where(out["comparable"])
    out["benefit_usd"] = (0.5 * (out["tonnes_a"] + out["tonnes_b"])
                          * out["saving_usd_per_t"])
    turned_away = set()
    for u in (unserved_a, unserved_b):
        if u is not None and len(u):
            rows = u[pd.to_numeric(u["unserved"], errors="coerce") > 0]
            turned_away |= set(map(tuple, rows[KEYS].astype(str).to_numpy()))
    out["unserved"] = [tuple(k) in turned_away for k in out[KEYS].astype(str).to_numpy()]
    out = out[COLUMNS]
    order = out["benefit_usd"].abs().fillna(-1.0).sort_values(ascending=False, kind="stable")
    out = out.loc[order.index].reset_index(drop=True)
    out.attrs["cost"] = cost
    out.attrs["choice"] = choice
    return out


def run_benefit(a, b) -> pd.DataFrame | None:
    """The users' benefit of run B against run A per OD pair and commodity
    (:func:`users_benefit`, from their ``skims``, ``demand`` and ``choice_unserved`` tables);
    :func:`benefit_totals` sums it. None where a run lacks those tables or their costs (a run
    of an older karvan).

    ``a`` and ``b`` are stored runs (:class:`~karvan.store.RunRecord`) or solved ones (a
    :class:`~karvan.scenario.run.ScenarioRun`, what :func:`karvan.scenario.batch.run_scenarios`
    returns, a report's run): anything with a ``summary`` and either a ``tables`` dict or
    ``has_table`` and ``table``."""

    def get(r, name: str) -> pd.DataFrame | None:
        if isinstance(getattr(r, "tables", None), dict):
            return r.tables.get(name)
        return r.table(name) if r.has_table(name) else None

    for r in (a, b):
        sk, dem = get(r, "skims"), get(r, "demand")
        if sk is None or dem is None or not any(c in sk for c in COSTS):
            return None
    choices = {(getattr(r, "summary", None) or {}).get("choice") for r in (a, b)}
    choice = choices.pop() if len(choices) == 1 else None
    return users_benefit(get(a, "skims"), get(a, "demand"), get(b, "skims"), get(b, "demand"),
                         unserved_a=get(a, "choice_unserved"),
                         unserved_b=get(b, "choice_unserved"), choice=choice)


def benefit_totals(table: pd.DataFrame, by: str | list[str] = "commodity") -> pd.DataFrame:
    """The users' benefit by ``by`` (columns of :func:`users_benefit`'s table: ``commodity``,
    ``origin_country``, ``destination_country``, ...) and in all, from that table.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (``all`` in each on the last row), ``tonnes`` (the mean of the two
        runs' demand of the pairs counted, t/yr), ``benefit_usd`` (per year),
        ``saving_usd_per_t`` (the benefit per tonne), ``pairs_not_comparable`` and
        ``tonnes_not_comparable`` (pairs without a cost in one run), ``pairs_unserved`` and
        ``tonnes_unserved`` (comparable pairs whose demand a capacity turns away in either
        run): both left out of the benefit; ``pairs_demand_changed`` (pairs whose demand
        differs between the runs, by more than 1e-9 of it, counted or not: a pair whose demand
        a scenario stops has no cost in it), ``tonnes_a`` and ``tonnes_b`` (the demand of every
        pair in each run): where the demand differs, the rule of a half counts the change of
        cost, not the value of the tonnes added or lost (a scenario that only grows demand has
        a benefit of 0).

    Raises
    ------
    InputError
        A ``by`` column the table lacks.
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in table]
    if missing:
        raise InputError(f"benefit_totals: no column {', '.join(missing)}; the table's columns "
                         f"are {', '.join(table.columns)}.")
    ok = table["comparable"].astype(bool)
    turned = ok & table["unserved"].astype(bool)
    ta, tb = table["tonnes_a"].astype(float), table["tonnes_b"].astype(float)
    moved = (ta - tb).abs() > 1e-9 * np.maximum(ta.abs(), tb.abs())
    # per group, sums over numpy arrays in the table's order, missing values as 0 (the
    # sums pandas gives a group's rows), not a DataFrame per group
    half = (0.5 * (ta + tb)).to_numpy(dtype=float)
    good_m = (ok & ~turned).to_numpy(dtype=bool)
    cut_m, turned_m, moved_m = (x.to_numpy(dtype=bool) for x in (~ok, turned, moved))
    benefit = table["benefit_usd"].to_numpy(dtype=float)
    a_t, b_t = ta.to_numpy(dtype=float), tb.to_numpy(dtype=float)

    def one(pos: np.ndarray, key: tuple) -> dict:
        good = pos[good_m[pos]]
        cut = pos[cut_m[pos]]
        away = pos[turned_m[pos]]
        tonnes = float(np.nansum(half[good]))
        total = float(np.nansum(benefit[good]))
        return {**dict(zip(by, key, strict=True)), "tonnes": tonnes, "benefit_usd": total,
                "saving_usd_per_t": total / tonnes if tonnes > 0 else np.nan,
                "pairs_not_comparable": len(cut),
                "tonnes_not_comparable": float(np.nansum(half[cut])),
                "pairs_unserved": len(away),
                "tonnes_unserved": float(np.nansum(half[away])),
                "pairs_demand_changed": int(moved_m[pos].sum()),
                "tonnes_a": float(np.nansum(a_t[pos])),
                "tonnes_b": float(np.nansum(b_t[pos]))}

    keyed = pd.DataFrame({c: table[c].fillna("-").astype(str).to_numpy() for c in by})
    groups = keyed.groupby(by, sort=True).indices
    rows = [one(np.asarray(pos), k if isinstance(k, tuple) else (k,))
            for k, pos in sorted(groups.items())]
    rows.append(one(np.arange(len(table)), ("all",) * len(by)))
    return pd.DataFrame(rows)
