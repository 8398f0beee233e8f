r"""Build the corridor's base-year demand table (``demand.csv``) from sourced inputs.

The inputs sit in ``demand_inputs/`` beside the corridor tables, one sourced row each:

``trade_flow.csv``
    One row per country pair and direction (a *flow*): a reported figure in tonnes or US
    dollars and the factors that turn it into the flow's base-year quantity,

    .. math:: A = \text{figure} \times \text{to\_annual} \times \text{to\_base\_year}
              \times \text{direction\_share} \times \text{scope\_share}

    (tonnes per year, or USD per year). ``observed_ids`` names the rows of ``observed.csv`` the
    figure rests on, so that calibration can tell which observations are not independent.
    ``overseas_end`` (``origin``, ``destination`` or blank) says that the zone at that end is
    a port through which the cargo comes from or goes on overseas by sea: the port's country
    is then not the trade partner, and a route across it by rail or road is its transit.
``trade_mix.csv``
    The commodity split of each flow. For a tonnage flow the tonnes of commodity *c* are
    :math:`A \, s_c`; for a value flow :math:`A \, s_c / v_c`, with :math:`v_c` the row's
    ``value_usd_per_t`` or else ``commodity.csv``'s.
``zone_share.csv``
    How a country's tonnes spread over its zones, by commodity and side (origin or
    destination); matched most specific first: ``(country, commodity, side)``,
    ``(country, commodity, *)``, ``(country, *, side)``, ``(country, *, *)``. A flow may name
    its origin or destination zone instead.
``energy_flow.csv``
    Energy moved by pipeline or tanker outside the rail, road and ferry network: documented
    here with its source and kept out of the demand.

Every demand row is the sum over flows of :math:`t_{f,c} \, s^{o}_{z} \, s^{d}_{z'}`, rounded
to 10 t (rows under 10 t are dropped); its confidence is the weakest of the rows it was built
from, its sources their union, and ``flow_ids`` / ``observed_ids`` say which flows and
observations it rests on. ``overseas_origin_share`` and ``overseas_destination_share`` are
the shares of a row's tonnes carried by flows whose ``overseas_end`` is that end (to six
decimals; :mod:`karvan.freight.accounting` counts them as transit of the port's country).
:func:`write_demand` rewrites ``demand.csv`` through a temporary file;
the same inputs always give the same bytes.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, Problems, format_ids
from karvan.freight.corridor import CONFIDENCE, OVERSEAS_SHARES, builtin_corridor_folder
from karvan.io.atomic import atomic_write_text
from karvan.schema.text import id_list, read_text

log = logging.getLogger(__name__)

INPUT_FOLDER = "demand_inputs"
BASES = ("tonnes", "usd")
SIDES = ("origin", "destination", "*")
ROUND_T = 10
OVERSEAS_ENDS = ("origin", "destination")  # the ends of OVERSEAS_SHARES, in order
DEMAND_COLUMNS = ("origin_zone_id", "destination_zone_id", "commodity_id", "tonnes_per_year",
                  *OVERSEAS_SHARES, "flow_ids", "observed_ids", "source", "source_date",
                  "confidence", "method")
_PROVENANCE = ("source", "source_date", "confidence")
_FLOW_NUMERIC = ("figure", "to_annual", "to_base_year", "direction_share", "scope_share")
_REQUIRED = {
    "trade_flow": ("flow_id", "origin_country", "destination_country", "origin_zone_id",
                   "destination_zone_id", "basis", "figure", "year", *_FLOW_NUMERIC[1:],
                   "observed_ids", *_PROVENANCE, "method"),
    "trade_mix": ("flow_id", "commodity_id", "share", "value_usd_per_t", *_PROVENANCE, "method"),
    "zone_share": ("country", "commodity_id", "side", "zone_id", "share", *_PROVENANCE,
                   "method"),
    "energy_flow": ("energy_id", "origin_country", "destination_country", "commodity", "mode",
                    "route", "tonnes_per_year", "year", "treatment", *_PROVENANCE,
                    "method"),
}
_REF_REQUIRED = {"zone": ("zone_id", "country"), "commodity": ("commodity_id", "value_usd_per_t"),
                 "observed": ("observed_id",), "sources": ("source_id",)}


@dataclass(frozen=True, slots=True, eq=False)
class DemandInputs:
    """The generator's input tables, checked (see the module notes)."""

    flows: pd.DataFrame
    mix: pd.DataFrame
    zone_shares: pd.DataFrame
    energy: pd.DataFrame
    zones: pd.DataFrame
    commodities: pd.DataFrame
    folder: Path


def _read(path: Path, problems: Problems) -> pd.DataFrame | None:
    if not path.exists():
        problems.add(f"{path.name} is missing from {path.parent}; the demand generator needs it.")
        return None
    # as the dataset's reader: UTF-8 with byte-order marks dropped, clear errors otherwise
    try:
        df = pd.read_csv(io.StringIO(read_text(path)), dtype=str,
                         keep_default_na=False).rename(columns=str.strip)
        # values as the schemas read them, spaces at either end dropped: an id typed
        # "IR>AZ " matched no reference, and the message blamed the table that refers to it
        return df.apply(lambda c: c.str.strip())
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        problems.add(f"{path.name} cannot be read as CSV ({str(e).strip()}); save it as "
                     "comma-separated CSV UTF-8, one row a line, text with commas in quotes.")
        return None


