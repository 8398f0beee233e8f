"""The network: a node table and a link table keyed by ids, with the checks that make them usable.

Link columns the engine reads (others are carried along untouched):

=================  ==========================================================================
column             meaning
=================  ==========================================================================
from_node_id       tail node id
to_node_id         head node id
directed           True: travel from -> to only; False: both ways, each way with these values
free_flow_time     time at zero flow (hours, minutes: the unit of the network; >= 0)
capacity           capacity in the unit demand is loaded in (> 0 where the delay function uses it)
length             length (long_length unit of the network; >= 0)
toll               a money charge per unit of flow (>= 0)
vdf                delay function: ``bpr``, ``conical`` or ``constant``
alpha, beta        parameters of the delay function (conical: leave beta blank, it is
                   (2 alpha - 1) / (2 alpha - 2), the value that keeps the free-flow time)
=================  ==========================================================================

Node columns: ``x_coord``, ``y_coord``, ``zone_id`` (the zone whose centroid this node is, or
empty), ``passable`` (False: a path may start or end here but not pass through; a blank cell is
passable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids

LINK_DEFAULTS: dict[str, Any] = {
    "directed": True,
    "free_flow_time": 0.0,
    "capacity": np.nan,
    "length": 0.0,
    "toll": 0.0,
    "vdf": "bpr",
    "alpha": 0.15,
    "beta": 4.0,
}
VDF_NAMES = ("bpr", "conical", "constant")
NUMERIC_LINK_FIELDS = ("free_flow_time", "capacity", "length", "toll", "alpha", "beta")


@dataclass(frozen=True, slots=True)
class Network:
    """A directed network of nodes and links, keyed by user-facing ids.

    Parameters
    ----------
    nodes
        Indexed by ``node_id``; see the module notes for the columns read.
    links
        Indexed by ``link_id``; see the module notes.
    config
        Units and metadata (GMNS ``config.csv`` fields: ``long_length``, ``speed``, ``crs``, ...).
    name
        A label for messages and outputs.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    name: str = "network"

    @property
    def zones(self) -> pd.Series:
        """Zone id -> centroid node id, in node-table order."""
        z = self.nodes["zone_id"] if "zone_id" in self.nodes else pd.Series(dtype=object)
        z = z[z.notna() & (z.astype(str) != "")]
        return pd.Series(z.index.to_numpy(), index=pd.Index(z.to_numpy(), name="zone_id"),
                         name="node_id")

    def with_links(self, links: pd.DataFrame) -> Network:
        """The same network with another link table (for scenario changes)."""
        return Network(self.nodes, links, dict(self.config), self.name)


#: the columns whose blanks among values are warned about (a blank vdf or direction is a
#: reader's way of leaving a link to the default)
WARNED_BLANKS = ("alpha", "beta", "length", "toll")


class NetworkWarning(UserWarning):
    """A network's links that the engine completes with a default (a blank alpha, length)."""


