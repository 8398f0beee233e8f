"""``karvan validate`` as a library function: is a GMNS folder or TNTP file valid, and is it
ready to assign? A structured report, never a traceback. A corridor dataset folder
(:func:`corridor_tables`) is checked by :func:`karvan.freight.corridor.validate_corridor`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from karvan.errors import InputError, KarvanError, catch_warnings, format_ids


@dataclass(frozen=True, slots=True, eq=False)
class ValidationReport:
    """What :func:`validate_input` found.

    Attributes
    ----------
    path, kind
        The input and its format (``gmns``, ``tntp`` or ``corridor``).
    errors
        What makes the input unreadable (not valid GMNS, TNTP or corridor dataset as karvan
        reads them).
    warnings
        Departures from the format read leniently, each saying how.
    notes
        karvan's readings of what the format allows (a zone with several nodes connected
        through a centroid, links out of use left out, units assumed), and checks left out
        until an error is fixed.
    needs
        What an assignment still needs that no default fills.
    defaults
        The documented defaults an assignment would use.
    counts
        Nodes, links, zones, demand, as label -> text.
    """

    path: Path
    kind: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)
    counts: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Karvan reads it (perhaps leniently)."""
        return not self.errors

    @property
    def strictly_valid(self) -> bool:
        """Valid with no departure from the format."""
        return not self.errors and not self.warnings

    @property
    def ready(self) -> bool:
        """Valid, and an assignment needs nothing more (defaults aside)."""
        return self.valid and not self.needs


def corridor_tables(folder: str | os.PathLike) -> list[str]:
    """The tables of ``folder`` that only a corridor dataset has (commodity.csv, tariff.csv,
    growth.csv, ...: every table of the corridor schemas that GMNS does not define): a folder
    with any of them is a corridor dataset, checked as one, whichever of its tables are
    missing. Empty for a plain GMNS folder (or no folder).

    Examples
    --------
    >>> from karvan.io.validate import corridor_tables
    >>> from karvan.freight.corridor import builtin_corridor_folder
    >>> corridor_tables(builtin_corridor_folder())[:3]
    ['choice_parameter.csv', 'choice_parameter_correlation.csv', 'commodity.csv']
    """
    from karvan.schema import family_schemas

    folder = Path(folder)
    if not folder.is_dir():
        return []
    gmns = set(family_schemas("gmns"))
    return [s.path or f"{name}.csv" for name, s in family_schemas("corridor").items()
            if name not in gmns and (folder / (s.path or f"{name}.csv")).is_file()]


def validate_input(path: str | os.PathLike, trips: str | os.PathLike | None = None, *,
                   use: str | None = None) -> ValidationReport:
    """Check a GMNS folder or a TNTP ``_net`` file (or a folder holding one, as
    :func:`karvan.io.tntp.find_tntp_net` finds it) and its demand, and say what assignment
    would still need; with ``use``, a GMNS network of the links that admit it, as ``karvan
    assign --use`` reads it (with :data:`karvan.io.gmns.EVERY_USE`, every link for every use
    and no note of it, as ``karvan assign --every-use``).

    Raises
    ------
    InputError
        When ``path`` is neither a folder nor a ``.tntp`` file, a folder of several TNTP
        networks, or a corridor dataset folder (:func:`corridor_tables`; plain GMNS advice
        would be wrong for it: :func:`karvan.freight.corridor.validate_corridor` checks it).
    """
    path = Path(path)
    corridor = corridor_tables(path)
    if corridor:
        raise InputError(f"{path} is a corridor dataset ({', '.join(corridor[:3])}"
                         f"{', ...' if len(corridor) > 3 else ''}), not a plain GMNS folder: "
                         "check it with karvan.freight.corridor.validate_corridor (`karvan "
                         "validate` does).")
    if path.is_dir():
        from karvan.io.tntp import find_tntp_net

        net = find_tntp_net(path)  # a folder of TNTP files, as `karvan assign` reads it
        if net is not None:
            rep = _tntp(net, trips, use)
            rep.notes.insert(0, f"{path} is a folder of TNTP files: checked its network "
                                f"{net.name}.")
            return rep
        return _gmns(path, trips, use)
    if path.suffix.lower() == ".tntp" and path.is_file():
        return _tntp(path, trips, use)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a GMNS folder, a TNTP _net file, a "
                         "corridor dataset folder or a scenario file (.toml).")
    if path.suffix.lower() == ".toml":
        raise InputError(f"{path}: a scenario file; validate_input checks datasets and networks. "
                         f"Check a scenario with `karvan validate {path}` (or "
                         "karvan.scenario.reference.load_scenarios with its dataset), or run it "
                         f"(karvan run {path}: checked before any work).")
    raise InputError(f"{path}: not a folder or a .tntp file; karvan reads GMNS folders and TNTP "
                     "_net files.")


