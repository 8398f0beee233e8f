"""Bands, effects, statements and rank-correlation sensitivity on frames built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.explore.analysis import (
    Statement,
    bands,
    default_statements,
    rank_correlation,
    significant,
    statement_table,
)


def _draws():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    rows = []
    for scen, shift in (("project", 1.0), ("ref", 0.0)):
        d = pd.DataFrame({"scenario": scen, "draw": np.arange(-1, n),
                          "out:a": np.r_[0.0, x] + shift,
                          "out:share:RU-IN:instc_west": np.r_[0.5, 0.5 + 0.1 * x] + 0.1 * shift,
                          "out:shipper:o-d:c:suez:cost_usd_per_t": 100.0,
                          "out:shipper:o-d:c:west:cost_usd_per_t": np.r_[90.0, 100 + 10 * x]})
        rows.append(d)
    return pd.concat(rows, ignore_index=True), x


def test_bands_and_effects_pair_draws():
    d, x = _draws()
    b = bands(d, {"project": "ref", "ref": None}).set_index(["scenario", "output"])
    assert b.at[("ref", "a"), "p50"] == np.percentile(x, 50)
    assert b.at[("ref", "a"), "central"] == 0.0
    # the effect is exactly 1 in every draw: paired, no sampling noise
    e = b.loc[("project", "effect:a")]
    assert abs(e["p5"] - 1.0) < 1e-12 and abs(e["p95"] - 1.0) < 1e-12  # rounding of x + 1 - x
    assert e["kind"] == "effect" and e["reference"] == "ref"
    assert b.at[("ref", "a"), "n"] == 200


def test_statements_probabilities():
    d, x = _draws()
    refs = {"project": "ref", "ref": None}
    outs = {s: [c[4:] for c in d if c.startswith("out:")] for s in refs}
    st = default_statements(outs, refs, {"west": "INSTC West"})
    t, q = statement_table(d, st, refs)
    t = t.set_index("statement_id")
    cheaper = t.loc["ref:o-d:c:west_cheaper_than_suez"]
    assert cheaper["probability"] == (x < 0).mean()
    assert bool(cheaper["central_holds"])  # 90 < 100 at the centre
    assert "INSTC West is cheaper than Suez" in cheaper["text"]
    west = t.loc["project:moves_west:share:RU-IN:instc_west"]
    assert west["probability"] == 1.0
    assert "by 0.1 percentage point or more" in west["text"]
    assert len(q["ref:o-d:c:west_cheaper_than_suez"][1]) == 200
    s = Statement("x", "a above 0", "ref", "a", ">", 0.0)
    t2, _ = statement_table(d, [s], refs)
    assert t2["probability"][0] == (x > 0).mean()


def test_rank_correlation_finds_the_one_input_and_no_spurious_ones():
    rng = np.random.default_rng(3)
    u = rng.random((64, 300))
    y = np.exp(3 * u[:, 7]) + 0.1 * rng.random(64)
    s = rank_correlation(u, y, [f"f{i}" for i in range(300)])
    assert list(s.loc[significant(s), "factor"]) == ["f7"]
    noise = rank_correlation(u, rng.random(64), [f"f{i}" for i in range(300)])
    assert not significant(noise).any()


def test_too_few_draws_make_no_input_significant():
    """At 2 draws every factor had rho = +-1 and was significant (the deciding inputs were the
    first three listed); at 8 draws among 491 factors, chance alone gives some factor a rho near
    1 (the exact null of 8 ranks puts |rho| >= 0.976 at 4e-4, so about 0.2 for some one of
    491), which Fisher's z called significant."""
    names = [f"f{i}" for i in range(491)]
    rng = np.random.default_rng(5)
    for n in (2, 5, 8):
        u = np.column_stack([rng.permutation(n) for _ in names]) / n
        s = rank_correlation(u, rng.random(n), names)
        assert not significant(s).any(), n
    # and with enough draws the one input that decides is found
    u = rng.random((64, 491))
    s = rank_correlation(u, np.exp(3 * u[:, 7]), names)
    assert list(s.loc[significant(s), "factor"]) == ["f7"]


