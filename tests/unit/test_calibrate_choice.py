"""Calibration of the choice parameters on a toy network whose true parameters are known.

Three route families (sea, west, east) from two origins to two destinations, two commodities,
nested logit over the families (karvan.choice) with constants per family and a dispersion per
commodity. Observations are the model's link counts at known parameters, times log-normal
noise of the stated relative error; the fit must recover the truth within about two standard
errors, the standard errors must match the spread of the estimates over noise draws, validation
rows must not touch the fit, and a table written and read back must give the same run.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, TrafficClass
from karvan.calibrate.choice import (
    apply_parameters,
    asc,
    calibrated_table,
    constant_scale,
    factor,
    fit_choice_parameters,
    identification,
    parameter_priors,
    start_values,
)
from karvan.calibrate.parameters import RSE_BY_CONFIDENCE
from karvan.choice import Nests, RouteOptions, stochastic_equilibrium
from karvan.errors import InputError
from karvan.freight.observed import (
    RunFlows,
    modelled_tonnes,
    observation_matrix,
    parse_observations,
)
from karvan.network.graph import compile_graph
from karvan.scenario.calibration import choice_parameters_to_fit

ZONES = {"O1": "AA", "O2": "AA", "D1": "CC", "D2": "DD"}
HUBS = {"S": "XS", "W": "BB", "E": "EE"}
# link -> (from, to, USD/t); each family's first leg from each origin is its own link
LINKS = {
    "s1": ("O1", "S", 40.0), "s2": ("O2", "S", 55.0), "s3": ("S", "D1", 30.0),
    "s4": ("S", "D2", 60.0),
    "w1": ("O1", "W", 25.0), "w2": ("O2", "W", 45.0), "w3": ("W", "D1", 35.0),
    "w4": ("W", "D2", 50.0),
    "e1": ("O1", "E", 50.0), "e2": ("O2", "E", 30.0), "e3": ("E", "D1", 45.0),
    "e4": ("E", "D2", 20.0),
}
FAMILIES = {"sea": ["s1", "s2"], "west": ["w1", "w2"], "east": ["e1", "e2"]}
COMMODITIES = ("grain", "metals")
DEMAND_T = {("O1", "D1"): (4e6, 1e6), ("O1", "D2"): (2e6, 3e6), ("O2", "D1"): (1.5e6, 2.5e6),
            ("O2", "D2"): (3e6, 0.8e6)}
TRUTH = {"asc_usd_per_t|west": 6.0, "asc_usd_per_t|east": -4.0, "theta|factor": 1.4}
PRIOR_THETA = {"grain": 0.08, "metals": 0.05}


def network() -> Network:
    nodes = pd.DataFrame({"zone_id": [z if z in ZONES else None for z in [*ZONES, *HUBS]]},
                         index=pd.Index([*ZONES, *HUBS], name="node_id"))
    links = pd.DataFrame({"from_node_id": [v[0] for v in LINKS.values()],
                          "to_node_id": [v[1] for v in LINKS.values()],
                          "free_flow_time": [v[2] for v in LINKS.values()], "vdf": "constant"},
                         index=pd.Index(list(LINKS), name="link_id"))
    return Network(nodes, links)


def link_table() -> pd.DataFrame:
    country = {**ZONES, **HUBS}
    return pd.DataFrame({"from_node_id": [v[0] for v in LINKS.values()],
                         "to_node_id": [v[1] for v in LINKS.values()],
                         "mode": ["sea"] * 4 + ["rail"] * 8,
                         "country": [country[v[1]] for v in LINKS.values()],
                         "border_id": ""}, index=pd.Index(list(LINKS), name="link_id"))


def cells() -> pd.DataFrame:
    return pd.DataFrame([{"origin_zone_id": o, "destination_zone_id": d, "commodity_id": c,
                          "tonnes_per_year": t[k]} for (o, d), t in DEMAND_T.items()
                         for k, c in enumerate(COMMODITIES)])


def prior_table() -> pd.DataFrame:
    rows = [{"parameter": "asc_usd_per_t", "family": f, "nest": "*", "link_ids": "*",
             "commodity": "*", "value": 0.0} for f in FAMILIES]
    rows += [{"parameter": "theta", "family": "*", "nest": "*", "link_ids": "*",
              "commodity": c, "value": v} for c, v in PRIOR_THETA.items()]
    t = pd.DataFrame(rows)
    t["unit"] = np.where(t["parameter"] == "theta", "1/(USD/t)", "USD/t")
    t["source"], t["source_date"], t["confidence"] = "KV_ASSUMPTION", "2026", "assumption"
    t["method"], t["note"] = "prior", ""
    return t


NET = network()
GRAPH = compile_graph(NET)  # once: every run of the toy model is on the same network
LINK_TABLE = link_table()
CELLS = cells()
ZONE_COUNTRY = dict(ZONES)


def run_toy(table: pd.DataFrame, year: int = 2024) -> dict[int, RunFlows]:
    """The toy model: nested logit over the families at the table's constants and dispersion."""
    val = dict(zip(zip(table["parameter"], table["family"], table["commodity"], strict=True),
                   pd.to_numeric(table["value"]), strict=True))
    theta = {c: val[("theta", "*", c)] for c in COMMODITIES}
    nests = Nests(links=FAMILIES, constants={f: val[("asc_usd_per_t", f, "*")]
                                             for f in FAMILIES})
    mats = {c: np.zeros((4, 4)) for c in COMMODITIES}
    zid = list(ZONES)
    for (o, d), t in DEMAND_T.items():
        for k, c in enumerate(COMMODITIES):
            mats[c][zid.index(o), zid.index(d)] = t[k]
    r = stochastic_equilibrium(GRAPH, Demand(tuple(zid), mats), theta=theta, nests=nests,
                               classes=[TrafficClass(c, c) for c in COMMODITIES], gap=1e-12,
                               routes=RouteOptions(max_routes=3, penalty=1e3))
    tab = r.route_table()
    assert (tab.groupby(["class", "origin", "destination"]).size() == 3).all()
    routes = pd.DataFrame({"class": tab["class"], "origin": tab["origin"],
                           "destination": tab["destination"],
                           "arcs": [np.asarray(a) for a in r.route_set.table()["arcs"]],
                           "share": tab["share"]})
    return {year: RunFlows("toy", year, routes, r.route_set.graph, LINK_TABLE, CELLS)}


