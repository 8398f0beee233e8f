"""Uncertain inputs: the table, its checks, distributions and how inputs set model arrays."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from karvan.errors import InputError
from karvan.explore.distributions import Distribution
from karvan.explore.inputs import (
    builtin_uncertainty_path,
    corridor_inputs,
    parameter_inputs,
    read_uncertainty,
)
from karvan.explore.sampling import make_design
from karvan.freight.corridor import load_corridor


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def inputs(data):
    return corridor_inputs(data)


def test_every_uncertain_figure_has_one_input(data, inputs):
    names = inputs.names
    assert len(names) == len(set(names))
    by = {}
    for x in inputs.inputs:
        for r in x.rows:
            key = (x.table, x.field, r)
            assert key not in by, f"{key} set by {by.get(key)} and {x.name}"
            by[key] = x.name
    # every demand row, every open link's length and every commodity's value of time
    dem_keys = {f"{o}>{d}>{c}" for o, d, c in zip(data.demand["origin_zone_id"],
                                                  data.demand["destination_zone_id"],
                                                  data.demand["commodity_id"], strict=True)}
    assert dem_keys == {r for (t, f, r) in by if t == "demand"}
    lengths = data.links.index[data.links["length_km"].notna()]
    assert set(map(str, lengths)) == {r for (t, f, r) in by if (t, f) == ("link", "length")}
    assert {r for (t, f, r) in by if t == "commodity"} == set(data.commodity_ids)


def test_rows_citing_one_source_draw_together(data, inputs):
    x = next(x for x in inputs.inputs if x.table == "demand"
             and x.source == ("KV_ASSUMPTION;NDTV_IN_RU_FY25;ORF_IN_RU_OIL_2023;PTI_IN_RU_FY24;"
                              "TROIB_FIEO_FERT"))
    dem = data.demand
    rows = dem[dem["source"] == x.source]
    assert len(x.rows) == len(rows) > 1
    # a range rule's rows leave their class groups; its group shares one factor
    g = [y for y in inputs.inputs if y.factor == "growth_ru_ir"]
    assert [y.rows for y in g] == [("RU>IR>*", "IR>RU>*")]


def test_rows_citing_the_same_sources_in_another_order_share_one_factor(data, inputs):
    """Rows were grouped by their source cell as written: links citing FVBB_SUEZ,
    SBERBANK_IN_ROUTES and KV_ASSUMPTION in two orders drew two independent length factors."""
    seen = {}
    for x in inputs.inputs:
        if x.replace:
            continue
        key = (x.table, x.field, x.confidence, frozenset(x.source.split(";")))
        assert key not in seen, f"{x.name} and {seen[key]} cite the same sources"
        seen[key] = x.name
    name = "link.length:assumption[FVBB_SUEZ;KV_ASSUMPTION;SBERBANK_IN_ROUTES]"
    x = next(x for x in inputs.inputs if x.name == name)
    links = data.links
    cited = links.index[[set(str(s).split(";")) == {"FVBB_SUEZ", "KV_ASSUMPTION",
                                                     "SBERBANK_IN_ROUTES"}
                         for s in links["source"]]]
    orders = {links.at[i, "source"] for i in cited}
    assert len(orders) > 1  # the dataset writes them in more than one order
    detail = links.loc[cited, "confidence_detail"].astype(str)
    assumed = [str(i) for i, d in zip(cited, detail, strict=True) if "length=assumption" in d]
    assert set(assumed) <= set(x.rows) and len(assumed) > 1
    # the names do not depend on the order either: every source cell reversed, same inputs
    rev = links.assign(source=[";".join(reversed(str(s).split(";"))) for s in links["source"]])
    again = corridor_inputs(dataclasses.replace(data, links=rev))
    assert again.names == inputs.names
    assert [y.rows for y in again.inputs] == [y.rows for y in inputs.inputs]


def test_input_names_are_stable_and_listed(inputs):
    t = inputs.table()
    assert list(t["input"]) == inputs.names
    assert "link.capacity:U_SAMUR_CAPACITY" in inputs.names
    assert "commodity.vot:U_VOT_HS2013" in inputs.names
    assert set(t["drawn"]) == {"factor", "value"}


def test_select_by_name_and_pattern(inputs):
    s = inputs.select(["demand.*", "caspian_fare"])
    assert {x.table for x in s.inputs} == {"demand", "link"}
    assert all(f.startswith("demand.") or f == "caspian_fare" for f in s.factors)
    # an input's name selects its factor (a range's factor is its group)
    s = inputs.select(["growth.growth:U_GROWTH_RU_IR"])
    assert s.factors == ("growth_ru_ir",)
    with pytest.raises(InputError, match=r"unknown input names .*U_SAMUR_CAPACITYY.*did you mean"
                       r".*link\.capacity:U_SAMUR_CAPACITY"):
        inputs.select(["demand.*", "link.capacity:U_SAMUR_CAPACITYY"])
    with pytest.raises(InputError, match=r"demand\.tonnage\*"):
        inputs.select(["demand.tonnage*"])


def _table(tmp_path, rows):
    src = pd.read_csv(builtin_uncertainty_path(), dtype=str)
    df = pd.concat([src, pd.DataFrame(rows)], ignore_index=True)
    p = tmp_path / "uncertainty.csv"
    df.to_csv(p, index=False)
    return p


def test_bad_table_lists_every_problem(tmp_path):
    base = {"kind": "range", "table": "link", "field": "capacity", "row_id": "B_RU_AZ_SAMUR_RAIL",
            "source": "KV_ASSUMPTION", "source_date": "2026", "confidence": "assumption",
            "method": "test"}
    p = _table(tmp_path, [
        {**base, "rule_id": "BAD_SIGMA", "kind": "class", "confidence_class": "press",
         "table": "demand", "field": "tonnes", "row_id": "", "distribution": "lognormal",
         "sigma": "-0.2"},
        {**base, "rule_id": "BAD_RANGE", "distribution": "uniform", "low": "9", "high": "3"},
        {**base, "rule_id": "BAD_DIST", "distribution": "gamma", "low": "1", "high": "3"},
        {**base, "rule_id": "BAD_LOGU", "distribution": "loguniform", "low": "0", "high": "3"},
        {**base, "rule_id": "BAD_FIELD", "field": "colour", "distribution": "uniform",
         "low": "1", "high": "3"},
    ])
    with pytest.raises(InputError) as e:
        read_uncertainty(p)
    msg = str(e.value)
    for rule, what in [("BAD_SIGMA", "sigma > 0"), ("BAD_RANGE", "low < high"),
                       ("BAD_DIST", "unknown distribution 'gamma'"),
                       ("BAD_LOGU", "low > 0"), ("BAD_FIELD", "unknown field 'colour'")]:
        assert rule in msg and what in msg, (rule, msg)


def test_range_on_unknown_rows_and_missing_class(tmp_path, data):
    p = _table(tmp_path, [{"rule_id": "R_X", "kind": "range", "table": "link",
                           "field": "capacity", "row_id": "B_NOWHERE;B_RU_AZ_SAMUR_RAIL",
                           "distribution": "uniform", "low": "1", "high": "2",
                           "source": "KV_ASSUMPTION", "source_date": "2026",
                           "confidence": "assumption", "method": "test"}])
    with pytest.raises(InputError, match="link has no rows B_NOWHERE"):
        corridor_inputs(data, p)
    src = pd.read_csv(builtin_uncertainty_path(), dtype=str)
    src = src[src["rule_id"] != "U_PRESS"]
    q = tmp_path / "u2.csv"
    src.to_csv(q, index=False)
    with pytest.raises(InputError, match="no class rule for confidence press"):
        corridor_inputs(data, q)


@pytest.mark.parametrize("dist, ref", [
    (Distribution("lognormal", sigma=0.3), stats.lognorm(s=0.3)),
    (Distribution("uniform", low=29, high=36), stats.uniform(29, 7)),
    (Distribution("loguniform", low=0.6, high=2.1), stats.loguniform(0.6, 2.1)),
    (Distribution("triangular", low=1, high=5, mode=2), stats.triang(0.25, loc=1, scale=4)),
    (Distribution("normal", sigma=0.5, mean=2), stats.norm(2, 0.5)),
])
def test_quantiles_match_scipy(dist, ref):
    u = np.linspace(0.01, 0.99, 41)
    np.testing.assert_allclose(dist.ppf(u), ref.ppf(u), rtol=1e-10)
    assert math.isfinite(dist.ppf(np.array([0.0]))[0])  # a Sobol point at 0 stays finite


def test_targets_apply_factors_and_values(inputs):
    t = inputs.target("link", "capacity", ["B_RU_AZ_SAMUR_RAIL", "NOT_A_LINK"], [11e6, 5.0])
    v = np.ones(len(inputs))
    i = inputs.names.index("link.capacity:U_SAMUR_CAPACITY")
    v[i] = 7e6
    np.testing.assert_allclose(t.apply(v), [7e6, 5.0])
    # a range on the share of value per day scales the value of time by the same ratio
    t = inputs.target("commodity", "vot", ["containers", "grain"], [1.0417, 0.0575])
    v[inputs.names.index("commodity.vot:U_VOT_HS2013")] = 2.0
    np.testing.assert_allclose(t.apply(v), [1.0417 * 2.0 / 1.0, 0.0575 * 2.0 / 0.6])
    d = inputs.target("demand", "tonnes", ["Z_AM_YEREVAN>Z_GE_PORTS>containers"], [100.0])
    j = d.idx[0]
    v[j] = 1.5
    np.testing.assert_allclose(d.apply(v), [150.0])


def test_parameter_inputs_and_bad_standard_errors():
    p = pd.DataFrame({"parameter_id": ["theta", "asc_west"], "value": [0.02, -1.0],
                      "std_error": [0.004, 0.3], "source": ["fit", "fit"]})
    s = parameter_inputs(p, table="choice")
    assert s.names == ["choice.theta", "choice.asc_west"]
    vals = s.values(np.full((1, 2), 0.5))
    np.testing.assert_allclose(vals, [[0.02, -1.0]])
    with pytest.raises(InputError, match="sigma > 0"):
        parameter_inputs(p.assign(std_error=[0.0, 0.3]))


def test_designs_are_reproducible_and_checked(inputs):
    a = make_design(inputs, "lhs", 16, seed=3)
    b = make_design(inputs, "lhs", 16, seed=3)
    assert np.array_equal(a.u, b.u) and a.u.shape == (16, len(inputs.factors))
    # each column of a Latin hypercube has one point in each of the 16 strata
    assert all(len(set(np.floor(a.u[:, j] * 16).astype(int))) == 16 for j in range(5))
    s = make_design(inputs, "sobol", 8, seed=1, groups="field")
    assert s.n == 8 * (len(s.groups) + 2)
    with pytest.raises(InputError, match="integer >= 2"):
        make_design(inputs, "lhs", 1, seed=0)
    with pytest.raises(InputError, match="power of 2"):
        make_design(inputs, "sobol", 100, seed=0)
    with pytest.raises(InputError, match="unknown sampler"):
        make_design(inputs, "halton", 16, seed=0)


def test_rules_that_would_draw_wrong_values_or_be_ignored_are_refused(tmp_path, data):
    base = {"kind": "range", "table": "link", "field": "capacity", "row_id": "B_RU_AZ_SAMUR_RAIL",
            "source": "KV_ASSUMPTION", "source_date": "2026", "confidence": "assumption",
            "method": "test"}
    cls = {**base, "kind": "class", "row_id": "", "distribution": "lognormal", "sigma": "0.9"}
    p = _table(tmp_path, [
        # a lognormal range would replace an 11 Mt/yr capacity by a factor around 1 t/yr
        {**base, "rule_id": "R_LOGN", "row_id": "B_RU_AZ_INCHE", "distribution": "lognormal",
         "sigma": "0.2"},
        {**base, "rule_id": "R_NEG", "row_id": "B_RU_AZ_X", "distribution": "uniform",
         "low": "-5e6", "high": "1.1e7"},
        {**base, "rule_id": "R_NEG_T", "table": "demand", "field": "tonnes", "row_id": "*",
         "distribution": "uniform", "low": "-100", "high": "100"},
        # a sailing frequency near 0 waits thousands of hours
        {**base, "rule_id": "R_FREQ0", "field": "frequency", "row_id": "F_AZ_KZ_ALAT_AKTAU",
         "distribution": "uniform", "low": "0", "high": "3"},
        # never matched: a class rule for every table and one field
        {**cls, "rule_id": "C_STAR", "confidence_class": "press", "table": "*"},
        # a second rule for press / * / * beside the shipped one
        {**cls, "rule_id": "C_TWICE", "confidence_class": "press", "table": "*", "field": "*"},
    ])
    with pytest.raises(InputError) as e:
        read_uncertainty(p)
    msg = str(e.value)
    for rule, what in [("R_LOGN", "a lognormal is a factor"), ("R_NEG", "would draw a capacity"),
                       ("R_NEG_T", "would draw a tonnes below 0"), ("C_STAR", "takes field *"),
                       ("R_FREQ0", "would draw a frequency <= 0"),
                       ("C_TWICE", "class rules for the same confidence class")]:
        assert rule in msg and what in msg, (rule, msg)
    # two ranges on one row and field: the later won and the earlier stayed a dead factor
    q = _table(tmp_path, [{**base, "rule_id": "R_AGAIN", "distribution": "uniform",
                           "low": "8e6", "high": "1.2e7"}])
    with pytest.raises(InputError, match=r"R_AGAIN.*already have a range for capacity.*"
                                         r"U_SAMUR_CAPACITY"):
        corridor_inputs(data, q)


def test_morris_draws_stay_inside_the_distributions(inputs):
    """SALib's Morris levels 0 and 1 were the 1e-12 quantiles: a lognormal input ~7 sigma out."""
    d = make_design(inputs, "morris", 4, seed=0, groups="field")
    levels = np.unique(np.round(d.u, 12))
    assert np.allclose(levels, [0.125, 0.375, 0.625, 0.875])
    values = inputs.values(d.u)
    central = inputs.central_values()
    assert np.all(np.isfinite(values))
    # the most a class factor of sigma <= 0.5 can be drawn at the 7/8 quantile: exp(0.5 * 1.15)
    ratio = np.abs(np.log(values / central))
    ratio = ratio[np.isfinite(ratio)]
    assert ratio.max() < 1.0