def test_unconverged_draws_are_counted_in_bands_and_statements():
    d, x = _draws()
    d["_converged"] = 1.0
    d.loc[(d["scenario"] == "ref") & d["draw"].isin([3, 4]), "_converged"] = 0.0
    d.loc[(d["scenario"] == "project") & d["draw"].isin([4, 9]), "_converged"] = 0.0
    refs = {"project": "ref", "ref": None}
    b = bands(d, refs).set_index(["scenario", "output"])
    assert b.at[("ref", "a"), "n_unconverged"] == 2
    assert b.at[("project", "a"), "n_unconverged"] == 2
    assert b.at[("project", "effect:a"), "n_unconverged"] == 3  # draws 3, 4, 9
    st = [Statement("e", "effect above 0", "project", "effect:a", ">", 0.0),
          Statement("l", "a above 0", "ref", "a", ">", 0.0)]
    t, _ = statement_table(d, st, refs)
    assert t.set_index("statement_id")["n_unconverged"].to_dict() == {"e": 3, "l": 2}


def test_sobol_intervals_are_the_same_from_one_analysis_to_the_next():
    """SALib takes seed 0 for no seed: the intervals (and the inputs called deciding) changed."""
    from SALib.sample import sobol as sobol_sample

    from karvan.explore.analysis import sensitivity

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0.0, 1.0]] * 3}
    u = sobol_sample.sample(problem, 64, calc_second_order=False, seed=1)
    y = 3 * u[:, 0] + u[:, 1] ** 2 + 0.1 * u[:, 2]
    one = sensitivity(u, problem, "sobol", y, seed=0)
    two = sensitivity(u, problem, "sobol", y, seed=0)
    pd.testing.assert_frame_equal(one, two)


def test_bands_say_whether_the_central_case_lies_in_them():
    """A total over many inputs, each a lognormal factor of median 1 (the dataset's figure, the
    central case), has its median near the sum of their means, exp(sigma^2 / 2) = 1.13 each at
    sigma 0.5: its band sits above the central case, which bands.csv now says."""
    from karvan.explore.analysis import central_in_band

    rng = np.random.default_rng(5)
    n_draws, n_rows, sigma = 200, 100, 0.5
    factors = np.exp(sigma * rng.standard_normal((n_draws, n_rows)))
    total = np.r_[float(n_rows), factors.sum(axis=1)]  # draw -1: every factor at 1
    d = pd.DataFrame({"scenario": "s", "draw": np.arange(-1, n_draws), "out:total": total,
                      "out:one": np.r_[1.0, factors[:, 0]], "out:blank": np.nan})
    b = bands(d).set_index("output")
    t = b.loc["total"]
    assert t["central"] == n_rows < t["p5"]
    assert t["p50"] / t["central"] == pytest.approx(np.exp(sigma**2 / 2), rel=0.02)
    assert not bool(t["central_in_band"])
    assert bool(b.at["one", "central_in_band"])  # one factor: its median is the central case
    assert pd.isna(b.at["blank", "central_in_band"])
    # where it lies among the draws: the total below every draw, one factor at its median
    assert t["central_percentile"] == pytest.approx(100 * (total[1:] < n_rows).mean())
    assert t["central_percentile"] < 5
    assert b.at["one", "central_percentile"] == pytest.approx(
        100 * (factors[:, 0] < 1.0).mean(), abs=1e-9)
    assert 35 < b.at["one", "central_percentile"] < 65
    assert pd.isna(b.at["blank", "central_percentile"])
    # an effect the same in every draw is in its band, rounding aside
    d2 = pd.concat([d.assign(scenario="p", **{"out:total": d["out:total"] + 0.1}), d])
    e = bands(d2, {"p": "s"}).set_index(["scenario", "output"]).loc[("p", "effect:total")]
    assert bool(e["central_in_band"])
    assert central_in_band(pd.Series([1e6]), [1e6 * (1 + 1e-12)], [1e6 * (1 + 2e-12)]).all()