def observed_table(values: dict[str, float], validate: tuple[str, ...] = ("s3", "s4")
                   ) -> pd.DataFrame:
    rows = []
    for key, t in values.items():
        link, _, com = key.partition("|")
        rows.append({"observed_id": f"OBS_{key}", "element_ids": link, "direction": "both",
                     "commodity_id": com, "year": 2024, "tonnes_per_year": t,
                     "independent": True, "role": "validate" if link in validate else "fit",
                     "confidence": "official", "source": f"SRC_{link}"})
    return pd.DataFrame(rows)


# what is counted: every link, and the west and east links by commodity
KEYS = [*LINKS] + [f"{lk}|{c}" for lk in ("w1", "w2", "e1", "e2") for c in COMMODITIES]


def true_counts() -> dict[str, float]:
    table = apply_parameters(prior_table(), PARAMS, [TRUTH[p.name] for p in PARAMS])
    runs = run_toy(table)
    obs = observed_table(dict.fromkeys(KEYS, 1.0))
    parsed = parse_observations(obs, LINK_TABLE, countries=set(ZONES.values()),
                                commodities=set(COMMODITIES))
    m = modelled_tonnes(observation_matrix(parsed, runs[2024], ZONE_COUNTRY), runs[2024])
    return dict(zip(KEYS, m, strict=True))


PARAMS = [asc("west", step=5.0, bound=100.0), asc("east", step=5.0, bound=100.0),
          factor("theta", step=0.2, lower=0.2, upper=5.0)]
RSE = RSE_BY_CONFIDENCE["official"]


@pytest.fixture(scope="module")
def truth_counts() -> dict[str, float]:
    return true_counts()


def fit(obs: pd.DataFrame, table: pd.DataFrame | None = None, params=None, **kw):
    """The fit of the likelihood alone unless ``use_prior`` is given (the recovery tests hold
    the least-squares machinery; the prior has its own tests below)."""
    kw.setdefault("use_prior", False)
    return fit_choice_parameters(obs, prior_table() if table is None else table, run_toy,
                                 PARAMS if params is None else params, link_table=LINK_TABLE,
                                 zone_country=ZONE_COUNTRY, commodities=COMMODITIES, **kw)