def _raise_with_schemas(p: Problems, checker) -> None:
    """Raise the problems found so far, if any, with the schemas' errors first: where the
    schemas say what is wrong with a file (a ';' separator), the generator's own message about
    it (a column it lacks, a file it cannot parse) is left out."""
    if not p:
        return
    said = checker.errors()
    merged = Problems(p.source)
    merged.extend(said)
    for m in p.items:
        file = Path(m.split(" ", 1)[0]).name
        if not any(file in x for x in said):
            merged.add(m)
    merged.raise_if_any()


def _lines(df: pd.DataFrame, mask) -> str:
    rows = np.flatnonzero(np.asarray(mask)) + 2
    return ("line " if len(rows) == 1 else "lines ") + format_ids(rows)


def _where(df: pd.DataFrame, mask, id_col: str) -> str:
    """``line 4: flow_id F_X`` or ``lines 4, 9: flow_id F_X, F_Y`` for the rows of ``mask``."""
    mask = np.asarray(mask, dtype=bool)
    return f"{_lines(df, mask)}: {id_col} {format_ids(df.loc[mask, id_col])}"


def read_demand_inputs(folder: str | os.PathLike | None = None) -> DemandInputs:
    """Read and check the generator's inputs of a corridor dataset folder.

    Parameters
    ----------
    folder
        The corridor folder (default: the built-in dataset); its inputs are in
        ``demand_inputs/``, its zones, commodities, observations and sources beside them.

    Returns
    -------
    DemandInputs

    Raises
    ------
    InputError
        Every problem at once: missing tables or columns, rows without source, date or
        confidence, assumptions without a method, unknown countries, zones, commodities,
        observations or sources, numbers that are not numbers, shares that do not sum to 1.
    """
    from karvan.schema import Checker, family_schemas

    folder = Path(folder) if folder is not None else builtin_corridor_folder()
    if not folder.is_dir():  # every table was said to be missing, one line each
        raise InputError(f"{folder} {'is not a folder' if folder.exists() else 'does not exist'}"
                         "; give a corridor dataset folder (karvan data copy makes one).")
    inputs = folder / INPUT_FOLDER
    p = Problems(str(inputs))
    # the inputs' schemas first, as load_corridor reads them: the generator writes only what
    # the dataset would then accept (a value per tonne typed "1,000" fell back to commodity.csv's)
    checker = Checker()
    schemas = family_schemas("corridor")
    checker.folder(folder, {name: schemas[name] for name in _REQUIRED if name in schemas})
    tables = {name: _read(inputs / f"{name}.csv", p) for name in _REQUIRED}
    ref = {name: _read(folder / f"{name}.csv", p) for name in _REF_REQUIRED}
    if any(t is None for t in (*tables.values(), *ref.values())):
        _raise_with_schemas(p, checker)
    for name, cols in _REQUIRED.items():
        missing = [c for c in cols if c not in tables[name]]
        if missing:
            p.add(f"{name}.csv lacks column(s) {', '.join(missing)}.")
    for name, cols in _REF_REQUIRED.items():
        missing = [c for c in cols if c not in ref[name]]
        if missing:
            p.add(f"{folder / name}.csv lacks column(s) {', '.join(missing)}, which the demand "
                  f"generator reads.")
    _raise_with_schemas(p, checker)
    zones, com = ref["zone"], ref["commodity"]
    zone_country = dict(zip(zones["zone_id"], zones["country"], strict=True))
    countries = set(zone_country.values())
    coms = set(com["commodity_id"])
    src_ids = set(ref["sources"]["source_id"].str.strip())
    obs_ids = set(ref["observed"]["observed_id"])
    for name, df in tables.items():
        _check_provenance(f"{name}.csv", df, src_ids, p)
    fl, mix, zs, en = (tables[n] for n in ("trade_flow", "trade_mix", "zone_share", "energy_flow"))
    # flows
    dup = fl["flow_id"].duplicated()
    if dup.any():
        p.add(f"trade_flow.csv: duplicate flow_id ({_where(fl, dup, 'flow_id')}); give each "
              "flow its own id.")
    for col in _FLOW_NUMERIC:
        vals = pd.to_numeric(fl[col], errors="coerce")
        bad = ~np.isfinite(vals) | (vals < 0)
        if bad.any():
            p.add(f"trade_flow.csv: {col} must be a finite number >= 0 "
                  f"({_where(fl, bad, 'flow_id')}).")
        fl[col] = vals
    if "year" in fl:
        yr = pd.to_numeric(fl["year"], errors="coerce")
        bad = ~np.isfinite(yr) | (yr != np.round(yr))
        if bad.any():
            p.add(f"trade_flow.csv: year must be a whole number, the year of the figure "
                  f"({_where(fl, bad, 'flow_id')}).")
    for col in ("direction_share", "scope_share"):
        bad = fl[col] > 1
        if bad.any():
            p.add(f"trade_flow.csv: {col} is a share and must be <= 1 "
                  f"({_where(fl, bad, 'flow_id')}).")
    bad = ~fl["basis"].isin(BASES)
    if bad.any():
        p.add(f"trade_flow.csv: basis must be one of {', '.join(BASES)} "
              f"({_where(fl, bad, 'flow_id')}).")
    for side in ("origin", "destination"):
        c, z = fl[f"{side}_country"], fl[f"{side}_zone_id"]
        bad = ~c.isin(countries)
        if bad.any():
            p.add(f"trade_flow.csv: {side}_country with no zone in zone.csv "
                  f"({_where(fl, bad, 'flow_id')}: {format_ids(c[bad].unique())}); use a "
                  "country of zone.csv or add a zone for it.")
        given = z != ""
        wrong = given & (z.map(zone_country) != c)
        if wrong.any():
            p.add(f"trade_flow.csv: {side}_zone_id is not a zone of {side}_country "
                  f"({_where(fl, wrong, 'flow_id')}).")
    if "overseas_end" not in fl:  # optional: a dataset without gateway ports
        fl["overseas_end"] = ""
    fl["overseas_end"] = fl["overseas_end"].fillna("").astype(str).str.strip()
    for end in OVERSEAS_ENDS:
        bad = (fl["overseas_end"] == end) & (fl[f"{end}_zone_id"] == "")
        if bad.any():
            p.add(f"trade_flow.csv: overseas_end {end} needs the port's zone in {end}_zone_id "
                  f"({_where(fl, bad, 'flow_id')}): the cargo comes from or goes on overseas "
                  "through one port, not through the zones the zone shares spread it over.")
    refs = fl["observed_ids"].str.split(";").explode().str.strip()
    unknown = refs[(refs != "") & ~refs.isin(obs_ids)]
    if len(unknown):
        bad = fl.index.isin(unknown.index)
        p.add(f"trade_flow.csv: observed_ids not in observed.csv ({_where(fl, bad, 'flow_id')}: "
              f"{format_ids(sorted(set(unknown)))}).")
    _check_flow_ids(fl, p)
    _check_cited_figures(fl, ref["observed"], p)
    # mix
    mix["share"] = pd.to_numeric(mix["share"], errors="coerce")
    given = mix["value_usd_per_t"].str.strip() != ""
    mix["value_usd_per_t"] = pd.to_numeric(mix["value_usd_per_t"].replace("", np.nan),
                                           errors="coerce")
    bad = given & mix["value_usd_per_t"].isna()  # not a number: it fell back to commodity.csv's
    if bad.any():
        p.add(f"trade_mix.csv: value_usd_per_t is not a number ({_lines(mix, bad)}); write it "
              "in USD per tonne without separators (1000, not 1,000), or leave it blank for "
              "the commodity's value in commodity.csv.")
    bad = ~np.isfinite(mix["share"]) | (mix["share"] < 0)
    if bad.any():
        p.add(f"trade_mix.csv: share must be a finite number >= 0 ({_lines(mix, bad)}).")
    bad = ~mix["flow_id"].isin(set(fl["flow_id"]))
    if bad.any():
        p.add(f"trade_mix.csv: flow_id not in trade_flow.csv ({_where(mix, bad, 'flow_id')}).")
    bad = ~mix["commodity_id"].isin(coms)
    if bad.any():
        p.add(f"trade_mix.csv: commodity_id not in commodity.csv "
              f"({_where(mix, bad, 'commodity_id')}).")
    bad = mix["value_usd_per_t"].notna() & ~((mix["value_usd_per_t"] > 0)
                                             & np.isfinite(mix["value_usd_per_t"]))
    if bad.any():
        p.add(f"trade_mix.csv: value_usd_per_t must be a finite number > 0 where given "
              f"({_lines(mix, bad)}).")
    dup = mix.duplicated(["flow_id", "commodity_id"])
    if dup.any():
        p.add(f"trade_mix.csv: a commodity appears twice in one flow ({_lines(mix, dup)}).")
    sums = mix.groupby("flow_id")["share"].sum()
    off = sums[(sums - 1).abs() > 1e-6]
    if len(off):
        p.add(f"trade_mix.csv: the shares of a flow must sum to 1 (flow_id "
              f"{format_ids(f'{i} ({s:.4g})' for i, s in off.items())}).")
    nomix = sorted(set(fl["flow_id"]) - set(mix["flow_id"]))
    if nomix:
        p.add(f"trade_mix.csv: flows without a commodity mix: {format_ids(nomix)}.")
    # zone shares
    zs["share"] = pd.to_numeric(zs["share"], errors="coerce")
    bad = ~np.isfinite(zs["share"]) | (zs["share"] < 0)
    if bad.any():
        p.add(f"zone_share.csv: share must be a finite number >= 0 ({_lines(zs, bad)}).")
    bad = ~zs["side"].isin(SIDES)
    if bad.any():
        p.add(f"zone_share.csv: side must be origin, destination or * ({_lines(zs, bad)}).")
    bad = ~zs["commodity_id"].isin(coms | {"*"})
    if bad.any():
        p.add(f"zone_share.csv: commodity_id not in commodity.csv and not * "
              f"({_where(zs, bad, 'commodity_id')}).")
    bad = zs["zone_id"].map(zone_country) != zs["country"]
    if bad.any():
        p.add(f"zone_share.csv: zone_id is not a zone of country ({_lines(zs, bad)}: "
              f"{format_ids(zs.loc[bad, 'zone_id'])}).")
    sums = zs.groupby(["country", "commodity_id", "side"])["share"].sum()
    off = sums[(sums - 1).abs() > 1e-6]
    if len(off):
        p.add("zone_share.csv: the shares of a (country, commodity, side) group must sum to 1 "
              f"({format_ids('/'.join(k) + f' = {v:.4g}' for k, v in off.items())}).")
    # energy (documented, kept out of the demand)
    en["tonnes_per_year"] = pd.to_numeric(en["tonnes_per_year"].replace("", np.nan),
                                          errors="coerce")
    # a flow counted in USD needs each commodity's value: its mix row's, else commodity.csv's
    com = com.copy()
    com["value_usd_per_t"] = pd.to_numeric(com["value_usd_per_t"], errors="coerce")
    default_value = dict(zip(com["commodity_id"], com["value_usd_per_t"], strict=False))
    usd_flows = set(fl.loc[fl["basis"] == "usd", "flow_id"])
    m = mix[mix["flow_id"].isin(usd_flows)]
    value = m["value_usd_per_t"].fillna(m["commodity_id"].map(default_value))
    bad = ~((value > 0) & np.isfinite(value))
    if bad.any():
        p.add(f"trade_mix.csv: flows counted in USD need a value per tonne for each commodity, "
              f"in the mix row (value_usd_per_t) or in commodity.csv (lines "
              f"{format_ids(m.index[bad.to_numpy()] + 2)}: "
              f"{format_ids(m.loc[bad, 'flow_id'] + '/' + m.loc[bad, 'commodity_id'])}); "
              "without it their tonnes are unknown.")
    # what the schemas find beyond the checks above (ranges, provenance values, ...), with them
    checker.into(p)
    inp = DemandInputs(fl, mix, zs, en, zones, com, folder)
    # every flow that needs shares must find them
    missing = []
    groups = _share_groups(zs)
    for r in _flow_commodities(inp).itertuples(index=False):
        for side in ("origin", "destination"):
            if getattr(r, f"{side}_zone_id") == "" and _share_rows(
                    groups, getattr(r, f"{side}_country"), r.commodity_id, side) is None:
                missing.append(f"{getattr(r, f'{side}_country')}/{r.commodity_id}/{side}")
    if missing:
        p.add(f"zone_share.csv: no zone shares for {format_ids(sorted(set(missing)))}"
              " (country/commodity/side); add a row group for the country with commodity * and "
              "side *.")
    else:
        _check_no_intrazonal(inp, p)
    _check_shared_figures(fl, p)
    p.raise_if_any()
    return inp


