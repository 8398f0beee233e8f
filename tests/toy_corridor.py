"""Small hand-built corridor datasets for tests (written to a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PROV = {"source": "TEST", "source_date": "2024", "confidence": "assumption",
        "method": "hand-built test case"}


#: stated explicitly: without tariffs and growth rules a dataset is refused (a missing row would
#: make traffic free or demand flat without anyone saying so)
FREE = tuple((m, "*", 0.0, 0.0) for m in ("rail", "road", "sea", "ferry", "transfer", "border"))
NO_GROWTH = (("*", "*", "*", 0.0),)


def write_corridor(folder: Path, *, nodes, links, zones, commodities, demand, tariffs=FREE,
                   growth=NO_GROWTH, observed=(), extra: dict | None = None) -> Path:
    """Write a corridor folder; every row gets the test provenance unless it sets its own.

    By default every mode is free (``FREE``) and demand does not grow (``NO_GROWTH``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    node_rows = [{"node_id": n, "name": n, "x_coord": x, "y_coord": y, "node_type": "city",
                  "country": c, **PROV} for n, x, y, c in nodes]
    link_rows = []
    for row in links:
        r = {"directed": "false", "element": row.get("mode", "rail"), "status": "open",
             "dwell_h": 0, "frequency_per_week": None, "vdf": "bpr", "capacity_tpy": None,
             "tariff_usd_per_tkm": None, "tariff_usd_per_t": None, "fee_usd_per_t": None,
             **PROV}
        r.update(row)
        link_rows.append(r)
    tables = {
        "node": pd.DataFrame(node_rows),
        "link": pd.DataFrame(link_rows),
        "zone": pd.DataFrame([{"zone_id": z, "name": z, "country": c, "node_id": n, **PROV}
                              for z, n, c in zones]),
        "commodity": pd.DataFrame([{"commodity_id": c, "name": c, "value_usd_per_t": val,
                                    "vot_usd_per_t_h": vot, "t_per_teu": 10, "t_per_wagon": 60,
                                    "t_per_truck": 20, **PROV} for c, vot, val in commodities]),
        "tariff": pd.DataFrame([{"mode": m, "country": c, "tariff_usd_per_tkm": a,
                                 "tariff_usd_per_t": b, **PROV} for m, c, a, b in tariffs],
                               columns=["mode", "country", "tariff_usd_per_tkm",
                                        "tariff_usd_per_t", *PROV]),
        "demand": pd.DataFrame([{"origin_zone_id": o, "destination_zone_id": d,
                                 "commodity_id": c, "tonnes_per_year": t, **PROV}
                                for o, d, c, t in demand]),
        "growth": pd.DataFrame([{"origin_country": o, "destination_country": d,
                                 "commodity_id": c, "growth_per_year": g, **PROV}
                                for o, d, c, g in growth],
                               columns=["origin_country", "destination_country", "commodity_id",
                                        "growth_per_year", *PROV]),
        "observed": pd.DataFrame([{"observed_id": i, "kind": k, "element_ids": e, "year": y,
                                   "tonnes_per_year": t, **PROV} for i, k, e, y, t in observed],
                                 columns=["observed_id", "kind", "element_ids", "year",
                                          "tonnes_per_year", *PROV]),
        "sources": pd.DataFrame([{"source_id": "TEST", "title": "hand-built test case",
                                  "url": "", "publisher": "", "date": "2024", "accessed": "",
                                  "note": ""}]),
    }
    zone_of = {n: z for z, n, _ in zones}
    tables["node"]["zone_id"] = tables["node"]["node_id"].map(zone_of)
    for name, df in {**tables, **(extra or {})}.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    pd.DataFrame([{"dataset_name": "toy", "long_length": "kilometer",
                   "speed": "kilometer/hour", "crs": "EPSG:4326", "currency": "USD",
                   "id_type": "string"}]).to_csv(folder / "config.csv", index=False)
    return folder
