"""Compile a :class:`Network` to frozen forward-star arrays for the kernels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from karvan.errors import InputError, format_ids

if TYPE_CHECKING:
    import pandas as pd

    from karvan.network.model import Network

_VDF_CODES = {"bpr": 0, "conical": 1, "constant": 2}


@dataclass(frozen=True, slots=True, eq=False)
class CompiledGraph:
    """Forward-star arrays of a network, with the maps between ids and array positions.

    Each directed link is one arc; an undirected link is two arcs (``arc_dir`` +1 for from -> to,
    -1 for to -> from) that share the link's attributes. Arcs are sorted by tail node, so the
    out-arcs of node ``i`` are ``indptr[i]:indptr[i + 1]``.
    """

    node_ids: np.ndarray
    link_ids: np.ndarray
    zone_ids: np.ndarray
    indptr: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    arc_link: np.ndarray
    arc_dir: np.ndarray
    free_flow_time: np.ndarray
    capacity: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    vdf: np.ndarray
    length: np.ndarray
    toll: np.ndarray
    blocked: np.ndarray
    zone_nodes: np.ndarray

    @property
    def n_nodes(self) -> int:
        """The number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_arcs(self) -> int:
        """The number of arcs (two per undirected link)."""
        return int(self.head.shape[0])

    @property
    def n_links(self) -> int:
        """The number of links."""
        return int(self.link_ids.shape[0])

    def node_index(self, node_ids) -> np.ndarray:
        """0-based positions of node ids.

        Raises
        ------
        InputError
            When some ids are not node ids of the graph.
        """
        import pandas as pd

        lookup = pd.Index(self.node_ids)
        idx = lookup.get_indexer(pd.Index(np.atleast_1d(np.asarray(node_ids, dtype=object))))
        if (idx < 0).any():
            bad = np.atleast_1d(np.asarray(node_ids, dtype=object))[idx < 0]
            raise InputError(f"unknown node ids: {format_ids(bad)}.")
        return idx.astype(np.int64)

    def zone_index(self, zone_ids) -> np.ndarray:
        """0-based positions (in ``zone_ids``) of zone ids.

        Raises
        ------
        InputError
            When some ids are not zones of the network.
        """
        import pandas as pd

        lookup = pd.Index(self.zone_ids)
        ids = np.atleast_1d(np.asarray(zone_ids, dtype=object))
        idx = lookup.get_indexer(pd.Index(ids))
        if (idx < 0).any():
            raise InputError(
                f"{int((idx < 0).sum())} zone ids are not zones of the network "
                f"({format_ids(ids[idx < 0])})."
            )
        return idx.astype(np.int64)

    def to_arcs(self, link_values) -> np.ndarray:
        """Per-link values (in ``link_ids`` order) expanded to arcs."""
        return np.asarray(link_values, dtype=float)[self.arc_link]

    def reverse_star(self) -> tuple[np.ndarray, np.ndarray]:
        """In-arcs by head node: (rindptr, arcs), the in-arcs of node ``i`` being
        ``arcs[rindptr[i]:rindptr[i + 1]]``."""
        order = np.argsort(self.head, kind="stable").astype(np.int64)
        rindptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.add.at(rindptr, self.head + 1, 1)
        return np.cumsum(rindptr), order

    def to_links(self, arc_values) -> tuple[np.ndarray, np.ndarray]:
        """Arc values summed back to links: (from -> to part, to -> from part)."""
        ab = np.zeros(self.n_links)
        ba = np.zeros(self.n_links)
        fwd = self.arc_dir > 0
        np.add.at(ab, self.arc_link[fwd], np.asarray(arc_values)[fwd])
        np.add.at(ba, self.arc_link[~fwd], np.asarray(arc_values)[~fwd])
        return ab, ba