def _check_no_intrazonal(inp: DemandInputs, p: Problems) -> None:
    """A flow whose origin and destination zones overlap would put tonnes in a cell from a zone
    to itself, which no link carries: the generator dropped them in silence (a share of
    Nakhchivan among Azerbaijan's zones took 25 kt out of the Azerbaijan–Nakhchivan flows)."""
    lost: dict[str, list[str]] = {}
    for zo, zd, com, fid, t in _all_parts(inp):
        if zo == zd and t > 0:
            lost.setdefault(fid, []).append(f"{com} {t:,.0f} t in {zo}")
    for fid, parts in lost.items():
        p.add(f"trade_flow.csv: flow {fid} would start and end in the same zone ("
              f"{'; '.join(parts)}), which no link carries; pin its origin_zone_id or "
              "destination_zone_id, or give its countries zone shares (zone_share.csv) that do "
              "not overlap.")


#: how far a flow's figure (a year's worth) may stand from an observed figure it cites: the
#: shipped flows take 2 % to 5 times theirs; a figure in kt or Mt is 1,000 or 10^6 times off
CITED_FACTOR = 300.0


def _check_flow_ids(fl: pd.DataFrame, p: Problems) -> None:
    """A flow_id that starts ``XX>YY`` names its countries: one whose origin and destination
    are ``YY`` and ``XX`` was swapped (5.4 Mt of fertiliser sent the other way in silence).
    Another country than the id's may stand in for one without zones (Tajikistan's trade
    with Iran at the Uzbek zone), so only the swap is refused."""
    m = fl["flow_id"].astype(str).str.extract(r"^([A-Z]{2})>([A-Z]{2})(?:_|$)")
    swapped = (m[0].notna() & (m[0] != m[1]) & (m[0] == fl["destination_country"])
               & (m[1] == fl["origin_country"]))
    for i in fl.index[swapped]:
        p.add(f"trade_flow.csv line {i + 2} ({fl.at[i, 'flow_id']}): the id names "
              f"{m.at[i, 0]} > {m.at[i, 1]}, but origin_country is {fl.at[i, 'origin_country']} "
              f"and destination_country {fl.at[i, 'destination_country']}: swapped? Make the "
              "id and the countries agree.")