def noisy(truth_counts, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return observed_table({k: v * np.exp(rng.normal(0.0, RSE) - RSE ** 2 / 2)
                           for k, v in truth_counts.items()})


def test_noise_free_counts_give_back_the_truth(truth_counts):
    cf = fit(observed_table(truth_counts))
    assert cf.fit.success
    assert cf.fit.values == pytest.approx([TRUTH[p.name] for p in PARAMS], rel=1e-4, abs=1e-3)
    # only fit rows were used: the sea links to the destinations are validation rows
    assert not {"OBS_s3", "OBS_s4"} & set(cf.fit.observation_ids)
    assert len(cf.fit.observation_ids) == len(KEYS) - 2


def test_noisy_counts_recover_the_truth_within_two_standard_errors(truth_counts):
    cf = fit(noisy(truth_counts, 1), absolute_sigma=True)
    want = np.array([TRUTH[p.name] for p in PARAMS])
    z = (cf.fit.values - want) / cf.fit.std_errors
    assert np.all(np.isfinite(cf.fit.std_errors)) and not cf.fit.at_bound.any()
    assert np.all(np.abs(z) < 2.5), z
    # the prior (constants 0, theta factor 1) is far from the truth, in standard errors
    assert np.any(np.abs((start_values(prior_table(), PARAMS) - want) / cf.fit.std_errors) > 5)
    ident = identification(cf)
    assert ident["no_rows"] == [] and np.isfinite(ident["condition"])


def test_standard_errors_match_the_spread_over_noise_draws(truth_counts):
    # the independent reference is the known truth: over draws of the noise, the estimates'
    # errors divided by their own standard errors have unit variance and ~95 % lie within 2
    want = np.array([TRUTH[p.name] for p in PARAMS])
    est, ses = [], []
    for seed in range(24):
        cf = fit(noisy(truth_counts, 100 + seed), absolute_sigma=True)
        est.append(cf.fit.values)
        ses.append(cf.fit.std_errors)
    est, ses = np.array(est), np.array(ses)
    zs = (est - want) / ses
    assert 0.5 < float(np.mean(zs ** 2)) < 1.7, np.mean(zs ** 2, axis=0)
    assert (np.abs(zs) < 2).mean() > 0.85
    # and the spread of each estimate about the truth agrees with its mean standard error
    ratio = np.sqrt(np.mean((est - want) ** 2, axis=0)) / ses.mean(axis=0)
    assert np.all((ratio > 0.6) & (ratio < 1.5)), ratio


def test_a_validation_row_changes_nothing(truth_counts):
    obs = noisy(truth_counts, 7)
    a = fit(obs)
    moved = obs.copy()
    sel = moved["observed_id"] == "OBS_s3"
    assert moved.loc[sel, "role"].item() == "validate"
    moved.loc[sel, "tonnes_per_year"] *= 5.0
    moved.loc[moved["observed_id"] == "OBS_s4", "element_ids"] = "no_such_link"
    b = fit(moved)
    np.testing.assert_array_equal(a.fit.values, b.fit.values)
    np.testing.assert_array_equal(a.fit.std_errors, b.fit.std_errors)
    assert a.fit.observation_ids == b.fit.observation_ids
    # while a fit row does move it
    moved.loc[moved["observed_id"] == "OBS_w3", "tonnes_per_year"] *= 1.5
    assert not np.array_equal(fit(moved).fit.values, a.fit.values)


def test_a_total_of_fit_rows_changes_nothing(truth_counts):
    """A check row (the sum of fit rows of its release, rule "A total of fit rows from one
    release is checked, not fitted") is never fitted: the fit with it is the fit without it;
    the same figure as a fit row would have weighed its parts twice and moved the estimate."""
    obs = noisy(truth_counts, 7)
    tonnes = dict(zip(obs["observed_id"], obs["tonnes_per_year"], strict=True))
    total = {"observed_id": "OBS_total", "element_ids": "w1;e1", "direction": "both",
             "commodity_id": "", "year": 2024,
             "tonnes_per_year": tonnes["OBS_w1"] + tonnes["OBS_e1"],
             "independent": True, "role": "check", "total_of": "OBS_w1;OBS_e1",
             "confidence": "official", "source": "SRC_w1"}
    without = fit(obs)
    with_total = fit(pd.concat([obs, pd.DataFrame([total])], ignore_index=True))
    np.testing.assert_array_equal(without.fit.values, with_total.fit.values)
    assert "OBS_total" not in with_total.fit.observation_ids
    as_fit = fit(pd.concat([obs, pd.DataFrame([{**total, "role": "fit", "total_of": ""}])],
                           ignore_index=True))
    assert "OBS_total" in as_fit.fit.observation_ids
    assert not np.allclose(as_fit.fit.values, without.fit.values, rtol=1e-6, atol=1e-9)


def test_the_table_written_and_read_back_gives_the_same_run(truth_counts, tmp_path):
    cf = fit(noisy(truth_counts, 3))
    table = calibrated_table(cf, date="2026-01-01", source="KV_CALIBRATION")
    fitted = table["method"] == "calibrated"
    assert fitted.sum() == 4  # two constants, two commodities' theta
    assert (table.loc[fitted, "observations"] == ";".join(cf.fit.observation_ids)).all()
    assert (table.loc[fitted, "source_date"] == "2026-01-01").all()
    assert table.loc[fitted, "source"].str.endswith("KV_CALIBRATION").all()
    assert table.loc[~fitted, "method"].eq("prior").all()
    theta = table[table["parameter"] == "theta"].set_index("commodity")
    k = list(cf.fit.names).index("theta|factor")
    for c, v in PRIOR_THETA.items():
        assert theta.loc[c, "value"] == pytest.approx(v * cf.fit.values[k], rel=1e-12)
        assert theta.loc[c, "std_error"] == pytest.approx(v * cf.fit.std_errors[k], rel=1e-12)
    path = tmp_path / "choice_parameter.csv"
    table.to_csv(path, index=False)
    back = pd.read_csv(path, dtype={"family": str, "commodity": str}, keep_default_na=False)
    a, b = run_toy(cf.table)[2024], run_toy(back)[2024]
    np.testing.assert_array_equal(a.routes["share"].to_numpy(), b.routes["share"].to_numpy())
    # and it is the fit's own run
    np.testing.assert_array_equal(cf.runs[2024].routes["share"].to_numpy(),
                                  a.routes["share"].to_numpy())


def test_bad_parameters_are_reported_together():
    from karvan.calibrate.choice import ChoiceParameter

    with pytest.raises(InputError) as e:
        start_values(prior_table(), [asc("north"), ChoiceParameter("t", "theta"),
                                     asc("west", bound=-1.0), factor("theta", lower=2.0),
                                     ChoiceParameter("x", "theta", kind="scale")])
    msg = str(e.value)
    for part in ("north", "different values", "outside", "kind"):
        assert part in msg
    with pytest.raises(InputError, match="fit rows for"):
        fit(observed_table({"w3": 1e6, "w4": 1e6, "s3": 1e6}))
    with pytest.raises(InputError, match="different prior standard errors"):
        t = prior_table().assign(prior_std_error=np.nan)
        t.loc[t["parameter"] == "theta", "prior_std_error"] = [0.01, 0.01]  # ratios differ
        parameter_priors(t, PARAMS)


def test_the_prior_comes_from_the_confidence():
    """Without prior columns: a factor's prior is 1 with the relative standard error of the
    rows' confidence (assumption 0.40); a constant's is its value with 0.40 times the median
    route cost that the dispersion's prior implies (10 / theta, median over commodities)."""
    mu, sd = parameter_priors(prior_table(), PARAMS)
    np.testing.assert_allclose(mu, [0.0, 0.0, 1.0])
    scale = np.median([10.0 / v for v in PRIOR_THETA.values()])
    assert constant_scale(prior_table()) == pytest.approx(scale)
    np.testing.assert_allclose(sd, [0.4 * scale, 0.4 * scale, 0.4])


def test_a_factors_prior_ratio_skips_rows_of_value_0():
    """A factor row of value 0 has prior_std_error 0 (0 times any ratio): the ratio comes from
    the other rows, not from 0 / 0 (which fell back to the confidence's 0.25 of "estimate")."""
    t = prior_table()
    th = t["parameter"] == "theta"
    t["prior_std_error"] = np.nan
    t.loc[th, "prior_std_error"] = 0.4 * t.loc[th, "value"]
    extra = t[th].iloc[[0]].assign(commodity="zero", value=0.0, prior_std_error=0.0)
    t = pd.concat([t, extra], ignore_index=True)
    t.loc[t["parameter"] == "theta", "confidence"] = "estimate"
    _, sd = parameter_priors(t, [factor("theta")])
    assert sd[0] == pytest.approx(0.4)
    # every row 0: no ratio to read, the confidence's relative standard error
    zero = t[t["parameter"] == "theta"].assign(value=0.0, prior_std_error=0.0)
    _, sd = parameter_priors(zero, [factor("theta")])
    assert sd[0] == pytest.approx(RSE_BY_CONFIDENCE["estimate"])


def test_a_commodity_constant_is_scaled_by_that_commodity():
    """A commodity's own constant has 0.40 times that commodity's median route cost (10 /
    its theta) as prior standard error; the family's constant for every commodity keeps the
    median over the commodities."""
    table = prior_table()
    own = table[(table["parameter"] == "asc_usd_per_t") & (table["family"] == "west")]
    table = pd.concat([table, own.assign(commodity="metals"),
                       own.assign(family="east", commodity="grain")], ignore_index=True)
    params = [asc("west"), asc("west", "metals"), asc("east", "grain")]
    _, sd = parameter_priors(table, params)
    everyone = np.median([10.0 / v for v in PRIOR_THETA.values()])
    np.testing.assert_allclose(sd, [0.4 * everyone, 0.4 * 10.0 / PRIOR_THETA["metals"],
                                    0.4 * 10.0 / PRIOR_THETA["grain"]])
    assert constant_scale(table, "metals") == pytest.approx(10.0 / PRIOR_THETA["metals"])
    with pytest.raises(InputError, match=r"no theta rows > 0.*\(commodity coal\)"):
        constant_scale(table, "coal")


def test_a_parameter_that_no_fit_row_sees_stays_at_its_prior(truth_counts):
    """With the prior, the constant of a family that no fit row sees keeps its prior value and
    its prior standard error, and is named as not identified; the other parameters are fitted;
    the written table carries the prior, and a refit from it gives the same values."""
    obs = observed_table({k: v for k, v in truth_counts.items() if not k.startswith("s")})
    table = prior_table().assign(prior_value=np.nan, prior_std_error=np.nan)
    # a family with no route at all: its constant moves no fit row
    table2 = pd.concat([table, table[table["family"] == "sea"].assign(family="ghost")],
                       ignore_index=True)
    table2.loc[table2["family"] == "ghost", ["value", "prior_value", "prior_std_error"]] = [
        -2.0, -2.0, 7.0]
    ghost = asc("ghost", step=5.0, bound=100.0)
    cf2 = fit(obs, table2, [*PARAMS, ghost], use_prior=True)
    g = list(cf2.fit.names).index("asc_usd_per_t|ghost")
    assert cf2.fit.values[g] == pytest.approx(-2.0, abs=1e-9)
    assert cf2.fit.std_errors[g] == pytest.approx(7.0, rel=1e-9)
    assert not cf2.fit.identified[g]
    ident = identification(cf2)
    assert "asc_usd_per_t|ghost" in ident["not_identified"]
    assert "asc_usd_per_t|ghost" in ident["no_rows"]
    corr = cf2.fit.correlation()
    assert np.all(np.isnan(corr) | (np.abs(corr) <= 1.0))
    # the fitted parameters are identified, and close to the truth (the prior is loose)
    for name in ("asc_usd_per_t|west", "asc_usd_per_t|east", "theta|factor"):
        i = list(cf2.fit.names).index(name)
        assert cf2.fit.identified[i]
        assert abs(cf2.fit.values[i] - TRUTH[name]) < 2 * cf2.fit.std_errors[i] + 0.5
    # the written table carries the prior, says the ghost is not identified, and a refit from
    # it starts from the same prior and gives the same values
    out = calibrated_table(cf2, date="2026-01-01")
    row = out[out["family"] == "ghost"].iloc[0]
    assert row["prior_value"] == -2.0 and row["prior_std_error"] == 7.0
    assert "not identified" in row["note"]
    theta = out[out["parameter"] == "theta"].set_index("commodity")
    for c, v in PRIOR_THETA.items():
        assert theta.loc[c, "prior_value"] == pytest.approx(v)
        assert theta.loc[c, "prior_std_error"] == pytest.approx(0.4 * v)
    again = fit(obs, out, [*PARAMS, ghost], use_prior=True)
    np.testing.assert_allclose(again.fit.values, cf2.fit.values, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(again.fit.std_errors, cf2.fit.std_errors, rtol=1e-9)
    # held by its prior, it is not said to have moved; a not-identified estimate 3 prior
    # standard errors away (as a nonlinear fit can leave one that the rows pin only together
    # with others) is named, with its distance, in the report and in its row's note
    assert ident["moved_unidentified"] == []
    assert "prior standard errors from its prior" not in row["note"]
    x = cf2.fit.values.copy()
    x[g] = -2.0 + 3 * 7.0
    far = replace(cf2, fit=replace(cf2.fit, values=x))
    assert identification(far)["moved_unidentified"] == [("asc_usd_per_t|ghost",
                                                          pytest.approx(3.0))]
    note = calibrated_table(far, date="2026-01-01").query("family == 'ghost'")["note"].item()
    assert "lies 3.0 prior standard errors from its prior" in note


def test_the_model_is_run_once_per_parameter_values(truth_counts):
    """The Jacobian at a point is asked for again in each round of the reduced chi-square: the
    runner is called once for each distinct set of values (and once more at the fitted values
    for their runs, when other values were run after them)."""
    calls = []

    def counting(table):
        calls.append(tuple(np.round(pd.to_numeric(table["value"]).to_numpy(), 12)))
        return run_toy(table)

    cf = fit_choice_parameters(noisy(truth_counts, 3), prior_table(), counting, PARAMS,
                               link_table=LINK_TABLE, zone_country=ZONE_COUNTRY,
                               commodities=COMMODITIES)
    repeats = [c for i, c in enumerate(calls) if c in calls[:i]]
    final = tuple(np.round(pd.to_numeric(cf.table["value"]).to_numpy(), 12))
    assert repeats in ([], [final]), len(repeats)
    assert len(calls) > 2 * len(PARAMS)  # the Jacobian was computed


def test_a_commodity_constant_is_a_parameter_of_its_own():
    t = prior_table()
    t = pd.concat([t, t.iloc[[1]].assign(commodity="metals", value=-3.0)], ignore_index=True)
    t.loc[(t["family"] == "west") & (t["commodity"] == "*"), "value"] = 5.0
    params = choice_parameters_to_fit(t, ["asc:west", "asc:west:metals"])
    assert [p.name for p in params] == ["asc_usd_per_t|west", "asc_usd_per_t|west|metals"]
    fam, com = (p.rows(t) for p in params)
    assert fam.sum() == 1 and com.sum() == 1 and not (fam & com).any()
    assert start_values(t, params).tolist() == [5.0, -3.0]
    out = apply_parameters(t, params, [8.0, -11.0])
    west = out[out["family"] == "west"].set_index("commodity")["value"]
    assert west["*"] == 8.0 and west["metals"] == -11.0
    with pytest.raises(InputError, match=r"asc:<family>:<commodity>"):
        choice_parameters_to_fit(t, ["asc:west:grain"])


def test_blank_scope_cells_are_read_as_any_as_the_choice_model_reads_them():
    """The choice model reads a blank family, nest or commodity as *; the fit read it as the
    text 'nan' or '' and found no row for a constant the table has ('add the row first')."""
    t = prior_table()
    t = pd.concat([t, t.iloc[[1]].assign(commodity="metals", value=-3.0)], ignore_index=True)
    t.loc[(t["family"] == "west") & (t["commodity"] == "*"), "value"] = 5.0
    blank = t.copy()
    blank["nest"] = np.where(np.arange(len(t)) % 2, None, "")
    blank["commodity"] = blank["commodity"].replace("*", np.nan)
    blank["family"] = blank["family"].replace("*", " ").replace("east", " east ")
    names = ["asc:west", "asc:east", "asc:west:metals", "theta"]
    params = choice_parameters_to_fit(blank, names)
    assert params == choice_parameters_to_fit(t, names)
    for p in params:
        assert (p.rows(blank) == p.rows(t)).all() and p.rows(t).any()
    assert start_values(blank, params).tolist() == [5.0, 0.0, -3.0, 1.0]
    x = [8.0, -2.0, -11.0, 1.5]
    assert (apply_parameters(blank, params, x)["value"].to_numpy()
            == apply_parameters(t, params, x)["value"].to_numpy()).all()


def test_a_constants_prior_reads_a_blank_commodity_of_theta_as_any():
    """constant_scale read a blank commodity as the text '': a theta row of every commodity
    was no theta of containers (an InputError, or a median without it)."""
    from karvan.freight.corridor import builtin_corridor_folder

    t = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                    keep_default_na=False).drop(columns=["prior_std_error"])
    params = choice_parameters_to_fit(t, ["asc:middle_corridor:containers"])
    star = pd.concat([t[t["parameter"] != "theta"],
                      t[t["parameter"] == "theta"].iloc[[0]].assign(commodity="*")],
                     ignore_index=True)
    blank = star.assign(commodity=star["commodity"].where(star["parameter"] != "theta", ""))
    want = parameter_priors(star, params)
    got = parameter_priors(blank, params)
    assert np.isfinite(want[1]).all()
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert constant_scale(blank, "containers") == constant_scale(star, "containers")


def test_the_constant_of_every_family_is_not_a_nests_constant():
    """asc('*') (family * and nest *) set the rows of family * of every nest as well."""
    t = prior_table()
    every = {"parameter": "asc_usd_per_t", "family": "*", "link_ids": "*", "commodity": "*"}
    t = pd.concat([t, pd.DataFrame([{**every, "nest": "*", "value": 1.0},
                                    {**every, "nest": "land", "value": 2.0}])],
                  ignore_index=True)
    whole, nest = asc("*").rows(t), asc("*", nest="land").rows(t)
    assert whole.sum() == 1 and nest.sum() == 1 and not (whole & nest).any()
    assert t.loc[whole, "value"].tolist() == [1.0] and t.loc[nest, "value"].tolist() == [2.0]


def test_a_table_without_a_commodity_constant_of_the_default_is_fitted_without_it():
    """A copy of the dataset made before the northern route's container constant was added
    failed `karvan calibrate --parameters` on a parameter the user never named."""
    from karvan.freight.corridor import CorridorWarning, builtin_corridor_folder
    from karvan.scenario.calibration import DEFAULT_CONSTANTS

    t = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                    keep_default_na=False)
    assert len(choice_parameters_to_fit(t)) == len(DEFAULT_CONSTANTS) + 2
    old = t[~((t["parameter"] == "asc_usd_per_t") & (t["nest"] == "overland_north")
              & (t["commodity"] == "containers"))]
    with pytest.warns(CorridorWarning, match=r"no row for nest:overland_north:containers"):
        names = [p.name for p in choice_parameters_to_fit(old)]
    assert len(names) == len(DEFAULT_CONSTANTS) + 1
    assert "asc_usd_per_t|nest:overland_north|containers" not in names
    with pytest.raises(InputError, match="unknown parameters to fit"):  # named: refused
        choice_parameters_to_fit(old, ["asc:nest:overland_north:containers"])
    for name in ("asc:nest:instc:containers", "asc:nest:overland_north", "asc:nest:"):
        with pytest.raises(InputError, match=r"a row of family \* for the nest and commodity "
                           r"\(asc:nest:overland_north:containers\)"):
            choice_parameters_to_fit(t, [name])


