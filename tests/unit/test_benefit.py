"""Users' benefit of one run against another: hand-solved on a toy corridor, the rule of a half
where demand differs, pairs without a route in one run, and the same figure in `karvan run`'s
summary, `karvan compare` and its CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.benefit import COLUMNS, benefit_totals, users_benefit
from karvan.freight.corridor import load_corridor
from karvan.scenario.run import run_benefit, run_scenario
from karvan.scenario.spec import load_scenario
from tests.toy_corridor import write_corridor


def rail(i, a, b, km):
    return {"link_id": i, "from_node_id": a, "to_node_id": b, "mode": "rail", "length_km": km,
            "speed_kph": 50.0, "tariff_usd_per_tkm": 0.03, "vdf": "none", "country": "AA"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """X -> Y by rail via M (100 + 100 km) or direct (500 km), 50 km/h and 0.03 USD/tkm:
    via M 6 USD/t and 4 h, direct 15 USD/t and 10 h. Grain's value of time 1 USD/t/h, steel's
    2. The reference closes M -> Y; the project is the network as it is."""
    tmp = tmp_path_factory.mktemp("benefit")
    folder = write_corridor(
        tmp / "c", nodes=[("X", 0, 0, "AA"), ("M", 1, 1, "AA"), ("Y", 2, 0, "AA")],
        links=[rail("xm", "X", "M", 100), rail("my", "M", "Y", 100), rail("xy", "X", "Y", 500)],
        zones=[("ZX", "X", "AA"), ("ZM", "M", "AA"), ("ZY", "Y", "AA")],
        commodities=[("grain", 1.0, 200.0), ("steel", 2.0, 600.0)],
        demand=[("ZX", "ZY", "grain", 900.0), ("ZX", "ZY", "steel", 400.0),
                ("ZY", "ZX", "grain", 100.0), ("ZX", "ZM", "grain", 50.0)])
    data = load_corridor(folder)
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
    # the report's difference panel has it too, by commodity
    html = (store / "report.html").read_text()
    panel = html[html.index('class="diff-benefit"'):]
    assert f"+{tot['benefit_usd'] / 1e6:.1f}" in panel[:panel.index("</table>")]
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