def test_one_sensitivity_group_is_refused_before_any_draw(inputs):
    """SALib samples one group as ungrouped factors but analyses it as a group."""
    one = inputs.select(["demand.*"])
    with pytest.raises(InputError, match="at least 2 sensitivity groups"):
        make_design(one, "sobol", 8, seed=0, groups="field")
    make_design(one, "sobol", 8, seed=0, groups="factor")


def test_ranges_in_another_unit_and_unknown_sources_are_refused(tmp_path, data):
    """A range written as the docs state it (7-11 Mt/yr for a capacity in t/yr, 9.46-13.2 %/yr
    for a growth rate given as a fraction) ran to a total demand of 197 billion t; an unknown
    source id went into the experiment's inputs. Both are refused, with the unit to use."""
    src = pd.read_csv(builtin_uncertainty_path(), dtype=str, keep_default_na=False)
    src.loc[src["rule_id"] == "U_SAMUR_CAPACITY", ["low", "high"]] = ["7", "11"]
    src.loc[src["rule_id"] == "U_GROWTH_RU_IR", ["low", "high"]] = ["9.46", "13.2"]
    src.loc[src["rule_id"] == "U_OFFICIAL", "source"] = "NO_SUCH_SOURCE"
    p = tmp_path / "uncertainty.csv"
    src.to_csv(p, index=False)
    with pytest.raises(InputError) as e:
        corridor_inputs(data, p)
    msg = str(e.value)
    assert ("(U_SAMUR_CAPACITY): the dataset's figure of capacity_tpy (1.1e+07, the median of "
            "its rows) lies far above the range 7–11: a range is in the column's own unit "
            "(tonnes per year)") in msg
    assert "(U_GROWTH_RU_IR): the dataset's figure of growth_per_year" in msg
    assert "far below the range 9.46–13.2" in msg and "a fraction per year" in msg
    assert "(U_OFFICIAL): source NO_SUCH_SOURCE is not a source_id of sources.csv" in msg


