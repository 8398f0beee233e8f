"""The corridor model of a scenario for many draws, against the full run of the same inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from karvan.explore.corridor import build_corridor_model
from karvan.explore.inputs import corridor_inputs
from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import DEFAULT_GAP, run_scenario


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def inputs(data):
    return corridor_inputs(data)


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("rasht_astara")


@pytest.fixture(scope="module")
def model(data, scenario, inputs):
    return build_corridor_model(data, scenario, inputs)


@pytest.fixture(scope="module")
def run(data, scenario):
    return run_scenario(data, scenario, lp=False, choice="deterministic")


def test_central_outputs_equal_the_run_tables(model, run):
    c = model.evaluate(None)
    ct = run.tables["countries"].set_index("country")
    for col, out in (("tonnes", "tonnes"), ("transit_tonnes", "transit_tonnes"),
                     ("transit_revenue_usd", "transit_revenue_usd")):
        got = np.array([c[f"country:{k}:{out}"] for k in ct.index])
        np.testing.assert_allclose(got, ct[col].to_numpy(), rtol=1e-6, atol=1e-3)
    bt = run.tables["borders"].set_index("border_id")
    for b, t in bt["tonnes_tot"].items():
        assert c[f"border:{b}:tonnes"] == pytest.approx(t, rel=1e-9, abs=1e-6)
    sh = run.tables["shipper"]
    for r in sh[sh["available"]].itertuples(index=False):
        key = f"shipper:{r.origin}-{r.destination}:{r.commodity}:{r.option_id}"
        assert c[f"{key}:cost_usd_per_t"] == pytest.approx(r.cost_usd_per_t, rel=1e-9)
        assert c[f"{key}:time_days"] == pytest.approx(r.time_days, rel=1e-9)
    links = run.tables["links"].set_index("link_id")
    for name, v in c.items():
        if name.startswith("link:") and name.endswith(":utilization"):
            assert v == pytest.approx(links.at[name.split(":")[1], "utilization"], rel=1e-9)


def test_route_option_shares_equal_the_route_list(model, run, data):
    """The share of Russia-India tonnes whose routes use an option's links (one of its via
    links, and one of its also_via links where it has them, as the shipper table reads an
    option), from the route list of the run (an independent count over listed routes). The
    eastern branch's share counted routes through Uzbekistan that miss Bolashak."""
    c = model.evaluate(None)
    zc = data.zone_country()
    r = run.tables["routes"]
    r = r[(r["origin"].map(zc) == "RU") & (r["destination"].map(zc) == "IN")]
    opts = pd.read_csv(data.folder / "route_option.csv", dtype=str, keep_default_na=False)
    assert (opts["also_via_link_ids"] != "").any()  # the case that was wrong is in the data
    for o in opts.itertuples(index=False):
        via = set(o.via_link_ids.split(";"))
        also = set(o.also_via_link_ids.split(";")) if o.also_via_link_ids else None
        hit = r["links"].map(lambda s, via=via, also=also: bool(via & set(s.split(" > "))) and (
            also is None or bool(also & set(s.split(" > ")))))
        want = r.loc[hit, "tonnes"].sum() / r["tonnes"].sum()
        assert c[f"share:RU-IN:{o.option_id}"] == pytest.approx(want, abs=1e-6), o.option_id


def test_model_arrays_reproduce_the_engine_network(model, run):
    g = model.graph
    tg = model.targets
    p = model.parts
    length, speed = tg["link.length"].central, tg["link.speed"].central
    run_h = np.where(speed > 0, length / np.where(speed > 0, speed, 1), 0)
    f = tg["link.frequency"].central
    wait = np.where(p["sailing"] & (f > 0), 84.0 / np.where(f > 0, f, 1), 0)
    np.testing.assert_allclose((run_h + tg["link.dwell"].central + wait)[g.arc_link],
                               g.free_flow_time, rtol=1e-12)
    eng = run.network.links.loc[g.link_ids]
    c = model.evaluate(None)
    assert c["total:demand_t"] == pytest.approx(model.central.bushes.demand.sum(), rel=1e-12)
    for com in p["commodities"]:
        kind, _ = p["tariff_src"][com]["tariff_usd_per_tkm"]
        assert len(kind) == len(eng)
    # the draw's charges equal the network's per-commodity charge columns at the centre
    assert "charge_usd_per_t__containers" in eng


