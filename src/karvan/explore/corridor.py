"""The corridor model of one scenario, set up once for many draws of its uncertain inputs.

:func:`build_corridor_model` solves the scenario's central case (the dataset's figures) with
:func:`karvan.scenario.run.run_scenario` and keeps, as arrays in the order of its compiled graph,
every figure an input can change: the parts of each link's time (length, speed, dwell, sailing
wait), capacities, where each link's tariff comes from, values of time, demand by row with its
growth rule. A draw (:meth:`CorridorModel.evaluate`) then only recomputes those arrays, assigns
at user equilibrium starting from the central bushes (Algorithm B's warm start) and computes the
headline outputs, without building any result table.

Headline outputs (names are stable; ``<...>`` are ids of the dataset):

- ``border:<border_id>:tonnes`` both directions of every open border crossing;
- ``link:<link_id>:tonnes`` and ``link:<link_id>:utilization`` of capacity-limited links, of
  the links that define the route options and of the links the experiment's scenarios open,
  set or scale (``watch``: a ferry whose frequency a scenario doubles has no capacity, and had
  no band); and ``link:<link_id>:tonnes`` of the links a scenario diverts freight onto or off
  (:func:`diverted_links`, added by :meth:`CorridorModel.with_link_outputs` once the central
  cases of a scenario and its reference are known);
- ``country:<country>:tonnes``, ``:transit_tonnes``, ``:transit_revenue_usd`` as in the
  ``countries`` table of a run;
- ``share:<O>-<D>:<option_id>`` the share of the tonnes from country O to country D whose routes
  use the option's links (``route_option.csv``; route families of a choice model later);
- ``shipper:<origin>-<destination>:<commodity>:<option_id>:cost_usd_per_t`` and ``:time_days``
  of the best route through each option, as the ``shipper`` table of a run;
- ``total:tonne_km``, ``total:demand_t``.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
import pandas as pd

from karvan.assign import assign
from karvan.assign.classes import TrafficClass
from karvan.errors import ConvergenceWarning, catch_warnings
from karvan.explore.inputs import InputSet
from karvan.freight import accounting as acc
from karvan.freight.corridor import OVERSEAS_SHARES, with_overseas_shares
from karvan.freight.costs import TARIFF_FACTOR, hard_capacity, slowdown, speed_commodities
from karvan.freight.observed import LAND_MODES
from karvan.network.demand import Demand
from karvan.paths.bush_sets import route_set_joint_stats, route_set_stats
from karvan.scenario.apply import level_rows, most_specific_rules
from karvan.scenario.run import od_segment
from karvan.schema.text import id_list, read_frame

log = logging.getLogger(__name__)

#: country pairs whose route-option shares are headline outputs
SHARE_PAIRS = (("RU", "IN"), ("IN", "RU"), ("RU", "IR"), ("IR", "RU"))
#: the links a scenario diverts freight onto or off that get outputs of their own
#: (:func:`diverted_links`): at most :data:`DIVERTED_TOP` per scenario, those whose central
#: tonnes differ from its reference's by :data:`DIVERTED_LEAST_T` t/yr or more and by
#: :data:`DIVERTED_LEAST_SHARE` or more of the larger of the two
DIVERTED_TOP = 10
DIVERTED_LEAST_T = 50_000.0
DIVERTED_LEAST_SHARE = 0.05
#: two links (or a link and a border) whose central tonnes differ by no more than this in the
#: scenario and in its reference are taken as stretches of one path (t/yr)
SAME_PATH_T = 1.0
#: the fields a scenario's ``set`` modification fixes (not perturbed on those links)
_SET_FIELDS = {"capacity_tpy": "capacity", "dwell_h": "dwell", "speed_kph": "speed",
               "length_km": "length", "frequency_per_week": "frequency",
               "tariff_usd_per_tkm": "tariff", "tariff_usd_per_t": "tariff",
               "fee_usd_per_t": "fee"}


def _tariff_sources(data, links: pd.DataFrame, col: str, commodity: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """For each link, where its ``col`` tariff for ``commodity`` comes from, in the order of
    :func:`karvan.freight.costs.link_costs`: ``(kind, key)`` with kind 0 none, 1 the link's
    own figure, 2 ``tariff_commodity.csv``, 3 ``tariff.csv`` (key: the row key)."""
    kind = np.zeros(len(links), dtype=np.int64)
    key = np.empty(len(links), dtype=object)
    own = pd.to_numeric(links[col], errors="coerce") if col in links else pd.Series(
        np.nan, index=links.index)
    tc = data.tariffs_by_commodity
    tcx = tca = {}
    if tc is not None and col in tc:
        t = tc.dropna(subset=[col])
        t = t[t["commodity_id"] == commodity]
        tcx = {(m, c): f"{m}>{c}>{commodity}"
               for m, c in zip(t["mode"], t["country"], strict=True) if c != "*"}
        tca = {m: f"{m}>*>{commodity}"
               for m, c in zip(t["mode"], t["country"], strict=True) if c == "*"}
    t = data.tariffs.dropna(subset=[col])
    tx = {(m, c): f"{m}>{c}" for m, c in zip(t["mode"], t["country"], strict=True) if c != "*"}
    ta = {m: f"{m}>*" for m, c in zip(t["mode"], t["country"], strict=True) if c == "*"}
    for j, (lid, m, c) in enumerate(zip(links.index, links["mode"], links["country"],
                                        strict=True)):
        if pd.notna(own.iloc[j]):
            kind[j], key[j] = 1, str(lid)
        elif (m, c) in tcx or m in tca:
            kind[j], key[j] = 2, tcx.get((m, c), tca.get(m))
        elif (m, c) in tx or m in ta:
            kind[j], key[j] = 3, tx.get((m, c), ta.get(m))
    return kind, key


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class DrawArrays:
    """What one draw changes: the compiled graph (times, capacities, lengths), the demand, the
    classes (each with its commodity's charges per link, and its own time beyond the link's at
    its value of time, as ``link_cost``, USD/t), the charges per commodity and link, lengths and
    capacities per link, values of time per commodity, the tonnes of each demand row and the
    hours per link of each commodity with a speed of its own beyond the link's time."""

    graph: object
    demand: Demand
    classes: list
    charges: dict
    length: np.ndarray
    capacity: np.ndarray
    vot: np.ndarray
    tonnes: np.ndarray
    extra_h: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False)