class InProcessPool:
    """A run pool that runs its tables here, one after the other, and records its batches."""

    def __init__(self, runner):
        self.runner = runner
        self.batches = []

    def map(self, measure, tables):
        self.batches.append(len(tables))
        return [measure(self.runner(t)) for t in tables]


def test_a_run_pool_runs_the_jacobian_and_changes_nothing(truth_counts):
    """With a pool the Jacobian's runs go to it in batches, one table per parameter, and the
    fit (values, standard errors, evaluations, the modelled counts) is the one without it."""
    obs = noisy(truth_counts, 5)
    plain = fit(obs, use_prior=True)
    pool = InProcessPool(run_toy)
    pooled = fit(obs, use_prior=True, pool=pool)
    assert pool.batches and set(pool.batches) == {len(PARAMS)}
    np.testing.assert_array_equal(pooled.fit.values, plain.fit.values)
    np.testing.assert_array_equal(pooled.fit.std_errors, plain.fit.std_errors)
    np.testing.assert_array_equal(pooled.counts["modelled"], plain.counts["modelled"])
    assert pooled.fit.evaluations == plain.fit.evaluations


def test_a_pool_that_loses_a_table_is_an_error(truth_counts):
    class Short(InProcessPool):
        def map(self, measure, tables):
            return super().map(measure, tables)[:-1]

    with pytest.raises(InputError, match="run pool returned 2 results for 3"):
        fit(noisy(truth_counts, 5), pool=Short(run_toy))