def complete_links(links: pd.DataFrame) -> pd.DataFrame:
    """Fill the engine's link columns with their defaults where absent or blank; blanks in a
    column that is there are warned about (:class:`NetworkWarning`)."""
    links = links.copy()
    # Spiess's conical function passes through the free-flow time only with
    # beta = (2 alpha - 1) / (2 alpha - 2): a conical link without a beta gets that one, not the
    # BPR default 4 (which gave -0.34 x the free-flow time at zero flow for alpha 4)
    vdf = (links["vdf"].astype(str).str.strip().str.lower() if "vdf" in links
           else pd.Series("bpr", index=links.index))
    con = (vdf == "conical").to_numpy()
    if con.any():
        a = pd.to_numeric(links["alpha"], errors="coerce") if "alpha" in links else pd.Series(
            LINK_DEFAULTS["alpha"], index=links.index)
        b = (pd.to_numeric(links["beta"], errors="coerce") if "beta" in links
             else pd.Series(np.nan, index=links.index))
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = (2 * a - 1) / (2 * a - 2)
        links["beta"] = np.where(con & b.isna().to_numpy(), derived, b)
    for col, default in LINK_DEFAULTS.items():
        if col == "free_flow_time" and col not in links:
            # no time column (a misnamed travel_time) is every link without a time, for
            # check_network to name; a default of 0 made every route free and "converged"
            links[col] = np.nan
        elif col not in links:
            links[col] = default
        elif col == "free_flow_time":
            continue  # a blank time is an input problem (check_network), not a zero
        elif links[col].isna().any() and not (isinstance(default, float) and np.isnan(default)):
            # blanks among values are values left out: said, then the default (a column
            # blank throughout is one left out, as readers give an optional column)
            isna = links[col].isna().to_numpy()
            blank = links.index[isna]
            import warnings

            if col in WARNED_BLANKS and not isna.all():
                warnings.warn(f"{len(blank)} links have a blank {col}: {default} stands in "
                              f"(link_id {format_ids(blank)}); give them a value, or leave the "
                              f"column out to take {default} everywhere.", NetworkWarning,
                              stacklevel=3)
            links[col] = links[col].fillna(default)
    links["vdf"] = links["vdf"].astype(str).str.strip().str.lower().replace({"none": "constant"})
    return links