class CorridorModel:
    """A scenario's central solution and the arrays a draw changes (see the module notes).

    Build it with :func:`build_corridor_model`; :meth:`evaluate` is one draw.
    """

    scenario: str
    year: int
    graph: object
    central: object  # the central AssignmentResult (warm start)
    classes: tuple
    class_commodity: np.ndarray
    targets: dict
    parts: dict
    demand_rows: dict
    outputs: dict
    gap: float
    max_iter: int
    output_names: list = dataclasses.field(default_factory=list)

    # -- one draw ----------------------------------------------------------------------------

    def evaluate(self, values: np.ndarray | None) -> dict[str, float]:
        """Headline outputs at input ``values`` (None: the dataset's figures), plus
        ``_gap``, ``_iterations`` and ``_converged`` of the equilibrium."""
        d = self.draw_arrays(values)
        with catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = assign(d.graph, d.demand, classes=d.classes, gap=self.gap,
                         max_iter=self.max_iter, warm_start=self.central)
        out = self._outputs(d.graph, res, d.charges, d.length, d.capacity, d.vot, d.extra_h)
        out["_gap"] = float(res.gap)
        out["_iterations"] = float(res.iterations)
        out["_converged"] = float(res.converged)
        return out

    def central_link_tonnes(self) -> pd.DataFrame:
        """The central solution's tonnes on each link of the scenario's network (both
        directions, t/yr), indexed by ``link_id``, with ``output`` (whether the link's tonnes
        are an output already) and ``border_id`` (blank off borders): what
        :func:`diverted_links` compares between a scenario and its reference."""
        g = self.graph
        ab, ba = g.to_links(self.central.class_flows.sum(axis=0))
        ids = [str(x) for x in g.link_ids]
        border = np.full(len(ids), "", dtype=object)
        for bid, lis in self.outputs["borders"]:
            border[lis] = bid
        have = {x for x, _ in self.outputs["key_links"]}
        return pd.DataFrame({"tonnes": ab + ba, "output": [x in have for x in ids],
                             "border_id": border}, index=pd.Index(ids, name="link_id"))

    def with_link_outputs(self, links) -> CorridorModel:
        """A copy of the model that also gives ``link:<id>:tonnes`` of ``links`` (those in its
        network and not outputs already; the model itself where none is new): the links an
        experiment follows in every scenario (:func:`diverted_links`). The arrays are shared."""
        li = {str(x): i for i, x in enumerate(self.graph.link_ids)}
        have = {x for x, _ in self.outputs["key_links"]}
        new = [(x, li[x]) for x in dict.fromkeys(map(str, links)) if x in li and x not in have]
        if not new:
            return self
        key = [*self.outputs["key_links"], *new]
        # the links' tonnes come first among a model's outputs
        names = [f"link:{x}:tonnes" for x, _ in key] + [
            n for n in self.output_names if not (n.startswith("link:") and n.endswith(":tonnes"))]
        return dataclasses.replace(self, outputs={**self.outputs, "key_links": key},
                                   output_names=names)

    def draw_arrays(self, values: np.ndarray | None) -> DrawArrays:
        """The network, demand and classes of a draw (None: the dataset's figures)."""
        g = self.graph
        tg = self.targets
        p = self.parts

        def arr(name):
            t = tg.get(name)
            return t.central.copy() if t is None or values is None else t.apply(values)

        length = arr("link.length")
        speed = arr("link.speed")
        dwell = arr("link.dwell")
        freq = arr("link.frequency")
        run = np.where(speed > 0, length / np.where(speed > 0, speed, 1.0), 0.0)
        # a commodity's own speed on line links where faster than the link's (freight.costs)
        extra_h = {}
        if p.get("own_speed"):
            own = arr("speed_commodity.speed")
            for com, idx in p["own_speed"].items():
                s_c = np.where(idx >= 0, own[np.maximum(idx, 0)], np.nan) * p["slowdown"]
                faster = (idx >= 0) & (speed > 0) & (speed < s_c)
                extra_h[com] = np.where(faster, length / np.where(faster, s_c, 1.0) - run, 0.0)
        wait = np.where(p["sailing"] & (freq > 0), 0.5 * 168.0 / np.where(freq > 0, freq, 1.0),
                        0.0)
        time_l = run + dwell + wait
        cap_l = arr("link.capacity")
        cap_arc = np.where(np.isfinite(g.capacity), cap_l[g.arc_link], np.inf)
        fee = arr("link.fee")
        own_t = {col: arr(f"link.tariff.{col}") for col in ("tariff_usd_per_tkm",
                                                            "tariff_usd_per_t")}
        tab = {name: arr(name) for name in ("tariff.tariff_usd_per_tkm", "tariff.tariff_usd_per_t",
                                            "tariff_commodity.tariff_usd_per_tkm",
                                            "tariff_commodity.tariff_usd_per_t")}
        charges = {}
        for com, src in p["tariff_src"].items():
            rate = {}
            for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
                kind, pos = src[col]
                v = np.zeros(len(kind))
                m = kind == 1
                v[m] = own_t[col][m]
                fac = p["tariff_factor"][col]
                m = kind == 2
                v[m] = tab[f"tariff_commodity.{col}"][pos[m]] * fac[m]
                m = kind == 3
                v[m] = tab[f"tariff.{col}"][pos[m]] * fac[m]
                rate[col] = v
            charges[com] = rate["tariff_usd_per_tkm"] * length + rate["tariff_usd_per_t"] + fee
        vot_c = arr("commodity.vot")
        vot = vot_c[self.class_commodity]
        dr = self.demand_rows
        tonnes = dr["tonnes"].copy()
        if values is not None:
            tonnes = tg["demand.tonnes"].apply(values)
            if "growth.growth" in tg and dr["years"] != 0:
                rate = tg["growth.growth"].apply(values)
                r0 = tg["growth.growth"].central
                gi = dr["growth_rule"]
                years = np.where(dr["levelled"], 0, dr["years"])  # a level replaces growth
                tonnes = tonnes * ((1.0 + rate[gi]) / (1.0 + r0[gi])) ** years
        ok = dr["k"] >= 0
        mats = np.zeros((len(self.classes), len(g.zone_ids), len(g.zone_ids)))
        np.add.at(mats, (dr["k"][ok], dr["i"][ok], dr["j"][ok]), tonnes[ok])
        demand = Demand(tuple(g.zone_ids), {c.name: mats[k] for k, c in enumerate(self.classes)})
        classes = []
        for k, c in enumerate(self.classes):
            com = p["commodities"][self.class_commodity[k]]
            lc = charges[com]
            if com in extra_h:
                lc = lc + vot[k] * extra_h[com]
            if c.link_cost is not None:
                lc = lc + c.link_cost
            classes.append(TrafficClass(c.name, c.name, float(vot[k]), 1.0, {}, lc))
        g2 = dataclasses.replace(g, free_flow_time=np.ascontiguousarray(time_l[g.arc_link]),
                                 capacity=np.ascontiguousarray(cap_arc),
                                 length=np.ascontiguousarray(length[g.arc_link]))
        return DrawArrays(g2, demand, classes, charges, length, cap_l, vot_c, tonnes, extra_h)

    def _outputs(self, g, res, charges, length, cap_l, vot_c, extra_h=None
                 ) -> dict[str, float]:
        o = self.outputs
        p = self.parts
        out: dict[str, float] = {}
        ab, ba = g.to_links(res.flow)
        tot = ab + ba
        for lid, li in o["key_links"]:
            out[f"link:{lid}:tonnes"] = float(tot[li])
        vmax = np.zeros(g.n_links)
        np.maximum.at(vmax, g.arc_link, res.volume)
        vsum = np.zeros(g.n_links)
        np.add.at(vsum, g.arc_link, res.volume)
        shared = o.get("shared_capacity", {})
        for lid, li in o["util_links"]:
            out[f"link:{lid}:utilization"] = float(
                vsum[li] / (cap_l[li] * shared[li]) if li in shared else vmax[li] / cap_l[li])
        for bid, lis in o["borders"]:
            out[f"border:{bid}:tonnes"] = float(tot[lis].sum())
        out["total:tonne_km"] = float((tot * length).sum())
        out["total:demand_t"] = float(res.bushes.demand.sum())
        # at equilibrium every used route costs the pair's least: the flows times the class
        # costs are the demand times the least cost of its pair (USD/yr)
        out["total:expected_cost_usd"] = float(sum(
            c.value_of_time * (res.class_flows[k] @ res.class_costs[k])
            for k, c in enumerate(res.classes)))
        # per country and per route option, from the bushes
        bs = res.bushes
        member = o["member"]
        n_c = len(o["countries"])
        rindptr, rarcs = o["reverse_star"]
        c_tonnes = np.zeros(n_c)
        c_transit = np.zeros(n_c)
        c_rev = np.zeros(n_c)
        share_num = np.zeros((len(o["pairs"]), len(o["options"])))
        share_den = np.zeros(len(o["pairs"]))
        length_arc = length[g.arc_link]
        w_by_com = {}
        for b in range(bs.flow.shape[0]):
            k = int(bs.bush_class[b])
            com = int(self.class_commodity[k])
            if com not in w_by_com:
                w_by_com[com] = np.ascontiguousarray(np.vstack([
                    length_arc, charges[p["commodities"][com]][g.arc_link]]))
            q = bs.demand[b]
            i = int(bs.bush_zone[b])
            touch, wsum = route_set_stats(bs, g, b, member, w_by_com[com], rindptr, rarcs)
            rev = wsum[:, :, 1]
            c_tonnes += q @ touch[:, :n_c]
            tm = o["transit_mask"][i]        # (zones, countries)
            c_transit += q @ (touch[:, :n_c] * tm)
            c_rev += q @ (rev[:, :n_c] * tm)
            gw = o["overseas"]["cells"].get((i, p["commodities"][com]))
            if gw is not None:  # cargo from or to overseas through a port of a country
                t_gw, r_gw = self._overseas_transit(bs, g, b, q, gw, w_by_com[com][1:],
                                                    rindptr, rarcs)
                c_transit += t_gw
                c_rev += r_gw
            opt = option_touch(touch, o)
            for pi, js in o["pair_dests"][i]:
                share_num[pi] += q[js] @ opt[js]
                share_den[pi] += q[js].sum()
        for ci, c in enumerate(o["countries"]):
            out[f"country:{c}:tonnes"] = float(c_tonnes[ci])
            out[f"country:{c}:transit_tonnes"] = float(c_transit[ci])
            out[f"country:{c}:transit_revenue_usd"] = float(c_rev[ci])
        for pi, (oc, dc) in enumerate(o["pairs"]):
            for oi, opt in enumerate(o["options"]):
                out[f"share:{oc}-{dc}:{opt}"] = (float(share_num[pi, oi] / share_den[pi])
                                                 if share_den[pi] > 0 else float("nan"))
        out.update(self._shipper(g, res.class_costs, res.time, charges, vot_c, extra_h))
        return out

    def _overseas_transit(self, bs, g, b, q, gw, charge, rindptr, rarcs):
        """Transit tonnes and revenue, per country of the output spec, of bush ``b``'s cargo
        that comes from or goes on overseas through a port (``gw``: the bush's overseas shares
        and country masks, :func:`_overseas_spec`): the routes that cross the port's country
        by rail or road, with that country's charges on them (``charge``: (1, arcs))."""
        o = self.outputs["overseas"]
        touch, wsum = route_set_joint_stats(bs, g, b, o["member"], o["land"],
                                            np.ascontiguousarray(charge), rindptr, rarcs)
        n_c = len(self.outputs["countries"])
        tonnes, rev = np.zeros(n_c), np.zeros(n_c)
        for m, ci in enumerate(o["country_idx"]):
            w = q * (gw["s_d"] * gw["at_d"][m] + gw["s_o"] * gw["at_o"][m])
            tonnes[ci] += w @ touch[:, m]
            rev[ci] += w @ wsum[:, m, 0]
        return tonnes, rev

    def _shipper(self, g, class_costs, time, charges, vot_c, extra_h=None
                 ) -> dict[str, float]:
        """Cost (USD/t) and time (days) of the best route through each route option for each
        shipper OD, at the draw's class costs and arc times (hours); ``extra_h``: per
        commodity, the hours each link takes beyond its time (its own speed, the choice
        model's gauge breaks)."""
        extra_h = extra_h or {}
        out: dict[str, float] = {}
        coms = self.parts["commodities"]
        for (od, com, opt), (k, on, dn, arcs, also, avoid) in self.outputs["shipper"].items():
            cost_usd = t_days = float("nan")
            if len(arcs):
                cost = np.ascontiguousarray(class_costs[k])
                if avoid is not None:
                    cost = cost.copy()
                    cost[avoid] = np.inf
                _, path = acc.best_via(g, cost, on, dn, arcs, also)
                if path:
                    a = np.asarray(path)
                    t = float(time[a].sum())
                    if com in extra_h:
                        t += float(extra_h[com][g.arc_link[a]].sum())
                    ch = float(charges[com][g.arc_link[a]].sum())
                    cost_usd = ch + float(vot_c[coms.index(com)]) * t
                    t_days = t / 24.0
            out[f"shipper:{od}:{com}:{opt}:cost_usd_per_t"] = cost_usd
            out[f"shipper:{od}:{com}:{opt}:time_days"] = t_days
        return out