def test_start_from_gives_back_the_values_a_table_was_written_with():
    """start_from reads the values of every default parameter (constants and factors) out of a
    table written by apply_parameters, also when that table carries prior_value columns."""
    from karvan.calibrate.choice import apply_parameters, reset_to_prior, start_from
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.calibration import choice_parameters_to_fit, choice_table

    table = choice_table(load_corridor())
    params = choice_parameters_to_fit(table)
    rng = np.random.default_rng(3)
    x = np.array([rng.uniform(-50, 50) if p.kind == "value" else rng.uniform(0.5, 2.0)
                  for p in params])
    written = apply_parameters(table, params, x, prior=reset_to_prior(table, params))
    np.testing.assert_allclose(start_from(table, written, params), x, rtol=1e-12)
    plain = written.drop(columns=[c for c in ("prior_value", "prior_std_error")
                                  if c in written])
    np.testing.assert_allclose(start_from(table, plain, params), x, rtol=1e-12)
    # a start table (or the dataset's) that leaves the scopes of any blank, as the choice model
    # reads them: the same start ("no row of the start table sets it" before)
    blank = written.copy()
    for col in ("nest", "link_ids", "commodity"):
        blank[col] = blank[col].replace("*", "")
    blank["family"] = blank["family"].replace("*", np.nan)
    np.testing.assert_allclose(start_from(table, blank, params), x, rtol=1e-12)
    np.testing.assert_allclose(start_from(blank, written, params), x, rtol=1e-12)


