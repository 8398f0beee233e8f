"""Route families and choice parameters of the corridor dataset (``route_family.csv``,
``choice_parameter.csv``): read, checked, and routes classified into families.

A *route family* (INSTC West by rail, the Middle Corridor, all-water via Suez from the Baltic, ...)
is named by characteristic links of the network: a route belongs to the first family, by
``priority``, for which it uses at least one of ``via_link_ids`` (``*``: any route), at least one of
``also_via_link_ids`` when that is given, and none of ``avoid_link_ids``. Families are grouped in
nests (``nest``) for nested choice.

``choice_parameter.csv`` holds the cost terms the deterministic model lacks, one sourced row each:
``parameter`` (see :data:`PARAMETERS`) scoped by ``family``, ``nest``, ``link_ids`` and
``commodity`` (``*``: all). The choice engine reads these tables; this module checks them
and classifies routes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import Problems, format_ids
from karvan.freight.corridor import CONFIDENCE, builtin_corridor_folder
from karvan.schema.text import id_list

#: parameters of choice_parameter.csv and their units
PARAMETERS = {
    "reliability_buffer_h": "h",
    "value_of_reliability": "USD/t-h",
    "insurance_usd_per_t": "USD/t",
    "sanctions_usd_per_t": "USD/t",
    "empty_repositioning_usd_per_t": "USD/t",
    "gauge_break_usd_per_t": "USD/t",
    "gauge_break_h": "h",
    "asc_usd_per_t": "USD/t",
    "theta": "1/(USD/t)",
    "nest_scale": "1",
    "path_size_gamma": "1",
}
_FAMILY_COLUMNS = ("family_id", "name", "nest", "priority", "via_link_ids", "also_via_link_ids",
                   "avoid_link_ids", "source", "source_date", "confidence", "method")
_PARAM_COLUMNS = ("parameter", "family", "nest", "link_ids", "commodity", "value", "unit",
                  "source", "source_date", "confidence", "method")


def serves_entries(text: object) -> list[tuple[str, tuple[str, str] | None]]:
    """The entries of a ``serves`` cell (``RU-IN;IN-RU``), each with its (origin, destination)
    country pair, or None where the entry is not ``A-B``."""
    out = []
    for e in id_list(text):
        a, sep, b = e.partition("-")
        out.append((e, (a.strip(), b.strip()) if sep else None))
    return out


def _folder(folder: str | os.PathLike | None) -> Path:
    return Path(folder) if folder is not None else builtin_corridor_folder()


def _read(path: Path, columns, p: Problems) -> pd.DataFrame | None:
    if not path.exists():
        p.add(f"{path.name} is missing from {path.parent}.")
        return None
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in df]
    if missing:
        p.add(f"{path.name} lacks column(s) {', '.join(missing)}.")
        return None
    for col in ("source", "source_date", "confidence"):
        blank = df[col].str.strip() == ""
        if blank.any():
            p.add(f"{path.name}: {int(blank.sum())} rows have no {col}.")
    bad = ~df["confidence"].isin(CONFIDENCE)
    if bad.any():
        p.add(f"{path.name}: confidence must be one of {', '.join(CONFIDENCE)} "
              f"(lines {format_ids(df.index[bad] + 2)}).")
    nometh = (df["confidence"] == "assumption") & (df["method"].str.strip() == "")
    if nometh.any():
        p.add(f"{path.name}: assumptions need a method (lines {format_ids(df.index[nometh] + 2)}).")
    return df


def read_route_families(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read and check ``route_family.csv`` against the links of the dataset.

    Parameters
    ----------
    folder
        A corridor dataset folder (default: the built-in one).

    Returns
    -------
    pandas.DataFrame
        The families, sorted by priority, with ``priority`` as int and ``line``, the row's
        line in the file.

    Raises
    ------
    InputError
        Unknown link ids, duplicate family ids or priorities, no catch-all family, missing
        provenance, a ``serves`` entry that is not a country pair of ``zone.csv``.
    """
    folder = _folder(folder)
    p = Problems(str(folder / "route_family.csv"))
    fam = _read(folder / "route_family.csv", _FAMILY_COLUMNS, p)
    p.raise_if_any()
    links = set(pd.read_csv(folder / "link.csv", usecols=["link_id"], dtype=str)["link_id"])
    fam["priority"] = pd.to_numeric(fam["priority"], errors="coerce")
    if fam["priority"].isna().any():
        p.add("route_family.csv: priority must be a number on every row.")
    for col, why in (("family_id", "each family needs its own id"),
                     ("priority", "a route takes the first family, by priority, whose links it "
                                  "uses, so two families of one priority leave it open")):
        dup = fam[col].duplicated(keep=False) & fam[col].notna()
        if dup.any():
            values = fam.loc[dup, col]
            lines = format_ids((fam.index[dup] + 2).tolist())
            shown = format_ids([str(int(v)) if isinstance(v, float) else v
                                for v in values.unique()])
            p.add(f"route_family.csv: duplicate {col} {shown} (lines {lines}; families "
                  f"{format_ids(fam.loc[dup, 'family_id'].tolist())}): {why}; give each row "
                  f"its own {col}.")
    unknown = set()
    for col in ("via_link_ids", "also_via_link_ids", "avoid_link_ids"):
        for ids in fam[col]:
            unknown |= {i for i in id_list(ids) if i != "*"} - links
    if unknown:
        p.add(f"route_family.csv: link ids not in link.csv: {format_ids(sorted(unknown))}.")
    nolinks = fam["via_link_ids"].map(id_list).map(len) == 0
    if nolinks.any():
        p.add(f"route_family.csv: families without via_link_ids "
              f"{format_ids(fam.loc[nolinks, 'family_id'])} (use * for a catch-all).")
    if "serves" in fam:
        # country pairs ORIGIN-DESTINATION of the dataset's zones: a pair that names no country
        # of the dataset would make the requirement it states vanish without a word
        zone = folder / "zone.csv"
        countries = (set(pd.read_csv(zone, usecols=["country"], dtype=str)["country"].dropna())
                     if zone.exists() else set())
        for i, text in fam["serves"].items():
            bad = [e for e, pair in serves_entries(text)
                   if pair is None or not set(pair) <= countries]
            if bad:
                p.add(f"route_family.csv line {i + 2} (family {fam.at[i, 'family_id']}): serves "
                      f"{', '.join(repr(b) for b in bad)} is not a country pair of zone.csv "
                      f"(ORIGIN-DESTINATION, e.g. RU-IN; countries "
                      f"{format_ids(sorted(countries))}); fix it or leave serves blank.")
    fam["terms_of"] = (fam["terms_of"].str.strip() if "terms_of" in fam
                       else pd.Series("", index=fam.index, dtype=object))
    own = dict(zip(fam["family_id"], fam["terms_of"], strict=False))
    nest = dict(zip(fam["family_id"], fam["nest"], strict=False))
    for i, t in fam["terms_of"].items():
        fid = fam.at[i, "family_id"]
        if t and (t == fid or t not in own):
            p.add(f"route_family.csv line {i + 2} (family {fid}): terms_of {t!r} is not "
                  "another family of route_family.csv; name the family whose "
                  "choice_parameter.csv rows it takes, or leave it blank.")
        elif t and own[t] == fid:
            p.add(f"route_family.csv line {i + 2} (family {fid}): terms_of {t!r}, which takes "
                  f"the terms of {fid!r}: neither has rows that are read; blank the terms_of of "
                  "the one whose rows choice_parameter.csv has.")
        elif t and own[t]:
            p.add(f"route_family.csv line {i + 2} (family {fid}): terms_of {t!r} takes the "
                  f"terms of {own[t]!r} itself; name {own[t]!r}, whose rows are read.")
        elif t and nest[t] != nest[fid]:
            p.add(f"route_family.csv line {i + 2} (family {fid}): terms_of {t!r} is a family "
                  f"of the nest {nest[t]!r}, not of {nest[fid]!r}: a nest's rows (its scale, a "
                  "constant of family *) would reach the family from a nest it is not in; name "
                  "a family of its own nest, or move it to that nest.")
    if not (fam["via_link_ids"].str.strip() == "*").any():
        p.add("route_family.csv: no catch-all family (via_link_ids = *): some routes would have "
              "no family.")
    p.raise_if_any()
    return fam.assign(priority=fam["priority"].astype(int), line=fam.index + 2).sort_values(
        "priority", ignore_index=True)