def changed_links(data, scenarios) -> tuple[str, ...]:
    """The links that any of ``scenarios`` opens, sets or scales in its year (its modifications
    in force, as applied to ``data``), in the order first met."""
    from karvan.scenario.apply import applied_and_said

    out: dict[str, None] = {}
    for s in scenarios:
        # each model's build warns of its scenario: not a second time here
        applied = applied_and_said(data, s)[0].applied
        for row in applied.itertuples(index=False):
            if row.active and row.action in ("open", "set", "scale"):
                out.update(dict.fromkeys(t for t in str(row.targets).split(";") if t))
    return tuple(out)


def diverted_links(central: dict[str, pd.DataFrame], references: dict[str, str | None]
                   ) -> dict:
    """The links whose tonnes each scenario changes most against its like-year reference, in
    their central cases, that have no output yet: the links the scenario diverts freight onto
    or off, for every model of an experiment to follow.

    For each scenario with a reference, its links (0 t where one network lacks the link) whose
    central tonnes differ by :data:`DIVERTED_LEAST_T` t/yr or more and by
    :data:`DIVERTED_LEAST_SHARE` or more of the larger of the two, ranked by the absolute
    difference (ties by link id), the first :data:`DIVERTED_TOP` that are not a stretch of a
    path whose tonnes are an output already: a link whose tonnes in both cases are within
    :data:`SAME_PATH_T` of those of a link with an output, of a border (its links together) or
    of a link chosen before it is left out (Iran's closed road through Agarak is four links of
    2.90 Mt/yr, and the border's tonnes say it).

    Parameters
    ----------
    central
        Scenario -> :meth:`CorridorModel.central_link_tonnes` of its model.
    references
        Scenario -> its like-year reference (None: none).

    Returns
    -------
    dict
        ``links``: the links of every scenario, in the order of ``references`` then of the
        ranking; ``scenarios``: per scenario, its ``reference`` and its ``links``, each with
        ``link_id``, ``tonnes``, ``reference_tonnes``, ``change_t``; ``rule``: the constants.
        As written to the experiment's manifest (``diverted_links``).
    """
    out: dict[str, dict] = {}
    for scen, ref in references.items():
        if not ref or scen not in central or ref not in central:
            continue
        a, b = central[scen], central[ref]
        ids = a.index.union(b.index, sort=False)
        t = np.column_stack([x["tonnes"].reindex(ids, fill_value=0.0).to_numpy(dtype=float)
                             for x in (a, b)])
        has = np.logical_or(*(x["output"].reindex(ids, fill_value=False).to_numpy(dtype=bool)
                              for x in (a, b)))
        ba, bb = (x["border_id"].reindex(ids, fill_value="").to_numpy(dtype=object)
                  for x in (a, b))
        border = np.where(ba != "", ba, bb)
        per_border = pd.DataFrame(t[border != ""]).groupby(border[border != ""]).sum()
        # the tonnes of what has an output: its links and borders, and the links chosen
        banded = [*t[has], *per_border.to_numpy()]
        change = t[:, 0] - t[:, 1]
        size = np.abs(change)
        ok = ((size >= DIVERTED_LEAST_T) & (size >= DIVERTED_LEAST_SHARE * t.max(axis=1))
              & ~has)
        chosen = []
        for j in sorted(np.flatnonzero(ok), key=lambda j: (-size[j], str(ids[j]))):
            if len(chosen) >= DIVERTED_TOP:
                break
            if banded and (np.abs(np.asarray(banded) - t[j]) <= SAME_PATH_T).all(axis=1).any():
                continue
            banded.append(t[j])
            chosen.append({"link_id": str(ids[j]), "tonnes": float(t[j, 0]),
                           "reference_tonnes": float(t[j, 1]), "change_t": float(change[j])})
        out[scen] = {"reference": ref, "links": chosen}
    links = list(dict.fromkeys(x["link_id"] for v in out.values() for x in v["links"]))
    return {"links": links, "scenarios": out,
            "rule": {"top": DIVERTED_TOP, "least_t": DIVERTED_LEAST_T,
                     "least_share": DIVERTED_LEAST_SHARE, "same_path_t": SAME_PATH_T}}