def test_start_from_reports_every_problem_at_once():
    from karvan.calibrate.choice import start_from
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.calibration import choice_parameters_to_fit, choice_table

    table = choice_table(load_corridor())
    params = choice_parameters_to_fit(table)
    bad = table.copy()
    bad = bad[~((bad["parameter"] == "asc_usd_per_t") & (bad["family"] == "instc_east"))]
    theta = bad.index[bad["parameter"] == "theta"]
    bad.loc[theta[0], "value"] = float(bad.loc[theta[0], "value"]) * 3
    road = bad.index[(bad["parameter"] == "asc_usd_per_t")
                     & (bad["family"] == "upper_lars_road")]
    bad.loc[road, "value"] = 900.0
    with pytest.raises(InputError) as e:
        start_from(table, bad, params)
    msg = str(e.value)
    assert "asc_usd_per_t|instc_east: no row" in msg
    assert "theta|factor: its rows in the start table have different ratios" in msg
    assert "asc_usd_per_t|upper_lars_road: start 900 outside" in msg
    with pytest.raises(InputError) as e:
        start_from(table, table.drop(columns=["value", "family"]), params)
    assert "no column 'value'" in str(e.value) and "no column 'family'" in str(e.value)


def test_the_reset_table_gives_every_fitted_row_its_prior_value():
    """A table without prior_value: the rows the fit sets get their value as prior_value, the
    others none, and the values the fit tries leave it alone (what reads the prior from the
    table, the corridor's route sets, sees one prior at every value tried)."""
    from karvan.calibrate.choice import apply_parameters, reset_to_prior

    t = prior_table()
    assert "prior_value" not in t
    r = reset_to_prior(t, PARAMS)
    th = (r["parameter"] == "theta").to_numpy()
    fitted = th | r["family"].isin(["west", "east"]).to_numpy()
    np.testing.assert_allclose(pd.to_numeric(r.loc[fitted, "prior_value"]),
                               pd.to_numeric(r.loc[fitted, "value"]))
    assert (r.loc[~fitted, "prior_value"] == "").all()
    tried = apply_parameters(r, PARAMS, [30.0, -20.0, 2.0])
    pd.testing.assert_series_equal(tried["prior_value"], r["prior_value"])
    np.testing.assert_allclose(pd.to_numeric(tried.loc[th, "value"]),
                               2.0 * pd.to_numeric(r.loc[th, "value"]))
    # a calibrated table keeps its prior_value and goes back to it
    cal = tried.copy()
    back = reset_to_prior(cal, PARAMS)
    np.testing.assert_allclose(pd.to_numeric(back["value"]), pd.to_numeric(r["value"]))