def check_network(network: Network, *, where: str | None = None) -> None:
    """Check a network and raise one :class:`InputError` listing every problem found.

    Checks: unique ids, links between known nodes, numeric non-negative times, lengths and tolls,
    known delay functions, positive capacity wherever a delay function needs it, zones mapped to
    one node each.

    Raises
    ------
    InputError
        When any check fails (every problem found in one error).
    """
    problems: list[str] = []
    nodes, links = network.nodes, network.links
    if nodes.index.has_duplicates:
        dup = nodes.index[nodes.index.duplicated()].unique()
        problems.append(f"{len(dup)} duplicate node_id ({format_ids(dup)}); ids must be unique.")
    if links.index.has_duplicates:
        dup = links.index[links.index.duplicated()].unique()
        problems.append(f"{len(dup)} duplicate link_id ({format_ids(dup)}); ids must be unique.")
    from karvan.network.graph import bool_spelling_problems

    for table, col, what in ((nodes, "passable", "node_id"), (links, "directed", "link_id")):
        if col in table:
            bad = bool_spelling_problems(table[col])
            if len(bad):
                vals = sorted({str(v) for v in table.loc[bad, col]})
                problems.append(
                    f"{len(bad)} rows have a {col} that is neither true nor false ({what} "
                    f"{format_ids(bad)}: {format_ids(vals)}); write true or false (or leave it "
                    f"blank: {'passable' if col == 'passable' else 'directed'})."
                )
    known = set(nodes.index)
    for end in ("from_node_id", "to_node_id"):
        if end not in links:
            problems.append(f"link table has no {end} column.")
            continue
        bad = links.index[~links[end].isin(known)]
        if len(bad):
            vals = links.loc[bad, end].unique()
            problems.append(
                f"{len(bad)} links have a {end} that is not in the node table "
                f"(link_id {format_ids(bad)}; {end} {format_ids(vals)}); add the nodes or fix "
                "the ids."
            )
    for col in NUMERIC_LINK_FIELDS:
        if col not in links:
            continue
        vals = pd.to_numeric(links[col], errors="coerce")
        nonnum = links.index[vals.isna() & links[col].notna()]
        if len(nonnum):
            problems.append(
                f"{len(nonnum)} links have a non-numeric {col} (link_id {format_ids(nonnum)})."
            )
        neg = links.index[vals < 0]
        if len(neg):
            problems.append(
                f"{len(neg)} links have a negative {col} (link_id {format_ids(neg)}); "
                f"{col} must be >= 0."
            )
        inf = links.index[np.isinf(vals.to_numpy(dtype=float, na_value=np.nan))]
        if len(inf) and col != "capacity":
            problems.append(f"{len(inf)} links have an infinite {col} (link_id {format_ids(inf)}).")
    if "free_flow_time" in links:
        blank = links.index[links["free_flow_time"].isna()]
        if len(blank):
            problems.append(
                f"{len(blank)} links have no free_flow_time (link_id {format_ids(blank)}); give "
                "every link a time (or a length and free_speed in GMNS)"
                + ("." if len(blank) < len(links) else
                   f"; the link table has no time in any row (its columns: "
                   f"{format_ids(map(str, links.columns))}).")
            )
    if "capacity" in links:
        zero = links.index[pd.to_numeric(links["capacity"], errors="coerce") == 0]
        if len(zero):
            problems.append(
                f"{len(zero)} links have capacity 0 (link_id {format_ids(zero)}); leave it blank "
                "for an unlimited capacity, or remove (close) the link."
            )
    if "vdf" in links:
        bad = links.index[~links["vdf"].isin(VDF_NAMES)]
        if len(bad):
            problems.append(
                f"{len(bad)} links have an unknown vdf (link_id {format_ids(bad)}: "
                f"{format_ids(links.loc[bad, 'vdf'].unique())}); use one of {', '.join(VDF_NAMES)}."
            )
        needs_cap = links["vdf"].isin(["bpr", "conical"])
        if "alpha" in links and "free_flow_time" in links:
            a = pd.to_numeric(links["alpha"], errors="coerce").fillna(0)
            t = pd.to_numeric(links["free_flow_time"], errors="coerce").fillna(0)
            needs_cap &= (a > 0) & (t > 0)
        cap = pd.to_numeric(links.get("capacity"), errors="coerce")
        bad = links.index[needs_cap & ~(cap > 0)]
        if len(bad):
            problems.append(
                f"{len(bad)} links have capacity <= 0 or missing (link_id {format_ids(bad)}); "
                "their delay function needs a positive capacity: set one, or set vdf to constant."
            )
        bpr = links["vdf"] == "bpr"
        if bpr.any() and "beta" in links:
            b = pd.to_numeric(links["beta"], errors="coerce")
            a = pd.to_numeric(links.get("alpha", 0), errors="coerce").fillna(0)
            low = bpr & (a > 0) & (b > 0) & (b < 1)
            bad = links.index[low]
            if len(bad):
                # TNTP's b and power read the other way round: b 4, power 0.15
                swapped = bool((a[low] > 1).all())
                problems.append(
                    f"{len(bad)} BPR links have 0 < beta < 1 (link_id {format_ids(bad)}); their "
                    "time has an infinite slope at zero flow. Use beta >= 1 (or 0)."
                    + (" Their alpha is above 1: are alpha and beta swapped (TNTP's b is alpha, "
                       "power is beta; GMNS's VDF_alpha and VDF_beta)?" if swapped else "")
                )
        con = links["vdf"] == "conical"
        if con.any():
            a = pd.to_numeric(links["alpha"], errors="coerce")
            bad = links.index[con & ~(a > 1)]
            if len(bad):
                problems.append(
                    f"{len(bad)} conical links have alpha <= 1 (link_id {format_ids(bad)}); "
                    "Spiess's conical function needs alpha > 1."
                )
            b = pd.to_numeric(links["beta"], errors="coerce")
            with np.errstate(divide="ignore", invalid="ignore"):
                want = (2 * a - 1) / (2 * a - 2)
            bad = links.index[con & (a > 1) & ~(np.abs(b - want) <= 1e-9 * np.abs(want))]
            if len(bad):
                problems.append(
                    f"{len(bad)} conical links have a beta other than (2 alpha - 1) / (2 alpha - "
                    f"2) (link_id {format_ids(bad)}); their time at zero flow is not the "
                    "free-flow time (it can be negative). Leave beta blank for conical links: "
                    "it is derived from alpha."
                )
    zones = network.zones
    if zones.index.has_duplicates:
        dup = zones.index[zones.index.duplicated()].unique()
        problems.append(
            f"{len(dup)} zones have more than one centroid node (zone_id {format_ids(dup)}); "
            "give each zone exactly one node."
        )
    if problems:
        raise InputError(problems, where or network.name)
