"""Readers for the TNTP test-problem format (Transportation Networks for Research).

Files: ``<name>_net.tntp`` (links), ``<name>_trips.tntp`` (OD demand), ``<name>_node.tntp``
(coordinates, optional) and ``<name>_flow.tntp`` (best-known link flows). Fields are separated
by white space, data rows of net files end in ``;``, lines starting with ``~`` are comments, and
a block of ``<TAG> value`` lines closed by ``<END OF METADATA>`` opens net and trips files.

Zones are nodes ``1..Z``. Nodes below ``<FIRST THRU NODE>`` may start or end a path but never lie
inside one (``passable`` False). Generalized cost is time + toll factor x toll + distance factor x
length; the factors come from ``<TOLL FACTOR>``/``<DISTANCE FACTOR>`` where a file states them, or
from the caller.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from karvan.errors import InputError, format_ids, shorten
from karvan.network.demand import Demand

if TYPE_CHECKING:
    import pandas as pd

    from karvan.network.graph import CompiledGraph
    from karvan.network.model import Network

NET_COLUMNS = ("init_node", "term_node", "capacity", "length", "free_flow_time", "b", "power",
               "speed", "toll", "link_type")
#: a dense OD matrix of this many zones takes 3.2 GB; larger trips files are refused
MAX_ZONES = 20_000
#: more nodes than this is not a network karvan can hold in memory
MAX_NODES = 50_000_000
#: longest token of a data line; longer ones are refused (and shortened in the message)
MAX_TOKEN = 64


class TntpWarning(UserWarning):
    """A TNTP file was read with an interpretation worth knowing about."""


@dataclass(frozen=True, slots=True)
class TntpProblem:
    """A TNTP network with its demand and the cost weights it was published with."""

    network: Network
    demand: Demand
    toll_factor: float
    distance_factor: float


@dataclass(frozen=True, slots=True)
class TntpGraph:
    """A TNTP network compiled for the solvers, with its demand and cost weights (see
    :func:`read_tntp_graph`)."""

    graph: CompiledGraph
    demand: Demand
    toll_factor: float
    distance_factor: float
    name: str


def _read_lines(path: Path) -> list[str]:
    """The lines of a TNTP file: UTF-8 (byte-order marks dropped); bytes that are not UTF-8 are
    read as Latin-1, since only numbers matter and a number in another encoding is refused when
    it is parsed.

    Raises
    ------
    InputError
        When the file is missing, a folder or unreadable.
    """
    from karvan.schema import decode

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except IsADirectoryError:
        net = find_tntp_net(path)
        raise InputError(f"{path} is a folder, not a TNTP file"
                         + (f"; its network is {net}" if net is not None else
                            "; give its X_net.tntp file") + ".") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror}).") from None
    try:
        text = decode(data, path.name)
    except InputError:
        if b"\x00" in data[:65536]:
            raise
        text = data.decode("latin-1").lstrip("\ufeff")
    return text.splitlines()


def _metadata(lines: list[str], path: Path, problems: list[str]) -> tuple[dict[str, str], int]:
    meta: dict[str, str] = {}
    for i, line in enumerate(lines):
        raw = line.strip()
        if not raw.startswith("<") or ">" not in raw:
            continue
        close = raw.index(">")
        tag = " ".join(raw[1:close].upper().split())
        if tag == "END OF METADATA":
            return meta, i + 1
        meta[tag] = raw[close + 1:].strip()
    problems.append(f"{path.name}: no <END OF METADATA> line; is this a TNTP file?")
    return meta, len(lines)


#: the metadata tags karvan reads, by file kind; ORIGINAL HEADER is the files' own note
NET_TAGS = ("NUMBER OF ZONES", "NUMBER OF NODES", "NUMBER OF LINKS", "FIRST THRU NODE",
            "TOLL FACTOR", "DISTANCE FACTOR", "ORIGINAL HEADER")
TRIPS_TAGS = ("NUMBER OF ZONES", "TOTAL OD FLOW", "TOLL FACTOR", "DISTANCE FACTOR",
              "ORIGINAL HEADER")


def _unknown_tags(meta: dict[str, str], known: tuple[str, ...], path: Path,
                  problems: list[str]) -> None:
    """A tag close to one karvan reads (``<FIRST THROUGH NODE>``) is a problem when that one is
    absent: the file would be read without it, and the answer change in silence (every node
    passable: Anaheim's objective 6 % lower). Any other unknown tag is warned of, as ignored."""
    import difflib

    for tag in meta:
        if tag in known:
            continue
        # near one that changes the answer (not ORIGINAL HEADER, a note): <FIRST THROUGH
        # NODE> 0.91, <TOTAL OD FLOWS> 0.96; <LENGTH FACTOR> (0.67 to TOLL FACTOR) is only
        # unknown
        read = [k for k in known if k != "ORIGINAL HEADER"]
        near = [k for k in difflib.get_close_matches(tag, read, n=3, cutoff=0.75)
                if k not in meta]
        if near:
            problems.append(f"{path.name}: metadata <{tag}> is not a TNTP tag karvan reads; "
                            f"did you mean <{near[0]}>? Write it so (as it stands, the file "
                            f"would be read without <{near[0]}>).")
        else:
            warnings.warn(f"{path.name}: metadata <{tag}> is not a tag karvan reads ("
                          f"{', '.join(f'<{k}>' for k in known)}); it is ignored.", TntpWarning,
                          stacklevel=4)


def _meta_number(meta, tag, path, problems, *, kind=float, required=True, limit=None):
    if tag not in meta:
        if required:
            problems.append(f"{path.name}: metadata <{tag}> is missing.")
        return None
    text = meta[tag].split()[0] if meta[tag].split() else ""
    try:
        v = float(text)
    except ValueError:
        problems.append(f"{path.name}: metadata <{tag}> is {shorten(meta[tag])!r}, not a number.")
        return None
    if not np.isfinite(v):
        problems.append(f"{path.name}: metadata <{tag}> is {shorten(text)!r}, not a finite "
                        "number.")
        return None
    if kind is int:
        if v != int(v) or v < 0:
            problems.append(f"{path.name}: metadata <{tag}> is {shorten(text)!r}, not a whole "
                            "number >= 0.")
            return None
        if limit is not None and v > limit:
            problems.append(f"{path.name}: metadata <{tag}> is {shorten(text)}, more than karvan "
                            f"can hold ({limit:,}).")
            return None
        return int(v)
    return v


def read_tntp_net(path: str | os.PathLike) -> tuple[Network, dict[str, float]]:
    """Read a ``_net.tntp`` file.

    Returns
    -------
    network
        Nodes ``1..N`` (zones ``1..Z`` carry ``zone_id``), one directed BPR link per row with
        ``link_id`` 1.. in file order and the TNTP columns kept (``b`` -> ``alpha``,
        ``power`` -> ``beta``).
    factors
        ``toll_factor`` and ``distance_factor`` if the file states them (else absent).

    Raises
    ------
    InputError
        With every problem found: malformed rows (file and line), counts that disagree with the
        metadata, values the schema ``tntp/net`` refuses (negative, not finite, not whole where
        an integer is due), non-positive capacity on a congestible link.
    """
    import pandas as pd

    from karvan.network.model import Network

    path = Path(path)
    df, n_nodes, n_zones, ftn, factors = _net_columns(path)
    node_ids = np.arange(1, n_nodes + 1)
    nodes = pd.DataFrame(
        {
            "zone_id": pd.array([i if i <= n_zones else pd.NA for i in node_ids], dtype="Int64"),
            "passable": node_ids >= ftn,
        },
        index=pd.Index(node_ids, name="node_id"),
    )
    links = pd.DataFrame(
        {
            "from_node_id": df["init_node"].astype(np.int64),
            "to_node_id": df["term_node"].astype(np.int64),
            "directed": True,
            "capacity": df["capacity"],
            "length": df["length"],
            "free_flow_time": df["free_flow_time"],
            "vdf": "bpr",
            "alpha": df["b"],
            "beta": df["power"],
            "speed": df["speed"],
            "toll": df["toll"],
            "link_type": df["link_type"].astype(np.int64),
        },
        index=pd.Index(np.arange(1, len(df["init_node"]) + 1), name="link_id"),
    )
    # a capacity of 0 passes the schema only where the cost cannot grow with the flow (b or the
    # free-flow time 0): a constant cost, and no capacity to divide by
    const = (links["capacity"] == 0).to_numpy()
    if const.any():
        links.loc[const, "vdf"] = "constant"
        links.loc[const, "capacity"] = np.nan
    config = {"format": "tntp", "first_thru_node": ftn, "source": str(path), **factors}
    name = path.name.removesuffix(".tntp").removesuffix("_net")
    return Network(nodes, links, config, name), factors


def _net_columns(path: Path) -> tuple[dict[str, np.ndarray], int, int, int, dict[str, float]]:
    """The link columns of a ``_net.tntp`` file checked against the schema ``tntp/net``, with
    the node and zone counts, the first thru node and the cost factors it states.

    Raises
    ------
    InputError
        As :func:`read_tntp_net`.
    """
    from karvan.schema import Checker, load_schema

    lines = _read_lines(path)
    problems: list[str] = []
    meta, start = _metadata(lines, path, problems)
    _unknown_tags(meta, NET_TAGS, path, problems)
    n_zones = _meta_number(meta, "NUMBER OF ZONES", path, problems, kind=int, limit=MAX_ZONES)
    n_nodes = _meta_number(meta, "NUMBER OF NODES", path, problems, kind=int, limit=MAX_NODES)
    n_links = _meta_number(meta, "NUMBER OF LINKS", path, problems, kind=int)
    ftn = _meta_number(meta, "FIRST THRU NODE", path, problems, kind=int, required=False,
                       limit=MAX_NODES)
    factors = {}
    for tag, key in (("TOLL FACTOR", "toll_factor"), ("DISTANCE FACTOR", "distance_factor")):
        v = _meta_number(meta, tag, path, problems, required=False)
        if v is not None:
            factors[key] = v
    text, numbers, where = _net_rows(lines, start, path, problems)
    n_rows = len(where)
    if problems and not n_rows:
        raise InputError(problems, str(path))
    schema = load_schema("tntp/net")
    checker = Checker()
    table = checker.table(schema, numbers if numbers is not None else text, name=path.name,
                          lines=where)
    if numbers is not None and checker.errors():
        # the messages quote the file's own text
        checker = Checker()
        table = checker.table(schema, text, name=path.name, lines=where)
    problems.extend(checker.errors())
    if problems:
        raise InputError(problems, str(path), violations=checker.violations)
    for w in checker.warnings():
        warnings.warn(w, TntpWarning, stacklevel=3)
    df = {c: table[c] for c in NET_COLUMNS}
    flat = np.flatnonzero((df["power"] == 0) & (df["b"] > 0))
    if len(flat):
        warnings.warn(f"{path.name}: {len(flat)} links have power 0 (lines "
                      f"{format_ids(np.asarray(where)[flat])}): their time is free_flow_time x "
                      "(1 + b) whatever the flow; check the power column.", TntpWarning,
                      stacklevel=3)
    # a row repeated: a second road beside the first, in silence (Sioux Falls with three rows
    # repeated: total travel time 12 % lower); parallel links that differ are a network's own
    rows = np.column_stack([df[c] for c in NET_COLUMNS])
    order = np.lexsort(rows.T[::-1])  # stable: of equal rows the first in the file comes first
    ranked = rows[order]
    copies = np.sort(order[1:][(ranked[1:] == ranked[:-1]).all(axis=1)])
    if len(copies):
        warnings.warn(f"{path.name}: {len(copies)} link rows repeat an earlier row in every "
                      f"field (lines {format_ids(np.asarray(where)[copies])}): each carries "
                      "flow as a link of its own beside the first; if a row was repeated, "
                      "remove it (and lower <NUMBER OF LINKS>).", TntpWarning, stacklevel=3)
    if n_links is not None and n_rows != n_links:
        problems.append(
            f"{path.name}: <NUMBER OF LINKS> says {n_links} but {n_rows} link rows were read."
        )
    ends = np.concatenate([df["init_node"], df["term_node"]])
    if n_nodes is not None and len(ends):
        out = ends[ends > n_nodes]
        if len(out):  # (np.unique only here: it imports numpy.ma, ~10 ms)
            out = np.unique(out)
            problems.append(
                f"{path.name}: links name nodes outside 1..{n_nodes} (<NUMBER OF NODES>): "
                f"{format_ids(out.astype(np.int64))}."
            )
    if n_zones is not None and n_nodes is not None and n_zones > n_nodes:
        problems.append(f"{path.name}: <NUMBER OF ZONES> {n_zones} exceeds <NUMBER OF NODES>.")
    if ftn is not None and n_nodes is not None and ftn > n_nodes + 1:
        problems.append(f"{path.name}: <FIRST THRU NODE> {ftn} is beyond the last node "
                        f"({n_nodes}): no node could pass a path on; it is usually "
                        "<NUMBER OF ZONES> + 1 (zones not passable) or 1.")
    elif (ftn is not None and ftn > 1 and n_zones is not None and n_zones == n_nodes
          and ftn > n_nodes):
        # every node a zone, none passable: Sioux Falls (24 zones, 24 nodes) with 25 had no
        # path between zones that no link joins, and the error named no tag
        warnings.warn(f"{path.name}: <FIRST THRU NODE> {ftn} with every node a zone (<NUMBER "
                      f"OF ZONES> = <NUMBER OF NODES> = {n_nodes}) lets no node pass a path on: "
                      "only zones joined by a link of their own can trade. Where zones are "
                      "road nodes, it is 1.", TntpWarning, stacklevel=3)
    elif ftn is not None and n_zones is not None and ftn > n_zones + 1:
        which = (f"node {ftn - 1}, which is" if ftn - 1 == n_zones + 1
                 else f"nodes {n_zones + 1}..{ftn - 1}, which are")
        warnings.warn(f"{path.name}: <FIRST THRU NODE> {ftn} makes {which} not a zone "
                      f"(<NUMBER OF ZONES> {n_zones}), unable to "
                      "pass a path on: paths go round them. It is usually <NUMBER OF ZONES> + 1 "
                      "or 1.", TntpWarning, stacklevel=3)
    if problems:
        raise InputError(problems, str(path))
    return df, n_nodes, n_zones, 1 if ftn is None else ftn, factors


def _net_rows(lines: list[str], start: int, path: Path, problems: list[str]
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None, np.ndarray]:
    """The link rows as columns of text for the checker, the same as floats when every field
    reads as a finite number (else None), and the rows' line numbers.

    When every row has its ten fields, all of them are converted in one array operation;
    otherwise row by row, naming the rows with more or fewer fields.
    """
    idx = [i for i in range(start, len(lines))
           if (raw := lines[i].strip()) and not raw.startswith("~")]
    split = [lines[i].replace(";", " ").split() for i in idx]
    long = [(i, t) for i, parts in zip(idx, split, strict=True) for t in parts
            if len(t) > MAX_TOKEN]
    for i, t in long[:5]:
        problems.append(f"{path.name} line {i + 1}: a field of {len(t)} characters "
                        f"({shorten(t)!r}); the fields of a net file are numbers of at most "
                        f"{MAX_TOKEN} characters.")
    if len(long) > 5:
        problems.append(f"{path.name}: {len(long) - 5} more fields longer than {MAX_TOKEN} "
                        "characters.")
    if all(len(parts) == 10 for parts in split):
        where = np.asarray(idx, dtype=np.int64) + 1
        table = np.asarray(list(chain.from_iterable(split)), dtype=object).reshape(len(idx), 10)
        text = {c: table[:, j] for j, c in enumerate(NET_COLUMNS)}
        try:
            numbers = table.astype(np.float64)
        except (ValueError, OverflowError):
            return text, None, where
        if not np.isfinite(numbers).all():
            return text, None, where
        return text, {c: numbers[:, j] for j, c in enumerate(NET_COLUMNS)}, where
    rows = []
    kept = []
    for i, parts in zip(idx, split, strict=False):
        if len(parts) != 10:  # more is a field split in two or a row run into the next
            problems.append(
                f"{path.name} line {i + 1}: {len(parts)} fields, expected 10 "
                f"({' '.join(NET_COLUMNS)})."
            )
            continue
        rows.append(parts[:10])
        kept.append(i + 1)
    cols = {c: np.asarray([r[j] for r in rows], dtype=object) for j, c in enumerate(NET_COLUMNS)}
    return cols, None, np.asarray(kept, dtype=np.int64)

def read_tntp_trips(path: str | os.PathLike, *, n_zones: int | None = None) -> Demand:
    """Read a ``_trips.tntp`` file into a one-matrix :class:`Demand` over zones ``1..Z``.

    Entries are ``destination : flow;`` after an ``Origin o`` line. Intrazonal entries are kept
    in the matrix (they never load a link). The sum is checked against ``<TOTAL OD FLOW>``
    (relative tolerance 1e-6). Each block is parsed at once (split, then NumPy), in time linear
    in the file's size, however long its tokens.

    Raises
    ------
    InputError
        With every problem, each with its line: entries before any ``Origin`` line or that are
        not ``destination : flow``, origins or destinations outside ``1..Z``, flows that are not
        finite numbers >= 0, and an origin-destination pair that appears twice (as it does when
        an ``Origin`` line is missing: the next origin's entries would otherwise be added to the
        one above).
    """
    return _trips(Path(path), n_zones)[0]


def _trips(path: Path, n_zones: int | None) -> tuple[Demand, dict[str, str]]:
    """:func:`read_tntp_trips`, with the file's metadata (read once).

    Raises
    ------
    InputError
        As :func:`read_tntp_trips`.
    """
    from karvan.schema import Checker, load_schema

    lines = _read_lines(path)
    problems: list[str] = []
    meta, start = _metadata(lines, path, problems)
    _unknown_tags(meta, TRIPS_TAGS, path, problems)
    z = _meta_number(meta, "NUMBER OF ZONES", path, problems, kind=int, limit=MAX_ZONES)
    total = _meta_number(meta, "TOTAL OD FLOW", path, problems, required=False)
    if n_zones is not None and z is not None and z != n_zones:
        problems.append(
            f"{path.name}: <NUMBER OF ZONES> is {z} but the network has {n_zones} zones."
        )
    if z is None:
        raise InputError(problems, str(path))
    o_parts, d_parts, v_parts, line_parts = [], [], [], []
    SKIP = -1  # the entries of an origin line already reported as wrong
    origin: int | None = None
    block: list[int] = []  # line indices of the current block's entries

    def flush() -> None:
        if not block:
            return
        d, v, ln = _parse_block(lines, block, path, problems)
        if d is not None:
            o_parts.append(np.full(len(d), origin, dtype=np.float64))
            d_parts.append(d)
            v_parts.append(v)
            line_parts.append(ln)
        block.clear()

    for i in range(start, len(lines)):
        raw = lines[i].strip()
        if not raw or raw.startswith("~"):
            continue
        if raw[:6].lower() == "origin":
            flush()
            parts = raw.split()
            try:
                origin = int(parts[1]) if len(parts) == 2 else None
            except ValueError:
                origin = None
            if origin is None:
                problems.append(f"{path.name} line {i + 1}: cannot read the origin in "
                                f"{shorten(raw)!r}; write 'Origin <zone>'.")
                origin = SKIP
            elif not 1 <= origin <= z:
                problems.append(
                    f"{path.name} line {i + 1}: origin {origin} is outside zones 1..{z}."
                )
                origin = SKIP
            continue
        if origin is None:
            if not problems or "before any" not in problems[-1]:
                problems.append(f"{path.name} line {i + 1}: OD entries before any 'Origin' line.")
            continue
        if origin is not SKIP:
            block.append(i)
    flush()
    o = np.concatenate(o_parts) if o_parts else np.zeros(0)
    d = np.concatenate(d_parts) if d_parts else np.zeros(0)
    v = np.concatenate(v_parts) if v_parts else np.zeros(0)
    ln = np.concatenate(line_parts) if line_parts else np.zeros(0, dtype=np.int64)
    checker = Checker()
    checker.table(load_schema("tntp/trips"), {"origin": o, "destination": d, "flow": v},
                  name=path.name, lines=ln)
    problems.extend(checker.errors())
    out = (d > z) & np.isfinite(d) & (d == np.floor(d))
    for k in np.flatnonzero(out)[:5]:
        problems.append(f"{path.name} line {ln[k]}: destination {int(d[k])} is outside zones "
                        f"1..{z}.")
    if out.sum() > 5:
        problems.append(f"{path.name}: {int(out.sum()) - 5} more destinations outside 1..{z}.")
    if problems:
        raise InputError(problems, str(path), violations=checker.violations)
    _warn_restarts(o, d, ln, path)
    m = np.zeros((z, z))
    m[o.astype(np.int64) - 1, d.astype(np.int64) - 1] = v
    if total is not None:
        s = m.sum()
        if abs(s - total) > 1e-6 * max(1.0, abs(total)):
            problems.append(
                f"{path.name}: the OD entries sum to {s:.6f} but <TOTAL OD FLOW> says {total}; "
                "the file is truncated or the metadata is wrong."
            )
    if problems:
        raise InputError(problems, str(path))
    if not (m > 0).any():  # it read as valid, "converged" in 0 iterations, every flow 0
        warnings.warn(f"{path.name}: no trips (every OD entry is 0 or there is none): every "
                      "flow will be 0; is this the trips file meant?", TntpWarning,
                      stacklevel=3)
    return Demand(tuple(range(1, z + 1)), {"demand": m}), meta


def _parse_block(lines: list[str], idx: list[int], path: Path, problems: list[str]):
    """Destinations, flows and line numbers of one origin's entries (float arrays; the checker
    does the rest), or None after reporting the lines that are not ``dest : flow;`` entries."""
    text = "\n".join(lines[i] for i in idx)
    tokens = text.replace(";", " ").replace(":", " : ").split()
    k = len(tokens) // 3
    if len(tokens) == 3 * k and tokens[1::3].count(":") == k and (
            not tokens or max(map(len, tokens)) <= MAX_TOKEN):
        try:
            d = np.asarray(tokens[0::3], dtype=np.float64)
            v = np.asarray(tokens[2::3], dtype=np.float64)
        except ValueError:
            pass
        else:
            per_line = np.asarray([lines[i].count(":") for i in idx], dtype=np.int64)
            if per_line.sum() == k:
                return d, v, np.repeat(np.asarray(idx, dtype=np.int64) + 1, per_line)
    # something is wrong: find the lines and entries, entry by entry
    before = len(problems)
    for i in idx:
        for entry in lines[i].split(";"):
            entry = entry.strip()
            if not entry:
                continue
            parts = entry.split(":")
            bad = len(parts) != 2 or any(len(p.strip()) > MAX_TOKEN or not _isfloat(p)
                                         for p in parts)
            if bad:
                problems.append(f"{path.name} line {i + 1}: cannot read {shorten(entry)!r} as "
                                "'destination : flow;'.")
                break
        if len(problems) - before >= 20:
            problems.append(f"{path.name}: more lines that cannot be read follow.")
            break
    if len(problems) == before:  # every entry reads alone: entries run together or are split
        problems.append(f"{path.name} lines {idx[0] + 1}-{idx[-1] + 1}: entries are not "
                        "'destination : flow;' separated by ';'.")
    return None, None, None


def _warn_restarts(o: np.ndarray, d: np.ndarray, ln: np.ndarray, path: Path) -> None:
    """Warn where destinations of one origin start again from a lower number: TNTP files list
    them in ascending order, so a restart suggests a missing 'Origin' line above it."""
    same = o[1:] == o[:-1]
    down = same & (d[1:] < d[:-1])
    if down.any():
        at = ln[1:][down]
        warnings.warn(f"{path.name}: destinations of one origin start again from a lower number "
                      f"on lines {format_ids(at)}; if an 'Origin' line is missing above them, "
                      "their demand is read under the origin before.", TntpWarning, stacklevel=3)


def read_tntp_flow(path: str | os.PathLike) -> pd.DataFrame:
    """Read a best-known ``_flow.tntp`` file: columns from_node_id, to_node_id, volume, cost.

    Raises
    ------
    InputError
        For lines that are not 'from to volume cost' with whole, finite node numbers.
    """
    import pandas as pd

    path = Path(path)
    rows = []
    problems = []
    for i, line in enumerate(_read_lines(path)):
        parts = line.replace(";", " ").split()
        if not parts or parts[0].startswith("~") or parts[0].startswith("<"):
            continue
        if not _isfloat(parts[0]) and not rows and not problems:
            continue  # the header, before the first row (rows are matched to links by order)
        vals = [float(p) if _isfloat(p) else np.nan for p in parts[:4]]
        if len(vals) < 4 or not np.isfinite(vals).all() or vals[0] != int(vals[0]) \
                or vals[1] != int(vals[1]) or abs(vals[0]) > MAX_NODES or abs(vals[1]) > MAX_NODES:
            problems.append(f"{path.name} line {i + 1}: expected 'from to volume cost' "
                            f"(got {shorten(line.strip())!r}).")
            continue
        rows.append(vals)
    if problems:
        raise InputError(problems, str(path))
    df = pd.DataFrame(rows, columns=["from_node_id", "to_node_id", "volume", "cost"])
    df[["from_node_id", "to_node_id"]] = df[["from_node_id", "to_node_id"]].astype(np.int64)
    df.index = pd.RangeIndex(1, len(df) + 1, name="link_id")
    return df


def read_tntp_node(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``_node.tntp`` coordinates file: x_coord, y_coord indexed by node_id.

    Lines before the first row of three numbers (the header) are skipped; after it, a line that
    is not a node and two coordinates, a node number that is not whole and finite, or a
    coordinate that is not finite, is an error.

    Raises
    ------
    InputError
        For bad node numbers or coordinates, and repeated nodes.
    """
    import pandas as pd

    path = Path(path)
    rows = []
    problems = []
    for i, line in enumerate(_read_lines(path)):
        parts = line.replace(";", " ").split()
        if not parts or parts[0].startswith("~") or parts[0].startswith("<"):
            continue
        numeric = len(parts) >= 3 and all(_isfloat(p) for p in parts[:3])
        if not numeric and not rows and not problems:
            continue  # the header
        n, x, y = (float(p) for p in parts[:3]) if numeric else (np.nan,) * 3
        if not (np.isfinite([n, x, y]).all() and n == int(n) and 1 <= n <= MAX_NODES):
            problems.append(f"{path.name} line {i + 1}: expected 'node x y' with a whole "
                            f"node number and finite coordinates (got "
                            f"{shorten(line.strip())!r}).")
            continue
        rows.append((int(n), x, y))
    df = pd.DataFrame(rows, columns=["node_id", "x_coord", "y_coord"])
    dup = df["node_id"][df["node_id"].duplicated()]
    if len(dup):
        problems.append(f"{path.name}: nodes {format_ids(dup.unique())} appear more than once.")
    if problems:
        raise InputError(problems, str(path))
    return df.set_index("node_id")


def read_tntp(
    net_path: str | os.PathLike,
    trips_path: str | os.PathLike | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
) -> TntpProblem:
    """Read a TNTP network with its trips (the sibling ``_trips.tntp`` unless given) and the
    node coordinates where a ``_node.tntp`` file lies beside it.

    Cost weights given here win over those stated in the files; absent both, they are 0.

    Raises
    ------
    InputError
        With every problem of the files, or when there is no trips file.
    """
    from karvan.network.model import Network

    net_path = Path(net_path)
    network, factors = read_tntp_net(net_path)
    if trips_path is None:
        trips_path = _sibling(net_path, "trips")
        if trips_path is None:
            raise InputError(
                f"no trips file beside {net_path.name}; pass it with --trips / trips_path."
            )
    demand, trips_meta = _trips(Path(trips_path), len(network.zones))
    _trips_factors(factors, trips_meta, Path(trips_path))
    node_file = _sibling(net_path, "node")
    if node_file is not None:
        coords = read_tntp_node(node_file)
        extra = coords.index.difference(network.nodes.index)
        missing = network.nodes.index.difference(coords.index)
        if len(extra) or len(missing):
            warnings.warn(
                f"{node_file.name}: "
                + "; ".join(x for x in (
                    f"nodes {format_ids(extra)} are not in {net_path.name} (ignored)"
                    if len(extra) else "",
                    f"nodes {format_ids(missing)} of {net_path.name} have no coordinates"
                    if len(missing) else "") if x)
                + ". Is it the node file of this network?", TntpWarning, stacklevel=2)
        nodes = network.nodes.join(coords, how="left")
        network = Network(nodes, network.links, network.config, network.name)
    tf, df = resolved_factors(factors, toll_factor, distance_factor)
    return TntpProblem(with_factors(network, tf, df), demand, tf, df)


def resolved_factors(factors: dict[str, float], toll_factor: float | None,
                     distance_factor: float | None) -> tuple[float, float]:
    """The cost weights a problem takes: the caller's where given, else those its files
    state (``factors``), else 0."""
    return (float(toll_factor if toll_factor is not None
                  else factors.get("toll_factor", 0.0)),
            float(distance_factor if distance_factor is not None
                  else factors.get("distance_factor", 0.0)))


def with_factors(network, toll_factor: float, distance_factor: float):
    """``network`` with the cost weights a problem takes (a file's, or the caller's in their
    place) in its config, as ``toll_factor``/``distance_factor`` where not 0: an assignment
    called without them warns that it leaves them out
    (:func:`karvan.network.arguments.stated_factors`)."""
    from karvan.network.model import Network

    config = {k: v for k, v in network.config.items()
              if k not in ("toll_factor", "distance_factor")}
    config.update({k: float(v) for k, v in (("toll_factor", toll_factor),
                                             ("distance_factor", distance_factor)) if v})
    return Network(network.nodes, network.links, config, network.name)


def _trips_factors(factors: dict[str, float], trips_meta: dict[str, str], path: Path) -> None:
    """The cost weights may stand in the trips file too; the net file's win."""
    for tag, key in (("TOLL FACTOR", "toll_factor"), ("DISTANCE FACTOR", "distance_factor")):
        if key not in factors:
            v = _meta_number(trips_meta, tag, path, [], required=False)
            if v is not None:
                factors[key] = v


def read_tntp_graph(
    net_path: str | os.PathLike,
    trips_path: str | os.PathLike | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
) -> TntpGraph:
    """Read a TNTP network and its trips straight to a compiled graph, without pandas.

    The files are read and checked as by :func:`read_tntp` (no node coordinates: a solver needs
    none); the graph is the one :func:`~karvan.network.compile_graph` builds from its network.
    Where that would find what the readers let pass (a capacity of 0, a BPR power between 0 and
    1 on a link with a delay), the network is compiled through its tables instead, so that the
    error is the one :func:`~karvan.network.check_network` gives. The graph does not carry the
    cost weights (an assignment of it cannot warn that they are left out): pass the result's
    ``toll_factor`` and ``distance_factor`` to the assignment.

    Raises
    ------
    InputError
        As :func:`read_tntp` and :func:`~karvan.network.compile_graph`.
    """
    from karvan.network.graph import _VDF_CODES, compile_arrays

    net_path = Path(net_path)
    df, n_nodes, n_zones, ftn, factors = _net_columns(net_path)
    if trips_path is None:
        trips_path = _sibling(net_path, "trips")
        if trips_path is None:
            raise InputError(
                f"no trips file beside {net_path.name}; pass it with --trips / trips_path."
            )
    demand, trips_meta = _trips(Path(trips_path), n_zones)
    _trips_factors(factors, trips_meta, Path(trips_path))
    tf, dfac = resolved_factors(factors, toll_factor, distance_factor)
    name = net_path.name.removesuffix(".tntp").removesuffix("_net")
    cap, alpha, beta, fft = df["capacity"], df["b"], df["power"], df["free_flow_time"]
    if (cap == 0).any() or ((alpha > 0) & (beta > 0) & (beta < 1)).any():
        from karvan.network.graph import compile_graph

        network, _ = read_tntp_net(net_path)
        graph = compile_graph(network)  # raises what check_network finds
    else:
        node_ids = np.arange(1, n_nodes + 1)
        n_links = len(cap)
        graph = compile_arrays(
            node_ids=node_ids, link_ids=np.arange(1, n_links + 1),
            from_idx=df["init_node"].astype(np.int64) - 1,
            to_idx=df["term_node"].astype(np.int64) - 1, directed=np.ones(n_links, bool),
            free_flow_time=fft, capacity=cap, alpha=alpha, beta=beta,
            vdf=np.full(n_links, _VDF_CODES["bpr"], dtype=np.int64), length=df["length"],
            toll=df["toll"], blocked=node_ids < ftn, zone_ids=np.arange(1, n_zones + 1),
            zone_nodes=np.arange(n_zones, dtype=np.int64))
    return TntpGraph(graph, demand, tf, dfac, name)


def find_tntp_net(folder: str | os.PathLike) -> Path | None:
    """The TNTP network a folder holds in place of a GMNS one: its one ``*_net.tntp`` file, where
    it has neither ``node.csv`` nor ``link.csv`` (TNTP networks come as folders of
    ``X_net.tntp``, ``X_trips.tntp``...); None where it has either, or no ``*_net.tntp`` file.

    Raises
    ------
    InputError
        When it holds several ``*_net.tntp`` files: which one is meant is not for a reader to
        guess.
    """
    folder = Path(folder)
    if (folder / "node.csv").is_file() or (folder / "link.csv").is_file():
        return None
    nets = sorted(p for p in folder.iterdir()
                  if p.name.lower().endswith("_net.tntp") and p.is_file())
    if len(nets) > 1:
        raise InputError(f"{folder} holds {len(nets)} TNTP networks "
                         f"({format_ids([p.name for p in nets])}) and no GMNS node.csv and "
                         f"link.csv; pass one of the _net files (such as {nets[0]}).")
    return nets[0] if nets else None


def _sibling(net_path: Path, kind: str) -> Path | None:
    """The file of ``kind`` (trips, node) beside ``X_net.tntp``: ``X_<kind>.tntp`` (the last
    ``_net`` of the name is the suffix: ``my_network_net.tntp`` -> ``my_network_trips.tntp``)."""
    name = net_path.name
    at = name.lower().rfind("_net")
    if at < 0:
        return None
    cand = net_path.with_name(name[:at] + f"_{kind}" + name[at + len("_net"):])
    return cand if cand.exists() else None


def _isfloat(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