def test_the_documented_entry_points_are_importable():
    """docs/model.md calls karvan.explore.explore(...), which did not exist there."""
    import karvan.explore as ke
    from karvan.explore.study import explore

    assert ke.explore is explore and "explore" in ke.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ke.nothing  # noqa: B018


def test_a_distributions_cdf_inverts_its_quantile_function():
    from karvan.explore.distributions import Distribution

    u = np.linspace(0.01, 0.99, 25)
    for d in (Distribution("lognormal", sigma=0.4), Distribution("normal", mean=3.0, sigma=2.0),
              Distribution("uniform", low=7e6, high=11e6),
              Distribution("loguniform", low=0.6, high=2.1),
              Distribution("triangular", low=1.0, high=5.0, mode=2.0)):
        got = [d.cdf(float(x)) for x in d.ppf(u)]
        assert np.allclose(got, u, atol=1e-9), d
    assert Distribution("uniform", low=1.0, high=2.0).cdf(0.5) == 0.0
    assert Distribution("triangular", low=1.0, high=5.0, mode=2.0).cdf(9.0) == 1.0


def test_inputs_whose_central_case_is_at_an_end_of_their_range_are_named(tmp_path):
    """The central case takes each input at the dataset's figure: the median of a factor's draws,
    but Samur's rail border (11 Mt/yr) is drawn from 7-11 Mt/yr, so every draw has less
    capacity than the central run, and a project's benefit of 16.5 M USD/yr sat at the 16th
    percentile of its band, which nothing said."""
    from karvan.explore.inputs import corridor_inputs
    from karvan.freight.corridor import load_corridor
    from karvan.report.uncertainty import off_centre_note

    t = corridor_inputs(load_corridor()).table()
    q = t.set_index("input")["central_quantile"]
    assert q["link.capacity:U_SAMUR_CAPACITY"] == 1.0
    assert q["growth.growth:U_GROWTH_RU_IR"] == 0.0
    factors = t[t["drawn"] == "factor"]
    assert len(factors) > 100 and np.allclose(factors["central_quantile"], 0.5)
    t.to_csv(tmp_path / "inputs.csv", index=False)
    note = off_centre_note(tmp_path)
    assert q["link.frequency:U_KURYK_FREQUENCY"] < 0.01  # 3.1 in 3.06-8.83
    assert note.startswith("the central case takes 4 inputs at an end of the range drawn")
    assert "link.capacity:U_SAMUR_CAPACITY at the top of uniform(7e+06, 1.1e+07)" in note
    assert "growth.growth:U_GROWTH_RU_IR at the bottom of" in note
    t.drop(columns="central_quantile").to_csv(tmp_path / "inputs.csv", index=False)
    assert off_centre_note(tmp_path) == ""  # an older experiment


