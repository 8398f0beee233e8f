"""The summary `karvan run` prints (karvan.scenario.summary), on runs made up to show each rule."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from karvan.scenario.summary import summary_tables


def fake_run(name: str, *, transit: dict[str, tuple[float, float]], year: int = 2028,
             choice: str = "logit", shipper: pd.DataFrame | None = None, **summary):
    """A solved scenario as summary_tables reads it: transit tonnes and revenue per country
    (Mt, M USD) and the headline figures."""
    countries = pd.DataFrame(
        [{"country": c, "tonnes": 2e6 * t, "transit_tonnes": 1e6 * t,
          "transit_revenue_usd": 1e6 * r} for c, (t, r) in transit.items()])
    tables = {"countries": countries,
              "bottlenecks": pd.DataFrame(columns=["link_id", "name", "capacity_tpy",
                                                   "utilization"]),
              "borders": pd.DataFrame({"border_id": ["A-B_X"], "tonnes_tot": [1e6]})}
    if shipper is not None:
        tables["shipper"] = shipper
    s = {"scenario": name, "year": year, "demand_t": 1e8, "no_path_t": 0.0,
         "ue_relative_gap": 0.0, "ue_iterations": 1, "ue_converged": True, "lp_binding": 0,
         "choice": choice, "elapsed_s": 1.0, **summary}
    return SimpleNamespace(scenario=SimpleNamespace(name=name, year=year), summary=s,
                           tables=tables)


def table(tables, start: str):
    [t] = [t for t in tables if t.title.startswith(start)]
    return t


def test_transit_tables_keep_the_largest_countries_of_each_scenario_by_their_own_measure():
    # Iran is third in both scenarios by tonnes and second by revenue; ranked by the maximum
    # tonnes across scenarios, Armenia's one peak (5 Mt in b) put it above Iran, and the
    # revenue table took that ranking too, showing Egypt (11 M USD) instead of Iran (400)
    a = fake_run("a", transit={"XK": (10, 900), "EG": (9, 11), "IR": (4, 400),
                               "AM": (0.3, 16), "XX": (50, 1000)})
    b = fake_run("b", transit={"XK": (10, 900), "EG": (9, 12), "IR": (4.5, 440), "AM": (5, 55),
                               "XX": (50, 1000)})
    tables = summary_tables([a, b], countries=3)
    tt = table(tables, "Transit by country")
    assert list(tt.data["country"]) == ["XK", "EG", "IR", "AM"]
    assert tt.title == "Transit by country, Mt/yr, sea legs left out"
    rev = table(tables, "Transit revenue by country")
    assert list(rev.data["country"]) == ["XK", "IR", "AM"]
    assert rev.data.set_index("country").loc["IR"].tolist() == [400, 440]
    assert rev.title == ("Transit revenue by country, M USD/yr, sea legs left out; the 3 largest "
                         "of each scenario shown, 1 smaller country left out (each run's "
                         "countries.csv has them all)")


def test_a_country_left_out_is_smaller_than_as_many_shown_in_every_scenario():
    rng = np.random.default_rng(7)
    codes = [f"C{i:02d}" for i in range(15)]
    runs = [fake_run(f"s{k}", transit={c: (float(x), float(y)) for c, x, y in zip(
        codes, rng.lognormal(0, 1.5, 15) * (rng.random(15) > 0.2), rng.lognormal(3, 2, 15),
        strict=True)}) for k in range(4)]
    n = 5
    tables = summary_tables(runs, countries=n)
    for start, col in (("Transit by country", "transit_tonnes"),
                       ("Transit revenue", "transit_revenue_usd")):
        t = table(tables, start)
        wide = pd.DataFrame({r.scenario.name: r.tables["countries"].set_index("country")[col]
                             for r in runs})
        shown = set(t.data["country"])
        left = [c for c in wide.index if c not in shown and (wide.loc[c] > 0).any()]
        for c in left:
            for s in wide.columns:
                assert (wide.loc[list(shown), s] > wide.at[c, s]).sum() >= n, (start, c, s)
        assert (f"{len(left)} smaller countr" in t.title) == bool(left), t.title


def test_printed_tables_keep_ids_whole_at_pipe_width():
    # at the pipe width (120) "Route families" showed sea_sue… for three families of one
    # country pair, and the scenario and border columns cut their ids the same way
    import io

    from rich.console import Console

    from karvan.cli.tables import print_tables
    from karvan.scenario.summary import SummaryTable

    names = ["baseline", "rasht_astara", "baku_astara_15mt", "south_caucasus_unblocked",
             "iran_disrupted", "combined_2030", "reference_2030", "reference_2028",
             "reference_2026"]
    families = ["sea_suez_baltic", "sea_suez_black_sea", "sea_suez_asia",
                "caspian_ferry_north_south"]
    shares = pd.DataFrame({"OD": "RU-IN", "family": families,
                           **{n: [0.224, 0.581, 0.012, 0.018] for n in names}})
    head = pd.DataFrame({"scenario": names, "year": "2030", "demand Mt": 116.42,
                         "LP unserved Mt": 0.44, "choice": "deterministic"})
    buf = io.StringIO()
    print_tables([SummaryTable("Route families", shares, {n: "{:.1%}" for n in names}),
                  SummaryTable("Scenarios", head, {"demand Mt": "{:,.2f}"})],
                 Console(file=buf, width=120))
    text = buf.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    cells = [[c.strip() for c in line.split("│")] for line in lines if "│" in line]
    assert sorted(c[2] for c in cells if c[1] == "RU-IN") == sorted(families)
    assert [c[1:3] for c in cells if c[1] in names] == [[n, "2030"] for n in names]
    assert all(c[-2] == "deterministic" for c in cells if c[1] in names)
    # every number whole too
    assert all(c[-8] == "58.1%" for c in cells if c[2:3] == ["sea_suez_black_sea"])


def test_scenarios_table_gives_the_convergence_of_the_model_that_ran():
    # a logit run solves no user equilibrium: its row has no UE gap but the largest excess
    # over a capacity; a deterministic run's row has its UE gap; not converged shows
    logit = fake_run("a", transit={"AZ": (1, 9)}, choice="logit", ue_relative_gap=0.0,
                     ue_iterations=22, max_capacity_excess=4.8e-9)
    det = fake_run("b", transit={"AZ": (1, 9)}, choice="deterministic", ue_relative_gap=3e-11,
                   ue_iterations=31, ue_converged=False)
    head = table(summary_tables([logit]), "Scenarios")
    assert "UE gap" not in head.data and "converged" not in head.data
    assert head.data.iloc[0][["choice", "iter.", "capacity excess"]].tolist() == [
        "logit", 22, 4.8e-9]
    assert "every run converged: logit, its capacity multipliers" in head.title
    assert "user equilibrium" not in head.title
    head = table(summary_tables([logit, det]), "Scenarios")
    d = head.data.set_index("scenario")
    assert d.loc["a", "converged"] == "yes" and d.loc["b", "converged"] == "no"
    assert np.isnan(d.loc["a", "UE gap"]) and d.loc["b", "UE gap"] == 3e-11
    assert np.isnan(d.loc["b", "capacity excess"])
    assert "deterministic, the user equilibrium (iter., UE gap)" in head.title
    # a run without the LP has no LP figures (not "binds nothing")
    nolp = fake_run("c", transit={"AZ": (1, 9)}, lp_binding=None, lp_unserved_t=None)
    row = table(summary_tables([nolp]), "Scenarios").data.iloc[0]
    assert np.isnan(row["LP binding"]) and np.isnan(row["LP unserved Mt"])


def test_shipper_table_tells_the_charge_from_the_generalized_cost():
    # the "$/t" shown was the generalized cost: INSTC West at 745 against Suez at 782 read as
    # a cheaper freight rate, while its charge is 89 USD/t higher
    sh = pd.DataFrame({"origin": "Z_RU_MOSCOW", "destination": "Z_IN_MUMBAI",
                       "commodity": "containers", "option_id": ["suez", "instc_west", "east"],
                       "available": [True, True, False], "time_days": [21.9, 16.9, np.nan],
                       "distance_km": [11198.5, 6533.0, np.nan],
                       "charge_usd_per_t": [234.9, 323.7, np.nan],
                       "cost_usd_per_t": [781.9, 745.3, np.nan]})
    run = fake_run("baseline", transit={"AZ": (1, 9)}, shipper=sh)
    t = table(summary_tables([run]), "Shipper comparison")
    assert "$/t" not in t.data
    d = t.data.set_index("route")
    assert d.loc["instc_west", ["charge $/t", "generalized cost $/t"]].tolist() == [323.7, 745.3]
    assert d.loc["suez", ["charge $/t", "generalized cost $/t"]].tolist() == [234.9, 781.9]
    assert d.loc["east", ["charge $/t", "generalized cost $/t"]].isna().all()
    assert ("best route per option by generalized cost (charge + value of time x time, USD/t); "
            "charge: freight charges and fees paid, USD/t") in t.title


def test_the_shipper_comparison_of_every_scenario_is_shown_side_by_side():
    # the first run's comparison alone was shown (a reference's), so what a project saves a
    # shipper against Suez was in no printed table
    def sh(rail):
        return pd.DataFrame({"origin": "Z_RU_MOSCOW", "destination": "Z_IN_MUMBAI",
                             "commodity": "containers",
                             "option_id": ["suez", "instc_west", "instc_west_rasht_astara"],
                             "available": [True, True, rail is not None],
                             "time_days": 20.0, "distance_km": 1e4, "charge_usd_per_t": 300.0,
                             "cost_usd_per_t": [765.6, 745.3, np.nan if rail is None else rail]})
    runs = [fake_run("reference_2028", transit={"AZ": (1, 9)}, shipper=sh(None)),
            fake_run("rasht_astara", transit={"AZ": (1, 9)}, shipper=sh(800.1))]
    tables = summary_tables(runs)
    assert table(tables, "Shipper comparison (reference_2028)")
    t = table(tables, "Shipper comparison by scenario").data.set_index("route")
    assert list(t.columns[-2:]) == ["reference_2028", "rasht_astara"]
    assert t.loc["suez", ["reference_2028", "rasht_astara"]].tolist() == [765.6, 765.6]
    assert np.isnan(t.loc["instc_west_rasht_astara", "reference_2028"])
    assert t.loc["instc_west_rasht_astara", "rasht_astara"] == 800.1
    # one run: nothing side by side
    assert not [x for x in summary_tables(runs[:1]) if "by scenario" in x.title]


def test_transit_tables_leave_out_every_country_that_has_only_sea_legs():
    # Egypt's one link is the Suez Canal leg, a sea leg: its "transit revenue" was the ocean
    # freight charged on it (no canal dues), listed under a title that says sea legs are left out
    a = fake_run("a", transit={"GE": (3, 30), "EG": (9, 11), "XX": (50, 1000)})
    a.tables["countries"]["sea_legs_only"] = [False, True, True]
    tables = summary_tables([a])
    for start in ("Transit by country", "Transit revenue by country"):
        t = table(tables, start)
        assert list(t.data["country"]) == ["GE"], start
        assert t.title.endswith(", sea legs left out"), t.title


def test_calibration_notes_say_what_the_statistics_leave_out():
    """A row of a year without a run dropped out of the statistics without a word, and a
    figure in kt read as t (ratio 2,133) changed no printed statistic."""
    from karvan.scenario.summary import calibration_notes

    r = fake_run("baseline", transit={"AZ": (1.0, 1.0)}, year=2024)
    r.tables["calibration"] = pd.DataFrame({
        "observed_id": ["A", "B", "C", "D"], "year": [2024, 2015, 2024, 2024],
        "compared": [True, False, True, True], "ratio": [1.1, np.nan, 2132.9, 0.05]})
    notes = calibration_notes([r])
    assert "baseline: 1 rows not compared, no run of their year (2015: B)" in notes
    assert ("baseline: 2 rows beyond a factor 10 (C 2.13e+03, D 0.05): check their "
            "tonnes_per_year is in tonnes") in notes
    r.tables["calibration"] = r.tables["calibration"].iloc[[0]]
    assert calibration_notes([r]) == ""
    # a run of a year without counts compares nothing: not in the table, no note of its rows
    p = fake_run("rasht_astara", transit={"AZ": (1.0, 1.0)}, year=2028)
    p.tables["calibration"] = pd.DataFrame({"observed_id": ["A", "B"], "year": [2024, 2015],
                                            "compared": [False, False],
                                            "ratio": [np.nan, np.nan]})
    assert calibration_notes([p]) == ""


def test_runs_of_several_years_are_said_to_hold_demand_growth():
    """Karvan run of every scenario put 2024 beside 2028 (Azerbaijan's transit 10.4 against
    13.5 Mt, of which 2.7 Mt growth and the end of the Armenia-Azerbaijan bans) without a
    word; one year gets no such note."""
    a = fake_run("baseline", transit={"AZ": (10.4, 270)}, year=2024)
    b = fake_run("rasht_astara", transit={"AZ": (13.5, 347)}, year=2028)
    c = fake_run("reference_2028", transit={"AZ": (13.1, 340)}, year=2028)
    note = ("; runs of 2024, 2028: a difference between years holds demand growth too "
            "(`karvan compare <scenario>` sets a scenario against the reference of its year)")
    for start in ("Border crossings", "Transit by country", "Transit revenue by country"):
        assert table(summary_tables([a, b]), start).title.endswith(note)
        assert "demand growth" not in table(summary_tables([b, c]), start).title


def test_bottlenecks_give_the_choice_models_shadow_price_beside_the_lps():
    # "utilization at equilibrium, LP shadow price": under logit no equilibrium is solved, and
    # the Astara gauge change at 17.6 % showed the LP's 5.0 $/t as if it were what shippers pay
    # while the choice model's own price (0) was not shown
    run = fake_run("p", transit={"AZ": (1, 9)})
    run.tables["bottlenecks"] = pd.DataFrame({
        "link_id": ["G", "S"], "name": ["gauge change", "Samur"], "capacity_tpy": [5e6, 11e6],
        "utilization": [0.176, 0.909], "choice_shadow_price_usd_per_t": [0.0, 0.0],
        "shadow_price_usd_per_t": [5.0, 4.6]})
    t = table(summary_tables([run]), "Bottlenecks")
    assert t.data[["choice $/t", "LP $/t"]].values.tolist() == [[0.0, 5.0], [0.0, 4.6]]
    assert "the choice model's (what shippers pay there)" in t.title
    assert "and the capacity LP's" in t.title
    assert "limit $/t" not in t.data  # no deterministic limit solved
    # with the limit's price (the LP over the choice model's route sets at its costs)
    run.tables["bottlenecks"]["limit_shadow_price_usd_per_t"] = [0.0, 1.0]
    t = table(summary_tables([run]), "Bottlenecks")
    assert t.data[["choice $/t", "limit $/t", "LP $/t"]].values.tolist() == [
        [0.0, 0.0, 5.0], [0.0, 1.0, 4.6]]
    assert "its limit's (each shipper on its cheapest route" in t.title
    run.tables["bottlenecks"] = run.tables["bottlenecks"].drop(
        columns="limit_shadow_price_usd_per_t")
    assert "LP utilization" not in t.data  # a run without the LP's own use of the links
    # with it: why the gauge change at 17.6 % is a bottleneck (the LP fills it)
    run.tables["bottlenecks"]["lp_utilization"] = [1.0, 0.95]
    t = table(summary_tables([run]), "Bottlenecks")
    assert t.data[["utilization", "LP utilization"]].values.tolist() == [[0.176, 1.0],
                                                                          [0.909, 0.95]]
    assert "LP utilization is the LP's own use of it" in t.title
    run.tables["bottlenecks"] = run.tables["bottlenecks"].drop(columns="lp_utilization")
    assert "at equilibrium" not in t.title
    # a deterministic run has the LP's alone
    det = fake_run("d", transit={"AZ": (1, 9)}, choice="deterministic")
    det.tables["bottlenecks"] = run.tables["bottlenecks"].drop(
        columns="choice_shadow_price_usd_per_t")
    t = table(summary_tables([det]), "Bottlenecks")
    assert "choice $/t" not in t.data and "the capacity LP's shadow price" in t.title
    # the LP's count of binding capacities is a count
    head = table(summary_tables([run]), "Scenarios")
    assert head.formats["LP binding"] == "{:.0f}"


def test_a_comparison_without_change_says_so():
    # rasht_astara against baku_astara_15mt: rows of 0.00 under "largest changes"
    from karvan.scenario.summary import comparison_tables

    same = pd.DataFrame({"border_id": ["X", "Y"], "tonnes_tot_a": [1e6, 2e6],
                         "tonnes_tot_b": [1e6, 2e6], "tonnes_tot_diff": [0.0, 0.0]})
    moved = same.assign(tonnes_tot_b=[1.5e6, 2e6], tonnes_tot_diff=[5e5, 0.0])
    [t] = comparison_tables({"borders": same}, "a", "b")
    assert t.title == "borders: b - a (no change in any row)"
    [t] = comparison_tables({"borders": moved}, "a", "b")
    assert t.title == "borders: b - a (largest changes)"


def test_a_comparison_shows_the_largest_changes_of_each_column():
    """baku_astara_15mt against rasht_astara: the line's capacity doubled and no tonne moved,
    so the links ranked by tonnes showed ten rows of 0.00 and not the line's utilization (18.3 %
    -> 8.6 %); the countries ranked by tonnes left out Russia's revenue (+7.4 M USD/yr)."""
    from karvan.scenario.summary import comparison_tables

    n = 15
    links = pd.DataFrame({"link_id": [f"L{i}" for i in range(n)], "tonnes_tot_a": 1e6,
                          "tonnes_tot_b": 1e6, "tonnes_tot_diff": 0.0, "utilization_a": 0.3,
                          "utilization_b": 0.3, "utilization_diff": 0.0})
    links.loc[12, ["utilization_b", "utilization_diff"]] = [0.086, -0.097]
    [t] = comparison_tables({"links": links}, "a", "b", top=5)
    assert t.data["link_id"].tolist() == ["L12"]
    assert t.title == "links: b - a (the 5 largest changes of each of tonnes_tot, utilization)"
    countries = pd.DataFrame({"country": [f"C{i}" for i in range(n)]})
    for c, d in (("tonnes", np.arange(n, 0, -1) * 1e5), ("transit_tonnes", np.zeros(n)),
                 ("transit_revenue_usd", np.zeros(n)), ("revenue_usd", np.zeros(n))):
        countries[f"{c}_a"], countries[f"{c}_b"], countries[f"{c}_diff"] = 0.0, d, d
    countries.loc[14, ["revenue_usd_b", "revenue_usd_diff"]] = 7.4e6  # the smallest in tonnes
    [t] = comparison_tables({"countries": countries}, "a", "b", top=5)
    assert t.data["country"].tolist() == ["C0", "C1", "C2", "C3", "C4", "C14"]