def compile_graph(network: Network, *, check: bool = True) -> CompiledGraph:
    """Check ``network`` and build its :class:`CompiledGraph`.

    Examples
    --------
    >>> import pandas as pd
    >>> from karvan.network import Network
    >>> nodes = pd.DataFrame({"zone_id": [1, 2, None]}, index=pd.Index([1, 2, 3], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 3], "to_node_id": [3, 2],
    ...                       "free_flow_time": [1.0, 2.0], "vdf": "constant"},
    ...                      index=pd.Index(["a", "b"], name="link_id"))
    >>> g = compile_graph(Network(nodes, links))
    >>> g.n_arcs, [int(z) for z in g.zone_ids]
    (2, [1, 2])
    """
    import pandas as pd

    from karvan.network.model import Network, check_network, complete_links

    links = complete_links(network.links)
    net = Network(network.nodes, links, network.config, network.name)
    if check:
        check_network(net)
    nodes = network.nodes
    node_ids = nodes.index.to_numpy()
    lookup = pd.Index(node_ids)

    def col(name: str) -> np.ndarray:
        return pd.to_numeric(links[name]).to_numpy(dtype=float)

    blocked = np.zeros(len(node_ids), dtype=np.bool_)
    if "passable" in nodes:
        blocked = ~as_bool(nodes["passable"], blank=True)  # a blank cell: passable
    zones = net.zones
    return compile_arrays(
        node_ids=node_ids, link_ids=links.index.to_numpy(),
        from_idx=lookup.get_indexer(links["from_node_id"]),
        to_idx=lookup.get_indexer(links["to_node_id"]),
        directed=as_bool(links["directed"], blank=True),
        free_flow_time=col("free_flow_time"), capacity=col("capacity"), alpha=col("alpha"),
        beta=col("beta"), vdf=links["vdf"].map(_VDF_CODES).to_numpy(dtype=np.int64),
        length=col("length"), toll=col("toll"), blocked=blocked,
        zone_ids=zones.index.to_numpy(), zone_nodes=lookup.get_indexer(zones.to_numpy()))


def compile_arrays(*, node_ids: np.ndarray, link_ids: np.ndarray, from_idx: np.ndarray,
                   to_idx: np.ndarray, directed: np.ndarray, free_flow_time: np.ndarray,
                   capacity: np.ndarray, alpha: np.ndarray, beta: np.ndarray, vdf: np.ndarray,
                   length: np.ndarray, toll: np.ndarray, blocked: np.ndarray,
                   zone_ids: np.ndarray, zone_nodes: np.ndarray) -> CompiledGraph:
    """Build a :class:`CompiledGraph` from checked per-link arrays (link order; ``from_idx`` and
    ``to_idx`` are node positions, ``vdf`` the delay-function codes): one arc per directed link,
    two per undirected one, sorted by tail. :func:`compile_graph` ends here, and so do readers
    that check their input themselves (the TNTP reader without pandas).
    """
    fi = np.asarray(from_idx, dtype=np.int64)
    ti = np.asarray(to_idx, dtype=np.int64)
    directed = np.asarray(directed, dtype=bool)
    n_links = len(fi)
    li = np.arange(n_links)
    rev = ~directed
    tail = np.concatenate([fi, ti[rev]]).astype(np.int64)
    head = np.concatenate([ti, fi[rev]]).astype(np.int64)
    arc_link = np.concatenate([li, li[rev]]).astype(np.int64)
    arc_dir = np.concatenate([np.ones(n_links), -np.ones(int(rev.sum()))]).astype(np.int8)
    order = np.argsort(tail, kind="stable")
    tail, head, arc_link, arc_dir = tail[order], head[order], arc_link[order], arc_dir[order]
    n = len(node_ids)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr)

    def arcs(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(values, dtype=float)[arc_link])

    cap = arcs(capacity)
    cap = np.where(np.isfinite(cap) & (cap > 0), cap, np.inf)
    codes = np.asarray(vdf, dtype=np.int64)[arc_link]
    # a link with no finite capacity has no congestion
    codes = np.where(np.isfinite(cap), codes, _VDF_CODES["constant"]).astype(np.int64)
    return CompiledGraph(
        node_ids=np.asarray(node_ids),
        link_ids=np.asarray(link_ids),
        zone_ids=np.asarray(zone_ids),
        indptr=indptr,
        tail=np.ascontiguousarray(tail),
        head=np.ascontiguousarray(head),
        arc_link=np.ascontiguousarray(arc_link),
        arc_dir=np.ascontiguousarray(arc_dir),
        free_flow_time=arcs(free_flow_time),
        capacity=cap,
        alpha=arcs(alpha),
        beta=arcs(beta),
        vdf=codes,
        length=arcs(length),
        toll=arcs(toll),
        blocked=np.asarray(blocked, dtype=np.bool_),
        zone_nodes=np.asarray(zone_nodes).astype(np.int64),
    )


