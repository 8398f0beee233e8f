"""Run a scenario on the corridor: user equilibrium and the capacity LP, then every result
table; write them to a results folder with a manifest; compare two runs."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from karvan._version import __version__, code_fingerprint
from karvan.assign import assign
from karvan.assign.capacity import CapacityResult, solve_capacity_lp
from karvan.assign.classes import TrafficClass
from karvan.assign.result import AssignmentResult
from karvan.calibrate import calibration_report, summary_dict
from karvan.errors import InputError, format_ids, recording_warnings
from karvan.freight import accounting as acc
from karvan.freight.choice_model import CorridorChoice, choice_parameters
from karvan.freight.corridor import CorridorData, CorridorWarning
from karvan.freight.costs import build_network, commodity_classes, hard_capacity
from karvan.freight.observed import RunFlows
from karvan.freight.route_family import classify_routes, read_route_families
from karvan.io.atomic import atomic_folder
from karvan.io.hashing import hash_folder
from karvan.network.demand import Demand
from karvan.network.graph import compile_graph
from karvan.network.model import Network
from karvan.paths.routes import route_flows
from karvan.paths.trees import zone_reachability
from karvan.scenario.apply import ScenarioInputs, applied_and_said, apply_scenario
from karvan.scenario.choice_run import BANNED_USD_PER_T, family_shares, solve_choice
from karvan.scenario.reference import (
    backcast_folder,
    backcast_scenario,
    backcast_years,
    choose_reference,
    comparison_table,
    describe_comparison,
    is_reference,
    reference_scenario,
)
from karvan.scenario.spec import Scenario, builtin_scenario_folder
from karvan.schema.text import id_list
from karvan.store import RunRecord, RunStore, diff_table, resolve_run, write_run_folder
from karvan.store.diff import inputs_of, unlike_runs

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioRun:
    """A solved scenario: its inputs, the two assignments and the result tables."""

    scenario: Scenario
    inputs: ScenarioInputs
    network: Network
    ue: AssignmentResult
    lp: CapacityResult | None
    tables: dict[str, pd.DataFrame]
    summary: dict
    settings: dict = field(default_factory=dict)
    flows: RunFlows | None = None
    #: what was warned of the scenario: when it was loaded (``scenario.warned``) and while it
    #: ran (recorded in the run's manifest)
    warnings: list[str] = field(default_factory=list)


#: the deterministic model's user equilibrium, unless told otherwise
DEFAULT_GAP, DEFAULT_METHOD, DEFAULT_MAX_ITER = 1e-10, "algorithm-b", 5000


def run_scenario(
    data: CorridorData,
    scenario: Scenario,
    *,
    gap: float | None = None,
    method: str | None = None,
    max_iter: int | None = None,
    lp: bool = True,
    progress: Callable[[str], None] | None = None,
    backcasts: bool = True,
    choice: str = "logit",
    choice_parameters: pd.DataFrame | CorridorChoice | None = None,
    flows_only: bool = False,
) -> ScenarioRun:
    """Apply ``scenario`` to ``data``, assign, and compute every result table.

    Parameters
    ----------
    data, scenario
        The dataset and the scenario (or its name, a reference's name such as
        ``reference_2028``, or its ``.toml`` file).
    choice
        ``logit`` (default): nested logit over route families with hard capacities as side
        constraints of the stochastic equilibrium (:mod:`karvan.scenario.choice_run`);
        ``deterministic``: the user equilibrium (``method``, to ``gap``) with BPR delays at
        capacity-limited elements, every OD pair on its cheapest routes.
    choice_parameters
        A parameter table in the columns of ``choice_parameter.csv`` (a calibrated one, or its
        CSV file) instead of the dataset's, or the model :func:`corridor_choice` made of one
        (to read it once for many runs).
    gap, method, max_iter
        The deterministic equilibrium's settings (default: ``1e-10``, ``algorithm-b``,
        ``5000``); the logit model solves no user equilibrium and refuses them.
    lp
        Also solve the capacity LP (least-cost flow with hard capacities, shadow prices).
    progress
        Called with a line of progress.
    backcasts
        A run of the base year also runs the back-casts (:mod:`karvan.scenario.reference`), so
        that its calibration table compares every reported volume with a run of the volume's
        year, under the same choice model.
    flows_only
        Stop after the solve: the run's ``flows`` (what the calibration table of another run
        compares, as for a back-cast), no result tables, no summary.

    Raises
    ------
    InputError
        An unknown ``choice``, bad parameters, ``gap``, ``method`` or ``max_iter`` with the
        logit model, a route family with no route for an OD pair it is declared to serve.
    TypeError
        ``data`` that is not a :class:`CorridorData`, ``scenario`` neither a scenario nor its
        name or file.
    """
    if not isinstance(data, CorridorData):
        raise TypeError(f"data must be a CorridorData (karvan.freight.corridor.load_corridor"
                        f"()), got {type(data).__name__}; run_scenario(data, scenario).")
    if isinstance(scenario, (str, os.PathLike)):
        # a scenario's name or file, as karvan run takes it
        from karvan.scenario.reference import load_scenario_or_reference

        scenario = load_scenario_or_reference(str(scenario), base_year=data.base_year, data=data)
    elif not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario (karvan.scenario.load_scenario(...)), its "
                        f"name or its file, got {type(scenario).__name__}.")
    else:
        from karvan.scenario.reference import check_own_name

        check_own_name(scenario, base_year=data.base_year)
    given = [k for k, v in (("gap", gap), ("method", method), ("max_iter", max_iter))
             if v is not None]
    if given and choice == "logit":
        # they were ignored: a logit run asked for gap 1e-4 ran as it always does
        raise InputError(f"{', '.join(given)} set the deterministic user equilibrium, which the "
                         "logit choice model does not solve (its flows are the logit loading "
                         "at their own costs); pass choice='deterministic', or leave them out.")
    said: list[str] = []
    with recording_warnings(said):
        run = _run_scenario(data, scenario, gap=gap, method=method, max_iter=max_iter, lp=lp,
                            progress=progress, backcasts=backcasts, choice=choice,
                            choice_parameters=choice_parameters, flows_only=flows_only)
    return dataclasses.replace(run, warnings=list(dict.fromkeys([*scenario.warned, *said])))


def _warn_of_links_without_family(data: CorridorData, scenario: Scenario,
                                  inputs: ScenarioInputs, routes: pd.DataFrame,
                                  families: pd.DataFrame) -> None:
    """Warn (once, logged) where freight of a logit run rides on routes of the catch-all family
    (``other``) through links that the scenario's own files open (a file of the user's, or a
    modification added in Python) or that the dataset (a copy) has and the built-in one has
    not: no route family names them, so no family constant reaches that freight, in silence
    before (:func:`~karvan.freight.route_family.tonnes_without_family`). What karvan's own
    scenarios and back-casts open is left out: the built-in families are documented with them
    (docs/dataset.md has the routes through Nakhchivan in ``other``), and a user could do
    nothing about it but copy the dataset."""
    from karvan.freight.corridor import builtin_corridor_folder
    from karvan.freight.route_family import tonnes_without_family

    now_open = inputs.links.index[inputs.links["status"] == "open"]
    shipped = {builtin_scenario_folder().resolve(), backcast_folder().resolve()}
    by_user = set()
    for row in inputs.applied.itertuples():
        place = scenario.places[row.index] if row.index < len(scenario.places) else None
        if (row.action == "open" and row.active and row.targets and (
                place is None or place.file is None
                or Path(place.file).resolve().parent not in shipped)):
            by_user.update(str(row.targets).split(";"))
    opened = (set(now_open) - set(data.links.index[data.links["status"] == "open"])) & by_user
    added: set = set()
    builtin = builtin_corridor_folder()
    copy = data.folder is not None and Path(data.folder).resolve() != builtin.resolve()
    if copy:
        ids = pd.read_csv(builtin / "link.csv", usecols=["link_id"], dtype=str)["link_id"]
        added = set(now_open) - set(ids)
    tonnes = tonnes_without_family(routes, families, opened | added)
    if not len(tonnes):
        return
    whose = " or ".join(w for w, s in (("the scenario opens", opened), (
        "this dataset has and karvan's built-in one has not", added)) if set(tonnes.index) & s)
    catch_all = format_ids(families["family_id"][families["via_link_ids"].astype(str) == "*"])
    where = (str(Path(data.folder) / "route_family.csv") if copy else
             "route_family.csv of a copy of the dataset (karvan data copy; run with --data)")
    log.warning("%s: freight rides on routes of family %s through links %s that no route "
                "family names (%s t/yr): no family's constant reaches it. To put it in a family, "
                "add the links to the via_link_ids of that family in %s.",
                scenario.name, catch_all, whose,
                format_ids(f"{x} {t:,.0f}" for x, t in tonnes.items()), where)


def _run_scenario(data: CorridorData, scenario: Scenario, *, gap: float | None,
                  method: str | None, max_iter: int | None, lp: bool,
                  progress: Callable[[str], None] | None, backcasts: bool, choice: str,
                  choice_parameters: pd.DataFrame | CorridorChoice | None,
                  flows_only: bool) -> ScenarioRun:
    if choice not in CHOICES:
        raise InputError(f"unknown choice model {choice!r}; use {' or '.join(CHOICES)}.")
    if choice == "deterministic":
        gap = DEFAULT_GAP if gap is None else gap
        method = method or DEFAULT_METHOD
        max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    t0 = time.perf_counter()
    say = progress or (lambda msg: None)
    inputs, net, zc, dem_rows, no_path, demand, classes = _engine_inputs(data, scenario)
    if len(no_path):
        log.warning("%s: %.0f t/yr of demand in %d OD rows has no open route (table no_path)",
                    scenario.name, no_path["tonnes_per_year"].sum(), len(no_path))
    vot = {c.name: c.value_of_time for c in classes}
    has = [data.folder is not None and (data.folder / f).exists() for f in CHOICE_TABLES]
    families = read_route_families(data.folder) if has[0] else None
    crun = None
    if choice == "logit":
        if not all(has):
            raise InputError(f"the logit choice model needs the dataset's "
                             f"{' and '.join(CHOICE_TABLES)} (in {data.folder}); add them, or "
                             "run the deterministic model (choice='deterministic', "
                             "karvan run --choice deterministic).")
        model = (choice_parameters if isinstance(choice_parameters, CorridorChoice)
                 else corridor_choice(data, choice_parameters, families))
        say(f"{scenario.name}: nested logit equilibrium with capacities")
        closed = set(data.links.index[data.links["status"] == "open"]) - set(
            inputs.links.index[inputs.links["status"] == "open"])
        reference = reference_routes(data, scenario, model)
        crun = solve_choice(net, demand, classes, model, zone_country=zc,
                            closed_links=closed, reference=reference, limit=lp)
        crun.settings["route_sets"]["reference"] = (None if reference is None
                                                    else reference.name)
        ue = crun.result
    else:
        say(f"{scenario.name}: user equilibrium")
        # Algorithm B keeps origin-based flows, from which the route lists come; the Frank-Wolfe
        # methods record their all-or-nothing trees instead
        ue = assign(net, demand, method=method, gap=gap, max_iter=max_iter, classes=classes,
                    record_routes=method != "algorithm-b")
    lp_res = None
    if lp:
        say(f"{scenario.name}: capacity LP")
        # unserved: demand the capacities cannot carry (the LP derives its penalty); a transit
        # ban closes its links to the segment, which the LP does not use at any cost
        closed = {c.name: sorted(set(banned_links(c.name, inputs.bans)) & set(net.links.index))
                  for c in classes}
        lp_res = solve_capacity_lp(lp_network(net), demand, classes, closed_links=closed,
                                   both_directions=LP_BOTH)
    g = ue.graph
    raw_routes = crun.routes if crun is not None else route_flows(ue, min_share=1e-9)
    flows = RunFlows(scenario.name, scenario.year, raw_routes, g, inputs.links, inputs.demand)
    if flows_only:
        return ScenarioRun(scenario, inputs, net, ue, lp_res, {}, {}, {}, flows)
    say(f"{scenario.name}: tables")
    # the accounts charge and time what the choice model chose on: its gauge-break terms
    acc_net = net if crun is None else _with_gauge_terms(net, model)
    links = acc.link_results(acc_net, ue, lp_res, data.commodities)
    routes = acc.route_table(raw_routes, acc_net, g, ue.time, vot, queue=acc.queue_hours(ue))
    if crun is not None:
        fid = np.asarray(families["family_id"], dtype=object)
        idx = raw_routes["family_idx"].to_numpy()
        routes["family_id"] = np.where(idx >= 0, fid[np.maximum(idx, 0)], None)
        _warn_of_links_without_family(data, scenario, inputs, routes, families)
    elif families is not None:
        routes["family_id"] = classify_routes(routes["links"], families).to_numpy()
    countries = acc.country_transit(routes, raw_routes, acc_net, g, zc, cells=inputs.demand)
    borders = acc.border_table(links)
    skims = acc.od_skims(g, ue, acc_net, vot, dem_rows,
                         _expected_costs(crun.result, vot) if crun is not None else None,
                         zone_country=zc)
    tables = {
        "links": links,
        "routes": routes,
        "countries": countries,
        "borders": borders,
        "bottlenecks": acc.bottlenecks(links),
        "skims": skims,
        "convergence": ue.convergence,
        "demand": inputs.demand,
        "no_path": no_path.reset_index(drop=True),
        "modifications": inputs.applied,
    }
    if families is not None:
        tables["family_shares"] = family_shares(routes, families, zc)
    if crun is not None:
        links = _with_capacities(links, crun)
        tables["links"] = links
        tables["borders"] = acc.border_table(links)  # with the bounds utilization is taken on
        tables["bottlenecks"] = acc.bottlenecks(links)
        tables["capacities"] = crun.capacities
        tables["choice_unserved"] = _by_commodity(crun.unserved)
    cal_runs = {scenario.year: flows}
    if backcasts and scenario.year == data.base_year:
        years = pd.to_numeric(data.observed["year"], errors="coerce")
        for y in (y for y in backcast_years() if (years == y).any()):
            say(f"{scenario.name}: back-cast {y} for the calibration table")
            try:
                cal_runs[y] = _backcast_flows(data, y, gap=gap, method=method,
                                              max_iter=max_iter, choice=choice,
                                              choice_parameters=model if choice == "logit"
                                              else choice_parameters)
            except InputError as e:
                log.warning("back-cast %d does not apply to this dataset, its reported volumes "
                            "are not compared: %s", y, e)
    (tables["calibration"], tables["calibration_summary"],
     tables["calibration_cells"]) = calibration_report(
        data.observed, cal_runs, link_table=data.links, zone_country=zc,
        commodities=data.commodity_ids)
    if lp_res is not None:
        tables["unserved"] = _by_commodity(lp_res.unserved[lp_res.unserved["unserved"] > 0])
        lr = acc.route_table(lp_res.routes, net, g, g.free_flow_time, vot)
        tables["lp_routes"] = lr
    tables["shipper"] = shipper_comparison(data, acc_net, ue, vot, inputs.bans)
    country_of_link = dict(zip(links["link_id"], links["country"], strict=True))
    summary = {
        "scenario": scenario.name,
        "title": scenario.title,
        "year": scenario.year,
        "demand_t": float(inputs.demand["tonnes_per_year"].sum()),
        "demand_source": "od_estimate.csv" if getattr(data, "demand_estimated", False)
        else "demand.csv",
        "no_path_t": float(no_path["tonnes_per_year"].sum()),
        "ue_iterations": ue.iterations,
        "ue_relative_gap": ue.gap,
        "ue_converged": ue.converged,
        "tonne_km": float(links["tonne_km"].sum()),
        "caspian_share_ru_ir": acc.caspian_share(routes, "RU", "IR", zc, country_of_link),
        "lp_unserved_t": float(lp_res.unserved["unserved"].sum()) if lp_res else None,
        # no LP solved: no count (0 read as "the LP binds nothing")
        "lp_binding": int((links.get("shadow_price_usd_per_t", pd.Series(dtype=float)) > 0
                           ).sum()) if lp_res is not None else None,
        "calibration": summary_dict(tables["calibration_summary"]),
        "choice": choice,
        "elapsed_s": time.perf_counter() - t0,
    }
    if "family_shares" in tables:
        summary["family_shares"] = major_od_shares(tables["family_shares"])
    if crun is not None:
        cap = crun.capacities
        summary["choice_gap"] = crun.result.gap
        summary["choice_converged"] = crun.result.converged
        summary["choice_unserved_t"] = float(crun.unserved["unserved"].sum()) if len(
            crun.unserved) else 0.0
        summary["binding_capacities"] = [
            {"link_id": r.link_id, "direction": r.direction, "capacity_tpy": r.capacity_tpy,
             "tonnes": r.tonnes, "shadow_price_h": r.shadow_price_h,
             "shadow_price_usd_per_t": r.shadow_price_usd_per_t}
            for r in cap[cap["binding"]].itertuples()]
        summary["max_capacity_excess"] = float(max(0.0, (cap["utilization"] - 1).max())) if len(
            cap) else 0.0
        if "limit_binding" in cap:
            # the choice model's deterministic limit over its route sets (with the LP)
            summary["limit_binding_capacities"] = [
                {"link_id": r.link_id, "direction": r.direction, "capacity_tpy": r.capacity_tpy,
                 "tonnes": r.limit_tonnes, "shadow_price_h": r.limit_shadow_price_h,
                 "shadow_price_usd_per_t": r.limit_shadow_price_usd_per_t}
                for r in cap[cap["limit_binding"]].itertuples()]
    # only what the run used: the equilibrium's method and gap are not the logit model's
    settings = {"choice": choice, "lp": lp, "threads": ue.params.get("threads")}
    if crun is None:
        settings.update(ue_method=method, gap=gap, max_iter=max_iter)
    else:
        settings["capacity_tol"] = ue.params.get("tol")
        settings.update(crun.settings)
    return ScenarioRun(scenario, inputs, net, ue, lp_res, tables, summary, settings, flows)


def _by_commodity(table: pd.DataFrame) -> pd.DataFrame:
    """A table of traffic classes with the commodity in place of the class (a transit ban's
    segment, ``grain|ban0``, is the commodity's freight of some countries)."""
    out = table.reset_index(drop=True)
    com = out["class"].astype(str).map(acc.commodity_of)
    # a table that has its commodity already (the choice model's unserved demand) keeps one
    rest = [c for c in out.columns if c not in ("class", "commodity")]
    return out[rest].assign(commodity=com)[["commodity", *rest]]


def _expected_costs(res, vot: dict[str, float]) -> dict[tuple[str, str, str], float]:
    """(class, origin, destination) -> the pair's expected perceived cost in USD/t: the
    choice result's logsum (hours of the class's value of time) times that value of time."""
    rs = res.route_set
    z = np.asarray(rs.zone_ids, dtype=object)
    names = [rs.class_names[k] for k in rs.od_class]
    return {(n, z[o], z[d]): float(e) * vot[n] for n, o, d, e in zip(
        names, rs.od_origin, rs.od_destination, res.od_expected_cost, strict=True)}


def _backcast_flows(data: CorridorData, year: int, **options) -> RunFlows:
    """The flows of the back-cast of ``year`` (only the solve: no tables of its own)."""
    return run_scenario(data, backcast_scenario(year), lp=False, backcasts=False,
                        flows_only=True, **options).flows


#: the choice models of ``karvan run --choice``
CHOICES = ("logit", "deterministic")
#: the dataset tables the logit model reads
CHOICE_TABLES = ("route_family.csv", "choice_parameter.csv")
#: country pairs whose family shares the summary shows (origin, destination)
MAJOR_ODS = (("RU", "IN"), ("IN", "RU"), ("RU", "IR"), ("RU", "TR"), ("KZ", "TR"), ("RU", "AZ"),
             ("CN", "EU"), ("EU", "CN"))


def corridor_choice(data: CorridorData, table: pd.DataFrame | str | os.PathLike | None = None,
                    families: pd.DataFrame | None = None):
    """The choice model of a dataset: its ``choice_parameter.csv``, or ``table`` (a calibrated
    parameter table of the same columns, or its CSV file).

    Raises
    ------
    InputError
        A table that breaks the parameter schema.
    TypeError
        A ``table`` that is neither a table nor a file.
    """
    fam = read_route_families(data.folder) if families is None else families
    if isinstance(table, (str, os.PathLike)):
        # a parameter file (karvan calibrate's), read as the dataset's is
        table = pd.read_csv(table, dtype=str, keep_default_na=False)
    elif table is not None and not isinstance(table, pd.DataFrame):
        raise TypeError(f"choice parameters must be a table (a DataFrame or a CSV file in the "
                        f"columns of choice_parameter.csv), got {type(table).__name__}.")
    if table is None:
        table = pd.read_csv(data.folder / "choice_parameter.csv", dtype=str,
                            keep_default_na=False)
    return choice_parameters(table, fam, data.commodities, link_ids=list(data.links.index))


def major_od_shares(shares: pd.DataFrame) -> list[dict]:
    """Family shares (all commodities) of the major country pairs, for the summary."""
    out = []
    for oc, dc in MAJOR_ODS:
        s = shares[(shares["origin_country"] == oc) & (shares["destination_country"] == dc)]
        if not len(s):
            continue
        t = s.groupby(["family_id", "nest"], as_index=False, sort=False)["tonnes"].sum()
        tot = float(t["tonnes"].sum())
        for r in t.itertuples():
            if r.tonnes > 0:
                out.append({"od": f"{oc}-{dc}", "family_id": r.family_id, "nest": r.nest,
                            "tonnes": float(r.tonnes), "share": float(r.tonnes / tot)})
    return out


def _with_gauge_terms(net: Network, model: CorridorChoice) -> Network:
    """``net`` with the choice model's gauge-break terms beyond each link's own gauge change
    added to every commodity's charge (``charge_usd_per_t__<commodity>``) and as its extra
    time (``extra_time_h__<commodity>``): the charge and time the accounts report are then
    those the routes were chosen on."""
    links = net.links.copy()
    for col in [c for c in links.columns if c.startswith("charge_usd_per_t__")]:
        com = col.removeprefix("charge_usd_per_t__")
        usd, hours = model.gauge_extra(com, links.index)
        if usd.any() or hours.any():
            links[col] = links[col].to_numpy(dtype=float) + usd
            extra = acc.EXTRA_TIME_PREFIX + com  # the commodity's own speed, where it has one
            links[extra] = (links[extra].to_numpy(dtype=float) if extra in links else 0.0) + hours
    return Network(net.nodes, links, dict(net.config), net.name)


#: the LP's link column saying which capacities bound both directions together
LP_BOTH = "lp_capacity_both_directions"


def lp_network(net: Network) -> Network:
    """The engine network as the capacity LP takes it: where link.csv's
    ``capacity_both_directions`` says both directions share a capacity (terminals, ports,
    crossings published as annual throughput), its capacity is that throughput
    (:func:`karvan.freight.costs.hard_capacity`) and bounds the two directions together
    (column :data:`LP_BOTH`), as the choice model's capacities do; elsewhere each direction
    has the link's capacity."""
    links = net.links
    both, hard = hard_capacity(links)
    cap = pd.to_numeric(links["capacity"], errors="coerce").to_numpy(dtype=float)
    links = links.assign(capacity=np.where(both, hard, cap), **{LP_BOTH: both})
    return Network(net.nodes, links, dict(net.config), net.name)


def _with_capacities(links: pd.DataFrame, crun) -> pd.DataFrame:
    """The links table with the choice model's capacities: whether a capacity bounds both
    directions, the utilization in that sense, and the multiplier in hours and USD/t (and the
    deterministic limit's in USD/t, where the run solved it)."""
    cap = crun.capacities
    eng = crun.network.links
    links = links.copy()
    links["capacity_both_directions"] = links["link_id"].map(
        eng["capacity_both_directions"]).fillna(False).astype(bool)
    links["capacity_hard_tpy"] = links["link_id"].map(eng["capacity_hard_tpy"])
    util = cap.groupby("link_id")["utilization"].max()
    links["capacity_utilization"] = links["link_id"].map(util)
    h = cap.groupby("link_id")["shadow_price_h"].max()
    usd = cap.groupby("link_id")["shadow_price_usd_per_t"].max()
    links["choice_shadow_price_h"] = links["link_id"].map(h)
    links["choice_shadow_price_usd_per_t"] = links["link_id"].map(usd)
    if "limit_shadow_price_usd_per_t" in cap:
        # the choice model's deterministic limit (solved with the LP): its price at the link
        lim = cap.groupby("link_id")["limit_shadow_price_usd_per_t"].max()
        links["limit_shadow_price_usd_per_t"] = links["link_id"].map(lim)
    return links




def demand_segments(rows: pd.DataFrame, bans, zone_country: dict[str, str]) -> pd.DataFrame:
    """Name each demand row's traffic class: its commodity, or ``commodity|ban0-1`` where transit
    bans apply to it: its origin or destination country is one of a ban's ``od_countries`` and
    neither is the banning country (the country of the ban's links: freight with an end there is
    not in transit there, so Georgia banning Armenian transit leaves Georgia's own trade with
    Armenia alone)."""
    rows = rows.copy()
    oc = rows["origin_zone_id"].map(zone_country)
    dc = rows["destination_zone_id"].map(zone_country)
    seg = rows["commodity_id"].astype(str).to_numpy(dtype=object)
    for i, (_links, countries, banning) in enumerate(bans):
        hit = ((oc.isin(countries) | dc.isin(countries))
               & ~(oc.isin(banning) | dc.isin(banning))).to_numpy()
        for j in np.flatnonzero(hit):
            seg[j] = f"{seg[j]}{'-' if '|' in seg[j] else '|ban'}{i}"
    rows["segment"] = seg
    return rows


def od_segment(origin_zone_id: str, destination_zone_id: str, commodity: str, bans,
               zone_country: dict[str, str]) -> tuple[str, set]:
    """The traffic class of one OD pair and commodity under the transit bans
    (:func:`demand_segments`), and the links barred to it (:func:`banned_links`)."""
    seg = demand_segments(pd.DataFrame([{"origin_zone_id": origin_zone_id,
                                         "destination_zone_id": destination_zone_id,
                                         "commodity_id": commodity}]), bans,
                          zone_country)["segment"].iloc[0]
    return seg, banned_links(seg, bans)


def banned_links(segment: str, bans) -> set:
    """The links barred to traffic class ``segment`` (:func:`demand_segments`): those of every
    ban its name carries (``commodity|ban0-1``), none for a class without a ban."""
    if "|ban" not in segment:
        return set()
    ids = segment.split("|ban", 1)[1].split("-")
    return set().union(*(bans[int(i)][0] for i in ids))


def _engine_inputs(data: CorridorData, scenario: Scenario, *, quiet: bool = False):
    """The scenario applied to the dataset and what the engine takes of it: (inputs, network,
    zone -> country, demand rows, demand rows without an open route, demand, classes); with
    ``quiet``, what applying it warns of is not said."""
    inputs = applied_and_said(data, scenario)[0] if quiet else apply_scenario(data, scenario)
    net = build_network(data, inputs.links, name=scenario.name)
    zc = data.zone_country()
    dem_rows = demand_segments(inputs.demand[inputs.demand["tonnes_per_year"] > 0],
                               inputs.bans, zc)
    dem_rows, no_path = _split_unreachable(net, dem_rows, inputs.bans)
    demand = Demand.from_long(dem_rows, origin="origin_zone_id",
                              destination="destination_zone_id", value="tonnes_per_year",
                              segment="segment", zone_ids=tuple(net.zones.index))
    return inputs, net, zc, dem_rows, no_path, demand, _classes(data, net, demand, inputs.bans)


def reference_routes(data: CorridorData, scenario: Scenario, model: CorridorChoice):
    """The route sets of the choice model on the network of ``scenario``'s like-year reference
    (:func:`~karvan.scenario.reference.reference_scenario`), for the scenario's run to be
    compared with it (:func:`~karvan.scenario.choice_run.solve_choice`, ``reference``).

    A route set is searched afresh on every network (k routes by link penalty): a link that
    opens changes which k routes the search finds, so a route the reference offered could
    leave the scenario's set although none of its links changed, and routes the reference's
    network had could enter it. On the built-in data, opening Rasht–Astara raised the expected
    cost of 239 of the 1,511 OD pairs against ``reference_2028`` (by up to USD 22/t) and moved
    India–Russia freight off the INSTC's western rail. Compared on the reference's routes, a
    project's effect is that of its own changes.

    Returns
    -------
    ReferenceRoutes or None
        None where ``scenario`` is itself a reference (or a back-cast) or its year has none.
        The last few are kept per process, for the dataset and the model's parameters: a
        worker that runs two projects of one year searches their reference once.
    """
    import json

    from karvan.scenario.choice_run import (
        choice_classes,
        choice_network,
        choice_route_set,
        reference_route_set,
    )

    if is_reference(scenario.name):
        return None
    try:
        ref = reference_scenario(scenario.year, base_year=data.base_year)
    except InputError:  # a year before the base year without a back-cast
        return None
    key = (ref.name, json.dumps(model.describe(), sort_keys=True, default=str))
    for d, k, found in _REFERENCE_ROUTES:
        if d is data and k == key:
            return found
    # what the reference's own inputs warn of belongs to the reference's run: taken and left
    # (a filter "ignore" here silenced every thread's warnings while it held, in the dashboard)
    _, net, zc, _, _, demand, classes = _engine_inputs(data, ref, quiet=True)
    cnet = choice_network(net)
    classes = choice_classes(classes, model, cnet.links.index)
    rs, _, _ = choice_route_set(cnet, demand, classes, model, zone_country=zc)
    found = reference_route_set(ref.name, rs, cnet, classes, model)
    _REFERENCE_ROUTES.insert(0, (data, key, found))
    del _REFERENCE_ROUTES[4:]
    return found


#: (dataset, (reference name, the model's parameters), ReferenceRoutes) of the last references
#: :func:`reference_routes` searched in this process
_REFERENCE_ROUTES: list[tuple] = []


def _classes(data: CorridorData, net: Network, demand: Demand, bans) -> list:
    com = {c.name: c for c in commodity_classes(data)}
    out = []
    for seg in demand.names:
        base = com[acc.commodity_of(seg)]
        banned = banned_links(seg, bans)
        link_cost = None
        if banned:
            link_cost = np.where(net.links.index.isin(list(banned)), BANNED_USD_PER_T, 0.0)
        out.append(TrafficClass(name=seg, demand=seg, value_of_time=base.value_of_time,
                                pce=base.pce, cost_fields=dict(base.cost_fields),
                                link_cost=link_cost))
    order = {c: i for i, c in enumerate(data.commodity_ids)}
    return sorted(out, key=lambda c: (order[acc.commodity_of(c.name)], c.name))


def _split_unreachable(net: Network, rows: pd.DataFrame, bans=()
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand rows whose origin cannot reach the destination on the open network (without the
    links banned to them), set apart: a scenario that cuts a region off reports that demand
    instead of failing."""
    g = compile_graph(net)
    zi = pd.Index(g.zone_ids)
    oi = zi.get_indexer(rows["origin_zone_id"])
    di = zi.get_indexer(rows["destination_zone_id"])
    ok = np.zeros(len(rows), dtype=bool)
    segs = (rows["segment"].to_numpy(dtype=object) if "segment" in rows
            else np.full(len(rows), "", dtype=object))
    # the links banned to each segment, and the rows of each set of banned links
    banned_of = {s: frozenset(banned_links(s, bans)) for s in dict.fromkeys(segs)}
    code = {b: i for i, b in enumerate(dict.fromkeys(banned_of.values()))}
    row_code = np.fromiter((code[banned_of[s]] for s in segs), dtype=np.int64, count=len(segs))
    for banned, c in code.items():
        cost = g.free_flow_time.copy()
        if banned:
            cost[np.isin(g.link_ids[g.arc_link], list(banned))] = np.inf
        reach = zone_reachability(g, cost)
        j = np.flatnonzero(row_code == c)
        ok[j] = reach[oi[j], di[j]]
    return rows[ok], rows[~ok]


def shipper_comparison(data: CorridorData, net: Network, ue: AssignmentResult,
                       vot: dict[str, float], bans=()) -> pd.DataFrame:
    """For each shipper OD of ``shipper_od.csv``, the best route through each option of
    ``route_option.csv`` (e.g. via Suez, via Azerbaijan, across the Caspian) at equilibrium
    times: time, distance, charge and generalized cost per tonne. An OD whose countries fall
    under a transit ban (``bans``, of the scenario) is priced as its traffic class, which may
    not use the banned links."""
    ods, opts = data.tables.get("shipper_od"), data.tables.get("route_option")  # as checked
    if ods is None or opts is None:
        return pd.DataFrame()
    g = ue.graph
    names = [c.name for c in ue.classes]
    charges = acc.arc_charges(net, g)
    extra = acc.arc_extra_hours(net, g)
    queue = acc.queue_hours(ue)
    zone_node = dict(zip(g.zone_ids, g.zone_nodes, strict=True))
    zc = data.zone_country()
    rows = []
    for od in ods.itertuples(index=False):
        com = od.commodity_id
        if com not in names or od.origin_zone_id not in zone_node or (
                od.destination_zone_id not in zone_node):
            continue
        k = names.index(com)
        cost = np.ascontiguousarray(ue.class_costs[k])
        seg, banned = od_segment(od.origin_zone_id, od.destination_zone_id, com, bans, zc)
        if banned:  # its class's costs (where it has demand), without the links barred to it
            cost = np.array(ue.class_costs[names.index(seg) if seg in names else k])
            cost[np.isin(g.link_ids[g.arc_link], list(banned))] = np.inf
        o, d = zone_node[od.origin_zone_id], zone_node[od.destination_zone_id]
        for op in opts.itertuples(index=False):
            label = getattr(op, "name", None)  # name is optional: the option's id stands in
            label = label if isinstance(label, str) and label else op.option_id
            via = id_list(op.via_link_ids)
            arcs = np.flatnonzero(np.isin(g.link_ids[g.arc_link], via))
            also = id_list(getattr(op, "also_via_link_ids", None))
            also_arcs = (np.flatnonzero(np.isin(g.link_ids[g.arc_link], also)) if also
                         else None)
            c, path = acc.best_via(g, cost, o, d, arcs, also_arcs)
            if not path:
                rows.append((od.origin_zone_id, od.destination_zone_id, com, op.option_id,
                             label, False, np.nan, np.nan, np.nan, np.nan, np.nan, ""))
                continue
            a = np.asarray(path)
            # the queues at hard capacities too: the path is chosen on costs that hold them
            # (karvan run left them out, explore's central case did not: 773.5 against 774.9)
            q = float(queue[a].sum())
            t = float(ue.time[a].sum()) + q + (float(extra[com][a].sum()) if com in extra
                                               else 0.0)
            ch = float(charges[com][a].sum())
            rows.append((od.origin_zone_id, od.destination_zone_id, com, op.option_id, label,
                         True, t, t / 24.0, q, float(g.length[a].sum()), ch,
                         " > ".join(map(str, g.link_ids[g.arc_link[a]]))))
    df = pd.DataFrame(rows, columns=["origin", "destination", "commodity", "option_id", "option",
                                     "available", "time_h", "time_days", "queue_h",
                                     "distance_km", "charge_usd_per_t", "links"])
    if len(df):
        df["cost_usd_per_t"] = df["charge_usd_per_t"] + df["commodity"].map(vot) * df["time_h"]
    return df


def run_manifest(run: ScenarioRun, data: CorridorData) -> dict:
    """The manifest of a run: karvan and schema versions, scenario spec, input hashes, solver
    settings, convergence, summary and table names."""
    return {
        "karvan_version": __version__,
        "karvan_code": code_fingerprint(),
        "schema_version": SCHEMA_VERSION,
        "scenario": run.scenario.to_dict(),
        # resolved: a relative --data read from another folder named another dataset
        "inputs": {"dataset": str(Path(data.folder).resolve()),
                   "sha256_16": hash_folder(data.folder)},
        "settings": run.settings,
        "convergence": {"iterations": run.ue.iterations, "relative_gap": run.ue.gap,
                        "converged": run.ue.converged},
        "summary": run.summary,
        "warnings": run.warnings,
        "tables": sorted(run.tables),
    }


def write_run(run: ScenarioRun, folder: str | Path, data: CorridorData) -> Path:
    """Write a run's tables (Parquet and CSV) and ``manifest.json`` to a plain folder; the folder
    appears whole or not at all. :func:`save_run` keeps versions in a run store instead."""
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        write_run_folder(tmp, run.tables, run_manifest(run, data))
    return folder


def save_run(run: ScenarioRun, store: RunStore | str | Path, data: CorridorData) -> str:
    """Save a run in a run store (created if needed) and return its run id; the run is listed
    whole or not at all."""
    if not isinstance(store, RunStore):
        store = RunStore(store)
    return store.save(run.tables, run_manifest(run, data))


#: what ``compare`` shows: table -> (keys, values, descriptive columns kept)
COMPARED: dict[str, tuple[list[str], list[str], tuple[str, ...]]] = {
    "links": (["link_id"], ["tonnes_tot", "utilization", "tonne_km", "revenue_usd",
                            "choice_shadow_price_usd_per_t", "shadow_price_usd_per_t"], ()),
    "countries": (["country"], ["tonnes", "tonne_km", "revenue_usd", "transit_tonnes",
                                "transit_tonne_km", "transit_revenue_usd"], ()),
    "borders": (["border_id"], ["tonnes_tot", "utilization"], ()),
    "skims": (["commodity", "origin", "destination"], ["time_h", "distance_km",
                                                       "cost_usd_per_t",
                                                       "expected_cost_usd_per_t"], ()),
}

#: tables compared where both runs have them (the choice model's capacities; the shipper
#: comparison of a dataset with shipper pairs): where the queues move, what a shipper's options
#: cost (`karvan compare --out` wrote neither)
COMPARED_IF_BOTH: dict[str, tuple[list[str], list[str], tuple[str, ...]]] = {
    "capacities": (["constraint_id"], ["shadow_price_usd_per_t", "shadow_price_h",
                                       "utilization", "tonnes"], ("link_id", "direction")),
    "shipper": (["origin", "destination", "commodity", "option_id"],
                ["cost_usd_per_t", "time_days", "charge_usd_per_t"], ("option",)),
}


def compare_runs(a: str | Path | RunRecord, b: str | Path | RunRecord | None = None, *,
                 store: RunStore | str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Differences B - A of two runs, with ``reference``: one row saying whether A is of B's
    year (else the difference includes the growth of demand between the years).

    Parameters
    ----------
    a, b
        Run folders, records, or, with ``store``, anything :func:`karvan.store.resolve_run`
        accepts: a run id, a unique prefix of one, a scenario name (its latest run). With ``b``
        omitted, run ``a`` is compared with its like-year reference in ``store``
        (:func:`karvan.scenario.reference.choose_reference`).
    store
        The run store to look names up in.

    Returns
    -------
    dict
        ``reference`` (:func:`karvan.scenario.reference.comparison_table`), table name ->
        :func:`karvan.store.diff_table` of it, and ``benefit``: the users' benefit of B against
        A per OD pair and commodity (:func:`karvan.freight.benefit.run_benefit`), where both
        runs have its tables.

    Raises
    ------
    InputError
        A run that cannot be found, or lacks one of the tables; with ``b`` omitted, no store or
        no reference in it.
    TypeError
        A :class:`ScenarioRun` (save or write it first).
    """
    for x in (a, b):
        if isinstance(x, ScenarioRun):
            raise TypeError("compare_runs compares stored runs: save a ScenarioRun first "
                            "(save_run(run, store, data) gives its run id; write_run(run, "
                            "folder, data) a folder) and pass the run id or folder.")
    if b is None:
        rb = resolve_run(a, store)
        ra = resolve_run(_reference_of(rb, store), store)
    else:
        ra, rb = (resolve_run(x, store) for x in (a, b))
    if ra.path.resolve() == rb.path.resolve():
        # tables of zeros called the scenario's own changes
        raise InputError(f"{ra.label} and {rb.label} are one run; name two runs to compare "
                         "(or one, to compare it with the reference of its year).")
    for said in unlike_runs(ra, rb):
        warnings.warn(said, CorridorWarning, stacklevel=2)
    out = {"reference": comparison_table(describe_comparison(
        ra.scenario, _year(ra), rb.scenario, _year(rb)))}
    out.update({name: diff_table(ra.table(name), rb.table(name), keys, vals, keep=keep,
                                 strict=False)
                for name, (keys, vals, keep) in COMPARED.items()})
    out.update({name: diff_table(ra.table(name), rb.table(name), keys, vals, keep=keep,
                                 strict=False)
                for name, (keys, vals, keep) in COMPARED_IF_BOTH.items()
                if ra.has_table(name) and rb.has_table(name)})
    out["countries"] = _sea_legs_without_transit(out["countries"], ra.table("countries"),
                                                 rb.table("countries"))
    from karvan.freight.benefit import run_benefit

    benefit = run_benefit(ra, rb)
    if benefit is not None:
        out["benefit"] = benefit
    return out


def _sea_legs_without_transit(diff: pd.DataFrame, *countries: pd.DataFrame) -> pd.DataFrame:
    """The countries' differences with ``sea_legs_only``: the open sea, the Caspian and the
    countries crossed on sea legs only (Egypt's canal) have tonnes on their links but no
    transit to gain or lose, so their transit columns are blank (``karvan compare`` listed
    the Caspian's 'transit -0.27 Mt' as the second largest change), as the summary and the
    report leave them out of transit; a country is left out where every run that crosses it
    crosses it by sea only."""
    # a country crossed by sea in one run and by land in the other has transit to change:
    # left out where every run that crosses it crosses it by sea only
    sea_in, land_in = set(), set()
    for c in countries:
        if "sea_legs_only" in c:
            flag = c["sea_legs_only"].astype("boolean").fillna(False).astype(bool)
            sea_in |= set(c.loc[flag, "country"].astype(str))
            land_in |= set(c.loc[~flag, "country"].astype(str))
    sea = set(acc.SEA_COUNTRIES) | (sea_in - land_in)
    out = diff.copy()
    rows = out["country"].astype(str).isin(sea).to_numpy()
    out.insert(1, "sea_legs_only", rows)
    cols = [c for c in out.columns if c.startswith("transit_")]
    out.loc[rows, cols] = np.nan
    return out


def _year(run: RunRecord) -> int:
    spec = run.manifest.get("scenario")
    return int(spec.get("year")) if isinstance(spec, dict) and spec.get("year") else int(
        run.summary.get("year", 0))


def _reference_of(run: RunRecord, store: RunStore | str | Path | None) -> str:
    if store is None:
        raise InputError("comparing a run with its like-year reference needs the run store "
                         "that holds the reference.")
    if not isinstance(store, RunStore):
        store = RunStore(store, create=False)
    listed = store.list()
    # runs of the run's choice model only: against another model the difference is not the
    # scenario's own (a deterministic reference_2028 stored after the logit one was taken)
    model = (run.summary or {}).get("choice", "deterministic")
    same = [(s or {}).get("choice", "deterministic") == model for s in listed["summary"]]
    listed = listed[same]
    # and of its dataset: a reference of another dataset (an edited copy, or the dataset
    # edited since) made the difference hold the other demand (Suez +18.7 Mt for a rail link)
    inputs = inputs_of(run)
    if inputs:
        listed = listed[[inputs_of(store.get(str(i))) in (inputs, None)
                         for i in listed["run_id"]]]
    avail = {str(n): int(y) for n, y in zip(listed["scenario"], listed["year"], strict=True)
             if pd.notna(y)}
    ref = choose_reference(run.scenario, _year(run), avail).reference
    if ref == run.scenario:
        # it would be compared with itself: tables of zeros called its own changes
        raise InputError(f"{run.scenario} is itself the reference of {_year(run)}; name the "
                         "run to compare it with: karvan compare A B.")
    # its newest run of that model (a scenario name would resolve to its newest of any model)
    return str(listed.loc[listed["scenario"] == ref, "run_id"].iloc[-1])