def test_a_row_without_a_role_is_a_fit_row_as_the_schema_reads_it():
    from karvan.calibrate.choice import fit_observations

    obs = pd.DataFrame({"observed_id": ["a", "b", "c", "d", "e"],
                        "role": ["fit", None, " ", "validate", "check"]})
    assert list(fit_observations(obs)["observed_id"]) == ["a", "b", "c"]
    assert list(fit_observations(obs.drop(columns="role"))["observed_id"]) == ["a", "b", "c",
                                                                              "d", "e"]
    # nor does the parameters' fit take a check row (a total of fit rows) or a validate row
    from karvan.calibrate.parameters import fit_rows

    t = obs.assign(compared=True, observed_tonnes=1.0)
    assert list(fit_rows(t)["observed_id"]) == ["a"]  # blank roles are made fit upstream


def test_a_constant_named_for_a_family_with_anothers_terms_says_whose_to_fit():
    """instc_west_julfa_rail takes instc_west_rail's rows (route_family.csv terms_of): naming
    its constant is refused with the one to fit; without the families the message is the
    general one."""
    from karvan.freight.corridor import builtin_corridor_folder
    from karvan.freight.route_family import read_route_families

    t = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                    keep_default_na=False)
    fam = read_route_families()
    with pytest.raises(InputError) as e:
        choice_parameters_to_fit(t, ["asc:instc_west_julfa_road:containers", "theta"],
                                 route_families=fam)
    assert ("asc:instc_west_julfa_road is instc_west_road's constant (route_family.csv "
            "terms_of): fit asc:instc_west_road:containers, which sets both") in str(e.value)
    with pytest.raises(InputError, match="unknown parameters to fit"):
        choice_parameters_to_fit(t, ["asc:instc_west_julfa_rail"])
    names = [p.name for p in choice_parameters_to_fit(t, ["asc:instc_west_rail"],
                                                      route_families=fam)]
    assert names == ["asc_usd_per_t|instc_west_rail"]