TRUE_SPELLINGS = ("true", "1", "1.0", "t", "yes", "y")
FALSE_SPELLINGS = ("false", "0", "0.0", "f", "no", "n")
_BLANKS = ("", "nan", "none", "<na>")


def as_bool(col: pd.Series, *, blank: bool = False) -> np.ndarray:
    """A column of a link or node table read as booleans: true, 1, t, yes, y (any case) or a
    boolean column's own values; a blank cell is ``blank``; anything else is false
    (:func:`bool_spelling_problems` names such cells)."""
    if col.dtype == bool:
        return col.to_numpy()
    s = col.astype(str).str.strip().str.lower()
    out = s.isin(TRUE_SPELLINGS).to_numpy()
    if blank:
        out = out | (col.isna() | s.isin(_BLANKS)).to_numpy()
    return out


def bool_spelling_problems(col: pd.Series) -> pd.Index:
    """The index of the cells of a true/false column that are neither a true nor a false
    spelling nor blank."""
    if col.dtype == bool:
        return col.index[:0]
    s = col.astype(str).str.strip().str.lower()
    ok = s.isin(TRUE_SPELLINGS) | s.isin(FALSE_SPELLINGS) | s.isin(_BLANKS) | col.isna()
    return col.index[~ok.to_numpy()]


def links_in_graph_order(graph: CompiledGraph, links):
    """A link table given beside a compiled graph, in the graph's link order.

    A table indexed by link ids (a :class:`pandas.DataFrame` whose index holds every id of
    ``graph.link_ids``) is taken by id, whatever its row order; a mapping of column to values,
    or a table with a default 0..n-1 index, is read in the graph's link order, as documented.

    Raises
    ------
    InputError
        If the table's index is neither: it lacks some of the graph's link ids.
    """
    import sys

    if "pandas" not in sys.modules:  # then it is no table (the quick assign loads no pandas)
        return links
    import pandas as pd

    if not isinstance(links, pd.DataFrame):
        return links
    ids = pd.Index(graph.link_ids)
    if links.index.equals(ids):
        return links
    if isinstance(links.index, pd.RangeIndex) and len(links) == len(ids) \
            and not ids.isin(links.index).all():
        return links.set_axis(ids)
    missing = ids.difference(links.index)
    if len(missing):
        raise InputError(
            f"the link table lacks {len(missing)} of the graph's link ids (link_id "
            f"{format_ids(missing)}); index it by link_id (or give its columns in the graph's "
            "link order as plain arrays)."
        )
    return links.loc[ids]


def unreachable_od_pairs(graph: CompiledGraph, demand) -> list[str]:
    """The OD pairs of ``demand`` (a :class:`~karvan.network.demand.Demand`) with demand and no
    path on ``graph``, as ``'origin->destination'`` (with the matrix's name where there are
    several): what an assignment refuses, found without solving one (for ``karvan
    validate``).

    A path leaves its origin by any arc and passes no blocked node (a zone's centroid) on the
    way; arcs of infinite free-flow time are closed. One breadth-first search per origin with
    demand, from the heads of its out-arcs at once.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    ok = np.isfinite(graph.free_flow_time)
    through = ok & ~graph.blocked[graph.tail]
    n = graph.n_nodes
    a = csr_matrix((np.ones(int(through.sum())), (graph.tail[through], graph.head[through])),
                   shape=(n, n))
    nodes = graph.zone_nodes[graph.zone_index(list(demand.zone_ids))]
    wanted = np.zeros(len(nodes), dtype=bool)
    for m in demand.matrices.values():
        wanted |= (m > 0).any(axis=1)
    reach = {}
    for i in np.flatnonzero(wanted):
        o = nodes[i]
        first = graph.head[graph.indptr[o]:graph.indptr[o + 1]][ok[graph.indptr[o]:
                                                                   graph.indptr[o + 1]]]
        seen = np.zeros(n, dtype=bool)
        seen[o] = True
        if len(first):
            seen |= np.isfinite(dijkstra(a, indices=np.unique(first), unweighted=True,
                                         min_only=True))
        reach[i] = seen
    several = len(demand.matrices) > 1
    out = []
    for name, m in demand.matrices.items():
        for i, j in np.argwhere(m > 0):
            if not reach[i][nodes[j]]:
                tag = f" ({name})" if several else ""
                out.append(f"{demand.zone_ids[i]}->{demand.zone_ids[j]}{tag}")
    return out