def _ferry_decks(data) -> list[tuple[str, str]]:
    """(truck deck, wagon deck) of each ferry line: a rail ferry link ``X_RAIL`` and ``X``."""
    links = data.links
    rail = links.index[(links["mode"] == "ferry") & (links["submode"] == "rail")]
    return [(str(i).removesuffix("_RAIL"), str(i)) for i in rail
            if str(i).endswith("_RAIL") and str(i).removesuffix("_RAIL") in links.index]


def test_a_ferry_lines_two_decks_sail_as_often_in_every_draw(data, inputs):
    """A Caspian ferry line is two links, a truck deck and a wagon deck on the same vessels, but
    their sources differ (by the tariff's), so they drew two frequency factors: over 256 draws
    the Aktau line's truck deck sailed 0.15 to 13 times as often as its wagon deck."""
    pairs = _ferry_decks(data)
    assert len(pairs) == 3
    ids = [i for p in pairs for i in p]
    central = data.links.loc[ids, "frequency_per_week"].to_numpy(dtype=float)
    t = inputs.target("link", "frequency", ids, central)
    values = inputs.values(make_design(inputs, "lhs", 256, seed=0).u)
    drawn = np.array([t.apply(v) for v in values])
    for k, (truck, rail) in enumerate(pairs):
        a, b = drawn[:, 2 * k], drawn[:, 2 * k + 1]
        assert a.max() / a.min() > 1.5, truck  # the frequency is drawn
        np.testing.assert_allclose(a / b, central[2 * k] / central[2 * k + 1], rtol=1e-12,
                                   err_msg=f"{truck} and {rail} sail apart")


