"""Users' benefit of one run against another: what shippers save in expected generalized cost.

Per OD pair and commodity the benefit of B against A is, by the rule of a half,

    benefit = (T_a + T_b) / 2 * (C_a - C_b)    [USD/yr]

with ``T`` the pair's demand (t/yr) and ``C`` its expected generalized cost (USD/t: the skims'
``expected_cost_usd_per_t``). Under the choice model ``C`` is the pair's nested logsum, and with
the same demand in both runs (a project against its like-year reference) the formula is the
exact change of the shippers' consumer surplus of the logit model (Small & Rosen 1981; de Jong,
Daly, Pieters & van der Hoorn 2007); under ``--choice deterministic`` ``C`` is the least cost and
the formula is the classic rule of a half. Where the demand differs (two years), the rule of a
half is the usual first-order approximation.

What it is not: the welfare of the project. The generalized cost holds what a shipper pays and
bears (charges and fees, time at its value, reliability, the family constants and, under the
choice model, the capacities' multipliers as queueing surcharges), so the operators' and
countries' revenue from those charges, the cost of building, and external costs are outside
it. A pair without a route in one run has no cost there and no benefit (``comparable`` False);
a pair whose demand a capacity turns away in either run (``unserved``) counts the turned-away
tonnes at the model's cost of unserved demand, which is a modelling device, not a price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from karvan.errors import InputError

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
                  unserved_b: pd.DataFrame | None = None) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per pair with demand in either run, largest benefit first by
        absolute value; ``saving_usd_per_t`` is ``C_a - C_b`` and ``benefit_usd`` the yearly
        benefit (both NaN where the pair is not ``comparable``). ``attrs["cost"]`` names the
        skims column the costs are from.

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
    return out


def benefit_totals(table: pd.DataFrame, by: str | list[str] = "commodity") -> pd.DataFrame:
    """The users' benefit by ``by`` (columns of :func:`users_benefit`'s table: ``commodity``,
    ``origin_country``, ``destination_country``, ...) and in all, from that table.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (``all`` in each on the last row), ``tonnes`` (the mean of the two
        runs' demand of the comparable pairs, t/yr), ``benefit_usd`` (per year),
        ``saving_usd_per_t`` (the benefit per tonne), ``pairs_not_comparable`` and
        ``tonnes_not_comparable`` (pairs without a route in one run, left out of the benefit).

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
    t = table.assign(_t=0.5 * (table["tonnes_a"] + table["tonnes_b"]),
                     _ok=table["comparable"].astype(bool))

    def one(g: pd.DataFrame, key: tuple) -> dict:
        good = g[g["_ok"]]
        tonnes = float(good["_t"].sum())
        benefit = float(good["benefit_usd"].sum())
        return {**dict(zip(by, key, strict=True)), "tonnes": tonnes, "benefit_usd": benefit,
                "saving_usd_per_t": benefit / tonnes if tonnes > 0 else np.nan,
                "pairs_not_comparable": int((~g["_ok"]).sum()),
                "tonnes_not_comparable": float(g.loc[~g["_ok"], "_t"].sum())}

    keyed = t.assign(**{c: t[c].fillna("-").astype(str) for c in by})
    rows = [one(g, k if isinstance(k, tuple) else (k,))
            for k, g in keyed.groupby(by, sort=True)]
    rows.append(one(t, ("all",) * len(by)))
    return pd.DataFrame(rows)