def test_a_projects_new_link_has_an_effect_band_of_its_tonnes():
    """The reference has no Rasht-Astara link, so its tonnes there were blank and the effect
    band of the project's own link had n=0; a link that does not exist carries 0 t. Its
    utilization stays without an effect (no capacity to compare with)."""
    rng = np.random.default_rng(1)
    t = rng.uniform(1e6, 3e6, 20)
    rows = []
    for scen, tonnes, util in (("project", t, t / 4e6), ("ref", np.nan, np.nan)):
        rows.append(pd.DataFrame({"scenario": scen, "draw": np.arange(-1, 20),
                                  "out:link:NEW:tonnes": np.r_[2e6, t] if scen == "project"
                                  else tonnes,
                                  "out:link:NEW:utilization": np.r_[0.5, util]
                                  if scen == "project" else util,
                                  "out:a": 1.0}))
    b = bands(pd.concat(rows, ignore_index=True),
              {"project": "ref", "ref": None}).set_index(["scenario", "output"])
    e = b.loc[("project", "effect:link:NEW:tonnes")]
    assert e["n"] == 20 and e["central"] == 2e6
    assert e["p50"] == pytest.approx(np.percentile(t, 50))
    assert not b.loc[("project", "effect:link:NEW:utilization"), "n"] > 0


def test_the_users_benefit_is_the_fall_of_the_demands_expected_cost():
    rng = np.random.default_rng(1)
    n = 50
    cost = 1e9 + 1e7 * rng.normal(size=n + 1)
    saving = 2e6 + 1e6 * rng.normal(size=n + 1)
    demand = np.full(n + 1, 1e8)
    rows = [pd.DataFrame({"scenario": "ref", "draw": np.arange(-1, n),
                          "out:total:expected_cost_usd": cost, "out:total:demand_t": demand}),
            pd.DataFrame({"scenario": "project", "draw": np.arange(-1, n),
                          "out:total:expected_cost_usd": cost - saving,
                          "out:total:demand_t": demand}),
            # a scenario that changes demand: the difference of totals is no benefit
            pd.DataFrame({"scenario": "more", "draw": np.arange(-1, n),
                          "out:total:expected_cost_usd": cost * 1.1,
                          "out:total:demand_t": demand * 1.1})]
    d = pd.concat(rows, ignore_index=True)
    refs = {"ref": None, "project": "ref", "more": "ref"}
    b = bands(d, refs).set_index(["scenario", "output"])
    e = b.loc[("project", "effect:users_benefit_usd")]
    assert e["central"] == pytest.approx(saving[0], rel=1e-6)
    assert e["p50"] == pytest.approx(np.percentile(saving[1:], 50), rel=1e-6)
    assert ("more", "effect:users_benefit_usd") not in b.index or np.isnan(
        b.loc[("more", "effect:users_benefit_usd"), "p50"])
    outs = {s: [c[4:] for c in d if c.startswith("out:")] for s in refs}
    st = default_statements(outs, refs)
    t = statement_table(d, st, refs)[0].set_index("statement_id")
    assert t.loc["project:users_benefit", "probability"] == (saving[1:] > 0).mean()
    assert "lowers shippers' expected generalized cost against ref" in t.loc[
        "project:users_benefit", "text"]


@pytest.mark.parametrize("column", ["blank", "missing"])
@pytest.mark.parametrize("sign", [1, -1], ids=["opens", "closes"])
def test_a_border_one_side_keeps_closed_has_an_effect_band_of_its_tonnes(column, sign):
    """south_caucasus_unblocked opens four Armenia-Azerbaijan borders that reference_2030 keeps
    closed, iran_disrupted closes the Astara, Julfa and Bazargan crossings: the side with the
    border closed has no output for it (blank in every draw, or no column), and the effect
    bands had n 0, for exactly the crossings the scenarios are about. A closed border carries
    0 t (as a link one side lacks)."""
    rng = np.random.default_rng(2)
    t = rng.uniform(1e5, 2e6, 20)
    col = "out:border:X:tonnes"
    with_it = {"draw": np.arange(-1, 20), col: np.r_[8e5, t], "out:a": 1.0}
    without = {"draw": np.arange(-1, 20), "out:a": 1.0}
    if column == "blank":
        without[col] = np.nan
    proj, ref = (with_it, without) if sign == 1 else (without, with_it)
    b = bands(pd.concat([pd.DataFrame({"scenario": "project", **proj}),
                         pd.DataFrame({"scenario": "ref", **ref})], ignore_index=True),
              {"project": "ref", "ref": None}).set_index(["scenario", "output"])
    e = b.loc[("project", "effect:border:X:tonnes")]
    assert e["n"] == 20 and e["central"] == sign * 8e5
    assert e["p95"] == pytest.approx(np.percentile(sign * t, 95))