def build_corridor_model(data, scenario, inputs: InputSet, *, gap: float = 1e-8,
                         max_iter: int = 2000, central_gap: float = 1e-10,
                         watch: tuple[str, ...] = ()) -> CorridorModel:
    """Solve ``scenario``'s central case and set up its draws (see the module notes).

    Parameters
    ----------
    data
        The corridor dataset (:class:`~karvan.freight.corridor.CorridorData`).
    scenario
        A resolved :class:`~karvan.scenario.Scenario`.
    inputs
        The uncertain inputs; inputs of tables this model does not read are an error.
    gap, max_iter
        Target relative gap and most iterations of each draw's equilibrium.
    central_gap
        Relative gap of the central solution the draws start from.
    watch
        Links whose tonnes are outputs besides the capacity-limited and route-option ones (the
        links an experiment's scenarios change: a project and its reference give them both);
        those not open in the scenario are left out.

    Raises
    ------
    InputError
        Inputs of a table the corridor model does not read; a bad scenario.
    """
    from karvan.errors import InputError
    from karvan.scenario.run import run_scenario

    known = {"link", "demand", "tariff", "tariff_commodity", "speed_commodity", "commodity",
             "growth"}
    foreign = sorted({x.table for x in inputs.inputs} - known)
    if foreign:
        raise InputError(f"inputs of tables {', '.join(foreign)} are not read by the corridor "
                         "model (a choice model's parameters need the choice model).")
    # the draws restart Algorithm B from the central bushes: the deterministic model
    run = run_scenario(data, scenario, gap=central_gap, lp=False, choice="deterministic")
    ue = run.ue
    g = ue.graph
    classes = tuple(ue.classes)
    # demand rows -> cells of the central matrices
    bs = ue.bushes
    mc = np.zeros((len(classes), len(g.zone_ids), len(g.zone_ids)))
    for b in range(len(bs.bush_class)):
        mc[bs.bush_class[b], bs.bush_zone[b]] = bs.demand[b]
    model = CorridorModel(scenario.name, scenario.year, g, ue, gap=gap, max_iter=max_iter,
                          **model_parts(data, scenario, inputs, run, g, classes, mc,
                                        watch=watch))
    model.output_names = [k for k in model.evaluate(None) if not k.startswith("_")]
    return model