def test_the_fits_correlations_are_written_and_drawn_by_explore(truth_counts):
    from karvan.calibrate.choice import calibrated_correlation
    from karvan.explore.choice_inputs import choice_inputs, choice_values
    from karvan.explore.inputs import builtin_uncertainty_path
    from karvan.explore.sampling import make_design

    cf = fit(noisy(truth_counts, 3))
    table = calibrated_table(cf, date="2026-01-01", source="KV_CALIBRATION")
    corr = calibrated_correlation(cf, date="2026-01-01", source="KV_CALIBRATION")
    names = list(cf.fit.names)
    r = cf.fit.correlation()
    assert len(corr) == 3 and (corr["source"] == "KV_CALIBRATION").all()
    for a, b, x in corr[["parameter_a", "parameter_b", "correlation"]].itertuples(index=False):
        assert x == r[names.index(a), names.index(b)]
    assert set(table.loc[table["method"] == "calibrated", "fitted_parameter"]) == set(names)
    assert np.abs(r[np.triu_indices(3, 1)]).max() > 0.2  # a fit whose correlations matter
    # explore draws the three parameters with the fit's covariance
    text = table.astype(str).replace("nan", "")
    ins = choice_inputs(text, builtin_uncertainty_path(), correlation=corr.astype(str))
    at = choice_values(ins, text)
    vals = np.array([at(v) for v in ins.values(make_design(ins, "lhs", 6000, 4).u)])
    par, fam, com = (text[c].to_numpy() for c in ("parameter", "family", "commodity"))
    cols = [np.flatnonzero((par == "asc_usd_per_t") & (fam == "west"))[0],
            np.flatnonzero((par == "asc_usd_per_t") & (fam == "east"))[0],
            np.flatnonzero((par == "theta") & (com == "grain"))[0]]
    x = vals[:, cols] / np.array([1.0, 1.0, PRIOR_THETA["grain"]])  # theta as its factor
    order = [names.index(n) for n in ("asc_usd_per_t|west", "asc_usd_per_t|east",
                                      "theta|factor")]
    want = cf.fit.covariance[np.ix_(order, order)]
    sd = np.sqrt(np.diag(want))
    assert np.allclose(np.std(x, axis=0), sd, rtol=0.04)
    assert np.allclose(np.corrcoef(x.T), want / np.outer(sd, sd), atol=0.04)