def test_the_countries_whose_transit_a_project_moves_most_get_statements():
    """Explore's statements were of Astara, Suez and Russia-India only: how sure Armenia's gain
    from an opened border is had to be read off bands.csv. The countries whose transit a
    project changes most in the central case (the Caspian and the open sea aside) now get a
    statement each, in the direction of the central change."""
    rng = np.random.default_rng(1)
    n = 100
    noise = rng.normal(size=n)
    # central transit (t/yr) of the reference and the project, by country; the draws add noise
    ref_t = {"AM": 0.8e6, "AZ": 10e6, "GE": 12e6, "XC": 3e6, "TR": 1e6, "KZ": 7e6}
    change = {"AM": 4.1e6, "AZ": 6e6, "GE": -0.9e6, "XC": 9e6, "TR": 5e3, "KZ": 0.0}
    rows = []
    for scen, add in (("ref", 0.0), ("project", 1.0)):
        cols = {f"out:country:{c}:transit_tonnes":
                np.r_[v + add * change[c], v + add * change[c] + 1e6 * noise]
                for c, v in ref_t.items()}
        rows.append(pd.DataFrame({"scenario": scen, "draw": np.arange(-1, n), **cols}))
    d = pd.concat(rows, ignore_index=True)
    refs = {"ref": None, "project": "ref"}
    b = bands(d, refs)
    outs = {s: [c[4:] for c in d if c.startswith("out:")] for s in refs}
    st = {s.statement_id: s for s in default_statements(
        outs, refs, central=b[["scenario", "output", "central"]])}
    # the three largest changes but the Caspian's; TR's 5 kt is below the least that counts
    assert [k for k in st if ":transit:" in k] == ["project:transit:AZ", "project:transit:AM",
                                                   "project:transit:GE"]
    assert st["project:transit:AM"].text == "project raises AM's transit tonnes against ref"
    assert (st["project:transit:GE"].op, st["project:transit:GE"].text) == (
        "<", "project lowers GE's transit tonnes against ref")
    t = statement_table(d, list(st.values()), refs)[0].set_index("statement_id")
    # the effect's noise cancels (the same draws in both): AM's gain holds in every draw
    assert t.loc["project:transit:AM", "probability"] == 1.0
    assert not [k for k in st if k.startswith("ref:")]  # a reference has no effect
    # a project that changes no country's transit by as much gets none (an empty selection
    # took the column's rows, unnamed, and failed)
    small = b.assign(central=np.where(b["output"].str.startswith("effect:"), 1.0, b["central"]))
    assert not [s for s in default_statements(outs, refs, central=small[
        ["scenario", "output", "central"]]) if ":transit:" in s.statement_id]
    # without the bands' central effects: no such statements, as before
    assert not [s for s in default_statements(outs, refs) if ":transit:" in s.statement_id]
    # a country whose links are all sea legs (Egypt's Suez Canal) is left out as the Caspian
    st = [s.statement_id for s in default_statements(
        outs, refs, central=b[["scenario", "output", "central"]],
        sea_countries=("XC", "XX", "AZ"))]
    assert [k for k in st if ":transit:" in k] == ["project:transit:AM", "project:transit:GE"]


