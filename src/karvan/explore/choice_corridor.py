"""The corridor under the logit choice model, set up once for many draws.

:func:`build_choice_model` solves a scenario's central case with ``run_scenario(...,
choice="logit")`` (nested logit over route families, hard capacities as side constraints) and keeps
its route sets. A draw (:meth:`ChoiceCorridorModel.evaluate`) recomputes the figures the inputs
change (times, charges, capacities, values of time, demand: as the deterministic model does, see
:mod:`karvan.explore.corridor`) and the choice model from the drawn parameter table (family
constants, dispersion, nest scales, gauge-break terms: :func:`karvan.freight.choice_model.
choice_parameters`), and solves the equilibrium again over the central route sets
(:func:`karvan.choice.dual.fixed_cost_equilibrium`; its Newton iterations on the capacity
multipliers start from zero, the engine takes no starting multipliers).

Headline outputs: those of the deterministic model (borders, links, countries, route options,
shippers, totals; a link's utilization is that of its tightest capacity constraint), and

- ``family:<O>-<D>:<family_id>`` the share of the tonnes carried from country O to country D
  (every commodity) on routes of the family, for the major country pairs of the run's summary;
- ``capacity:<constraint_id>:shadow_price_h``, ``:shadow_price_usd_per_t`` (the multiplier times
  the value of time, averaged over the tonnes through it) and ``:utilization`` of every hard
  capacity (``constraint_id``: link id and direction, ``ab``, ``ba`` or ``both``);
- ``total:unserved_t`` demand the capacities leave unserved.

A class's money cost on a link may be negative (a commodity faster than the link's time, at a high
drawn value of time) and stays on the link, as in a run; but gauge-break terms drawn below the
link's own gauge-change component could make its cost at free flow negative, which the engine's
route costs refuse: only that part moves from the link to the fixed cost of every route through
it (the same route costs).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from karvan.explore.choice_inputs import choice_values
from karvan.explore.corridor import CorridorModel, model_parts, option_touch
from karvan.explore.inputs import InputSet
from karvan.freight import accounting as acc

log = logging.getLogger(__name__)


def _family_constant(rs, fam: np.ndarray, constants: pd.DataFrame, family_ids) -> np.ndarray:
    """Each route's family constant (hours) for its class, as ``with_family_costs`` adds it."""
    tab = constants.pivot(index="class", columns="family", values="constant")
    tab = tab.reindex(index=list(rs.class_names), columns=list(family_ids)).fillna(0.0)
    c = tab.to_numpy(dtype=float)
    cls = rs.od_class[rs.route_od]
    return np.where(fam >= 0, c[cls, np.maximum(fam, 0)], 0.0)