def test_a_draw_equals_the_full_run_of_the_changed_dataset(model, inputs, data, scenario):
    """Every demand factor 1.5 and the Samur rail border at 7 Mt/yr: the model's warm-started
    draw and a run of the dataset changed that way agree."""
    v = inputs.central_values()
    for i, x in enumerate(inputs.inputs):
        if x.table == "demand":
            v[i] = 1.5
    i = inputs.names.index("link.capacity:U_SAMUR_CAPACITY")
    v[i] = 7e6
    links = data.links.copy()
    links.loc["B_RU_AZ_SAMUR_RAIL", ["capacity_tpy", "capacity_value"]] = [7e6, 7.0]
    dem = data.demand.assign(tonnes_per_year=data.demand["tonnes_per_year"] * 1.5)
    changed = dataclasses.replace(data, links=links, demand=dem)
    full = run_scenario(changed, scenario, lp=False, choice="deterministic")
    # the draw at the run's own precision (a draw stops at 1e-8 by default, the run at 1e-10):
    # at 1e-8, 8 kt/yr sat on the rail route through Samur and the Astara terminal instead of
    # the road across Astara, whose costs differed by less than the gap (the demand of
    # 2026-12-07): 5e-4 of Samur's load, against the 1e-4 compared
    model = dataclasses.replace(model, gap=DEFAULT_GAP)
    got = model.evaluate(v)
    assert got["_converged"] == 1.0
    c0 = model.evaluate(None)
    assert got["total:demand_t"] == pytest.approx(1.5 * c0["total:demand_t"], rel=1e-12)
    bt = full.tables["borders"].set_index("border_id")["tonnes_tot"]
    for b, t in bt.items():
        assert got[f"border:{b}:tonnes"] == pytest.approx(t, rel=1e-4, abs=1.0), b
    links = full.tables["links"].set_index("link_id")
    assert got["link:B_RU_AZ_SAMUR_RAIL:utilization"] == pytest.approx(
        links.at["B_RU_AZ_SAMUR_RAIL", "utilization"], rel=1e-4)
    ct = full.tables["countries"].set_index("country")
    # Equilibrium link flows are unique, the split of a shared margin between OD pairs is not:
    # where an OD pair's tonnes split between routes (a capacity binds on one of them), another
    # equilibrium may carry more of a different pair there. A country crossed in transit by such
    # a pair has no unique transit revenue; every other country's is compared.
    r = full.tables["routes"]
    split = r.groupby(["commodity", "origin", "destination"])["route"].transform("size") > 1
    zc = data.zone_country()
    undetermined = set()
    for o, d, cs in zip(r.loc[split, "origin"], r.loc[split, "destination"],
                        r.loc[split, "countries"], strict=True):
        undetermined |= set(cs.split(" > ")) - {zc.get(o), zc.get(d)}
    for k in ct.index.difference(sorted(undetermined)):
        assert got[f"country:{k}:transit_revenue_usd"] == pytest.approx(
            ct.at[k, "transit_revenue_usd"], rel=1e-4, abs=1.0), k
    assert len(ct.index.difference(sorted(undetermined))) >= len(ct) // 2


def test_growth_range_scales_demand_by_the_years(model, inputs, data, scenario):
    v = inputs.central_values()
    c1 = model.evaluate(v)
    i = inputs.names.index("growth.growth:U_GROWTH_RU_IR")
    v[i] = 0.132
    got = model.evaluate(v)
    c0 = model.evaluate(None)
    assert c1["total:demand_t"] == c0["total:demand_t"]
    assert c1["border:AZ-IR_ASTARA:tonnes"] == pytest.approx(c0["border:AZ-IR_ASTARA:tonnes"],
                                                            rel=1e-6)
    zc = data.zone_country()
    d = data.demand
    ru_ir = ((d["origin_zone_id"].map(zc) == "RU") & (d["destination_zone_id"].map(zc) == "IR")
             ) | ((d["origin_zone_id"].map(zc) == "IR") & (d["destination_zone_id"].map(zc)
                                                          == "RU"))
    years = scenario.year - data.base_year
    scen_t = model.demand_rows["tonnes"]
    want = c0["total:demand_t"] + scen_t[ru_ir.to_numpy()].sum() * (
        (1.132 / 1.0946) ** years - 1)
    assert got["total:demand_t"] == pytest.approx(want, rel=1e-9)


def test_a_draw_of_the_container_train_speeds_equals_the_full_run(model, inputs, data, scenario):
    """Containers on Russia's rail lines at 0.6 times their speed of speed_commodity.csv (21
    km/h, still above the lines' 17): a draw and a run of the dataset changed that way agree,
    routes, borders and the shipper's times included."""
    rows = [i for i, x in enumerate(inputs.inputs) if x.table == "speed_commodity"
            and "rail>RU>containers" in x.rows]
    assert len(rows) == 1
    v = inputs.central_values()
    v[rows[0]] = 0.6
    sc = data.speeds_by_commodity.copy()
    at = (sc["mode"] == "rail") & (sc["country"] == "RU") & (sc["commodity_id"] == "containers")
    sc.loc[at, "speed_kph"] = sc.loc[at, "speed_kph"] * 0.6
    changed = dataclasses.replace(data, tables={**data.tables, "speed_commodity": sc})
    full = run_scenario(changed, scenario, lp=False, choice="deterministic")
    got = model.evaluate(v)
    c0 = model.evaluate(None)
    sh = full.tables["shipper"]
    moved = 0
    for r in sh[sh["available"] & (sh["commodity"] == "containers")].itertuples(index=False):
        key = f"shipper:{r.origin}-{r.destination}:{r.commodity}:{r.option_id}"
        assert got[f"{key}:time_days"] == pytest.approx(r.time_days, rel=1e-9), key
        assert got[f"{key}:cost_usd_per_t"] == pytest.approx(r.cost_usd_per_t, rel=1e-9), key
        moved += got[f"{key}:time_days"] != pytest.approx(c0[f"{key}:time_days"], rel=1e-6)
    assert moved > 0  # the slower trains show in the shipper's times
    bt = full.tables["borders"].set_index("border_id")["tonnes_tot"]
    for b, t in bt.items():
        assert got[f"border:{b}:tonnes"] == pytest.approx(t, rel=1e-4, abs=1.0), b