def _check_cited_figures(fl: pd.DataFrame, observed: pd.DataFrame, p: Problems) -> None:
    """A flow in tonnes whose year's worth (``figure`` x ``to_annual``) is more than
    :data:`CITED_FACTOR` times below or above an observed figure it cites in ``observed_ids``
    (what it was built from): a figure in kt or Mt built 1,000 times too little demand in
    silence."""
    if "tonnes_per_year" not in observed or "to_annual" not in fl:
        return
    obs = pd.to_numeric(observed.set_index("observed_id")["tonnes_per_year"], errors="coerce")
    tonnes = fl["basis"] == "tonnes"
    for i in fl.index[tonnes]:
        year = fl.at[i, "figure"] * fl.at[i, "to_annual"]
        for oid in str(fl.at[i, "observed_ids"]).split(";"):
            seen = obs.get(oid.strip(), np.nan)
            if not (np.isfinite(year) and np.isfinite(seen) and year > 0 and seen > 0):
                continue
            if not 1 / CITED_FACTOR <= year / seen <= CITED_FACTOR:
                p.add(f"trade_flow.csv line {i + 2} ({fl.at[i, 'flow_id']}): figure "
                      f"{fl.at[i, 'figure']:g} x to_annual {fl.at[i, 'to_annual']:g} = "
                      f"{year:,.0f} t is {year / seen:.3g} times the figure it cites, "
                      f"{oid.strip()} ({seen:,.0f} t/yr in observed.csv): is it in kt or Mt? "
                      "Write the figure in tonnes (basis tonnes), or cite the figure the flow "
                      "was built from.")