class ParameterMap:
    """The choice model as a function of the parameter table's ``value`` column, for tables
    that differ from one table only in their values (the draws): which row sets each number of
    :class:`~karvan.freight.choice_model.CorridorChoice` is found once, by the rules of
    :func:`~karvan.freight.choice_model.choice_parameters` (most specific row; money terms summed
    over the rows that apply), and a draw only indexes its values. Tested against
    ``choice_parameters`` of the drawn table."""

    def __init__(self, table: pd.DataFrame, families: pd.DataFrame,
                 commodities: pd.DataFrame, link_ids=None) -> None:
        from karvan.freight.choice_model import (
            ADDITIVE,
            LINK_GAUGE_CHANGE_H,
            LINK_GAUGE_CHANGE_USD_PER_T,
            choice_parameters,
        )

        self.model = choice_parameters(table, families, commodities)
        par = table.copy()
        for c in ("parameter", "family", "nest", "link_ids", "commodity"):
            par[c] = par[c].fillna("*").astype(str).str.strip().replace("", "*")
        par = par.reset_index(drop=True)
        nests = self.model.nest_of
        fam_ids = self.model.family_ids
        coms = list(commodities["commodity_id"])
        p, fa, ne, li, co = (par[c].to_numpy(dtype=object) for c in
                             ("parameter", "family", "nest", "link_ids", "commodity"))
        spec_all = (co != "*") * 4 + (fa != "*") * 2 + (ne != "*")

        src = self.model.terms_of

        def rows(parameter: str, family: str, commodity: str) -> np.ndarray:
            family = src[family]  # a family with terms_of reads that family's rows
            return np.flatnonzero((p == parameter) & np.isin(fa, [family, "*"])
                                  & np.isin(ne, [nests[family], "*"])
                                  & np.isin(co, [commodity, "*"]) & (li == "*"))

        def pick(parameter: str, family: str, commodity: str) -> int:
            r = rows(parameter, family, commodity)
            if not len(r):
                return -1
            return int(r[spec_all[r] == spec_all[r].max()][0])

        self.theta = []
        for c in coms:
            r = np.flatnonzero((p == "theta") & np.isin(co, [c, "*"]))
            r = np.concatenate([r[co[r] != "*"], r[co[r] == "*"]])
            self.theta.append((c, int(r[0])))
        n_t = len(self.model.family_terms)
        self.vor = np.full(n_t, -1)
        self.buf = np.full(n_t, -1)
        self.asc = np.full(n_t, -1)
        self.add = {t: sp.lil_matrix((n_t, len(par))) for t in ADDITIVE}
        k = 0
        for c in coms:
            vor = pick("value_of_reliability", fam_ids[0], c)
            for f in fam_ids:
                self.vor[k] = vor
                self.buf[k] = pick("reliability_buffer_h", f, c)
                self.asc[k] = pick("asc_usd_per_t", f, c)
                for t in ADDITIVE:
                    for j in rows(t, f, c):
                        self.add[t][k, j] = 1.0
                k += 1
        if k != n_t:
            raise RuntimeError("the family terms are not one row per commodity and family.")
        self.add = {t: m.tocsr() for t, m in self.add.items()}
        self.nest = [(n, int(next(iter(np.flatnonzero((p == "nest_scale") & (ne == n))), -1)))
                     for n in self.model.nest_scale]
        g = self.model.gauge
        self.gauge = {}
        for col, kind, default in (("charge_usd_per_t", "gauge_break_usd_per_t",
                                    LINK_GAUGE_CHANGE_USD_PER_T),
                                   ("time_h", "gauge_break_h", LINK_GAUGE_CHANGE_H)):
            idx = np.full(len(g), -1)
            for i, (c, lk) in enumerate(zip(g["commodity"], g["link_id"], strict=True)):
                r = np.flatnonzero((p == kind) & np.isin(co, [c, "*"]))
                r = np.concatenate([r[co[r] != "*"], r[co[r] == "*"]])
                hit = [j for j in r if lk in [x.strip() for x in str(li[j]).split(";")]]
                idx[i] = hit[0] if hit else -1
            self.gauge[col] = (idx, default)
        # the gauge rows' links, and the family terms as (commodity, family) arrays
        self.gauge_com = g["commodity"].to_numpy(dtype=object)
        self.gauge_pos = (pd.Index(list(link_ids)).get_indexer(g["link_id"])
                          if link_ids is not None else None)
        self.n_links = len(link_ids) if link_ids is not None else 0
        self.coms = coms
        self.n_fam = len(fam_ids)

    def link_cost_usd_per_t(self, model, commodity: str, value_of_time: float) -> np.ndarray:
        """:meth:`CorridorChoice.link_cost_usd_per_t` over the links given at construction,
        from the gauge rows' positions found once."""
        usd, hours = self.gauge_extra(model, commodity)
        return usd + value_of_time * hours

    def gauge_extra(self, model, commodity: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`CorridorChoice.gauge_extra` over the links given at construction: charge
        (USD/t) and time (h) beyond each link's own gauge change."""
        from karvan.freight.choice_model import LINK_GAUGE_CHANGE_H, LINK_GAUGE_CHANGE_USD_PER_T

        usd, hours = np.zeros(self.n_links), np.zeros(self.n_links)
        m = (self.gauge_com == commodity) & (self.gauge_pos >= 0)
        if m.any():
            g = model.gauge
            usd[self.gauge_pos[m]] = g["charge_usd_per_t"].to_numpy()[m] - (
                LINK_GAUGE_CHANGE_USD_PER_T)
            hours[self.gauge_pos[m]] = g["time_h"].to_numpy()[m] - LINK_GAUGE_CHANGE_H
        return usd, hours

    def totals(self, model) -> np.ndarray:
        """Each commodity's family terms in all (USD/t): (commodities, families)."""
        return model.family_terms["total_usd_per_t"].to_numpy(dtype=float).reshape(
            len(self.coms), self.n_fam)

    def at(self, value: np.ndarray):
        """The choice model with the table's values ``value``."""
        from karvan.freight.choice_model import ADDITIVE

        m = self.model
        v = np.asarray(value, dtype=float)

        def take(idx: np.ndarray, default: float) -> np.ndarray:
            return np.where(idx >= 0, v[np.maximum(idx, 0)], default)

        terms = m.family_terms.copy()
        buf = take(self.buf, 0.0)
        rel = take(self.vor, np.nan) * buf
        asc = take(self.asc, 0.0)
        tot = rel + asc
        terms["buffer_h"] = buf
        terms["reliability_usd_per_t"] = rel
        for t in ADDITIVE:
            x = self.add[t] @ v
            terms[t] = x
            tot = tot + x
        terms["asc_usd_per_t"] = asc
        terms["total_usd_per_t"] = tot
        gauge = m.gauge.copy()
        for col, (idx, default) in self.gauge.items():
            gauge[col] = take(idx, default)
        return dataclasses.replace(
            m, theta_usd={c: float(v[j]) for c, j in self.theta}, family_terms=terms,
            nest_scale={n: float(v[j]) if j >= 0 else 1.0 for n, j in self.nest}, gauge=gauge)



def link_cost_at_least(money: np.ndarray, floor: np.ndarray, t0: np.ndarray,
                       vot: float) -> np.ndarray:
    """``money`` raised to ``floor`` (``-t0 * vot``: the money cost that makes a link's cost at
    free flow zero) where it is below it, and then, where rounding leaves ``t0 + money / vot``
    a hair below zero (as the route engine computes it), by the few units in the last place
    that make it zero or more.

    Examples
    --------
    >>> t0, vot = np.array([0.1, 2.0]), 3.1
    >>> kept = link_cost_at_least(np.array([-5.0, 1.0]), -t0 * vot, t0, vot)
    >>> bool((t0 + kept / vot >= 0).all()), float(kept[1])
    (True, 1.0)
    """
    kept = np.maximum(money, floor)
    low = t0 + kept / vot < 0
    while low.any():
        kept[low] = np.nextafter(kept[low], np.inf)
        low = t0 + kept / vot < 0
    return kept

@dataclasses.dataclass(eq=False)
class ChoiceCorridorModel(CorridorModel):
    """A scenario's central solution under the logit choice model and the arrays a draw
    changes (see the module notes). Build it with :func:`build_choice_model`."""

    table: pd.DataFrame | None = None
    families: pd.DataFrame | None = None
    commodities: pd.DataFrame | None = None
    values_at: object = None
    parameters: ParameterMap | None = None
    routes: object = None          # the central route sets, no unserved alternative, no constants
    fam: np.ndarray | None = None  # family index of each of their routes
    capacities: pd.DataFrame | None = None  # the constraints (link_id, direction, capacity)
    cap_link: np.ndarray | None = None      # position of each constraint's link
    cap_scale: np.ndarray | None = None     # each constraint's capacity / its link's capacity
    major_ods: tuple = ()
    spec: dict = dataclasses.field(default_factory=dict)

    def choice_model(self, values: np.ndarray | None):
        """The choice model at input ``values`` (None: the table's)."""
        return self.parameters.at(self.values_at(values))

    def evaluate(self, values: np.ndarray | None) -> dict[str, float]:
        """Headline outputs at input ``values`` (None: the dataset's figures), plus ``_gap``,
        ``_iterations`` and ``_converged`` of the equilibrium."""
        from karvan.assign.classes import TrafficClass
        from karvan.choice import Capacities
        from karvan.choice.dual import fixed_cost_equilibrium
        from karvan.choice.routes import RouteSet

        d = self.draw_arrays(values)
        model = self.choice_model(values)
        g = d.graph
        rs = self.routes
        pm = self.parameters
        classes = []
        neg_h = np.zeros((len(d.classes), g.n_links))
        t0 = np.zeros(g.n_links)
        t0[g.arc_link] = g.free_flow_time
        for k, c in enumerate(d.classes):
            com = acc.commodity_of(c.name)
            money = np.asarray(c.link_cost, dtype=float) + pm.link_cost_usd_per_t(
                model, com, c.value_of_time)
            # only what would make the link's cost at free flow negative leaves the link
            kept = link_cost_at_least(money, -t0 * c.value_of_time, t0, c.value_of_time)
            neg_h[k] = (money - kept) / c.value_of_time
            classes.append(TrafficClass(c.name, c.demand, c.value_of_time, c.pce, {}, kept))
        # each route's family constant (hours), as model.constants and with_family_costs give it
        cls = rs.od_class[rs.route_od]
        vot_k = np.array([c.value_of_time for c in classes])
        tot = pm.totals(model)[self.class_commodity[cls], np.maximum(self.fam, 0)] / vot_k[cls]
        fixed = rs.route_fixed + np.where(self.fam >= 0, tot, 0.0)
        if neg_h.any():
            inc = self._incidence(rs)
            per = inc @ neg_h[:, g.arc_link].T  # (routes, classes)
            fixed = fixed + per[np.arange(rs.n_routes), cls]
        rs_d = RouteSet(**{**{f: getattr(rs, f) for f in RouteSet.__dataclass_fields__},
                           "route_fixed": fixed})
        nest_names = list(dict.fromkeys(model.families["nest"]))
        nest_idx = np.array([nest_names.index(n) for n in model.families["nest"]],
                            dtype=np.int64)
        groups = np.where(self.fam >= 0, nest_idx[np.maximum(self.fam, 0)], -1)
        scale = np.array([model.nest_scale[n] for n in nest_names], dtype=float)
        caps = Capacities(self.capacities.assign(
            capacity=self.cap_scale * d.capacity[self.cap_link]))
        # unserved demand is an output (fixed_cost_equilibrium does not warn of it)
        res = fixed_cost_equilibrium(g, d.demand, classes=classes,
                                     theta=model.theta_per_hour(classes), routes=rs_d,
                                     capacities=caps, beta=model.beta, gamma=model.gamma,
                                     groups=groups, scale=scale)
        # the accounts charge and time what the routes were chosen on, as the run's do
        charges, extra_h = dict(d.charges), dict(d.extra_h)
        for com in self.parts["commodities"]:
            usd, hours = pm.gauge_extra(model, com)
            if com in charges and (usd.any() or hours.any()):
                charges[com] = np.asarray(charges[com], dtype=float) + usd
                extra_h[com] = extra_h[com] + hours if com in extra_h else hours
        out = self._choice_outputs(g, res, dataclasses.replace(d, charges=charges), extra_h)
        out["_gap"] = float(res.gap)
        out["_iterations"] = float(res.iterations)
        out["_converged"] = float(res.converged)
        return out

    @staticmethod
    def _incidence(rs) -> sp.csr_matrix:
        """Route x arc incidence (ones)."""
        lens = np.diff(rs.route_ptr)
        rows = np.repeat(np.arange(rs.n_routes), lens)
        return sp.csr_matrix((np.ones(len(rows)), (rows, rs.route_arcs)),
                             shape=(rs.n_routes, rs.graph.n_arcs))

    def _route_spec(self, res) -> dict:
        """What the outputs need of the solved route set (the same in every draw: the central
        routes and one unserved alternative per OD pair)."""
        from karvan.choice.routes import SOURCE_UNSERVED
        from karvan.freight.choice_model import family_classifier

        rs = res.route_set
        g = res.graph
        o = self.outputs
        inc = self._incidence(rs)
        n_c = len(o["countries"])
        touch = (inc @ o["member"].T.astype(float)) > 0  # (routes, countries + options ...)
        # an option that also needs one of its also_via links: the routes through both
        touch = np.hstack([touch[:, :n_c], option_touch(touch, o) > 0.5])
        zc = self.spec["zone_country"]
        z = np.asarray(rs.zone_ids, dtype=object)
        route_od = rs.route_od
        oc = np.array([zc.get(x, "") for x in z[rs.od_origin]], dtype=object)[route_od]
        dc = np.array([zc.get(x, "") for x in z[rs.od_destination]], dtype=object)[route_od]
        cc = np.array(o["countries"], dtype=object)
        real = rs.route_source != SOURCE_UNSERVED
        fam = family_classifier(self.families)(rs)
        cls = rs.od_class[route_od]
        com = np.array([self.class_commodity[k] for k in cls])
        # the part of each route's tonnes that is each country's transit, by the accounting's
        # rule (overseas cargo through a port counts where the route crosses the country's land)
        s_o, s_d = self._overseas_shares(rs, g, com)
        land = np.asarray(inc @ (o["member"][:n_c] & o["overseas"]["land_arc"][None, :]).T
                          .astype(float)) > 0
        transit = touch[:, :n_c] * acc.transit_weights(
            cc[None, :], oc[:, None], dc[:, None], s_o[:, None], s_d[:, None], land)
        pairs = {}
        for p in dict.fromkeys(list(o["pairs"]) + list(self.major_ods)):
            pairs[p] = np.flatnonzero((oc == p[0]) & (dc == p[1]))
        # constraint -> arcs, as the run's capacity table reads its constraint ids
        cons = self.capacities
        lpos = pd.Index(g.link_ids).get_indexer(cons["link_id"])
        cinc = np.zeros((g.n_arcs, len(cons)))
        for j, (p, dr) in enumerate(zip(lpos, cons["direction"], strict=True)):
            arcs = np.flatnonzero(g.arc_link == p)
            if dr == "ab":
                arcs = arcs[g.arc_dir[arcs] > 0]
            elif dr == "ba":
                arcs = arcs[g.arc_dir[arcs] < 0]
            cinc[arcs, j] = 1.0
        return {"inc": inc, "touch": touch, "transit": transit, "real": real, "fam": fam,
                "com": com, "pairs": pairs, "cinc": cinc,
                "member_c": o["member"][:n_c].T.astype(float)}

    def _overseas_shares(self, rs, g, com) -> tuple[np.ndarray, np.ndarray]:
        """Each route's overseas origin and destination shares (its demand cell's)."""
        ov = self.outputs["overseas"]
        s_o, s_d = np.zeros(rs.n_routes), np.zeros(rs.n_routes)
        if not ov["cells"]:
            return s_o, s_d
        zi = {z: i for i, z in enumerate(g.zone_ids)}
        z = np.asarray(rs.zone_ids, dtype=object)
        oi = np.array([zi.get(x, -1) for x in z[rs.od_origin]])[rs.route_od]
        di = np.array([zi.get(x, -1) for x in z[rs.od_destination]])[rs.route_od]
        names = np.asarray(self.parts["commodities"], dtype=object)[com]
        for (i, c), cell in ov["cells"].items():
            sel = np.flatnonzero((oi == i) & (names == c) & (di >= 0))
            s_o[sel] = cell["s_o"][di[sel]]
            s_d[sel] = cell["s_d"][di[sel]]
        return s_o, s_d

    def _choice_outputs(self, g, res, d, extra_h=None) -> dict[str, float]:
        o = self.outputs
        if "inc" not in self.spec:
            self.spec.update(self._route_spec(res))
        s = self.spec
        out: dict[str, float] = {}
        ab, ba = g.to_links(res.volume)
        tot = ab + ba
        for lid, li in o["key_links"]:
            out[f"link:{lid}:tonnes"] = float(tot[li])
        cap = res.capacities
        util_c = (cap["volume"] / cap["capacity"]).to_numpy()
        vmax = np.zeros(g.n_links)
        np.maximum.at(vmax, g.arc_link, res.volume)
        util = vmax / d.capacity
        tight = np.full(g.n_links, -np.inf)
        np.maximum.at(tight, self.cap_link, util_c)
        util = np.where(np.isfinite(tight), tight, util)
        for lid, li in o["util_links"]:
            out[f"link:{lid}:utilization"] = float(util[li])
        for bid, lis in o["borders"]:
            out[f"border:{bid}:tonnes"] = float(tot[lis].sum())
        out["total:tonne_km"] = float((tot * d.length).sum())
        rs = res.route_set
        h = res.route_flow
        real = s["real"]
        out["total:demand_t"] = float(rs.od_demand.sum())
        # the unserved alternative's share is below exp(-40) where capacities leave room: a
        # tonne in 1e9 of demand is no answer (bands printed 2.26e-225 t)
        unserved = float(h[~real].sum())
        out["total:unserved_t"] = unserved if unserved > 1e-9 * float(rs.od_demand.sum()) \
            else 0.0
        # each pair's demand times its expected cost (the logsum, hours of the class's value
        # of time), USD/yr: its fall against the reference is the users' benefit
        vot = np.array([c.value_of_time for c in res.classes])
        out["total:expected_cost_usd"] = float(
            (rs.od_demand * res.od_expected_cost * vot[rs.od_class]).sum())
        n_c = len(o["countries"])
        touch = s["touch"]
        hr = np.where(real, h, 0.0)
        c_tonnes = hr @ touch[:, :n_c]
        c_transit = hr @ s["transit"]
        c_rev = np.zeros(n_c)
        for ci, com in enumerate(self.parts["commodities"]):
            sel = np.flatnonzero((s["com"] == ci) & real)
            if not len(sel):
                continue
            w = d.charges[com][g.arc_link][:, None] * s["member_c"]  # (arcs, countries)
            rev = np.asarray(s["inc"][sel] @ w)  # (routes, countries)
            c_rev += (hr[sel, None] * rev * s["transit"][sel]).sum(axis=0)
        for ci, c in enumerate(o["countries"]):
            out[f"country:{c}:tonnes"] = float(c_tonnes[ci])
            out[f"country:{c}:transit_tonnes"] = float(c_transit[ci])
            out[f"country:{c}:transit_revenue_usd"] = float(c_rev[ci])
        for oc, dc in o["pairs"]:
            r = s["pairs"][(oc, dc)]
            den = float(h[r].sum())
            for oi, opt in enumerate(o["options"]):
                num = float(hr[r] @ touch[r, n_c + oi])
                out[f"share:{oc}-{dc}:{opt}"] = num / den if den > 0 else float("nan")
        fam_ids = list(self.families["family_id"])
        for oc, dc in self.major_ods:
            r = s["pairs"][(oc, dc)]
            r = r[real[r]]
            den = float(h[r].sum())
            if den <= 0:
                continue
            fr = s["fam"][r]
            f = np.bincount(fr[fr >= 0], weights=h[r][fr >= 0], minlength=len(fam_ids))
            for fi in np.unique(fr[fr >= 0]):  # the families with a route for the pair
                out[f"family:{oc}-{dc}:{fam_ids[fi]}"] = float(f[fi] / den)
        mu = cap["multiplier"].to_numpy()
        flows = res.class_flows @ s["cinc"]  # (classes, constraints)
        vot = np.array([c.value_of_time for c in res.classes])
        with np.errstate(invalid="ignore", divide="ignore"):
            usd = np.where(flows.sum(axis=0) > 0,
                           (flows * vot[:, None]).sum(axis=0) / flows.sum(axis=0), 0.0) * mu
        for j, cid in enumerate(cap["constraint_id"].astype(str)):
            out[f"capacity:{cid}:shadow_price_h"] = float(mu[j])
            out[f"capacity:{cid}:shadow_price_usd_per_t"] = float(usd[j])
            out[f"capacity:{cid}:utilization"] = float(util_c[j])
        time = g.free_flow_time + res.surcharge
        out.update(self._shipper(g, res.class_costs, time, d.charges, d.vot, extra_h))
        return out


def build_choice_model(data, scenario, inputs: InputSet, table: pd.DataFrame, *,
                       central_gap: float = 1e-10,
                       watch: tuple[str, ...] = ()) -> ChoiceCorridorModel:
    """Solve ``scenario``'s central case under the logit choice model and set up its draws
    (see the module notes).

    Parameters
    ----------
    data
        The corridor dataset.
    scenario
        A resolved scenario.
    inputs
        The uncertain inputs (the dataset's figures and the choice parameters, table
        ``choice``).
    table
        The choice parameter table (``choice_parameter.csv`` as text, or a calibrated one).
    central_gap
        Unused by the logit model (kept for the builders' common signature).
    watch
        Links whose tonnes are outputs besides the capacity-limited and route-option ones
        (:func:`karvan.explore.corridor.build_corridor_model`).

    Raises
    ------
    InputError
        Inputs of a table neither model reads; a bad scenario or parameter table.
    RuntimeError
        The run's graph or route sets not in the order of its network and zones (a change in
        the run this model relies on).
    """
    from karvan.choice import capacities_from_links
    from karvan.choice.routes import SOURCE_UNSERVED, subset_routes
    from karvan.errors import InputError
    from karvan.freight.choice_model import choice_parameters, family_classifier
    from karvan.freight.route_family import read_route_families
    from karvan.scenario.choice_run import BOTH_DIRECTIONS, HARD_CAPACITY, choice_network
    from karvan.scenario.run import MAJOR_ODS, run_scenario

    known = {"link", "demand", "tariff", "tariff_commodity", "speed_commodity", "commodity",
             "growth", "choice"}
    foreign = sorted({x.table for x in inputs.inputs} - known)
    if foreign:
        raise InputError(f"inputs of tables {', '.join(foreign)} are not read by the corridor "
                         "model.")
    run = run_scenario(data, scenario, lp=False, backcasts=False, choice="logit",
                       choice_parameters=table)
    res = run.ue
    g = res.graph
    if list(map(str, g.link_ids)) != list(map(str, run.network.links.index)):
        raise RuntimeError("the compiled graph's links are not in the network's order.")
    families = read_route_families(data.folder)
    model0 = choice_parameters(table, families, data.commodities,
                               link_ids=list(data.links.index))
    rs_full = res.route_set
    rs0 = subset_routes(rs_full, rs_full.route_source != SOURCE_UNSERVED)
    fam = family_classifier(families)(rs0)
    const0 = _family_constant(rs0, fam, model0.constants(res.classes), model0.family_ids)
    rs0 = dataclasses.replace(rs0, route_fixed=rs0.route_fixed - const0)
    # the classes without the gauge-break terms (the bans' costs stay)
    classes = []
    for c in res.classes:
        extra = model0.link_cost_usd_per_t(acc.commodity_of(c.name), g.link_ids,
                                           c.value_of_time)
        lc = None if c.link_cost is None else np.asarray(c.link_cost, dtype=float) - extra
        classes.append(dataclasses.replace(c, link_cost=lc if lc is not None and lc.any()
                                           else None))
    classes = tuple(classes)
    if tuple(rs0.zone_ids) != tuple(g.zone_ids):
        raise RuntimeError("the route sets' zones are not the graph's.")
    mc = np.zeros((len(classes), len(g.zone_ids), len(g.zone_ids)))
    mc[rs0.od_class, rs0.od_origin, rs0.od_destination] = rs0.od_demand
    # the run's hard capacities (its engine column: the published throughput of both
    # directions where link.csv says so); a draw scales each by its link's drawn capacity
    cnet = choice_network(run.network)
    caps = capacities_from_links(cnet, HARD_CAPACITY, both_directions=BOTH_DIRECTIONS).table
    caps = caps.reset_index(drop=True)
    cap_link = pd.Index(map(str, g.link_ids)).get_indexer(caps["link_id"].astype(str))
    parts = model_parts(data, scenario, inputs, run, g, classes, mc, watch=watch)
    cap0 = parts["targets"]["link.capacity"].central[cap_link]
    cap_scale = caps["capacity"].to_numpy(dtype=float) / cap0
    model = ChoiceCorridorModel(
        scenario.name, scenario.year, g, res, gap=0.0, max_iter=0, **parts, table=table,
        families=families, commodities=data.commodities,
        values_at=choice_values(inputs, table),
        parameters=ParameterMap(table, families, data.commodities, link_ids=g.link_ids),
        routes=rs0, fam=fam, capacities=caps,
        cap_link=cap_link, cap_scale=cap_scale, major_ods=tuple(MAJOR_ODS),
        spec={"zone_country": data.zone_country()})
    model.output_names = [k for k in model.evaluate(None) if not k.startswith("_")]
    return model