def model_parts(data, scenario, inputs: InputSet, run, g, classes: tuple, mc: np.ndarray,
                *, watch: tuple[str, ...] = ()) -> dict:
    """The arrays a draw changes, for a central ``run`` of ``scenario`` on graph ``g`` with
    ``classes`` and central demand cells ``mc`` (class, origin, destination): targets of the
    inputs, tariff sources, demand rows mapped to cells, the headline outputs' definitions."""
    lids = [str(x) for x in g.link_ids]
    raw = run.inputs.links.loc[g.link_ids]
    eng = run.network.links.loc[g.link_ids]
    # fields a 'set' modification fixes on some links
    fixed: dict[str, set[str]] = {}
    # applied: one row per modification, in order (scenario.apply)
    for row, mod in zip(run.inputs.applied.itertuples(index=False), scenario.modifications,
                        strict=True):
        if mod.action == "set" and row.active and mod.field in _SET_FIELDS:
            fixed.setdefault(_SET_FIELDS[mod.field], set()).update(
                t for t in str(row.targets).split(";") if t)

    def link_target(fld: str, central, name: str | None = None):
        t = inputs.target("link", fld, lids, central)
        if fld in fixed:
            skip = np.isin(np.asarray(lids, dtype=object), list(fixed[fld]))
            t.idx[skip] = -1
        return name or f"link.{fld}", t

    num = lambda df, c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) \
        if c in df else np.full(len(df), np.nan)  # noqa: E731
    targets = dict([
        link_target("length", np.nan_to_num(num(raw, "length_km"))),
        link_target("speed", np.nan_to_num(num(raw, "speed_kph"))),
        link_target("dwell", np.nan_to_num(num(raw, "dwell_h"))),
        link_target("frequency", np.nan_to_num(num(raw, "frequency_per_week"))),
        link_target("fee", np.nan_to_num(num(raw, "fee_usd_per_t"))),
    ])
    cap = np.where(np.isfinite(num(eng, "capacity")), num(eng, "capacity"), np.inf)
    targets.update([link_target("capacity", cap)])
    for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
        targets.update([link_target("tariff", np.nan_to_num(num(raw, col)),
                                    f"link.tariff.{col}")])
    tkeys = {}
    for table, df in (("tariff", data.tariffs), ("tariff_commodity", data.tariffs_by_commodity)):
        if df is None:
            df = pd.DataFrame(columns=["mode", "country", "commodity_id", "tariff_usd_per_tkm",
                                       "tariff_usd_per_t"])
        keys = ([f"{m}>{c}" for m, c in zip(df["mode"], df["country"], strict=True)]
                if table == "tariff"
                else [f"{m}>{c}>{k}" for m, c, k in zip(df["mode"], df["country"],
                                                        df["commodity_id"], strict=True)])
        tkeys[table] = {k: j for j, k in enumerate(keys)}
        for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
            targets[f"{table}.{col}"] = inputs.target(table, "tariff", keys,
                                                      np.nan_to_num(num(df, col)))
    commodities = list(data.commodity_ids)
    tariff_src = {}
    for com in commodities:
        src = {}
        for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
            kind, key = _tariff_sources(data, raw, col, com)
            pos = np.zeros(len(kind), dtype=np.int64)
            for j in np.flatnonzero(kind >= 2):
                pos[j] = tkeys["tariff_commodity" if kind[j] == 2 else "tariff"][key[j]]
            src[col] = (kind, pos)
        tariff_src[com] = src
    com_tab = data.commodities.set_index("commodity_id")
    targets["commodity.vot"] = inputs.target("commodity", "vot", commodities,
                                             com_tab.loc[commodities, "vot_usd_per_t_h"])
    class_commodity = np.array([commodities.index(acc.commodity_of(c.name)) for c in classes])
    # demand rows -> cells of the central matrices
    zones = list(g.zone_ids)
    zi = {z: i for i, z in enumerate(zones)}
    dem = data.demand
    n = len(dem)
    ks, is_, js = np.full(n, -1), np.zeros(n, np.int64), np.zeros(n, np.int64)
    by_com = {c: [k for k in range(len(classes)) if class_commodity[k] == commodities.index(c)]
              for c in commodities}
    for r, (o, d, c) in enumerate(zip(dem["origin_zone_id"], dem["destination_zone_id"],
                                      dem["commodity_id"], strict=True)):
        if o not in zi or d not in zi:
            continue
        i, j = zi[o], zi[d]
        is_[r], js[r] = i, j
        for k in by_com[c]:
            if mc[k, i, j] > 0:
                ks[r] = k
                break
    scen_t = run.inputs.demand["tonnes_per_year"].to_numpy(dtype=float)
    dkeys = [f"{o}>{d}>{c}" for o, d, c in zip(dem["origin_zone_id"], dem["destination_zone_id"],
                                              dem["commodity_id"], strict=True)]
    targets["demand.tonnes"] = inputs.target("demand", "tonnes", dkeys, scen_t)
    grules = data.growth
    gkeys = [f"{o}>{d}>{c}" for o, d, c in zip(grules["origin_country"],
                                              grules["destination_country"],
                                              grules["commodity_id"], strict=True)]
    targets["growth.growth"] = inputs.target("growth", "growth", gkeys,
                                             grules["growth_per_year"].to_numpy(dtype=float))
    demand_rows = {"k": ks, "i": is_, "j": js, "tonnes": scen_t,
                   "growth_rule": _growth_rule(data, dem), "years": scenario.year - data.base_year,
                   "levelled": level_rows(data, dem, scenario.year) >= 0}
    # a scenario's factor on the tables' tariff of a link without its own (freight.costs)
    tariff_factor = {col: (pd.to_numeric(raw[fcol], errors="coerce").fillna(1.0)
                           .to_numpy(dtype=float) if fcol in raw else np.ones(len(raw)))
                     for col, fcol in TARIFF_FACTOR.items()}
    own_speed = {}
    # a line the scenario slows slows a commodity's own speed too (freight.costs.slowdown)
    slow = slowdown(data, raw, pd.to_numeric(raw["speed_kph"], errors="coerce")).to_numpy(
        dtype=float) if "speed_kph" in raw else np.ones(len(raw))
    sc = getattr(data, "speeds_by_commodity", None)
    if sc is not None and len(sc):
        skeys = [f"{m}>{c}>{k}" for m, c, k in zip(sc["mode"], sc["country"],
                                                    sc["commodity_id"], strict=True)]
        targets["speed_commodity.speed"] = inputs.target(
            "speed_commodity", "speed", skeys, pd.to_numeric(sc["speed_kph"]).to_numpy(float))
        pos = {k: j for j, k in enumerate(skeys)}
        for com in speed_commodities(data):
            own_speed[com] = np.array([pos.get(f"{m}>{c}>{com}", -1)
                                       for m, c in zip(raw["mode"], raw["country"],
                                                       strict=True)],
                                      dtype=np.int64)
    parts = {"sailing": raw["mode"].isin(["ferry", "sea"]).to_numpy(),
             "tariff_src": tariff_src, "tariff_factor": tariff_factor,
             "commodities": commodities, "own_speed": own_speed, "slowdown": slow}
    outputs = _output_spec(data, g, raw, cap, classes, run.inputs.bans, watch)
    return {"classes": classes, "class_commodity": class_commodity, "targets": targets,
            "parts": parts, "demand_rows": demand_rows, "outputs": outputs}


