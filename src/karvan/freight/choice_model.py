"""The corridor's choice model as data: route families, their nests, constants and cost terms
turned into the inputs of the nested-logit equilibrium (:mod:`karvan.choice`).

Per commodity k, family f and route r of f, the generalized cost a shipper weighs is

    cost_r + ( VoR_k * buffer_h_f + insurance_f,k + sanctions_f,k + empty_f,k + asc_f,k ) / VoT_k

in hours (``cost_r``: the route's time plus its charges / VoT_k, with the gauge-break terms on
the links where the gauge changes), and routes are chosen by nested logit with the families'
nests and dispersion ``theta_k = theta_usd_k * VoT_k`` per hour. Every number comes from
``choice_parameter.csv`` (one function, :func:`choice_parameters`, reads it, so that a
calibrated table can be passed instead), the families from ``route_family.csv``.

Which rows apply: a row applies to family f when its ``family`` is f or ``*`` and its ``nest``
is f's nest or ``*``, to commodity k when its ``commodity`` is k or ``*``. The money terms
(insurance, sanctions, empty repositioning) add up over the rows that apply (each row is a
charge of its own: the Black Sea war risk and the Red Sea premium on the same voyage); the other
parameters take the most specific row (a commodity's row over ``*``, a family's over a nest's
over ``*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from karvan.assign.classes import TrafficClass
from karvan.errors import InputError, format_ids
from karvan.freight.route_family import PARAMETERS, serves_entries
from karvan.schema.text import id_list

#: the gauge-change component that link.csv already holds on every gauge-break link (its
#: method column: "gauge change USD 8/t", "gauge change 16 h"); ``gauge_break_*`` rows replace it
LINK_GAUGE_CHANGE_USD_PER_T = 8.0
LINK_GAUGE_CHANGE_H = 16.0
#: money terms that add up over the rows that apply
ADDITIVE = ("insurance_usd_per_t", "sanctions_usd_per_t", "empty_repositioning_usd_per_t")
#: the scope columns each parameter is read by (the others must be ``*``); path_size_gamma is
#: one value for every route
READ_PER = {
    "path_size_gamma": (), "theta": ("commodity",), "value_of_reliability": ("commodity",),
    "nest_scale": ("nest",),
    "gauge_break_usd_per_t": ("link_ids", "commodity"),
    "gauge_break_h": ("link_ids", "commodity"),
    **{p: ("family", "nest", "commodity") for p in ("reliability_buffer_h", "asc_usd_per_t",
                                                    "insurance_usd_per_t",
                                                    "sanctions_usd_per_t",
                                                    "empty_repositioning_usd_per_t")},
}
#: the scope columns a parameter's row must name
NEEDS = {"nest_scale": ("nest",), "gauge_break_usd_per_t": ("link_ids",),
         "gauge_break_h": ("link_ids",)}
#: how many dispersion units dearer than an OD pair's cheapest route a family's best route may
#: be and still get a forced member (exp(-8): a share below 3e-4 of the cheapest route's)
FORCE_WITHIN = 8.0
_COLUMNS = ("parameter", "family", "nest", "link_ids", "commodity", "value")


@dataclass(frozen=True, slots=True, eq=False)
class CorridorChoice:
    """The corridor choice model's parameters, per commodity and family.

    Attributes
    ----------
    families
        ``route_family.csv`` rows in priority order.
    theta_usd
        Commodity -> dispersion per USD/t.
    family_terms
        One row per commodity and family: ``reliability_usd_per_t`` (value of reliability x
        buffer), ``insurance_usd_per_t``, ``sanctions_usd_per_t``,
        ``empty_repositioning_usd_per_t``, ``asc_usd_per_t`` and their sum ``total_usd_per_t``.
    nest_scale
        Nest -> scale in (0, 1].
    gauge
        One row per commodity and gauge-break link: ``charge_usd_per_t`` and ``time_h`` that
        replace the link's gauge-change component.
    beta
        Path-size exponent within the nests.
    gamma
        Exponent of the generalized path size (Ramming 2002; ``path_size_gamma`` in the table,
        default 0: Ben-Akiva and Bierlaire's path size); see
        :func:`karvan.choice.stochastic_equilibrium`.
    route_theta_usd
        Commodity -> the dispersion per USD/t that decides which forced alternatives enter the
        route sets (a family's route within ``FORCE_WITHIN / theta`` of the cheapest): the
        theta rows' ``prior_value`` where the table gives one (a calibrated table), else their
        value; None: ``theta_usd``. The route sets then do not move with a fitted or drawn
        theta: a route that enters or leaves a set changes the path-size factors of the routes
        it overlaps, so route sets that followed theta made the model's counts jump as theta
        crossed each route's threshold.
    """

    families: pd.DataFrame
    theta_usd: dict[str, float]
    family_terms: pd.DataFrame
    nest_scale: dict[str, float]
    gauge: pd.DataFrame
    beta: float = 1.0
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    route_theta_usd: dict[str, float] | None = None
    gamma: float = 0.0

    @property
    def family_ids(self) -> list[str]:
        """Family ids in priority order."""
        return self.families["family_id"].tolist()

    @property
    def nest_of(self) -> dict[str, str]:
        """Family id -> nest."""
        return dict(zip(self.families["family_id"], self.families["nest"], strict=True))

    @property
    def terms_of(self) -> dict[str, str]:
        """Family id -> the family whose parameter rows it takes (itself, or ``terms_of``)."""
        return terms_families(self.families)

    def theta_per_hour(self, classes: Sequence[TrafficClass]) -> dict[str, float]:
        """Dispersion per hour of generalized cost for each class: theta_usd x VoT."""
        return {c.name: self.theta_usd[_commodity(c.name)] * c.value_of_time for c in classes}

    def route_set_theta_per_hour(self, classes: Sequence[TrafficClass]) -> dict[str, float]:
        """The dispersion per hour that decides which forced alternatives enter the route sets
        (``route_theta_usd`` x VoT; ``theta_per_hour`` where it is None)."""
        th = self.theta_usd if self.route_theta_usd is None else self.route_theta_usd
        return {c.name: th[_commodity(c.name)] * c.value_of_time for c in classes}

    def constants(self, classes: Sequence[TrafficClass]) -> pd.DataFrame:
        """Constants (hours) per family and class: the family's money terms / VoT."""
        ft = self.family_terms
        t = dict(zip(zip(ft["commodity"], ft["family_id"], strict=True),
                     ft["total_usd_per_t"].to_numpy(dtype=float).tolist(), strict=True))
        rows = [(f, c.name, t[(_commodity(c.name), f)] / c.value_of_time)
                for c in classes for f in self.family_ids]
        return pd.DataFrame(rows, columns=["family", "class", "constant"])

    def link_cost_usd_per_t(self, commodity: str, link_ids, value_of_time: float) -> np.ndarray:
        """Extra money per tonne on each link for a commodity: the gauge-break terms, less the
        gauge-change component already in the link's charge and dwell."""
        usd, hours = self.gauge_extra(commodity, link_ids)
        return usd + value_of_time * hours

    def gauge_extra(self, commodity: str, link_ids) -> tuple[np.ndarray, np.ndarray]:
        """The gauge-break terms of a commodity beyond the link's own gauge change, per link:
        charge (USD/t) and time (h); 0 on other links. The run's accounts add them to what
        each route is charged and takes (:func:`karvan.scenario.run.run_scenario`)."""
        usd, hours = np.zeros(len(link_ids)), np.zeros(len(link_ids))
        g = self.gauge[self.gauge["commodity"] == commodity]
        if not len(g):
            return usd, hours
        pos = pd.Index(link_ids).get_indexer(g["link_id"])
        ok = pos >= 0
        usd[pos[ok]] = g["charge_usd_per_t"].to_numpy()[ok] - LINK_GAUGE_CHANGE_USD_PER_T
        hours[pos[ok]] = g["time_h"].to_numpy()[ok] - LINK_GAUGE_CHANGE_H
        return usd, hours

    def describe(self) -> dict:
        """The model and its parameters, for a run's manifest."""
        return {
            "model": "nested logit over route families (karvan.choice), path size over each OD "
                     "pair's route set",
            "beta_path_size": self.beta,
            "gamma_path_size": self.gamma,
            "theta_usd": self.theta_usd,
            "route_set_theta_usd": (self.theta_usd if self.route_theta_usd is None
                                    else self.route_theta_usd),
            "nest_scale": self.nest_scale,
            "family_terms_usd_per_t": {
                f"{r.commodity}|{r.family_id}": round(float(r.total_usd_per_t), 6)
                for r in self.family_terms.itertuples() if r.total_usd_per_t},
            "gauge_break": [f"{r.commodity}: {r.charge_usd_per_t:g} USD/t, {r.time_h:g} h"
                            for r in self.gauge.drop_duplicates("commodity").itertuples()],
            "force_within_theta_units": FORCE_WITHIN,
        }


def _commodity(class_name: str) -> str:
    return class_name.split("|", 1)[0]


def _unit_key(unit: str) -> str:
    """A unit as compared: case, spaces and the separators of a compound unit left out, and
    the marks of a pure number taken as one.

    >>> [_unit_key(u) for u in ("USD/t-h", "usd/t/h", "USD / t·h", "1", "-", "USD/t-d")]
    ['usd/th', 'usd/th', 'usd/th', '1', '1', 'usd/td']
    """
    u = str(unit).strip().lower().replace(" ", "")
    if u in ("", "1", "-", "none", "ratio", "share"):
        return "1"
    head, _, tail = u.partition("/")
    return head + "/" + "".join(c for c in tail if c not in "-/·*.") if tail else head


def choice_parameters(table: pd.DataFrame, families: pd.DataFrame, commodities: pd.DataFrame,
                      *, link_ids: Sequence[str] | None = None,
                      file: str = "choice_parameter.csv", beta: float = 1.0) -> CorridorChoice:
    """The choice model's parameters from a parameter table (``choice_parameter.csv`` or a
    calibrated one of the same columns).

    Parameters
    ----------
    table
        Columns ``parameter, family, nest, link_ids, commodity, value`` (see
        :data:`karvan.freight.route_family.PARAMETERS`); row ``i`` is line ``i + 2`` of
        ``file`` in messages.
    families
        :func:`karvan.freight.route_family.read_route_families`.
    commodities
        ``commodity.csv`` (``commodity_id``, ``vot_usd_per_t_h``).
    link_ids
        Link ids of the dataset, to check ``link_ids``.
    file
        The name messages give the table.
    beta
        Path-size exponent within the nests.

    Returns
    -------
    CorridorChoice

    Raises
    ------
    InputError
        Every problem at once, each with its line and fix: unknown parameters, families,
        nests, commodities or links; values that are not numbers; theta <= 0 or missing for a
        commodity; a nest scale outside (0, 1] or for a nest with no member family; a value of
        reliability missing; two rows for the same thing.
    """
    problems: list[str] = []
    missing = [c for c in _COLUMNS if c not in table]
    if missing:
        raise InputError(f"lacks column(s) {', '.join(missing)}; the table needs "
                         f"{', '.join(_COLUMNS)}.", file)
    par = table.copy()
    for c in ("parameter", "family", "nest", "link_ids", "commodity"):
        par[c] = par[c].fillna("*").astype(str).str.strip().replace("", "*")
    par["value"] = pd.to_numeric(par["value"], errors="coerce")
    line = pd.Series(np.arange(len(par)) + 2, index=par.index)

    def lines(mask) -> str:
        return format_ids(line[mask].tolist())

    fam_ids = list(families["family_id"])
    nests = dict(zip(families["family_id"], families["nest"], strict=True))
    src = terms_families(families)  # a family -> the family whose rows it takes
    coms = list(commodities["commodity_id"])
    vot = dict(zip(commodities["commodity_id"],
                   pd.to_numeric(commodities["vot_usd_per_t_h"], errors="coerce"), strict=True))
    bad = par["value"].isna() | ~np.isfinite(par["value"])
    if bad.any():
        problems.append(f"{file}: value must be a number (lines {lines(bad)}).")
    bad = ~par["parameter"].isin(PARAMETERS)
    if bad.any():
        names = format_ids(par.loc[bad, "parameter"].unique())
        problems.append(f"{file}: unknown parameter {names} (lines {lines(bad)}); known: "
                        f"{', '.join(PARAMETERS)}.")
    if "unit" in par:
        # the value is read in the parameter's unit whatever the row says: a row that says
        # another (a value of reliability per day) is a value in that other unit; spellings
        # of the same unit (USD/t/h, usd/t-h, - for a pure number) are that unit
        unit = par["unit"].fillna("").astype(str).str.strip()
        want = par["parameter"].map(PARAMETERS)
        bad = (want.notna() & (unit != "")
               & (unit.map(_unit_key) != want.fillna("").map(_unit_key)))
        for (parameter, given), rows in par[bad].groupby(["parameter", unit[bad]]).groups.items():
            problems.append(
                f"{file}: unit {given!r} on {parameter} (lines {lines(par.index.isin(rows))}) "
                f"is not the unit karvan reads it in, {PARAMETERS[parameter]!r}: convert the "
                f"value to {PARAMETERS[parameter]} and write that unit.")
    bad = ~par["family"].isin([*fam_ids, "*"])
    if bad.any():
        what = ("constants" if par.loc[bad, "parameter"].eq("asc_usd_per_t").all()
                else "parameters")
        problems.append(f"{file}: {what} for unknown families "
                        f"{format_ids(par.loc[bad, 'family'].unique())} (lines {lines(bad)}); "
                        "the families are route_family.csv's family_id: fix the name or add "
                        "the family there.")
    bad = par["family"].map(lambda f: src.get(f, f) != f)
    if bad.any():
        names = par.loc[bad, "family"].unique()
        problems.append(f"{file}: rows for the families {format_ids(names)} (lines "
                        f"{lines(bad)}), which take the terms of "
                        f"{format_ids(sorted({src[f] for f in names}))} (route_family.csv "
                        "terms_of): their own rows would not be read; drop them, or blank the "
                        "family's terms_of.")
    bad = ~par["nest"].isin([*nests.values(), "*"])
    if bad.any():
        problems.append(f"{file}: nest {format_ids(par.loc[bad, 'nest'].unique())} has no "
                        f"member family in route_family.csv (lines {lines(bad)}); a nest needs "
                        "at least one family: give a family that nest, or drop the rows.")
    bad = ~par["commodity"].isin([*coms, "*"])
    if bad.any():
        names = format_ids(par.loc[bad, "commodity"].unique())
        problems.append(f"{file}: unknown commodity {names} (lines {lines(bad)}).")
    if link_ids is not None:
        known = set(link_ids) | {"*"}
        bad = par["link_ids"].map(lambda s: not set(id_list(s)) <= known)
        if bad.any():
            problems.append(f"{file}: link ids not in link.csv on lines {lines(bad)}.")
    th = par["parameter"] == "theta"
    bad = th & ~(par["value"] > 0)
    if bad.any():
        problems.append(f"{file}: theta must be > 0 (lines {lines(bad)}): the dispersion is "
                        "the inverse of a cost spread; write a positive value per USD/t.")
    sc = par["parameter"] == "nest_scale"
    bad = sc & ~((par["value"] > 0) & (par["value"] <= 1))
    if bad.any():
        problems.append(f"{file}: nest_scale must be in (0, 1] (lines {lines(bad)}).")
    gm = par["parameter"] == "path_size_gamma"
    bad = gm & ~(par["value"] >= 0)
    if bad.any():
        problems.append(f"{file}: path_size_gamma must be >= 0 (lines {lines(bad)}): 0 is "
                        "Ben-Akiva and Bierlaire's path size, larger values let routes far "
                        "dearer than a route count less on its links.")
    # each parameter is read at its own scope: a row naming another was ignored in silence (a
    # family's theta, a nest scale of nest *, a constant on named links, a gauge break on *)
    scopes = ("family", "nest", "link_ids", "commodity")
    for parameter, cols in READ_PER.items():
        mine = par["parameter"] == parameter
        if not cols:  # one value for every route
            bad = mine & (par[list(scopes)] != "*").any(axis=1)
            if bad.any():
                problems.append(f"{file}: {parameter} applies to every route (lines "
                                f"{lines(bad)}); write * for family, nest, link_ids and "
                                "commodity.")
            continue
        for col in (c for c in scopes if c not in cols):
            bad = mine & (par[col] != "*")
            if bad.any():
                problems.append(
                    f"{file}: {parameter} is read per {' and '.join(cols)}, not per {col} "
                    f"(lines {lines(bad)}): write * for its {col}, or the row is not read.")
        for col in NEEDS.get(parameter, ()):
            bad = mine & (par[col] == "*")
            if bad.any():
                problems.append(f"{file}: {parameter} needs a {col} (lines {lines(bad)}): "
                                f"name the {col} it applies to; with * the row is not read.")
    key = ["parameter", "family", "nest", "link_ids", "commodity"]
    dup = par.duplicated(key, keep=False) & ~par["parameter"].isin(ADDITIVE)
    if dup.any():
        problems.append(f"{file}: the same parameter is given twice for the same scope (lines "
                        f"{lines(dup)}); keep one row.")
    if problems:
        raise InputError(problems)  # each problem names the file

    by_param: dict[str, list[tuple]] = {}
    for r in par.itertuples(index=False):
        if r.link_ids == "*":
            by_param.setdefault(r.parameter, []).append((r.family, r.nest, r.commodity,
                                                         float(r.value)))

    def pick(parameter: str, family: str, commodity: str) -> tuple[float | None, float]:
        """(most specific value or None, sum over the rows that apply)."""
        best, best_spec, total = None, -1, 0.0
        family = src[family]
        for f, n, c, v in by_param.get(parameter, ()):
            if f in (family, "*") and n in (nests[family], "*") and c in (commodity, "*"):
                total += v
                spec = (c != "*") * 4 + (f != "*") * 2 + (n != "*")
                if spec > best_spec:
                    best, best_spec = v, spec
        return best, total

    # the route sets' dispersion: a theta row's prior_value where given (blank: its value)
    prior = (pd.to_numeric(table["prior_value"], errors="coerce") if "prior_value" in table
             else pd.Series(np.nan, index=table.index))
    given = (table["prior_value"].notna() & (table["prior_value"].astype(str).str.strip() != "")
             if "prior_value" in table else pd.Series(False, index=table.index))
    bad = th & given & ~(prior > 0)
    if bad.any():
        problems.append(f"{file}: a theta row's prior_value must be a number > 0 or blank "
                        f"(lines {lines(bad)}): it sets the route sets' dispersion.")
    par["route_theta"] = np.where(given & (prior > 0), prior, par["value"])
    # the rows as plain tuples from here on: a calibration reads the table once per evaluation
    recs = list(par[["parameter", "nest", "link_ids", "commodity", "value",
                     "route_theta"]].itertuples(index=False, name=None))

    def first(rows: list[tuple], commodity: str) -> list[tuple]:
        """``rows`` of ``commodity`` first, then those of ``*``, each in the table's order."""
        return ([r for r in rows if r[3] == commodity] + [r for r in rows if r[3] == "*"])

    theta_usd, route_theta_usd = {}, {}
    thr = [r for r in recs if r[0] == "theta"]
    for c in coms:
        r = first(thr, c)
        if not r:
            problems.append(f"{file}: no theta for commodity {c!r}; add a row parameter=theta, "
                            f"commodity={c}, value in 1/(USD/t).")
            continue
        theta_usd[c] = float(r[0][4])
        route_theta_usd[c] = float(r[0][5])
    # a family that no reliability_buffer_h row reaches has no terms of its own: a table made
    # for fewer families (an older copy against a newer route_family.csv) gave the new one 0
    # for every term in silence, cheaper than the family it was taken from; warned, as a new
    # family may be meant to have none
    lacking = [f for f in fam_ids
               if all(pick("reliability_buffer_h", f, c)[0] is None for c in coms)]
    if lacking:
        line_of = (dict(zip(families["family_id"], families["line"], strict=True))
                   if "line" in families else {})
        where = ", ".join(f"{f} (route_family.csv line {line_of[f]})" if f in line_of else f
                          for f in lacking)
        import warnings

        from karvan.freight.corridor import CorridorWarning

        warnings.warn(f"{file}: no reliability_buffer_h row for the families {where}, so "
                      "every term of theirs is 0 (no buffer, constant, insurance): was the "
                      "table made for other families (a copy older than route_family.csv)? "
                      "Add the families' rows (the built-in table has them), or a row of "
                      "family * that applies to every family.", CorridorWarning, stacklevel=2)
    rows = []
    for c in coms:
        vor = pick("value_of_reliability", fam_ids[0], c)[0]
        if vor is None:
            problems.append(f"{file}: no value_of_reliability for commodity {c!r}; add a row "
                            "(USD/t-h).")
            continue
        for f in fam_ids:
            buf = pick("reliability_buffer_h", f, c)[0] or 0.0
            terms = {t: pick(t, f, c)[1] for t in ADDITIVE}
            asc = pick("asc_usd_per_t", f, c)[0] or 0.0
            rel = vor * buf
            rows.append((c, f, nests[f], buf, rel, *terms.values(), asc,
                         rel + sum(terms.values()) + asc))
    nest_scale = {}
    for n in dict.fromkeys(nests.values()):
        r = [v for p_, nest, _, _, v, _ in recs if p_ == "nest_scale" and nest == n]
        nest_scale[n] = float(r[0]) if r else 1.0
    gauge = []
    kinds = {k: [r for r in recs if r[0] == k] for k in ("gauge_break_usd_per_t",
                                                          "gauge_break_h")}
    for c in coms:
        for kind, rows_k in kinds.items():
            # the commodity's own rows before those of *: the first row naming a link sets it
            got: dict[str, float] = {}
            for r in first(rows_k, c):
                for lk in id_list(r[2]):
                    got.setdefault(lk, float(r[4]))
            gauge += [(c, lk, kind, v) for lk, v in got.items()]
    if problems:
        raise InputError(problems)  # each problem names the file
    g = pd.DataFrame(gauge, columns=["commodity", "link_id", "kind", "value"])
    g = g.pivot_table(index=["commodity", "link_id"], columns="kind", values="value",
                      aggfunc="first").reset_index()
    g["charge_usd_per_t"] = g.get("gauge_break_usd_per_t", LINK_GAUGE_CHANGE_USD_PER_T)
    g["time_h"] = g.get("gauge_break_h", LINK_GAUGE_CHANGE_H)
    g = g.fillna({"charge_usd_per_t": LINK_GAUGE_CHANGE_USD_PER_T,
                  "time_h": LINK_GAUGE_CHANGE_H})[["commodity", "link_id", "charge_usd_per_t",
                                                   "time_h"]]
    terms = pd.DataFrame(rows, columns=["commodity", "family_id", "nest", "buffer_h",
                                        "reliability_usd_per_t", *ADDITIVE, "asc_usd_per_t",
                                        "total_usd_per_t"])
    bad_vot = [c for c in coms if not (vot.get(c, np.nan) > 0)]
    if bad_vot:
        raise InputError(f"commodity.csv: vot_usd_per_t_h must be > 0 for {format_ids(bad_vot)}.")
    gamma = float(par.loc[gm, "value"].iloc[0]) if gm.any() else 0.0
    return CorridorChoice(families.reset_index(drop=True), theta_usd, terms, nest_scale, g,
                          beta, table, route_theta_usd, gamma)


# -------------------------------------------------------------------------- route families


def terms_families(families: pd.DataFrame) -> dict[str, str]:
    """Each family's source of choice terms: the family named in ``route_family.csv``'s
    ``terms_of`` (its rows of ``choice_parameter.csv`` are read for both), else itself."""
    tof = (families["terms_of"].fillna("").astype(str).str.strip() if "terms_of" in families
           else pd.Series("", index=families.index))
    return {f: (t or f) for f, t in zip(families["family_id"], tof, strict=True)}


def family_classifier(families: pd.DataFrame):
    """A function RouteSet -> family index of each route (``route_family.csv``'s rule: the
    first family by priority whose ``via_link_ids`` the route uses, with one of
    ``also_via_link_ids`` when given and none of ``avoid_link_ids``), vectorised over arcs."""
    by_arcs = arcs_classifier(families)

    def classify(rs) -> np.ndarray:
        return by_arcs(rs.graph, rs.route_arcs, rs.route_ptr)

    return classify


def arcs_classifier(families: pd.DataFrame):
    """A function (graph, route arcs, route pointers) -> family index of each route, by the
    rule of :func:`family_classifier`; -1 for a route without arcs."""
    rules = [(id_list(r.via_link_ids), id_list(r.also_via_link_ids), id_list(r.avoid_link_ids))
             for r in families.itertuples()]
    # the distinct lists of link ids the rules name ("*" is every route, an empty list none)
    lists = list(dict.fromkeys(tuple(ids) for rule in rules for ids in rule
                               if ids and "*" not in ids))
    column = {t: k for k, t in enumerate(lists)}
    # which arcs each list covers (arcs x lists), per graph (by its links and arcs): the lookups
    # were most of a route search's classifying, called some 30 times on one graph
    arcs_on: dict[tuple, np.ndarray] = {}

    def graph_masks(g) -> np.ndarray:
        key = (tuple(g.link_ids), g.arc_link.tobytes())
        masks = arcs_on.get(key)
        if masks is None:
            arcs_on.clear()  # one graph at a time
            index = pd.Index(g.link_ids)
            masks = np.zeros((len(g.arc_link), len(lists)), dtype=bool)
            for k, ids in enumerate(lists):
                pos = index.get_indexer(list(ids))
                masks[:, k] = np.isin(g.arc_link, pos[pos >= 0])
            arcs_on[key] = masks
        return masks

    def classify(g, route_arcs: np.ndarray, route_ptr: np.ndarray) -> np.ndarray:
        n = len(route_ptr) - 1
        has = np.diff(route_ptr) > 0
        # which lists each route meets: one pass over the routes' arcs for all of them
        meets = np.zeros((n, len(lists)), dtype=bool)
        if has.any() and lists:
            on = graph_masks(g)[np.asarray(route_arcs)[route_ptr[0]:route_ptr[-1]]]
            meets[has] = np.logical_or.reduceat(on, route_ptr[:-1][has] - route_ptr[0],
                                                axis=0)

        def uses(ids: list[str]) -> np.ndarray:
            if "*" in ids:
                return np.ones(n, dtype=bool)
            k = column.get(tuple(ids))
            return np.zeros(n, dtype=bool) if k is None else meets[:, k].copy()

        fam = np.full(n, -1, dtype=np.int64)
        for i in range(len(rules) - 1, -1, -1):
            via, also, avoid = rules[i]
            m = uses(via)
            if also:
                m &= uses(also)
            if avoid:
                m &= ~uses(avoid)
            fam[m] = i
        fam[~has] = -1  # the unserved-demand alternative
        return fam

    return classify


def serves_pairs(families: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """Family -> the (origin country, destination country) pairs it is declared to serve
    (``route_family.csv``'s optional ``serves``: ``RU-IN;IN-RU``)."""
    out: dict[str, set[tuple[str, str]]] = {}
    if "serves" not in families:
        return out
    for f, s in zip(families["family_id"], families["serves"], strict=True):
        pairs = {pair for _, pair in serves_entries(s) if pair is not None}
        if pairs:
            out[f] = pairs
    return out