def test_the_fan_charts_hold_the_users_benefit_and_the_transit_a_project_moves():
    """The experiment's page had fan charts of four outputs: neither the users' benefit nor any
    country's transit, though explore prints the one and bands.csv holds the other."""
    from karvan.explore.analysis import fan_chart_data

    n = 50
    rows = []
    change = {"AM": 4.1e6, "AZ": -6e6, "XC": 9e6, "TR": 5e3}
    for scen, add in (("ref", 0.0), ("project", 1.0)):
        cols = {f"out:country:{c}:transit_tonnes": np.r_[1e7 + add * v, 1e7 + add * v
                                                          + np.linspace(-1e5, 1e5, n)]
                for c, v in change.items()}
        cols |= {f"out:country:{c}:transit_revenue_usd": np.full(n + 1, 5e7 + add * v * 20)
                 for c, v in change.items()}
        cols["out:total:expected_cost_usd"] = np.full(n + 1, 1e9 - add * 3e7)
        cols["out:total:demand_t"] = np.full(n + 1, 1e8)
        cols["out:border:AZ-IR_ASTARA:tonnes"] = np.full(n + 1, 1e6 + add * 2e5)
        rows.append(pd.DataFrame({"scenario": scen, "draw": np.arange(-1, n), **cols}))
    b = bands(pd.concat(rows, ignore_index=True), {"ref": None, "project": "ref"})
    fan = fan_chart_data(b, sea_countries=("XC", "XX"))
    assert list(fan["output"]) == [
        "effect:users_benefit_usd", "effect:border:AZ-IR_ASTARA:tonnes",
        "effect:country:AZ:transit_tonnes", "effect:country:AZ:transit_revenue_usd",
        "effect:country:AM:transit_tonnes", "effect:country:AM:transit_revenue_usd"]
    assert fan.loc[0, "central"] == pytest.approx(3e7)  # the fall of the expected cost
    assert fan.loc[2, "central"] == pytest.approx(-6e6)


def test_the_countries_of_sea_legs_only_are_the_caspians_the_seas_and_egypts():
    """An experiment analysed again (analyse_experiment without sea_countries) read only the
    Caspian and the open sea as such, and gave Egypt a transit statement: it now reads them
    from the experiment's dataset, as explore does."""
    from karvan.explore.analysis import _sea_countries
    from karvan.explore.study import sea_countries
    from karvan.freight.corridor import builtin_corridor_folder, load_corridor

    data = load_corridor()
    assert sea_countries(data) == ["EG", "XC", "XX"]
    links = data.links
    assert set(links.loc[links["country"] == "EG", "mode"]) <= {"sea", "ferry"}
    assert _sea_countries(str(builtin_corridor_folder())) == sea_countries(data)
    assert _sea_countries(None) == ["XX", "XC"] == _sea_countries("/no/such/folder")


def test_moving_west_takes_more_than_rounding():
    """A scenario that moves nothing west (effects of 1e-11 on the share, +2.4 kt across
    Astara) held "raises INSTC West's share" in half the draws and "raises tonnes across
    Astara" in 81 %; the statements ask for 0.1 percentage point and 10 kt/yr."""
    rng = np.random.default_rng(1)
    n = 100
    rows = []
    for scen, share, tonnes in (("project", 1e-11, 2_400.0), ("ref", 0.0, 0.0)):
        rows.append(pd.DataFrame({
            "scenario": scen, "draw": np.arange(-1, n),
            "out:share:RU-IN:instc_west": 0.2 + share * np.r_[1.0, rng.random(n)],
            "out:border:AZ-IR_ASTARA:tonnes": 1e6 + tonnes * np.r_[1.0, 2 * rng.random(n)]}))
    d = pd.concat(rows, ignore_index=True)
    refs = {"project": "ref", "ref": None}
    outs = {s: [c[4:] for c in d if c.startswith("out:")] for s in refs}
    t, _ = statement_table(d, default_statements(outs, refs), refs)
    t = t.set_index("statement_id")
    assert t.at["project:moves_west:share:RU-IN:instc_west", "probability"] == 0.0
    assert t.at["project:moves_west:border:AZ-IR_ASTARA:tonnes", "probability"] == 0.0
    assert "10 kt/yr or more" in t.at["project:moves_west:border:AZ-IR_ASTARA:tonnes", "text"]