def _growth_rule(data, dem: pd.DataFrame) -> np.ndarray:
    """Position in ``growth.csv`` of the rule that sets each demand row's growth (the most
    specific, as :func:`karvan.scenario.apply.growth_factors`)."""
    zc = data.zone_country()
    return np.maximum(most_specific_rules(data.growth, dem["origin_zone_id"].map(zc).to_numpy(),
                                          dem["destination_zone_id"].map(zc).to_numpy(),
                                          dem["commodity_id"].to_numpy()), 0)


def option_touch(touch: np.ndarray, o: dict) -> np.ndarray:
    """Each route option's column of ``touch`` (rows: routes or destinations; columns: the
    rows of ``o["member"]``, as shares or 0/1), an option that also needs one of its
    ``also_via_link_ids`` counting only what goes through both sets (through A + through B -
    through either)."""
    n_c, n_o = len(o["countries"]), len(o["options"])
    opt = np.array(touch[:, n_c:n_c + n_o], dtype=float)
    for oi, b_row, u_row in o.get("also_rows", ()):
        opt[:, oi] = np.clip(opt[:, oi] + touch[:, b_row] - touch[:, u_row], 0.0, 1.0)
    return opt


def _overseas_spec(data, g, raw: pd.DataFrame, countries: list, zcountry: np.ndarray) -> dict:
    """What the transit of overseas cargo through a port needs (accounting's rule, module
    :mod:`karvan.freight.accounting`): the countries with a port zone that such cargo uses, as
    pairs of arc sets (the country's arcs, its rail and road arcs), and per origin zone and
    commodity with such cargo, the cells' shares and where each country's part counts: ``at_d``
    (countries x zones) where the destination lies in the country and the origin outside it,
    ``at_o`` the reverse."""
    dem = with_overseas_shares(data.demand)
    zi = {z: i for i, z in enumerate(g.zone_ids)}
    s_o = dem[OVERSEAS_SHARES[0]].to_numpy(dtype=float)
    s_d = dem[OVERSEAS_SHARES[1]].to_numpy(dtype=float)
    has = (s_o > 0) | (s_d > 0)
    ports = sorted({zcountry[zi[z]] for z, v in zip(dem["origin_zone_id"], s_o, strict=True)
                    if v > 0 and z in zi}
                   | {zcountry[zi[z]] for z, v in zip(dem["destination_zone_id"], s_d,
                                                      strict=True) if v > 0 and z in zi})
    ports = [c for c in ports if c in countries]
    country = raw["country"].astype(str).to_numpy()[g.arc_link]
    land = np.isin(raw["mode"].astype(str).to_numpy(), LAND_MODES)[g.arc_link]
    member = np.array([country == c for c in ports], dtype=np.bool_).reshape(len(ports), -1)
    cells: dict = {}
    n_z = len(g.zone_ids)
    for r in np.flatnonzero(has):
        o, d = dem["origin_zone_id"].iat[r], dem["destination_zone_id"].iat[r]
        if o not in zi or d not in zi or not ports:
            continue
        i, j = zi[o], zi[d]
        cell = cells.get((i, dem["commodity_id"].iat[r]))
        if cell is None:
            cell = cells[(i, dem["commodity_id"].iat[r])] = {
                "s_o": np.zeros(n_z), "s_d": np.zeros(n_z),
                "at_d": np.array([(zcountry == c) & (zcountry[i] != c) for c in ports],
                                 dtype=float),
                "at_o": np.array([(zcountry != c) & (zcountry[i] == c) for c in ports],
                                 dtype=float)}
        cell["s_o"][j] = s_o[r]
        cell["s_d"][j] = s_d[r]
    return {"country_idx": [countries.index(c) for c in ports],
            "member": np.ascontiguousarray(member),
            "land": np.ascontiguousarray(member & land[None, :]), "land_arc": land,
            "cells": cells}