def test_the_demands_least_cost_equals_the_runs_skims(model, run):
    # at equilibrium the class flows times their costs are the demand times each pair's least
    # cost: the users' benefit of an experiment is the fall of this total
    sk = run.tables["skims"].set_index(["commodity", "origin", "destination"])
    dem = run.tables["demand"].groupby(["commodity_id", "origin_zone_id",
                                        "destination_zone_id"])["tonnes_per_year"].sum()
    dem.index.names = sk.index.names
    want = float((dem * sk["cost_usd_per_t"].reindex(dem.index)).sum())
    assert model.evaluate(None)["total:expected_cost_usd"] == pytest.approx(want, rel=1e-6)


def _links(**tonnes) -> pd.DataFrame:
    """Central link tonnes as :meth:`CorridorModel.central_link_tonnes` gives them; a value
    ``(t, "out")`` is a link with an output, ``(t, "<border>")`` one of a border."""
    rows = {k: v if isinstance(v, tuple) else (v, "") for k, v in tonnes.items()}
    return pd.DataFrame({"tonnes": [float(t) for t, _ in rows.values()],
                         "output": [w == "out" for _, w in rows.values()],
                         "border_id": [w if w != "out" else "" for _, w in rows.values()]},
                        index=pd.Index(list(rows), name="link_id"))


def test_the_diverted_links_are_the_largest_changes_that_have_no_output(monkeypatch):
    from karvan.explore import corridor as C

    project = _links(big=(5e6, "out"), gain=4e5, same_path=4e5, new=3e5, edge=1e6,
                     small=4.9e4, trunk=1.02e7, border_link=(0.0, "X-Y"), tie_b=2.5e5,
                     tie_a=2e5)
    ref = _links(big=(1e6, "out"), gain=1e5, same_path=1e5, edge=9.5e5, small=0.0,
                 trunk=1e7, border_link=(6e5, "X-Y"), tie_b=5e4, tie_a=0.0, gone=7e5)
    rec = C.diverted_links({"p": project, "r": ref}, {"p": "r", "r": None})
    got = [(x["link_id"], x["change_t"]) for x in rec["scenarios"]["p"]["links"]]
    # the largest changes first, ties by link id: 'big' has an output, 'same_path' carries
    # what 'gain' does in both (one path), 'border_link' what its border does, 'small' moves
    # less than 50 kt, 'trunk' 2 % of its tonnes; 'edge' (50 kt, 5 %) just counts; a link
    # one network lacks carries 0 t there
    assert got == [("gone", -7e5), ("gain", 3e5), ("new", 3e5), ("tie_a", 2e5),
                   ("tie_b", 2e5), ("edge", 5e4)]
    assert rec["links"] == [x for x, _ in got]
    assert rec["scenarios"]["p"]["links"][0] == {"link_id": "gone", "tonnes": 0.0,
                                                 "reference_tonnes": 7e5, "change_t": -7e5}
    assert rec["scenarios"]["p"]["reference"] == "r" and set(rec["scenarios"]) == {"p"}
    assert rec["rule"] == {"top": C.DIVERTED_TOP, "least_t": C.DIVERTED_LEAST_T,
                           "least_share": C.DIVERTED_LEAST_SHARE,
                           "same_path_t": C.SAME_PATH_T}
    # at most DIVERTED_TOP per scenario; every scenario's links, each once, for every model;
    # a reference without a model (none solved) gives none
    monkeypatch.setattr(C, "DIVERTED_TOP", 2)
    other = ref.copy()
    other.loc[["edge", "tie_a", "gone"], "tonnes"] = [2e6, 2e5, 0.0]
    rec = C.diverted_links({"p": project, "q": other, "r": ref},
                           {"p": "r", "q": "r", "r": None, "lost": "nowhere"})
    assert [x["link_id"] for x in rec["scenarios"]["p"]["links"]] == ["gone", "gain"]
    assert [x["link_id"] for x in rec["scenarios"]["q"]["links"]] == ["edge", "gone"]
    assert rec["links"] == ["gone", "gain", "edge"]
    assert set(rec["scenarios"]) == {"p", "q"}