def _check_shared_figures(fl: pd.DataFrame, p: Problems) -> None:
    """Flows of one country pair, either way, that split one reported figure (same figure,
    year, basis and source) must not take more than all of it: a flow copied under a new id
    counted twice, or the two directions' shares of a pair's trade raised past 1."""
    key = ["_pair", "figure", "year", "basis", "source"]
    if not all(k in fl for k in key[1:]) or "origin_country" not in fl:
        return
    pair = pd.Series(["-".join(sorted((str(o), str(d)))) for o, d in zip(
        fl["origin_country"], fl["destination_country"], strict=True)], index=fl.index)
    part = fl["direction_share"] * fl["scope_share"]
    for _, g in fl.assign(_part=part, _pair=pair).groupby(key, sort=False):
        if len(g) > 1 and g["_part"].sum() > 1 + 1e-9:
            where = _lines(fl, fl.index.isin(g.index))
            p.add(f"trade_flow.csv: flows {format_ids(g['flow_id'])} ({where}) take "
                  f"{g['_part'].sum():.4g} of one figure ({g['figure'].iloc[0]:g}, "
                  f"{g['year'].iloc[0]}, {g['source'].iloc[0]}): their direction_share x "
                  "scope_share sum to more than 1, so some of it is counted twice; remove the "
                  "copy or split the figure with shares that sum to at most 1.")


def _check_provenance(name: str, df: pd.DataFrame, src_ids: set[str], p: Problems) -> None:
    for col in _PROVENANCE:
        blank = df[col].str.strip() == ""
        if blank.any():
            p.add(f"{name}: {int(blank.sum())} rows have no {col} ({_lines(df, blank)}).")
    bad = ~df["confidence"].isin(CONFIDENCE)
    if bad.any():
        p.add(f"{name}: confidence must be one of {', '.join(CONFIDENCE)} ({_lines(df, bad)}).")
    nometh = (df["confidence"] == "assumption") & (df["method"].str.strip() == "")
    if nometh.any():
        p.add(f"{name}: assumptions need a method saying how they were derived "
              f"({_lines(df, nometh)}).")
    refs = df["source"].str.split(";").explode().str.strip()
    unknown = refs[(refs != "") & ~refs.isin(src_ids)]
    if len(unknown):
        bad = df.index.isin(unknown.index)
        p.add(f"{name}: sources not listed in sources.csv ({_lines(df, bad)}: "
              f"{format_ids(sorted(set(unknown)))}); add them to sources.csv or fix the id.")