def _output_spec(data, g, raw: pd.DataFrame, cap: np.ndarray, classes, bans=(),
                 watch: tuple[str, ...] = ()) -> dict:
    lids = [str(x) for x in g.link_ids]
    li = {x: i for i, x in enumerate(lids)}
    folder = data.folder
    opts = pd.DataFrame(columns=["option_id", "via_link_ids"])
    ods = pd.DataFrame(columns=["origin_zone_id", "destination_zone_id", "commodity_id"])
    if folder is not None and (folder / "route_option.csv").is_file():
        opts = read_frame(folder / "route_option.csv", blank_as_nan=True)
    if folder is not None and (folder / "shipper_od.csv").is_file():
        ods = read_frame(folder / "shipper_od.csv", blank_as_nan=True)
    via = {r.option_id: id_list(r.via_link_ids)
           for r in opts.itertuples(index=False)}
    also_via = {r.option_id: id_list(getattr(r, "also_via_link_ids", None))
                for r in opts.itertuples(index=False)}
    capped = [x for x in lids if np.isfinite(cap[li[x]])]
    # a capacity both directions share: their volumes together against it (factor: the hard
    # capacity over the per-direction figure, as the run's utilization)
    both, hard = hard_capacity(raw.assign(capacity=cap))
    shared = {li[x]: float(hard[li[x]] / cap[li[x]]) for x in capped if both[li[x]]}
    key = list(dict.fromkeys(capped + [x for v in via.values() for x in v if x in li]
                             + [str(x) for x in watch if str(x) in li]))
    borders: dict[str, list[int]] = {}
    if "border_id" in raw:
        for x, b in zip(lids, raw["border_id"], strict=True):
            if isinstance(b, str) and b:
                borders.setdefault(b, []).append(li[x])
    arc_link_ids = g.link_ids[g.arc_link]
    country = raw["country"].astype(str).to_numpy()[g.arc_link]
    countries = sorted(set(country))
    # rows: the countries, the options' via links, then for each option that also needs one of
    # its also_via links, those links and the union of both sets: a route through both is
    # through A plus through B less through either (the share of a bush's flow avoiding a
    # set is what the bush gives, not the share through two sets at once)
    both_sets = [(oi, opt) for oi, opt in enumerate(via) if also_via[opt]]
    n_cv = len(countries) + len(via)
    member = np.zeros((n_cv + 2 * len(both_sets), g.n_arcs), dtype=np.bool_)
    for ci, c in enumerate(countries):
        member[ci] = country == c
    for oi, ids in enumerate(via.values()):
        member[len(countries) + oi] = np.isin(arc_link_ids, ids)
    also_rows = []
    for j, (oi, opt) in enumerate(both_sets):
        b_row, u_row = n_cv + 2 * j, n_cv + 2 * j + 1
        member[b_row] = np.isin(arc_link_ids, also_via[opt])
        member[u_row] = member[len(countries) + oi] | member[b_row]
        also_rows.append((oi, b_row, u_row))
    zc = data.zone_country()
    zcountry = np.array([zc.get(z, "") for z in g.zone_ids], dtype=object)
    cc = np.array(countries, dtype=object)
    transit_mask = {}
    pair_dests = {}
    for i in range(len(g.zone_ids)):
        transit_mask[i] = ((cc[None, :] != zcountry[i]) & (cc[None, :] != zcountry[:, None])
                           ).astype(float)
        pair_dests[i] = [(pi, np.flatnonzero(zcountry == dc)) for pi, (oc, dc)
                         in enumerate(SHARE_PAIRS) if zcountry[i] == oc]
    names = [c.name for c in classes]
    zone_node = dict(zip(g.zone_ids, g.zone_nodes, strict=True))
    shipper = {}
    for r in ods.itertuples(index=False):
        if r.commodity_id not in names or r.origin_zone_id not in zone_node or (
                r.destination_zone_id not in zone_node):
            continue
        # the OD's traffic class under the scenario's transit bans, as the run prices it
        seg, banned = od_segment(r.origin_zone_id, r.destination_zone_id, r.commodity_id,
                                 bans, zc)
        k = names.index(seg) if seg in names else names.index(r.commodity_id)
        avoid = np.flatnonzero(np.isin(arc_link_ids, list(banned))) if banned else None
        for opt, ids in via.items():
            arcs = np.flatnonzero(np.isin(arc_link_ids, ids))
            also = (np.flatnonzero(np.isin(arc_link_ids, also_via[opt])) if also_via[opt]
                    else None)
            shipper[(f"{r.origin_zone_id}-{r.destination_zone_id}", r.commodity_id, opt)] = (
                k, int(zone_node[r.origin_zone_id]), int(zone_node[r.destination_zone_id]),
                arcs, also, avoid)
    overseas = _overseas_spec(data, g, raw, countries, zcountry)
    return {"key_links": [(x, li[x]) for x in key],
            "util_links": [(x, li[x]) for x in capped], "shared_capacity": shared,
            "borders": sorted((b, np.asarray(v)) for b, v in borders.items()),
            "countries": countries, "options": list(via), "member": member,
            "also_rows": also_rows,
            "reverse_star": g.reverse_star(), "transit_mask": transit_mask,
            "overseas": overseas,
            "pairs": list(SHARE_PAIRS), "pair_dests": pair_dests, "shipper": shipper}
