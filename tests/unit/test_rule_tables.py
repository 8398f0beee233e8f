"""The rule tables ``growth.csv`` and ``demand_level.csv`` (origin country, destination
country, commodity, ``*`` for any): a country or commodity the dataset does not have, and two
equally specific rules that give one demand cell different values, are input errors with file
and line; a rule that matches no demand is a warning."""

from __future__ import annotations

import csv
import shutil
import warnings

import pytest

from karvan.errors import InputError
from karvan.freight.corridor import CorridorWarning, builtin_corridor_folder, load_corridor

PROV = ["KV_ASSUMPTION", "2026", "assumption", "test rule"]


def _with_growth(tmp_path, rows):
    """The built-in dataset with ``rows`` (o, d, commodity, rate) appended to growth.csv;
    returns the folder and the line of the first appended row."""
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    p = folder / "growth.csv"
    with open(p, newline="", encoding="utf-8") as f:
        n = sum(1 for _ in f)
    with open(p, "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        for r in rows:
            w.writerow([*r, *PROV])
    return folder, n + 1


def test_the_shipped_rules_load_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        load_corridor()


def test_a_country_no_zone_has_is_an_error_with_its_line(tmp_path):
    folder, line = _with_growth(tmp_path, [("RU", "IQ", "*", 0.09),
                                           ("RU", "IR", "grian", 0.01)])
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "growth.csv" in msg and f"line {line}" in msg and "'IQ'" in msg
    assert f"line {line + 1}" in msg and "'grian'" in msg  # both at once


def _line_of(folder, key):
    with open(folder / "growth.csv", newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if tuple(row[:3]) == key:
                return n
    raise AssertionError(key)


def test_equally_specific_rules_with_different_values_are_an_error(tmp_path):
    # AZ > * > general_cargo is as specific as the shipped AZ > RU > * (two named fields
    # each); both match AZ > RU > general_cargo
    folder, line = _with_growth(tmp_path, [("AZ", "*", "general_cargo", 0.2)])
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    az_ru = _line_of(folder, ("AZ", "RU", "*"))
    assert f"line {line}" in msg and f"as specific as line {az_ru} (AZ>RU>*)" in msg
    assert "AZ>RU>general_cargo" in msg and "order" in msg


def test_equally_specific_rules_with_one_value_load(tmp_path):
    # the shipped AZ > RU > * grows by 0.0711 a year: the same rate, no ambiguity
    folder, _ = _with_growth(tmp_path, [("AZ", "*", "general_cargo", 0.0711)])
    load_corridor(folder)


def test_a_rule_without_demand_is_a_warning_with_its_line(tmp_path):
    folder, line = _with_growth(tmp_path, [("AM", "IN", "grain", 0.05)])
    with pytest.warns(CorridorWarning, match=rf"growth.csv: matches no demand cell .*line {line}"):
        load_corridor(folder)


def test_a_zone_node_or_land_link_in_the_wrong_country_is_an_error(tmp_path):
    """A Georgian zone on an Azerbaijani node; a node naming a zone that has another node; an
    Iranian rail link labelled Azerbaijani: each an input error with its file and line."""
    import pandas as pd

    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)

    def edit(name, fn):
        p = folder / f"{name}.csv"
        t = pd.read_csv(p, dtype=str, keep_default_na=False)
        fn(t)
        t.to_csv(p, index=False, lineterminator="\n")

    def zone(t):
        t.loc[t["zone_id"] == "Z_GE_TBILISI", "node_id"] = "AZ_YALAMA_RAIL"

    def link(t):
        t.loc[t["link_id"] == "R_IR_TEHRAN_BAFQ", "country"] = "AZ"

    edit("zone", zone)
    edit("link", link)
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "zone.csv: node_id is a node of AZ, not of the zone's country GE" in msg
    assert "node.csv: zone_id names a zone whose node is AZ_YALAMA_RAIL" in msg  # GE_TBILISI's
    assert "link.csv: country is the country of neither end (IR)" in msg
    assert "R_IR_TEHRAN_BAFQ" in msg and "Z_GE_TBILISI" in msg