def _gmns(path: Path, trips, use: str | None = None) -> ValidationReport:
    from karvan.io.gmns import EVERY_USE, inspect_gmns, read_gmns_demand
    from karvan.io.gmns_ready import prepare_assignment
    from karvan.io.problem import gmns_classes, one_use

    r = inspect_gmns(path, use=use)
    # the reader's notes on the capacity's and the uses' readings, in validate's words
    notes = [n.replace("pass --capacity-per-lane", "assign with --capacity-per-lane")
             .replace("pass --use USE", "assign (and validate) with --use USE") for n in r.notes]
    rep = ValidationReport(path, "gmns", list(r.errors), list(r.warnings), notes)
    if r.network is None:
        return rep
    net = r.network
    cent = len(net.config.get("derived_nodes", []))
    conn = len(net.config.get("derived_links", []))
    rep.counts.update({
        "nodes": f"{len(net.nodes) - cent:,}" + (f" (+{cent:,} zone centroids)" if cent else ""),
        "links": f"{len(net.links) - conn:,}" + (f" (+{conn:,} connectors)" if conn else ""),
        "zones": f"{len(net.zones):,}"})
    dpath = Path(trips) if trips is not None else path / "demand.csv"
    if not len(net.zones) and dpath.exists():
        from karvan.io.problem import zones_at_demand_nodes

        try:
            net = zones_at_demand_nodes(net, dpath, rep.notes)
        except InputError as e:
            rep.errors.extend(e.problems)
            return rep
    ready = prepare_assignment(net, zones_from_demand=dpath.exists())
    rep.needs.extend(ready.needs)
    rep.defaults.extend(ready.defaults)
    rep.notes.extend(ready.notes)
    if ready.network is not None:
        _check_engine(ready.network, rep, conn)
    if not dpath.exists():
        if trips is not None:
            rep.errors.append(f"{dpath} does not exist; check the trips path.")
        else:
            rep.needs.append("a demand: no demand.csv beside the network (or pass --trips).")
        return rep
    try:
        demand = read_gmns_demand(dpath, ready.network or net)
        with catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            classes = gmns_classes(ready.network or net, demand)
        rep.notes.extend(str(w.message) for w in caught)
        if use is not None and use != EVERY_USE:
            one_use(net, use, [c["name"] for c in classes] or list(demand.names), path)
    except InputError as e:
        rep.errors.extend(e.problems)
        return rep
    rep.counts["demand"] = f"{demand.total():,.2f} in {len(demand.names)} matrix(es)"
    if ready.network is not None and not rep.needs:
        _check_paths(ready.network, demand, rep, "demand.csv" if trips is None else str(dpath))
    return rep


def _check_paths(net, demand, rep: ValidationReport, where: str) -> None:
    """Demand without a path is a need: :func:`karvan.assign` refuses it."""
    from karvan.network.graph import compile_graph, unreachable_od_pairs

    try:
        pairs = unreachable_od_pairs(compile_graph(net), demand)
    except KarvanError as e:
        rep.needs.extend(getattr(e, "problems", [str(e)]))
        return
    if pairs:
        rep.needs.append(f"{len(pairs)} OD pairs with demand in {where} have no path on the "
                         f"network ({format_ids(pairs)}): connect them, or remove their "
                         "demand.")


def _tntp(path: Path, trips, use: str | None = None) -> ValidationReport:
    from karvan.io.problem import read_problem

    rep = ValidationReport(path, "tntp")
    try:
        with catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prob = read_problem(path, trips, need_demand=False, use=use)
        rep.warnings.extend(str(w.message) for w in caught)
    except InputError as e:
        rep.errors.extend(e.problems)
        return rep
    net = prob.network
    rep.counts.update({"nodes": f"{len(net.nodes):,}", "links": f"{len(net.links):,}",
                       "zones": f"{len(net.zones):,}"})
    _check_engine(net, rep)
    if prob.demand is not None:
        rep.counts["demand"] = (f"{prob.demand.total():,.2f} in {len(prob.demand.names)} "
                                "matrix(es)")
        if not rep.needs:
            _check_paths(net, prob.demand, rep, "the trips file")
    else:
        rep.needs.append("a demand: no _trips file beside the network (or pass --trips).")
    return rep


def _check_engine(net, rep: ValidationReport, connectors: int = 0) -> None:
    from karvan.network import compile_graph

    try:
        g = compile_graph(net)
    except KarvanError as e:
        rep.needs.extend(getattr(e, "problems", [str(e)]))
        return
    n = g.n_links - connectors
    rep.counts["links"] = f"{n:,} ({g.n_arcs:,} directed arcs" + (
        f", with {connectors:,} connectors)" if connectors else ")")