def test_together_rules_that_would_draw_apart_or_be_ignored_are_refused(tmp_path, data):
    base = {"kind": "together", "table": "link", "field": "frequency",
            "source": "KV_ASSUMPTION", "source_date": "2026", "confidence": "assumption",
            "method": "test"}
    p = _table(tmp_path, [
        {**base, "rule_id": "T_ONE", "row_id": "F_AZ_KZ_ALAT_AKTAU"},
        {**base, "rule_id": "T_DIST", "row_id": "F_AZ_KZ_ALAT_AKTAU;F_AZ_KZ_ALAT_AKTAU_RAIL",
         "distribution": "lognormal", "sigma": "0.2"},
        {**base, "rule_id": "T_CHOICE", "table": "choice", "field": "theta",
         "row_id": "a;b"},
    ])
    with pytest.raises(InputError) as e:
        read_uncertainty(p)
    msg = str(e.value)
    for rule, what in [("T_ONE", "two ids or more"), ("T_DIST", "leave distribution, sigma "
                                                               "blank"),
                       ("T_CHOICE", "names rows of one of the tables")]:
        assert rule in msg and what in msg, (rule, msg)
    q = _table(tmp_path, [
        # rows of another together rule, a range's rows, a row without the figure
        {**base, "rule_id": "T_TWICE", "row_id": "F_AZ_KZ_ALAT_AKTAU;F_AZ_KZ_ALAT_KURYK"},
        {**base, "rule_id": "T_RANGED", "field": "capacity",
         "row_id": "B_RU_AZ_SAMUR_RAIL;G_IR_INCHE_BURUN"},
        {**base, "rule_id": "T_BLANK", "row_id": "D_KZ_AKTAU_KURYK;F_RU_TM_MAKHACHKALA_"
                                                  "TURKMENBASHI"},
        # speeds of two lines: estimate (Aktau) and official (Turkmenbashi)
        {**base, "rule_id": "T_CLASSES", "field": "speed",
         "row_id": "F_AZ_KZ_ALAT_AKTAU;F_AZ_TM_ALAT_TURKMENBASHI"},
        {**base, "rule_id": "T_NOWHERE", "row_id": "F_NOWHERE;F_AZ_KZ_ALAT_AKTAU_RAIL"},
    ])
    with pytest.raises(InputError) as e:
        corridor_inputs(data, q)
    msg = str(e.value)
    for rule, what in [("T_TWICE", "already draw together for frequency (rule "
                                   "U_DECKS_ALAT_AKTAU"),
                       ("T_RANGED", "have a range for capacity (rule U_INCHE_BURUN_CAPACITY, "
                                    "U_SAMUR_CAPACITY)"),
                       ("T_BLANK", "frequency_per_week is blank on link rows D_KZ_AKTAU_KURYK"),
                       ("T_CLASSES", "confidence classes estimate (F_AZ_KZ_ALAT_AKTAU), "
                                     "official (F_AZ_TM_ALAT_TURKMENBASHI)"),
                       ("T_NOWHERE", "link has no rows F_NOWHERE")]:
        assert rule in msg and what in msg, (rule, msg)


