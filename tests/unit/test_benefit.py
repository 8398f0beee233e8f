"""Users' benefit of one run against another: hand-solved on a toy corridor, the rule of a half
where demand differs, pairs without a route in one run, and the same figure in `karvan run`'s
summary, `karvan compare` and its CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.benefit import COLUMNS, benefit_totals, run_benefit, users_benefit
from karvan.freight.corridor import load_corridor
from karvan.scenario.run import run_scenario
from karvan.scenario.spec import load_scenario
from tests.toy_corridor import write_corridor


def rail(i, a, b, km):
    return {"link_id": i, "from_node_id": a, "to_node_id": b, "mode": "rail", "length_km": km,
            "speed_kph": 50.0, "tariff_usd_per_tkm": 0.03, "vdf": "none", "country": "AA"}


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    """The toy corridor of :func:`toy`."""
    tmp = tmp_path_factory.mktemp("benefit_data")
    return load_corridor(_toy_corridor(tmp))


def _toy_corridor(tmp):
    return write_corridor(
        tmp / "c", nodes=[("X", 0, 0, "AA"), ("M", 1, 1, "AA"), ("Y", 2, 0, "AA")],
        links=[rail("xm", "X", "M", 100), rail("my", "M", "Y", 100), rail("xy", "X", "Y", 500)],
        zones=[("ZX", "X", "AA"), ("ZM", "M", "AA"), ("ZY", "Y", "AA")],
        commodities=[("grain", 1.0, 200.0), ("steel", 2.0, 600.0)],
        demand=[("ZX", "ZY", "grain", 900.0), ("ZX", "ZY", "steel", 400.0),
                ("ZY", "ZX", "grain", 100.0), ("ZX", "ZM", "grain", 50.0)])


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """X -> Y by rail via M (100 + 100 km) or direct (500 km), 50 km/h and 0.03 USD/tkm:
    via M 6 USD/t and 4 h, direct 15 USD/t and 10 h. Grain's value of time 1 USD/t/h, steel's
    2. The reference closes M -> Y; the project is the network as it is."""
    tmp = tmp_path_factory.mktemp("benefit")
    data = load_corridor(_toy_corridor(tmp))
    ref = tmp / "ref.toml"
    ref.write_text('name = "ref"\nyear = 2024\n[[modification]]\naction = "close"\n'
                   'links = ["my"]\n')
    proj = tmp / "proj.toml"
    proj.write_text('name = "proj"\nyear = 2024\n')
    runs = [run_scenario(data, load_scenario(p), choice="deterministic", lp=False)
            for p in (ref, proj)]
    return runs


def test_the_benefit_of_opening_a_shorter_route_is_hand_solved(toy):
    a, b = toy
    t = run_benefit(a, b)
    assert list(t.columns) == COLUMNS and t.attrs["cost"] == "expected_cost_usd_per_t"
    got = {(r.commodity, r.origin, r.destination): r for r in t.itertuples()}
    # grain: 15 + 1 x 10 = 25 against 6 + 1 x 4 = 10 USD/t; steel: 15 + 20 = 35 against
    # 6 + 8 = 14 USD/t
    for key, (ca, cb, tonnes) in {("grain", "ZX", "ZY"): (25.0, 10.0, 900.0),
                                  ("steel", "ZX", "ZY"): (35.0, 14.0, 400.0),
                                  ("grain", "ZY", "ZX"): (25.0, 10.0, 100.0),
                                  ("grain", "ZX", "ZM"): (5.0, 5.0, 50.0)}.items():
        r = got[key]
        assert (r.cost_a_usd_per_t, r.cost_b_usd_per_t) == pytest.approx((ca, cb))
        assert r.saving_usd_per_t == pytest.approx(ca - cb)
        assert r.benefit_usd == pytest.approx(tonnes * (ca - cb))
        assert r.comparable and not r.unserved
    assert set(t["origin_country"]) == set(t["destination_country"]) == {"AA"}
    # X -> M is not changed by the project
    # the largest first: steel's 8,400 after grain's 13,500
    assert t["benefit_usd"].tolist() == pytest.approx([13_500.0, 8_400.0, 1_500.0, 0.0])
    tot = benefit_totals(t).set_index("commodity")
    assert tot.loc["all", "benefit_usd"] == pytest.approx(23_400.0)
    assert tot.loc["all", "tonnes"] == pytest.approx(1_450.0)
    assert tot.loc["grain", "saving_usd_per_t"] == pytest.approx(15_000.0 / 1_050.0)
    # the other way round, the loss
    assert run_benefit(b, a)["benefit_usd"].sum() == pytest.approx(-23_400.0)


def test_by_origin_zone_and_by_country(toy):
    t = benefit_totals(run_benefit(*toy), by=["origin", "destination"])
    got = t.set_index(["origin", "destination"])["benefit_usd"]
    assert got[("ZX", "ZY")] == pytest.approx(21_900.0)
    assert got[("ZY", "ZX")] == pytest.approx(1_500.0)
    assert got[("ZX", "ZM")] == 0.0
    assert got[("all", "all")] == pytest.approx(23_400.0)
    c = benefit_totals(run_benefit(*toy), by=["origin_country", "destination_country"])
    assert c["benefit_usd"].tolist() == pytest.approx([23_400.0, 23_400.0])
    with pytest.raises(InputError, match="no column origin; the table's columns are commodity"):
        benefit_totals(run_benefit(*toy).drop(columns="origin"), by="origin")


def _skims(rows):
    return pd.DataFrame(rows, columns=["commodity", "origin", "destination", "cost_usd_per_t"])


def _demand(rows):
    return pd.DataFrame(rows, columns=["origin_zone_id", "destination_zone_id", "commodity_id",
                                       "tonnes_per_year"])


def test_rule_of_a_half_where_demand_differs_and_pairs_without_a_route():
    sa = _skims([("g", "A", "B", 50.0), ("g", "A", "C", np.nan)])
    sb = _skims([("g", "A", "B", 40.0), ("g", "A", "C", 30.0), ("g", "A", "D", 20.0)])
    da = _demand([("A", "B", "g", 100.0), ("A", "C", "g", 10.0)])
    db = _demand([("A", "B", "g", 60.0), ("A", "B", "g", 60.0), ("A", "C", "g", 10.0),
                  ("A", "D", "g", 5.0)])
    t = users_benefit(sa, da, sb, db).set_index("destination")
    assert t.attrs["cost"] == "cost_usd_per_t"
    # 100 t before, 120 after (two rows of one pair are summed): (100 + 120) / 2 x 10
    assert t.loc["B", "benefit_usd"] == pytest.approx(1_100.0)
    # no route in A (cost missing) and no demand in A (no skim): no benefit, not comparable
    assert not t.loc["C", "comparable"] and np.isnan(t.loc["C", "benefit_usd"])
    assert not t.loc["D", "comparable"] and t.loc["D", "tonnes_a"] == 0.0
    tot = benefit_totals(t.reset_index()).iloc[-1]
    assert tot["benefit_usd"] == pytest.approx(1_100.0) and tot["tonnes"] == pytest.approx(110.0)
    assert tot["pairs_not_comparable"] == 2
    assert tot["tonnes_not_comparable"] == pytest.approx(10.0 + 2.5)


def test_pairs_a_capacity_turns_away_are_flagged():
    s = _skims([("g", "A", "B", 50.0), ("g", "A", "C", 10.0)])
    d = _demand([("A", "B", "g", 100.0), ("A", "C", "g", 10.0)])
    un = pd.DataFrame({"commodity": ["g"], "origin": ["A"], "destination": ["B"],
                       "demand": [100.0], "unserved": [4.0]})
    t = users_benefit(s, d, s, d, unserved_b=un).set_index("destination")
    assert t.loc["B", "unserved"] and not t.loc["C", "unserved"]


def test_tables_without_the_columns_are_refused():
    s = _skims([("g", "A", "B", 50.0)])
    d = _demand([("A", "B", "g", 100.0)])
    with pytest.raises(InputError, match="skims_b lacks origin"):
        users_benefit(s, d, s.drop(columns="origin"), d)
    with pytest.raises(InputError, match="the demand table lacks tonnes_per_year"):
        users_benefit(s, d.drop(columns="tonnes_per_year"), s, d)


@pytest.mark.slow
def test_run_summary_compare_and_its_csv_give_one_benefit(tmp_path):
    """Rasht-Astara against its like-year reference: a gain, the same in `karvan run`'s
    summary, in `karvan compare` and in the benefit.csv it writes, and in the stored runs."""
    from typer.testing import CliRunner

    from karvan.cli import app
    from karvan.scenario.run import compare_runs

    store = tmp_path / "store"
    r = CliRunner().invoke(app, ["run", "rasht_astara", "reference_2028", "--out", str(store),
                                 "--no-gpkg"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.startswith("│ rasht_astara ")
                and "reference_2028" in x)
    shown = float(line.split("│")[5].replace(",", ""))
    d = compare_runs("rasht_astara", store=store)
    tot = benefit_totals(d["benefit"]).iloc[-1]
    assert tot["benefit_usd"] > 0  # a railway opened, nothing closed
    assert tot["pairs_not_comparable"] == 0
    assert shown == pytest.approx(tot["benefit_usd"] / 1e6, abs=0.05)
    # the report's difference panel has it too, by commodity and by country pair
    html = (store / "report.html").read_text()
    panel = html[html.index('class="diff-benefit"'):]
    assert f"+{tot['benefit_usd'] / 1e6:.1f}" in panel[:panel.index("</table>")]
    assert 'class="diff-benefit-countries"' in panel
    assert "the choice model&#39;s logsum" in html or "the choice model's logsum" in html
    # the run's closing advice names the project; explore adds its reference
    assert "`karvan explore rasht_astara --draws 200`" in r.output
    c = CliRunner().invoke(app, ["compare", "rasht_astara", "--store", str(store), "--out",
                                 str(tmp_path / "diff")], env={"COLUMNS": "200"})
    assert c.exit_code == 0, c.output
    assert "Users' benefit of" in c.output
    csv = pd.read_csv(tmp_path / "diff" / "benefit.csv")
    assert list(csv.columns) == COLUMNS
    assert csv["benefit_usd"].sum() == pytest.approx(tot["benefit_usd"], rel=1e-9)
    # per pair: the mean demand times the fall of the pair's expected cost in the two runs
    a, b = (pd.read_csv(store / n / "skims.csv").set_index(["commodity", "origin",
                                                           "destination"])
            for n in ("reference_2028", "rasht_astara"))
    x = csv.set_index(["commodity", "origin", "destination"])
    fall = (a["expected_cost_usd_per_t"] - b["expected_cost_usd_per_t"]).reindex(x.index)
    np.testing.assert_allclose(x["saving_usd_per_t"], fall, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------- the logsum against the shares


def _three_routes(ad: float):
    """O -> D by O-A-D (1 + ad), O-D (3) and O-A-B-D (4), the first and third sharing O-A."""
    from karvan import Demand, Network

    ids = ["oa", "ad", "od", "ab", "bd"]
    ends = {"oa": ("O", "A"), "ad": ("A", "D"), "od": ("O", "D"), "ab": ("A", "B"),
            "bd": ("B", "D")}
    t = {"oa": 1.0, "ad": ad, "od": 3.0, "ab": 1.0, "bd": 2.0}
    nodes = pd.DataFrame({"zone_id": ["O", None, None, "D"]},
                         index=pd.Index(["O", "A", "B", "D"], name="node_id"))
    links = pd.DataFrame({"from_node_id": [ends[i][0] for i in ids],
                          "to_node_id": [ends[i][1] for i in ids],
                          "free_flow_time": [t[i] for i in ids], "vdf": "constant"},
                         index=pd.Index(ids, name="link_id"))
    return Network(nodes, links), Demand(("O", "D"), {"demand": np.array([[0.0, 1.0],
                                                                          [0.0, 0.0]])})


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_the_fall_of_the_logsum_against_the_integral_of_the_shares(beta):
    """The consumer surplus of a logit model is the integral of its shares over the cost
    change (Williams 1977). Link A-D falls from 1 to 0.2 with the route set held: without path
    size the fall of the expected cost equals that integral; with it (karvan's default) the
    expected cost, which leaves the path-size terms out, overstates it (by 5.6 % here, as
    docs/model.md says)."""
    from karvan.choice import RouteOptions, generate_route_sets
    from karvan.choice.dual import fixed_cost_equilibrium

    theta = 1.5
    net, dem = _three_routes(1.0)
    rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=5, penalty=10.0))
    assert rs.n_routes == 3

    def solve(ad):
        n, d = _three_routes(ad)
        return fixed_cost_equilibrium(n, d, theta=theta, routes=rs, beta=beta)

    hi, lo = 1.0, 0.2
    fall = float(solve(hi).od_expected_cost[0] - solve(lo).od_expected_cost[0])
    grid = np.linspace(lo, hi, 401)
    share = []
    for c in grid:
        r = solve(c)
        share.append(float(r.route_share[np.argmin(np.abs(r.route_cost - (1.0 + c)))]))
    surplus = float(np.trapezoid(share, grid))
    if beta == 0.0:
        assert fall == pytest.approx(surplus, rel=1e-4)
    else:
        assert fall / surplus == pytest.approx(1.056, abs=0.002)


# ------------------------------------------------------------------------- the tables' words


def test_the_tables_say_which_cost_and_name_the_runs_as_the_other_tables():
    from karvan.scenario.summary import benefit_tables, comparison_tables

    s = _skims([("g", "A", "B", 50.0)]).assign(expected_cost_usd_per_t=50.0)
    d = _demand([("A", "B", "g", 100.0)])
    b = s.assign(cost_usd_per_t=40.0, expected_cost_usd_per_t=40.0)
    # a deterministic run's expected cost is its least cost: no logsum
    det = benefit_tables(users_benefit(s, d, b, d, choice="deterministic"), "r", "p")[0].title
    assert "least generalized cost" in det and "logsum" not in det
    logit = benefit_tables(users_benefit(s, d, b, d, choice="logit"), "r", "p")[0].title
    assert "the choice model's logsum" in logit
    tabs = comparison_tables({"benefit": users_benefit(s, d, b, d, choice="logit")},
                             "20261206-1-ref-aaaa", "20261206-2-proj-bbbb",
                             headings=("ref", "proj"))
    pairs = next(t for t in tabs if "pairs of largest benefit" in t.title)
    assert {"$/t ref", "$/t proj"} <= set(pairs.data.columns)


def test_pairs_a_capacity_turns_away_are_left_out_of_the_totals_and_said_so():
    from karvan.report.build import benefit_left_out
    from karvan.scenario.summary import benefit_note

    sa = _skims([("g", "A", "B", 50.0), ("g", "A", "C", 500.0)])
    sb = _skims([("g", "A", "B", 40.0), ("g", "A", "C", 100.0), ("g", "A", "E", 10.0)])
    d = _demand([("A", "B", "g", 100.0), ("A", "C", "g", 10.0)])
    db = _demand([("A", "B", "g", 100.0), ("A", "C", "g", 10.0), ("A", "E", "g", 4.0)])
    un = pd.DataFrame({"commodity": ["g"], "origin": ["A"], "destination": ["C"],
                       "demand": [10.0], "unserved": [6.0]})
    t = users_benefit(sa, d, sb, db, unserved_a=un)
    tot = benefit_totals(t).iloc[-1]
    # A -> C's 4,000 USD/yr would be a fall of the unserved device's cost: not counted
    assert tot["benefit_usd"] == pytest.approx(1_000.0)
    assert (tot["pairs_unserved"], tot["tonnes_unserved"]) == (1, 10.0)
    assert (tot["pairs_not_comparable"], tot["tonnes_not_comparable"]) == (1, 2.0)
    note = benefit_note(benefit_totals(t))
    assert "1 pair(s), 0.00 Mt, have no cost in one run (no route there, or no demand there)" \
        in note and "whose demand a capacity turns away in a run are left out" in note
    # A -> E's 4 t a year are new in B: the demand differs there
    assert benefit_left_out(benefit_totals(t), "en") == (
        "Left out: 2 pair(s), 0.00 Mt/yr, without a cost in one run (no route or no demand "
        "there) or whose demand a capacity turns away. The demand differs in 1 pair(s) "
        "(0.00 Mt/yr in A, 0.00 in B): the rule of a half counts the change of cost, not the "
        "value of the tonnes added or lost.")
    assert benefit_left_out(benefit_totals(users_benefit(sa, d, sa, d)), "ru") == ""


def test_a_run_without_the_expected_cost_is_compared_on_the_least_cost_with_a_warning():
    from karvan.freight.corridor import CorridorWarning

    s = _skims([("g", "A", "B", 50.0)])
    d = _demand([("A", "B", "g", 100.0)])
    with pytest.warns(CorridorWarning, match="run A has no expected_cost_usd_per_t"):
        t = users_benefit(s, d, s.assign(expected_cost_usd_per_t=45.0), d)
    assert t.attrs["cost"] == "cost_usd_per_t" and t["benefit_usd"].iloc[0] == 0.0


def test_a_change_of_demand_alone_has_no_benefit_and_says_so():
    """A scenario that only grows demand (China–Europe containers x 1.5) printed a users'
    benefit of 0.0 M USD/yr in `karvan run` and `karvan compare` without a word, while explore
    left it blank: the rule of a half counts the change of cost, not the tonnes added."""
    from karvan.report.build import benefit_left_out
    from karvan.scenario.summary import benefit_note

    s = _skims([("g", "A", "B", 50.0), ("g", "A", "C", 10.0)])
    da = _demand([("A", "B", "g", 100.0), ("A", "C", "g", 10.0)])
    db = _demand([("A", "B", "g", 150.0), ("A", "C", "g", 10.0)])
    tot = benefit_totals(users_benefit(s, da, s, db)).iloc[-1]
    assert tot["benefit_usd"] == 0.0 and tot["pairs_demand_changed"] == 1
    assert (tot["tonnes_a"], tot["tonnes_b"]) == (110.0, 160.0)
    assert "the demand differs in 1 pair(s) (0.00 Mt against 0.00 in all pairs): the " \
        "rule of a half counts the change of cost, not the value of the tonnes added or lost" \
        in benefit_note(benefit_totals(users_benefit(s, da, s, db)))
    assert benefit_left_out(benefit_totals(users_benefit(s, da, s, db)), "en") == (
        "The demand differs in 1 pair(s) (0.00 Mt/yr in A, 0.00 in B): the rule of a half "
        "counts the change of cost, not the value of the tonnes added or lost.")
    # a pair whose demand a scenario stops (demand_scale x 0) has no cost there, and counts
    dc = _demand([("A", "B", "g", 100.0)])
    sc = _skims([("g", "A", "B", 50.0)])
    tot = benefit_totals(users_benefit(s, da, sc, dc)).iloc[-1]
    assert tot["pairs_demand_changed"] == 1 and tot["pairs_not_comparable"] == 1
    assert (tot["tonnes_a"], tot["tonnes_b"]) == (110.0, 100.0)
    # the same demand in both runs: nothing said
    same = benefit_totals(users_benefit(s, da, s, da))
    assert same.iloc[-1]["pairs_demand_changed"] == 0 and benefit_note(same) == ""
    assert benefit_left_out(same, "fa") == ""



def test_the_run_summary_says_where_a_scenario_changes_the_demand(toy_data, tmp_path,
                                                                   monkeypatch):
    """`karvan run`'s benefit table showed a demand-growth scenario's 0.0 M USD/yr as a
    result; it now gives the change of demand beside it and says what the rule of a half
    leaves out."""
    from karvan.scenario.summary import benefit_summary

    runs = {}
    for name, mods in (("ref", ""), ("growth", '[[modification]]\naction = "demand_scale"'
                                                   '\ncommodity = "grain"\nfactor = 2.0\n'),
                       ("same", '[[modification]]\naction = "scale"\nlinks = ["xy"]\n'
                                'field = "speed_kph"\nfactor = 2.0\n')):
        p = tmp_path / f"{name}.toml"
        p.write_text(f'name = "{name}"\nyear = 2024\n{mods}')
        runs[name] = run_scenario(toy_data, load_scenario(p), choice="deterministic", lp=False)
    # the toy's own reference (the built-in baseline's modifications name the corridor's
    # countries)
    monkeypatch.setattr("karvan.freight.corridor.reference_name", lambda year, **_: "ref")
    monkeypatch.setattr("karvan.scenario.reference.is_reference", lambda name: name == "ref")
    s = benefit_summary([runs["ref"], runs["growth"]])
    t = s.data.set_index("scenario")
    # grain's 1,050 t a year doubled, on costs that did not change
    assert t.loc["growth", "benefit M USD/yr"] == 0.0
    assert t.loc["growth", "demand change Mt"] == pytest.approx(1_050.0 / 1e6)
    assert "the rule of a half counts the change of cost, not the value of the tonnes added" \
        in s.title
    # the same demand: no such column or words
    s = benefit_summary([runs["ref"], runs["same"]])
    assert "demand change Mt" not in s.data and "tonnes added" not in s.title
