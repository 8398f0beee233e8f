"""Demand levels of past years (``demand_level.csv``): the back-casts take a sourced level in
place of the growth rate, the most specific row first, and bad rows are refused with file and
line."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import CorridorWarning, builtin_corridor_folder, load_corridor
from karvan.scenario.apply import apply_scenario, growth_factors, level_rows
from karvan.scenario.spec import Scenario

HEADER = ["origin_country", "destination_country", "commodity_id", "year", "index", "source",
          "source_date", "confidence", "method"]
PROV = ["KV_ASSUMPTION", "2026", "assumption", "test level"]


def _copy(tmp_path, rows):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    with open(folder / "demand_level.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow([*r, *PROV])
    return folder


def _without_levels(tmp_path):
    folder = tmp_path / "plain"
    shutil.copytree(builtin_corridor_folder(), folder)
    (folder / "demand_level.csv").unlink(missing_ok=True)
    return load_corridor(folder)


def _rows(data, o, d, c):
    zc = data.zone_country()
    dem = data.demand
    return ((dem["origin_zone_id"].map(zc) == o) & (dem["destination_zone_id"].map(zc) == d)
            & (dem["commodity_id"] == c)).to_numpy()


def test_a_level_replaces_the_growth_of_its_year_only(tmp_path):
    plain = _without_levels(tmp_path)
    data = load_corridor(_copy(tmp_path, [("CN", "EU", "containers", 2023, 0.5)]))
    hit = _rows(data, "CN", "EU", "containers")
    assert hit.any()
    f23 = growth_factors(data, data.demand, 2023)
    g23 = growth_factors(plain, plain.demand, 2023)
    assert np.allclose(f23[hit], 0.5)
    assert np.allclose(f23[~hit], g23[~hit])
    assert not np.allclose(g23[hit], 0.5)  # the growth rate would have given another factor
    # another year keeps the growth rate, also for the levelled pair
    assert np.allclose(growth_factors(data, data.demand, 2022),
                       growth_factors(plain, plain.demand, 2022))
    assert np.allclose(growth_factors(data, data.demand, 2030),
                       growth_factors(plain, plain.demand, 2030))


def test_the_most_specific_level_wins(tmp_path):
    data = load_corridor(_copy(tmp_path, [("*", "*", "*", 2023, 2.0),
                                          ("RU", "*", "*", 2023, 0.7),
                                          ("RU", "IN", "containers", 2023, 0.25)]))
    f = growth_factors(data, data.demand, 2023)
    ru_in = _rows(data, "RU", "IN", "containers")
    zc = data.zone_country()
    ru = (data.demand["origin_zone_id"].map(zc) == "RU").to_numpy()
    assert ru_in.any() and np.allclose(f[ru_in], 0.25)
    assert (ru & ~ru_in).any() and np.allclose(f[ru & ~ru_in], 0.7)
    assert np.allclose(f[~ru], 2.0)
    lv = level_rows(data, data.demand, 2023)
    assert set(lv[ru_in]) == {2} and set(lv[ru & ~ru_in]) == {1} and set(lv[~ru]) == {0}


def test_a_back_cast_takes_the_level(tmp_path):
    data = load_corridor(_copy(tmp_path, [("EU", "CN", "containers", 2022, 2.5)]))
    hit = _rows(data, "EU", "CN", "containers")
    # a scenario of 2022 outside the back-casts: the 2024 network, which is said
    with pytest.warns(CorridorWarning, match="before the base year"):
        inputs = apply_scenario(data, Scenario("back", "", "", 2022, (), ()))
    got = inputs.demand["tonnes_per_year"].to_numpy()
    base = data.demand["tonnes_per_year"].to_numpy()
    assert np.allclose(got[hit], 2.5 * base[hit])


def test_bad_levels_are_refused_all_at_once_with_their_lines(tmp_path):
    folder = _copy(tmp_path, [("CN", "EU", "containers", 2024, 0.5),    # line 2: base year
                              ("EU", "CN", "containers", 2012, 1.5),    # line 3: too far back
                              ("CN", "EU", "grain", 2023, 0.0),         # line 4: index 0
                              ("CN", "EU", "nosuch", 2023, 1.0),        # line 5: commodity
                              ("EU", "CN", "containers", 2023, 1.0),
                              ("EU", "CN", "containers", 2023, 2.0)])   # line 7: repeated key
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    text = str(e.value)
    assert "demand_level.csv" in text
    assert "4 problems" in text
    for needle in ("lines 2, 3", "level CN>EU>containers", "base year 2024", "line 4: '0.0'",
                   "line 5: 'nosuch'", "line 7"):
        assert needle in text, (needle, text)


def _slow_most_specific(rules, o, d, c):
    """The rule as written: the first row with the most named fields among those that match."""
    best, best_score = -1, -1
    for q, r in enumerate(rules.itertuples()):
        fields = (r.origin_country, r.destination_country, r.commodity_id)
        if all(f in ("*", k) for f, k in zip(fields, (o, d, c), strict=True)):
            score = sum(f != "*" for f in fields)
            if score > best_score:
                best, best_score = q, score
    return best


def test_the_vectorised_rule_choice_equals_the_rule_row_by_row():
    import pandas as pd

    from karvan.scenario.apply import most_specific_rule, most_specific_rules

    rules = pd.DataFrame({"origin_country": ["*", "RU", "RU", "*", "IR", "RU"],
                          "destination_country": ["*", "*", "IN", "IN", "*", "IN"],
                          "commodity_id": ["*", "*", "*", "grain", "grain", "grain"]})
    countries, commodities = ["RU", "IN", "IR", "AZ", None], ["grain", "oil", None]
    keys = [(o, d, c) for o in countries for d in countries for c in commodities]
    got = most_specific_rules(rules, *map(list, zip(*keys, strict=True)))
    want = [_slow_most_specific(rules, *k) for k in keys]
    assert got.tolist() == want
    assert [most_specific_rule(rules, *k) for k in keys] == want
    assert want[keys.index(("RU", "IN", "grain"))] == 5  # three fields named: the last row
    assert want[keys.index(("RU", "IN", "oil"))] == 2
    # with no catch-all row, a key that matches nothing gets -1
    assert (most_specific_rules(rules.iloc[1:], ["AZ"], ["AZ"], ["oil"]) == -1).all()
    data = load_corridor(builtin_corridor_folder())
    zc = data.zone_country()
    dem = data.demand
    o, d = dem["origin_zone_id"].map(zc).tolist(), dem["destination_zone_id"].map(zc).tolist()
    c = dem["commodity_id"].tolist()
    got = most_specific_rules(data.growth, o, d, c)
    assert got.tolist() == [_slow_most_specific(data.growth, *k) for k in zip(o, d, c, strict=True)]