def test_the_comparison_head_names_a_and_b_not_a_reference_that_is_none():
    # `karvan compare rasht_astara baseline` printed "reference: rasht_astara"
    from karvan.scenario.reference import comparison_table, describe_comparison
    from karvan.scenario.summary import comparison_tables

    ref = comparison_table(describe_comparison("rasht_astara", 2028, "baseline", 2024))
    [t] = comparison_tables({"reference": ref}, "a", "b")
    assert t.data.iloc[0][["B", "A (compared with)"]].tolist() == ["baseline", "rasht_astara"]
    assert "reference" not in t.data
    # the CSV keeps its columns (scripts read them)
    assert "reference" in ref


def test_a_what_if_of_a_counted_year_is_not_shown_as_a_check_of_the_model():
    """A scenario of 2024 (ferry fares cut by a quarter) was printed in the calibration table
    beside the baseline, its 'target met' read as a check of the model; its rows of 2024 set a
    what-if against what was counted. They are left out and said so; its rows of other years,
    compared with the back-casts, are shown under its name."""
    from karvan.calibrate.statistics import row_statistics, summarize

    def cal(own: str) -> pd.DataFrame:
        return row_statistics(pd.DataFrame({
            "observed_id": ["A", "B", "C"], "observed_tonnes": [100.0, 100.0, 100.0],
            "modelled_tonnes": [110.0, 300.0, 120.0], "compared": [True, True, True],
            "independent": [True, True, True], "role": ["fit", "validate", "validate"],
            "year": [2024, 2024, 2023], "run": [own, own, "backcast_2023"]}))

    runs = []
    for name in ("baseline", "fares_cut"):
        r = fake_run(name, transit={"AZ": (1.0, 1.0)}, year=2024)
        r.tables["calibration"] = cal(name)
        r.tables["calibration_summary"] = summarize(cal(name))
        runs.append(r)
    t = table(summary_tables(runs), "Calibration")
    shown = t.data.set_index(["scenario", "rows"])["compared"]
    assert shown[("baseline", "validate")] == 2 and shown[("baseline", "fit (independent)")] == 1
    assert shown.loc["fares_cut (back-casts)"].to_dict() == {"validate": 1}
    assert ("; fares_cut: not what happened in the year, a what-if whose rows of that year "
            "check nothing of the model") in t.title
    # the references alone: nothing said; the what-if alone: said, with its back-cast rows
    assert "what-if" not in table(summary_tables(runs[:1]), "Calibration").title
    alone = table(summary_tables(runs[1:]), "Calibration")
    assert "fares_cut: not what happened" in alone.title
    assert set(alone.data["scenario"]) == {"fares_cut (back-casts)"}