def read_choice_parameters(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read and check ``choice_parameter.csv`` (families, nests, links and commodities it
    names must exist; each parameter has its unit).

    Parameters
    ----------
    folder
        A corridor dataset folder (default: the built-in one).

    Returns
    -------
    pandas.DataFrame
        The parameters, ``value`` as float.

    Raises
    ------
    InputError
        Every problem found.
    """
    folder = _folder(folder)
    fam = read_route_families(folder)
    p = Problems(str(folder / "choice_parameter.csv"))
    par = _read(folder / "choice_parameter.csv", _PARAM_COLUMNS, p)
    p.raise_if_any()
    links = set(pd.read_csv(folder / "link.csv", usecols=["link_id"], dtype=str)["link_id"])
    coms = set(pd.read_csv(folder / "commodity.csv", usecols=["commodity_id"],
                           dtype=str)["commodity_id"])
    par["value"] = pd.to_numeric(par["value"], errors="coerce")
    if par["value"].isna().any():
        p.add(f"choice_parameter.csv: value must be a number (lines "
              f"{format_ids(par.index[par['value'].isna()] + 2)}).")
    bad = ~par["parameter"].isin(PARAMETERS)
    if bad.any():
        p.add(f"choice_parameter.csv: unknown parameter "
              f"{format_ids(par.loc[bad, 'parameter'].unique())}; known: {', '.join(PARAMETERS)}.")
    unit_bad = par["parameter"].isin(PARAMETERS) & (par["unit"] != par["parameter"].map(PARAMETERS))
    if unit_bad.any():
        p.add(f"choice_parameter.csv: wrong unit on lines {format_ids(par.index[unit_bad] + 2)}.")
    checks = (("family", set(fam["family_id"]) | {"*"}),
              ("nest", set(fam["nest"]) | {"*"}),
              ("commodity", coms | {"*"}))
    for col, known in checks:
        bad = ~par[col].isin(known)
        if bad.any():
            p.add(f"choice_parameter.csv: unknown {col} {format_ids(par.loc[bad, col].unique())}.")
    unknown = set().union(*(set(id_list(x)) for x in par["link_ids"])) - links - {"*"}
    if unknown:
        p.add(f"choice_parameter.csv: link ids not in link.csv: {format_ids(sorted(unknown))}.")
    theta = par["parameter"] == "theta"
    if (par.loc[theta, "value"] <= 0).any():
        p.add("choice_parameter.csv: theta must be > 0.")
    scale = par["parameter"] == "nest_scale"
    if ((par.loc[scale, "value"] <= 0) | (par.loc[scale, "value"] > 1)).any():
        p.add("choice_parameter.csv: nest_scale must be in (0, 1].")
    gam = par["parameter"] == "path_size_gamma"
    if ((par.loc[gam, "value"] < 0) | ~np.isfinite(par.loc[gam, "value"])).any():
        p.add("choice_parameter.csv: path_size_gamma must be a number >= 0.")
    p.raise_if_any()
    return par


def classify_routes(links_of_routes: pd.Series, families: pd.DataFrame) -> pd.Series:
    """The family of each route.

    Parameters
    ----------
    links_of_routes
        One entry per route: its link ids, as a sequence or as text joined by ``" > "``
        (the ``links`` column of a run's ``routes`` table).
    families
        From :func:`read_route_families`.

    Returns
    -------
    pandas.Series
        ``family_id`` per route (same index).
    """
    rules = [(r.family_id, set(id_list(r.via_link_ids)), set(id_list(r.also_via_link_ids)),
              set(id_list(r.avoid_link_ids)))
             for r in families.sort_values("priority").itertuples()]

    def family(route) -> str | None:
        ids = set(route.split(" > ")) if isinstance(route, str) else set(route)
        for fid, via, also, avoid in rules:
            if (("*" in via or ids & via) and (not also or ids & also)
                    and not ids & avoid):
                return fid
        return None

    return links_of_routes.map(family)


def tonnes_without_family(routes: pd.DataFrame, families: pd.DataFrame, link_ids) -> pd.Series:
    """Tonnes per year that routes of the catch-all family (``via_link_ids`` ``*``: ``other``)
    carry through each of ``link_ids``, largest first; empty where none does.

    A link that no family names (one a scenario opens, or one added to a copy of the dataset)
    leaves the freight through it in the catch-all family unless another of its route's links
    names a family: no family constant reaches it (a new Aktau–Alat feeder got none of the
    Middle Corridor's).

    Parameters
    ----------
    routes
        A run's ``routes`` table: ``links`` (a sequence of link ids, or text joined by
        ``" > "``), ``tonnes`` and ``family_id``.
    families
        From :func:`read_route_families`.
    link_ids
        The links to look at.

    Examples
    --------
    >>> fam = pd.DataFrame({"family_id": ["mc", "other"], "via_link_ids": ["A", "*"]})
    >>> routes = pd.DataFrame({"links": ["A > N", "B > N", "B"], "tonnes": [5.0, 2.0, 1.0],
    ...                        "family_id": ["mc", "other", "other"]})
    >>> tonnes_without_family(routes, fam, {"N", "B"}).to_dict()
    {'B': 3.0, 'N': 2.0}
    """
    catch_all = {r.family_id for r in families.itertuples() if "*" in id_list(r.via_link_ids)}
    wanted = set(link_ids)
    on = routes["family_id"].isin(catch_all).to_numpy() & (routes["tonnes"] > 0).to_numpy()
    out: dict[str, float] = {}
    if wanted and on.any():
        for links, tonnes in zip(routes["links"][on], routes["tonnes"][on], strict=True):
            ids = links.split(" > ") if isinstance(links, str) else links
            for x in wanted.intersection(ids):
                out[x] = out.get(x, 0.0) + float(tonnes)
    return pd.Series(out, dtype=float).sort_values(ascending=False, kind="stable")