def _share_groups(zs: pd.DataFrame) -> dict[tuple[str, str, str], list[dict]]:
    """zone_share.csv rows grouped by (country, commodity, side)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in zs.to_dict("records"):
        groups.setdefault((r["country"], r["commodity_id"], r["side"]), []).append(r)
    return groups


def _share_rows(groups: dict, country: str, commodity: str, side: str) -> list[dict] | None:
    """The zone shares of ``country`` for ``commodity`` on ``side``, most specific first."""
    for com, sd in ((commodity, side), (commodity, "*"), ("*", side), ("*", "*")):
        rows = groups.get((country, com, sd))
        if rows:
            return rows
    return None


def _flow_commodities(inp: DemandInputs) -> pd.DataFrame:
    return inp.mix.merge(inp.flows, on="flow_id", suffixes=("_mix", ""))


def flow_tonnes(inputs: DemandInputs) -> pd.DataFrame:
    """Tonnes per year of every flow and commodity (the country-level rows of the demand).

    Returns
    -------
    pandas.DataFrame
        flow_id, origin_country, destination_country, commodity_id, basis, quantity (the flow's
        base-year tonnes or USD), share, value_usd_per_t (value flows), tonnes_per_year.
    """
    fc = _flow_commodities(inputs)
    qty = (fc["figure"] * fc["to_annual"] * fc["to_base_year"] * fc["direction_share"]
           * fc["scope_share"])
    default_value = dict(zip(inputs.commodities["commodity_id"],
                             inputs.commodities["value_usd_per_t"], strict=True))
    value = fc["value_usd_per_t"].fillna(fc["commodity_id"].map(default_value))
    usd = fc["basis"] == "usd"
    tonnes = np.where(usd, qty * fc["share"] / value, qty * fc["share"])
    return pd.DataFrame({
        "flow_id": fc["flow_id"], "origin_country": fc["origin_country"],
        "destination_country": fc["destination_country"], "commodity_id": fc["commodity_id"],
        "basis": fc["basis"], "quantity": qty, "share": fc["share"],
        "value_usd_per_t": np.where(usd, value, np.nan), "tonnes_per_year": tonnes})


def _weakest(confidences) -> str:
    return max(confidences, key=CONFIDENCE.index)


def _join(values) -> str:
    items = []
    for v in values:
        items.extend(id_list(v))
    return ";".join(sorted(set(items)))


def _zone_parts(inp: DemandInputs):
    """Each flow's tonnes split by its fixed zones or the zone shares of its countries:
    ``(origin zone, destination zone, commodity, flow_id, tonnes, origin zone_share row or
    None, destination zone_share row or None)``, a zone to itself included."""
    ft = flow_tonnes(inp)
    flows = {r["flow_id"]: r for r in inp.flows.to_dict("records")}
    groups = _share_groups(inp.zone_shares)
    for fid, com, tonnes in zip(ft["flow_id"], ft["commodity_id"], ft["tonnes_per_year"],
                                strict=True):
        f = flows[fid]
        sides = []
        for side in ("origin", "destination"):
            zone = f[f"{side}_zone_id"]
            if zone:
                sides.append([(zone, 1.0, None)])
            else:
                rows = _share_rows(groups, f[f"{side}_country"], com, side) or []
                sides.append([(r["zone_id"], float(r["share"]), r) for r in rows])
        for zo, so, ro in sides[0]:
            for zd, sd, rd in sides[1]:
                yield zo, zd, com, fid, tonnes * so * sd, ro, rd


def _all_parts(inp: DemandInputs):
    """(origin zone, destination zone, commodity, flow_id, tonnes) of :func:`_zone_parts`."""
    for zo, zd, com, fid, t, _, _ in _zone_parts(inp):
        yield zo, zd, com, fid, t


def _cell_parts(inp: DemandInputs):
    """Each flow's tonnes in each demand cell: :func:`_zone_parts` without empty parts (and
    without a zone to itself, which :func:`read_demand_inputs` refuses)."""
    for part in _zone_parts(inp):
        if part[0] != part[1] and part[4] > 0:
            yield part


def demand_differences(inputs: DemandInputs, demand: pd.DataFrame) -> pd.DataFrame:
    """The cells where ``demand`` (a ``demand.csv`` table) is not what ``inputs`` build.

    Compares tonnes only, cell by cell, as :func:`build_demand` rounds them; provenance
    columns are not compared.

    Returns
    -------
    pandas.DataFrame
        ``origin_zone_id, destination_zone_id, commodity_id, in_demand, from_inputs`` (tonnes
        per year; 0 where a side has no row), one row per cell that differs; empty when the
        table is what the inputs build.
    """
    built: dict[tuple[str, str, str], float] = {}
    for zo, zd, com, _, t, _, _ in _cell_parts(inputs):
        built[(zo, zd, com)] = built.get((zo, zd, com), 0.0) + t
    rounded = {k: ROUND_T * round(t / ROUND_T) for k, t in built.items()}
    rounded = {k: t for k, t in rounded.items() if t >= ROUND_T}
    keys = zip(demand["origin_zone_id"], demand["destination_zone_id"], demand["commodity_id"],
               strict=True)
    given: dict[tuple[str, str, str], float] = {}
    for k, t in zip(keys, pd.to_numeric(demand["tonnes_per_year"], errors="coerce"),
                    strict=True):
        given[k] = given.get(k, 0.0) + float(t)
    rows = [(*k, given.get(k, 0.0), float(rounded.get(k, 0.0)))
            for k in sorted(set(given) | set(rounded))
            if abs(given.get(k, 0.0) - rounded.get(k, 0.0)) > 0.5]
    return pd.DataFrame(rows, columns=["origin_zone_id", "destination_zone_id", "commodity_id",
                                       "in_demand", "from_inputs"])


def overseas_cell_shares(inputs: DemandInputs) -> dict[tuple[str, str, str],
                                                        tuple[float, float]]:
    """Each demand cell's overseas origin and destination shares (the tonnes of the flows
    whose ``overseas_end`` is that end over the cell's, to six decimals), by (origin zone,
    destination zone, commodity); cells without such flows are left out (0)."""
    ends = {r["flow_id"]: r["overseas_end"] for r in inputs.flows.to_dict("records")}
    total: dict[tuple[str, str, str], float] = {}
    part: dict[tuple[str, str, str], list[float]] = {}
    for zo, zd, com, fid, t, _, _ in _cell_parts(inputs):
        key = (zo, zd, com)
        total[key] = total.get(key, 0.0) + t
        if ends[fid]:
            part.setdefault(key, [0.0, 0.0])[OVERSEAS_ENDS.index(ends[fid])] += t
    return {k: tuple(round(min(v / total[k], 1.0), 6) for v in p) for k, p in part.items()}


def overseas_share_differences(inputs: DemandInputs, demand: pd.DataFrame) -> pd.DataFrame:
    """The cells where ``demand``'s overseas shares (0 where it has no such column or a
    blank) are not what ``inputs`` give: ``origin_zone_id, destination_zone_id, commodity_id,
    column, in_demand, from_inputs``, one row per cell and column that differ."""
    built = overseas_cell_shares(inputs)
    keys = list(zip(demand["origin_zone_id"], demand["destination_zone_id"],
                    demand["commodity_id"], strict=True))
    rows = []
    for j, col in enumerate(OVERSEAS_SHARES):
        given = (pd.to_numeric(demand[col], errors="coerce").fillna(0.0).to_numpy(dtype=float)
                 if col in demand else np.zeros(len(demand)))
        for k, v in zip(keys, given, strict=True):
            want = built.get(k, (0.0, 0.0))[j]
            if abs(v - want) > 1e-6:
                rows.append((*k, col, float(v), float(want)))
    return pd.DataFrame(rows, columns=["origin_zone_id", "destination_zone_id", "commodity_id",
                                       "column", "in_demand", "from_inputs"])


def observed_shares(inputs: DemandInputs) -> pd.DataFrame:
    """The share of each demand cell's tonnes that the flows citing an observation carry.

    A flow cites the observations that built it (``trade_flow.csv``'s ``observed_ids``); a
    trade row of ``observed.csv`` counts those flows and not the others of its country pair
    (Iran's transit to the Gulf shares the cells of Russia -> Iran trade, for example).

    Returns
    -------
    pandas.DataFrame
        ``observed_id, origin_zone_id, destination_zone_id, commodity_id, share`` for every
        cell that a citing flow reaches (cells the generator drops, under its rounding, too).
    """
    cites = {r["flow_id"]: list(id_list(r["observed_ids"]))
             for r in inputs.flows.to_dict("records")}
    total: dict[tuple[str, str, str], float] = {}
    cited: dict[tuple[str, str, str, str], float] = {}
    for zo, zd, com, fid, t, _, _ in _cell_parts(inputs):
        total[(zo, zd, com)] = total.get((zo, zd, com), 0.0) + t
        for oid in cites[fid]:
            cited[(oid, zo, zd, com)] = cited.get((oid, zo, zd, com), 0.0) + t
    rows = [(oid, zo, zd, com, t / total[(zo, zd, com)])
            for (oid, zo, zd, com), t in sorted(cited.items())]
    return pd.DataFrame(rows, columns=["observed_id", "origin_zone_id", "destination_zone_id",
                                       "commodity_id", "share"])


def build_demand(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """The demand table that the inputs of ``folder`` give (see the module notes).

    Parameters
    ----------
    folder
        A corridor dataset folder (default: the built-in one).

    Returns
    -------
    pandas.DataFrame
        The rows of ``demand.csv``, sorted by origin, destination and commodity.

    Raises
    ------
    InputError
        From :func:`read_demand_inputs`.
    """
    inp = read_demand_inputs(folder)
    overseas = overseas_cell_shares(inp)
    flows = {r["flow_id"]: r for r in inp.flows.to_dict("records")}
    mix = {(r["flow_id"], r["commodity_id"]): r for r in inp.mix.to_dict("records")}
    cells: dict[tuple[str, str, str], dict[str, list]] = {}
    for zo, zd, com, fid, t, ro, rd in _cell_parts(inp):
        f = flows[fid]
        cell = cells.setdefault((zo, zd, com), {"t": {}, "prov": [], "obs": []})
        cell["t"][fid] = cell["t"].get(fid, 0.0) + t
        cell["prov"] += [f, mix[(fid, com)]] + [x for x in (ro, rd) if x is not None]
        cell["obs"].append(f["observed_ids"])
    rows = []
    for key in sorted(cells):
        cell = cells[key]
        tonnes = int(ROUND_T * round(sum(cell["t"].values()) / ROUND_T))
        if tonnes < ROUND_T:
            continue
        by_flow = sorted(cell["t"].items())
        method = ("demand_inputs: " + "; ".join(f"{fid} {t:,.0f} t" for fid, t in by_flow)
                  + " (trade flow x commodity share x zone shares)")
        prov = cell["prov"]
        rows.append((*key, tonnes, *overseas.get(key, (0.0, 0.0)),
                     ";".join(fid for fid, _ in by_flow), _join(cell["obs"]),
                     _join(x["source"] for x in prov),
                     _join(flows[fid]["source_date"] for fid, _ in by_flow),
                     _weakest(x["confidence"] for x in prov), method))
    out = pd.DataFrame(rows, columns=list(DEMAND_COLUMNS))
    log.info("built %d demand rows, %.0f t/yr, from %d flows", len(out),
             out["tonnes_per_year"].sum(), len(inp.flows))
    return out


#: the markers around the generated tables in docs/dataset.md
TABLES_BEGIN = "<!-- begin: karvan data demand-tables -->"
TABLES_END = "<!-- end: karvan data demand-tables -->"


def demand_tables_markdown(folder: str | os.PathLike | None = None) -> str:
    """The demand's tables for the documentation, from the inputs of ``folder``: every flow
    with its quantity, tonnes and commodities, the totals by country pair and by commodity of
    the demand the inputs build, and the rows that rest on figures of ``observed.csv``.
    ``docs/dataset.md`` holds them between :data:`TABLES_BEGIN` and :data:`TABLES_END` (a test
    checks that they are what the shipped inputs give)."""
    inp = read_demand_inputs(folder)
    ft = flow_tonnes(inp)
    dem = build_demand(folder)
    zc = dict(zip(inp.zones["zone_id"], inp.zones["country"], strict=True))
    lines = [f"**Flows** ({len(inp.flows)}; quantity = base-year tonnes or value after all "
             "factors; t/yr = tonnes over all commodities; kt by commodity):", "",
             "| flow | origin | destination | quantity | t/yr | by commodity (kt) | "
             "rests on observed | confidence |", "|---|---|---|---|---|---|---|---|"]
    for f in inp.flows.to_dict("records"):
        rows = ft[ft["flow_id"] == f["flow_id"]]
        q = float(rows["quantity"].iloc[0])
        qty = f"{q / 1e9:.2f} bn USD" if f["basis"] == "usd" else f"{q / 1e6:.3f} Mt"
        coms = ", ".join(f"{c} {t / 1e3:,.0f}" for c, t in
                         zip(rows["commodity_id"], rows["tonnes_per_year"], strict=True))
        obs = ", ".join(id_list(f["observed_ids"])) or "–"
        lines.append(f"| {f['flow_id']} | {f['origin_zone_id'] or f['origin_country']} | "
                     f"{f['destination_zone_id'] or f['destination_country']} | {qty} | "
                     f"{rows['tonnes_per_year'].sum():,.0f} | {coms} | {obs} | "
                     f"{f['confidence']} |")
    pair = dem.assign(o=dem["origin_zone_id"].map(zc), d=dem["destination_zone_id"].map(zc))
    tot = pair.groupby(["o", "d"])["tonnes_per_year"].sum().sort_values(ascending=False,
                                                                        kind="stable")
    lines += ["", f"**Totals by country pair** (Mt/yr, {len(dem):,} rows of `demand.csv` as the "
              "inputs build it, before any OD estimate):", "", "| pair | Mt/yr |", "|---|---|"]
    lines += [f"| {o} → {d} | {t / 1e6:.2f} |" for (o, d), t in tot.items()]
    lines.append(f"| **total** | **{dem['tonnes_per_year'].sum() / 1e6:.2f}** |")
    lines += ["", "| commodity | Mt/yr |", "|---|---|"]
    lines += [f"| {c} | {t / 1e6:.2f} |" for c, t in
              dem.groupby("commodity_id")["tonnes_per_year"].sum().items()]
    rest = dem[dem["observed_ids"] != ""]
    obs = sorted({o for v in rest["observed_ids"] for o in id_list(v)})
    lines += ["", f"**Not independent of the demand.** {len(rest):,} demand rows "
              f"({rest['tonnes_per_year'].sum() / 1e6:.1f} Mt) rest on figures that are also in "
              "`observed.csv` (their `observed_ids`); those observations cannot check the "
              "model: " + ", ".join(f"`{o}`" for o in obs) + "."]
    return "\n".join(lines) + "\n"


def demand_csv_text(demand: pd.DataFrame) -> str:
    r"""The bytes of ``demand.csv`` for a demand table: UTF-8, ``\n`` line ends, no index."""
    buf = io.StringIO()
    demand.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_demand(folder: str | os.PathLike | None = None, *,
                 out: str | os.PathLike | None = None) -> Path:
    """Rebuild ``demand.csv`` from the inputs of ``folder`` and write it atomically.

    Parameters
    ----------
    folder
        The corridor dataset folder whose ``demand_inputs/`` are read (default: built-in).
    out
        Where to write (default: ``folder/demand.csv``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        From :func:`read_demand_inputs`; nothing is written then.
    """
    folder = Path(folder) if folder is not None else builtin_corridor_folder()
    target = Path(out) if out is not None else folder / "demand.csv"
    text = demand_csv_text(build_demand(folder))
    atomic_write_text(target, text)
    return target