def test_the_kuryk_lines_sailings_are_never_drawn_below_what_its_counted_trucks_need(
        data, inputs):
    """The Kuryk line's 3.1 sailings a week are the least that carries its 2021 count of 15,955
    trucks on 50-truck vessels (15,955 / 50 / 2 / 52.14 = 3.06), but were drawn by the class
    factor of an estimate (lognormal, sigma 0.3, around 3.1): 123 of 256 draws below 3.06."""
    ids = ["F_AZ_KZ_ALAT_KURYK", "F_AZ_KZ_ALAT_KURYK_RAIL"]
    bound = 15_955 / 50 / 2 / 52.14
    central = data.links.loc[ids, "frequency_per_week"].to_numpy(dtype=float)
    assert central.min() >= bound  # the dataset's own figure keeps the bound
    t = inputs.target("link", "frequency", ids, central)
    for sampler, n in (("lhs", 256), ("sobol", 32), ("morris", 8)):
        values = inputs.values(make_design(inputs, sampler, n, seed=0).u)
        drawn = np.array([t.apply(v) for v in values])
        assert drawn.min() >= round(bound, 2), sampler  # 3.06
        assert drawn.max() <= 8.83, sampler  # what the 2023 count at Kuryk fills
        np.testing.assert_array_equal(drawn[:, 0], drawn[:, 1])  # both decks, one draw
        assert drawn.max() - drawn.min() > 2, sampler  # across the range, not at the bound
