"""The report's section on the choice model: each route family's share of the major country
pairs' tonnes, and the binding capacities with their shadow prices in hours and USD per tonne.
Reads the run's ``family_shares`` and ``capacities`` tables; computes nothing but sums."""

from __future__ import annotations

from html import escape

import pandas as pd
from markupsafe import Markup

from karvan.report.i18n import country_name, label
from karvan.report.page import num, pct, table, text

#: the country pairs the section shows, in this order (those with tonnes)
MAJOR_ODS = (("RU", "IN"), ("IN", "RU"), ("RU", "IR"), ("RU", "TR"), ("KZ", "TR"), ("RU", "AZ"),
             ("CN", "EU"), ("EU", "CN"))


def choice_section(shares: pd.DataFrame | None, capacities: pd.DataFrame | None, lang: str,
                   *, min_share: float = 0.005):
    """The section (id, heading, note, body), or ``None`` for a run without family shares."""
    if shares is None or shares.empty:
        return None
    rows = []
    for oc, dc in MAJOR_ODS:
        s = shares[(shares["origin_country"] == oc) & (shares["destination_country"] == dc)]
        if s.empty:
            continue
        t = s.groupby(["family_id", "nest"], as_index=False, sort=False)["tonnes"].sum()
        tot = float(t["tonnes"].sum())
        t = t[t["tonnes"] >= min_share * tot].sort_values("tonnes", ascending=False)
        od = f"{country_name(oc, lang)}{label('to', lang)}{country_name(dc, lang)}"
        for x in t.itertuples():
            rows.append([text(od), text(x.family_id), text(x.nest),
                         num(x.tonnes, lang, 2, scale=1e6), pct(x.tonnes / tot, lang)])
    head = [label(k, lang) for k in ("od_pair", "family", "nest", "mt_yr", "share")]
    body = table(head, rows, cls="family-shares")
    if capacities is not None and len(capacities):
        b = capacities[capacities["binding"].astype(bool)]
        if b.empty:
            body += Markup(f"<p>{escape(label('no_binding', lang))}</p>")
        else:
            crow = [[text(x.name or x.link_id),
                     text(label(x.direction, lang) if x.direction in ("ab", "ba", "both")
                          else x.direction),
                     num(x.capacity_tpy, lang, 2, scale=1e6), num(x.tonnes, lang, 2, scale=1e6),
                     num(x.shadow_price_h, lang, 1), num(x.shadow_price_usd_per_t, lang, 2)]
                    for x in b.itertuples()]
            chead = [label(k, lang) for k in ("link", "direction", "capacity", "mt_yr",
                                              "shadow_h", "shadow_usd")]
            body += table(chead, crow, cls="binding-capacities")
    return ("choice", label("choice", lang), label("choice_note", lang), body)
