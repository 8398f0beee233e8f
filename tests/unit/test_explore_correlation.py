"""Fitted parameters drawn jointly: the Gaussian copula keeps each input's distribution and gives
the fit's correlations; the correlation table of a fit is checked (every problem at once) and
travels with the parameter table; a Latin hypercube's ranks are read on the drawn values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from karvan.errors import InputError
from karvan.explore.choice_inputs import (
    CORRELATION_FILE,
    choice_inputs,
    choice_values,
    correlation_matrix,
    read_choice_correlation,
)
from karvan.explore.distributions import Distribution
from karvan.explore.inputs import Correlation, InputSet, UncertainInput, builtin_uncertainty_path
from karvan.explore.sampling import make_design
from karvan.freight.corridor import builtin_corridor_folder


def _normal_set(sds, corr=None) -> InputSet:
    ins = tuple(UncertainInput(f"x{i}", "t", "f", Distribution("normal", sigma=s, mean=10.0 * i),
                               (f"r{i}",), f"x{i}", True, central=(10.0 * i,))
                for i, s in enumerate(sds))
    return InputSet(ins, tuple(x.factor for x in ins), "h",
                    None if corr is None else Correlation(tuple(x.factor for x in ins), corr))


def test_the_copula_gives_normal_draws_the_fits_covariance():
    r = np.array([[1.0, 0.96, -0.3], [0.96, 1.0, -0.2], [-0.3, -0.2, 1.0]])
    sd = np.array([35.4, 29.6, 2.0])
    s = _normal_set(sd, r)
    u = make_design(s, "lhs", 20_000, 3).u
    v = s.values(u)
    # each input keeps its own distribution: mean 10 i, sd as given (20,000 draws: the sample
    # sd within 2 % of the sd, the mean within 4 standard errors)
    assert np.allclose(v.mean(axis=0), [0.0, 10.0, 20.0], atol=4 * sd.max() / np.sqrt(20_000))
    assert np.allclose(v.std(axis=0), sd, rtol=0.02)
    # and the pairs the correlation (the sample correlation's sd is under 0.01 here)
    assert np.allclose(np.corrcoef(v.T), r, atol=0.03)
    # the difference of the two correlated constants: sd sqrt(a^2 + b^2 - 2 r a b), not the
    # independent sqrt(a^2 + b^2) (10.8 against 46.1)
    want = np.sqrt(sd[0] ** 2 + sd[1] ** 2 - 2 * 0.96 * sd[0] * sd[1])
    assert np.std(v[:, 0] - v[:, 1]) == pytest.approx(want, rel=0.05)
    free = _normal_set(sd).values(u)
    assert np.std(free[:, 0] - free[:, 1]) > 4 * want


def test_the_copula_keeps_a_lognormal_marginal_and_leaves_other_factors_alone():
    ins = (UncertainInput("a", "t", "f", Distribution("lognormal", sigma=0.3), ("r",), "a"),
           UncertainInput("b", "t", "g", Distribution("normal", sigma=1.0, mean=0.0), ("r",), "b",
                          True, central=(0.0,)),
           UncertainInput("c", "t", "h", Distribution("normal", sigma=1.0, mean=0.0), ("r",), "c",
                          True, central=(0.0,)))
    s = InputSet(ins, ("a", "b", "c"), "h", Correlation(("a", "c"), [[1, 0.8], [0.8, 1]]))
    u = make_design(s, "lhs", 8_000, 5).u
    v = s.values(u)
    # a's log is normal(0, 0.3): its quantiles are the lognormal's
    ks = stats.kstest(np.log(v[:, 0]), stats.norm(0, 0.3).cdf)
    assert ks.pvalue > 1e-3
    # b untouched (the design's own column), c correlated with a's log at 0.8
    assert np.array_equal(v[:, 1], ins[1].distribution.ppf(u[:, 1]))
    assert np.corrcoef(np.log(v[:, 0]), v[:, 2])[0, 1] == pytest.approx(0.8, abs=0.03)


def test_select_and_add_keep_the_correlations_of_the_factors_kept():
    r = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.1], [0.2, 0.1, 1.0]])
    s = _normal_set([1.0, 1.0, 1.0], r)
    sub = s.select(["x0", "x2"])
    assert sub.correlation.factors == ("x0", "x2")
    assert np.array_equal(sub.correlation.matrix, r[np.ix_([0, 2], [0, 2])])
    assert s.select(["x1"]).correlation is None
    other = InputSet((UncertainInput("y", "t", "f", Distribution("lognormal", sigma=0.1), ("r",),
                                     "y"),), ("y",), "g")
    both = other + s
    assert both.correlation.factors == s.correlation.factors
    u = make_design(both, "lhs", 50, 1).u
    assert np.array_equal(both.values(u)[:, 1:], s.values(u[:, 1:]))


def test_a_matrix_of_no_joint_draw_is_refused():
    with pytest.raises(InputError, match="least eigenvalue"):
        Correlation(("a", "b", "c"), [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(InputError, match="symmetric"):
        Correlation(("a", "b"), [[1, 0.5], [0.4, 1]])
    with pytest.raises(InputError, match="repeat"):
        Correlation(("a", "a"), np.eye(2))


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                       keep_default_na=False)


def _fitted(table: pd.DataFrame) -> pd.DataFrame:
    """The built-in table as a fit of three parameters writes it: a factor on theta (every theta
    row), two family constants; fitted_parameter names them."""
    t = table.copy()
    for col in ("std_error", "observations", "fitted_parameter"):
        t[col] = ""
    th = t["parameter"] == "theta"
    v = pd.to_numeric(t.loc[th, "value"])
    t.loc[th, "std_error"] = (0.2 * v).map(repr)
    t.loc[th, "fitted_parameter"] = "theta|factor"
    for fam, val, se in (("instc_west_rail", "-12.5", "4.0"), ("middle_corridor", "30", "9"),
                         ("middle_corridor_road", "-50", "20")):
        m = (t["parameter"] == "asc_usd_per_t") & (t["family"] == fam) & (t["commodity"] == "*")
        t.loc[m, ["value", "std_error", "fitted_parameter"]] = [val, se, f"asc_usd_per_t|{fam}"]
    return t


def _corr(rows) -> pd.DataFrame:
    return pd.DataFrame([(a, b, str(r), "KV_CALIBRATION", "2026-12-07", "estimate", "calibrated")
                         for a, b, r in rows],
                        columns=["parameter_a", "parameter_b", "correlation", "source",
                                 "source_date", "confidence", "method"])


def test_fitted_parameters_draw_with_the_fits_correlations(table):
    t = _fitted(table)
    corr = _corr([("asc_usd_per_t|middle_corridor", "asc_usd_per_t|middle_corridor_road", 0.9),
                  ("theta|factor", "asc_usd_per_t|instc_west_rail", -0.5)])
    s = choice_inputs(t, builtin_uncertainty_path(), correlation=corr)
    free = choice_inputs(t, builtin_uncertainty_path())
    assert free.correlation is None and s.table_hash != free.table_hash
    assert s.names == free.names  # the same inputs, only drawn together
    c = s.correlation
    assert set(c.factors) == {"choice.theta:se[containers+5]",
                              "choice.asc_usd_per_t:se[instc_west_rail]",
                              "choice.asc_usd_per_t:se[middle_corridor]",
                              "choice.asc_usd_per_t:se[middle_corridor_road]"}
    at = choice_values(s, t)
    u = make_design(s, "lhs", 4000, 2).u
    vals = np.array([at(x) for x in s.values(u)])
    par, fam, com = (t[c].to_numpy() for c in ("parameter", "family", "commodity"))

    def col(p, f="*", k="*"):
        return vals[:, np.flatnonzero((par == p) & (fam == f) & (com == k))[0]]

    mc, road = col("asc_usd_per_t", "middle_corridor"), col("asc_usd_per_t",
                                                              "middle_corridor_road")
    assert mc.mean() == pytest.approx(30, abs=0.5) and mc.std() == pytest.approx(9, rel=0.05)
    assert np.corrcoef(mc, road)[0, 1] == pytest.approx(0.9, abs=0.03)
    theta = col("theta", k="containers")
    assert np.corrcoef(theta, col("asc_usd_per_t", "instc_west_rail"))[0, 1] == pytest.approx(
        -0.5, abs=0.05)
    # every theta row moves with the one factor
    assert np.corrcoef(theta, col("theta", k="grain"))[0, 1] == pytest.approx(1.0)
    # unrelated pairs independent
    assert abs(np.corrcoef(mc, theta)[0, 1]) < 0.06


def test_a_bad_correlation_table_names_every_problem(table):
    t = _fitted(table)
    corr = _corr([("asc_usd_per_t|middle_corridor", "asc_usd_per_t|middle_corridor_road", 1.5),
                  ("theta|factor", "theta|factor", 0.2),
                  ("theta|factor", "asc_usd_per_t|no_such_family", 0.1),
                  ("theta|factor", "asc_usd_per_t|instc_west_rail", 0.3),
                  ("asc_usd_per_t|instc_west_rail", "theta|factor", 0.3)])
    with pytest.raises(InputError) as e:
        choice_inputs(t, builtin_uncertainty_path(), correlation=corr)
    text = "\n".join(e.value.problems)
    assert "in [-1, 1] (lines 2)" in text
    assert "with itself is 1, not a row (lines 3)" in text
    assert "asc_usd_per_t|no_such_family" in text and "not fitted parameters" in text
    assert "given twice" in text and "lines 5 and 6" in text


def test_a_correlation_of_no_joint_draw_is_refused_by_the_table(table):
    names = ["a", "b", "c"]
    m, problems = correlation_matrix(_corr([("a", "b", 0.9), ("b", "c", 0.9),
                                            ("a", "c", -0.9)]), names)
    assert len(problems) == 1 and "least eigenvalue" in problems[0]
    m, problems = correlation_matrix(_corr([("a", "b", 0.5)]), names)
    assert not problems and m[0, 1] == m[1, 0] == 0.5 and m[0, 2] == 0.0


def test_rows_of_one_fitted_parameter_must_agree(table):
    t = _fitted(table)
    th = np.flatnonzero(t["parameter"] == "theta")
    t.loc[th[0], "std_error"] = repr(0.5 * float(t.loc[th[0], "value"]))
    with pytest.raises(InputError, match="different relative standard errors"):
        choice_inputs(t, builtin_uncertainty_path())


def test_the_table_beside_a_parameter_table_is_read(tmp_path, table):
    (tmp_path / "choice_parameter.csv").write_text("x\n")
    assert read_choice_correlation(tmp_path / "choice_parameter.csv") is None
    _corr([("a", "b", 0.1)]).to_csv(tmp_path / CORRELATION_FILE, index=False)
    got = read_choice_correlation(tmp_path / "choice_parameter.csv")
    assert list(got["parameter_a"]) == ["a"]
    _corr([("a", "b", 0.1)]).drop(columns="source").to_csv(tmp_path / CORRELATION_FILE,
                                                           index=False)
    with pytest.raises(InputError, match="lacks columns source"):
        read_choice_correlation(tmp_path / "choice_parameter.csv")


def test_the_built_in_fit_draws_its_parameters_jointly():
    from karvan.explore.study import experiment_inputs
    from karvan.freight.corridor import load_corridor

    ins = experiment_inputs(load_corridor(), choice="logit")
    c = ins.correlation
    assert c is not None
    # the fit's strongest pair (the Middle Corridor's container constant and the value of
    # reliability, -0.93 in the fit of 2026-12-07 late) draws with the table's correlation, in
    # the sign of the factors that draw them
    table = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv")

    def factor(name):  # asc_usd_per_t|nest:a|b -> choice.asc_usd_per_t:se[a|b]; theta|factor ->
        kind, _, what = name.partition("|")  # choice.theta:se[...] (one factor for all rows)
        got = [f for f in c.factors if f.startswith(f"choice.{kind}:") and (
            what == "factor" or f.endswith(f"[{what.removeprefix('nest:')}]"))]
        assert len(got) == 1, (name, c.factors)
        return c.factors.index(got[0])

    corr = pd.read_csv(builtin_corridor_folder() / CORRELATION_FILE)
    pair = corr.loc[corr["correlation"].abs().idxmax()]
    i, j = factor(pair["parameter_a"]), factor(pair["parameter_b"])

    def sign(name):  # a parameter of several rows with a negative estimate draws -factor
        rows = table[(table["fitted_parameter"] == name) & (table["std_error"] > 0)]
        est = rows["value"] / rows["prior_value"] if name.endswith("|factor") else rows["value"]
        return -1.0 if len(rows) > 1 and est.iloc[0] < 0 else 1.0

    want = pair["correlation"] * sign(pair["parameter_a"]) * sign(pair["parameter_b"])
    assert abs(want) > 0.5
    assert c.matrix[i, j] == pytest.approx(want)
    # every calibrated parameter of the table is a factor of the correlation
    fitted = table.loc[table["std_error"] > 0, "fitted_parameter"].nunique()
    assert len(c.factors) == fitted == 11
    # and the inputs' table says which draw jointly
    t = ins.table()
    assert set(t.loc[t["drawn_jointly"], "factor"]) == set(c.factors)


def test_a_latin_hypercubes_ranks_are_read_on_the_drawn_values():
    from karvan.explore.analysis import _ranked_u, rank_correlation

    rng = np.random.default_rng(0)
    u = rng.random((4000, 2))
    design = pd.DataFrame(u, columns=["u:a", "u:b"])
    man = {"sampler": "lhs", "correlation": Correlation(("a", "b"), [[1, 0.9], [0.9, 1]])
           .manifest()}
    ranked = _ranked_u(man, design, u)
    # an output of a alone: b's draw shares most of a's, so b ranks with it (rho about 0.9)
    y = ranked[:, 0]
    rho = rank_correlation(ranked, y, ["a", "b"]).set_index("factor")["rho"]
    assert rho["a"] == pytest.approx(1.0) and rho["b"] == pytest.approx(0.89, abs=0.03)
    # a Sobol design's indices are read on the design's own (independent) points
    assert _ranked_u({**man, "sampler": "sobol"}, design, u) is u
    assert _ranked_u({"sampler": "lhs"}, design, u) is u


def test_a_negative_parameter_of_several_rows_keeps_the_sign_of_its_correlations(table):
    """One fitted constant that sets two rows at -50 (se 10) draws one factor f, row = -50 f,
    which moves the constant as -f: its correlation with another constant (+0.8 in the fit)
    must be +0.8 between the drawn rows, not -0.8."""
    t = table.copy()
    for col in ("std_error", "observations", "fitted_parameter", "prior_value"):
        t[col] = ""
    rows = np.flatnonzero((t["parameter"] == "asc_usd_per_t") & (t["commodity"] == "*")
                          & t["family"].isin(["instc_west_rail", "instc_west_road"]))
    assert len(rows) == 2
    t.loc[rows, ["value", "std_error", "fitted_parameter"]] = ["-50", "10", "asc_usd_per_t|a"]
    m = (t["parameter"] == "asc_usd_per_t") & (t["family"] == "middle_corridor") & (
        t["commodity"] == "*")
    t.loc[m, ["value", "std_error", "fitted_parameter"]] = ["20", "5", "asc_usd_per_t|b"]
    # and a factor (theta) whose estimate is positive, -0.5 with the first
    th = np.flatnonzero(t["parameter"] == "theta")
    v = pd.to_numeric(t.loc[th, "value"])
    t.loc[th, "prior_value"] = (v / 1.5).map(repr)  # the factor's estimate: 1.5
    t.loc[th, "std_error"] = (0.2 * v).map(repr)
    t.loc[th, "fitted_parameter"] = "theta|factor"
    corr = _corr([("asc_usd_per_t|a", "asc_usd_per_t|b", 0.8),
                  ("asc_usd_per_t|a", "theta|factor", -0.5)])
    s = choice_inputs(t, builtin_uncertainty_path(), correlation=corr)
    at = choice_values(s, t)
    vals = np.array([at(x) for x in s.values(make_design(s, "lhs", 6000, 9).u)])
    a, b = vals[:, rows[0]], vals[:, np.flatnonzero(m)[0]]
    assert a.mean() == pytest.approx(-50, abs=0.5) and a.std() == pytest.approx(10, rel=0.05)
    assert np.array_equal(a, vals[:, rows[1]])
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.8, abs=0.03)
    assert np.corrcoef(a, vals[:, th[0]])[0, 1] == pytest.approx(-0.5, abs=0.04)


def test_the_copula_takes_the_fits_order(table):
    """The Cholesky factor's order is the fit's (the correlation table's), not the parameter
    table's rows': the first factor is the fit's first parameter."""
    t = _fitted(table)
    corr = _corr([("asc_usd_per_t|middle_corridor_road", "asc_usd_per_t|middle_corridor", 0.9),
                  ("asc_usd_per_t|middle_corridor_road", "theta|factor", 0.2),
                  ("asc_usd_per_t|middle_corridor", "theta|factor", 0.1)])
    s = choice_inputs(t, builtin_uncertainty_path(), correlation=corr)
    assert s.correlation.factors == ("choice.asc_usd_per_t:se[middle_corridor_road]",
                                     "choice.asc_usd_per_t:se[middle_corridor]",
                                     "choice.theta:se[containers+5]")
    # the first factor's value is its own design column alone
    u = make_design(s, "lhs", 64, 3).u
    dep = s.dependent_u(u)
    k = s.factors.index(s.correlation.factors[0])
    assert np.allclose(dep[:, k], u[:, k])
    assert not np.allclose(dep[:, s.factors.index(s.correlation.factors[1])],
                           u[:, s.factors.index(s.correlation.factors[1])])


def test_the_joint_draws_are_said_by_explore_and_on_the_page(tmp_path):
    from karvan.explore.study import experiment_inputs
    from karvan.freight.corridor import load_corridor
    from karvan.report.uncertainty import joint_note

    data = load_corridor()
    t = experiment_inputs(data, choice="logit").table()
    t.to_csv(tmp_path / "inputs.csv", index=False)
    note = joint_note(tmp_path)
    assert note.startswith("11 factors draw jointly")
    # deterministic inputs, and an experiment from before the column: nothing said
    experiment_inputs(data, choice="deterministic").table().to_csv(tmp_path / "inputs.csv",
                                                                   index=False)
    assert joint_note(tmp_path) == ""
    t.drop(columns="drawn_jointly").to_csv(tmp_path / "inputs.csv", index=False)
    assert joint_note(tmp_path) == ""


def test_factors_that_draw_jointly_are_one_sensitivity_group():
    from karvan.explore.sampling import JOINT_GROUP, factor_groups, n_groups
    from karvan.report.uncertainty import JOINT_GROUP as PAGE_GROUP

    assert PAGE_GROUP == JOINT_GROUP
    r = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 1.0]])
    joint = _normal_set([1.0, 1.0, 1.0], r)
    other = InputSet((UncertainInput("y", "u", "g", Distribution("lognormal", sigma=0.1),
                                     ("r",), "y"),), ("y",), "g")
    s = other + joint
    # under either grouping the correlated factors are one group, the others as the grouping
    # says (x0..x2 share table t and field f: by field, y's field is its own)
    assert factor_groups(s, "factor") == ["y"] + [JOINT_GROUP] * 3
    assert factor_groups(s, "field") == ["u.g"] + [JOINT_GROUP] * 3
    assert n_groups(s, "factor") == 2 and n_groups(_normal_set([1.0, 1.0]), "factor") == 2
    # a Saltelli design of 2 groups: N (2 + 2) points, the group's columns moving together
    d = make_design(s, "sobol", 8, 0, groups="factor")
    assert d.n == 8 * 4 and d.groups == ("y", JOINT_GROUP)
    assert d.problem()["groups"] == ["y"] + [JOINT_GROUP] * 3
    a, b = d.u[0::4], d.u[3::4]  # SALib's blocks: A, A with y from B, A with the group from B, B
    assert np.array_equal(d.u[2::4][:, 1:], b[:, 1:]) and np.array_equal(d.u[2::4][:, 0], a[:, 0])
    # Morris trajectories step the group as one: N (2 + 1) points, one elementary effect each
    from karvan.explore.analysis import sensitivity

    m = make_design(s, "morris", 20, 0)
    assert m.n == 20 * 3
    steps = np.abs(np.diff(m.u.reshape(20, 3, 4), axis=1)) > 0
    assert (steps[:, :, 1:].all(axis=2) | ~steps[:, :, 1:].any(axis=2)).all()
    y = s.values(m.u)[:, 1:].sum(axis=1) + 10 * np.log(s.values(m.u)[:, 0])
    mu = sensitivity(m.u, m.problem(), "morris", y).set_index("factor")["mu_star"]
    assert list(mu.index) == ["y", JOINT_GROUP] and (mu > 0).all()
    # a factor of that name outside the joint draw would merge with it: refused
    named = InputSet((UncertainInput("z", "u", "g", Distribution("lognormal", sigma=0.1), ("r",),
                                     JOINT_GROUP),), (JOINT_GROUP,), "g") + joint
    with pytest.raises(InputError, match="rename it"):
        factor_groups(named, "factor")
    assert factor_groups(named, "field") == ["u.g"] + [JOINT_GROUP] * 3
    # inputs that all draw jointly make one group under either grouping: refused, saying why
    # and what to do
    for groups in ("factor", "field"):
        with pytest.raises(InputError, match=f"make 1 .*{JOINT_GROUP}.*--sampler lhs"):
            make_design(joint, "sobol", 8, 0, groups=groups)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_the_joint_groups_sobol_indices_are_the_closed_form_in_either_order(order):
    """For y = x0 + 3 x1 + x2, x0 and x1 standard normal with correlation 0.8, x2 independent,
    the group {x0, x1} has first-order and total index var(x0 + 3 x1) / var(y) = 14.8 / 15.8 =
    0.937, x2 1 / 15.8, whichever of x0 and x1 the Cholesky factor takes first; an index of the
    first design dimension alone would be (1 + 3 x 0.8)^2 / 15.8 = 0.73 with x0 first and
    (3 + 0.8)^2 / 15.8 = 0.91 with x1 first."""
    from karvan.explore.analysis import sensitivity
    from karvan.explore.sampling import JOINT_GROUP

    ins = tuple(UncertainInput(f"x{i}", "t", f"f{i}", Distribution("normal", sigma=1.0, mean=0.0),
                               (f"r{i}",), f"x{i}", True, central=(0.0,)) for i in range(3))
    pair = tuple(f"x{i}" for i in order)
    s = InputSet(ins, ("x0", "x1", "x2"), "h",
                 Correlation(pair, np.array([[1.0, 0.8], [0.8, 1.0]])))
    d = make_design(s, "sobol", 4096, 11, groups="field")
    v = s.values(d.u)
    assert np.corrcoef(v[:, 0], v[:, 1])[0, 1] == pytest.approx(0.8, abs=0.02)
    y = v[:, 0] + 3 * v[:, 1] + v[:, 2]
    sens = sensitivity(d.u, d.problem(), "sobol", y, seed=3).set_index("factor")
    assert list(sens.index) == [JOINT_GROUP, "t.f2"]
    # over 20 seeds of this design the estimates spread by sd 0.0007 at most and missed the
    # closed form by 0.002 at most (SALib's bootstrap interval, made for independent points,
    # is 30 times wider on a scrambled Sobol sequence): 0.01, below the 0.2 by which an index
    # of one dimension would miss
    for g, want in {JOINT_GROUP: 14.8 / 15.8, "t.f2": 1.0 / 15.8}.items():
        for col in ("S1", "ST"):
            assert sens.at[g, col] == pytest.approx(want, abs=0.01), (g, col)


def test_the_analysis_takes_the_groups_the_design_was_drawn_with(tmp_path):
    from karvan.explore.analysis import _problem
    from karvan.explore.sampling import JOINT_GROUP

    design = pd.DataFrame(np.zeros((2, 3)), columns=["u:a", "u:b", "u:c"])
    exp = type("E", (), {"folder": tmp_path})()
    grouped = _problem(exp, {"design_groups": ["a", JOINT_GROUP],
                             "design_group_of": ["a", JOINT_GROUP, JOINT_GROUP]}, design)
    assert grouped["groups"] == ["a", JOINT_GROUP, JOINT_GROUP]
    # one group a factor: no groups; a manifest from before design_group_of: as it was read
    assert "groups" not in _problem(exp, {"design_group_of": ["a", "b", "c"]}, design)
    assert "groups" not in _problem(exp, {"design_groups": ["a", "b", "c"]}, design)
    pd.DataFrame({"factor": ["a", "b", "c"], "table": ["demand", "link", "link"],
                  "field": ["tonnes", "capacity", "capacity"]}).to_csv(tmp_path / "inputs.csv",
                                                                      index=False)
    old = _problem(exp, {"design_groups": ["demand.tonnes", "link.capacity"]}, design)
    assert old["groups"] == ["demand.tonnes", "link.capacity", "link.capacity"]


def test_the_note_says_how_the_index_of_the_joint_draws_reads(tmp_path):
    import json

    from karvan.explore.sampling import JOINT_GROUP
    from karvan.explore.study import experiment_inputs
    from karvan.freight.corridor import load_corridor
    from karvan.report.uncertainty import joint_note

    experiment_inputs(load_corridor(), choice="logit").table().to_csv(tmp_path / "inputs.csv",
                                                                      index=False)
    man = tmp_path / "manifest.json"
    man.write_text(json.dumps({"sampler": "lhs"}))
    assert "a rank correlation of one of them includes" in joint_note(tmp_path)
    man.write_text(json.dumps({"sampler": "sobol", "design_group_of": ["a", JOINT_GROUP]}))
    assert f"their Sobol indices are one pair, of the group {JOINT_GROUP}: all of them together, " \
        "whatever their order" in joint_note(tmp_path)
    man.write_text(json.dumps({"sampler": "morris", "design_group_of": ["a", JOINT_GROUP]}))
    assert "their Morris index is one, of the group drawn_jointly: a screening of all of them " \
        "together, whose value depends on the fit's order" in joint_note(tmp_path)
    man.write_text(json.dumps({"sampler": "morris", "design_groups": ["a", "b"]}))
    assert "a Morris index of one of them is of the part of its draw beyond" in \
        joint_note(tmp_path)


def test_input_selects_the_joint_group_by_the_name_a_sensitivity_table_gives_it():
    from karvan.explore.sampling import JOINT_GROUP

    r = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 1.0]])
    s = InputSet((UncertainInput("y", "u", "g", Distribution("lognormal", sigma=0.1), ("r",),
                                 "y"),), ("y",), "g") + _normal_set([1.0, 1.0, 1.0], r)
    sub = s.select([JOINT_GROUP])
    assert sub.factors == ("x0", "x1", "x2") and sub.correlation.factors == sub.factors
    assert s.select([JOINT_GROUP, "y"]).factors == s.factors
    # without a joint draw the name is unknown, as any other
    with pytest.raises(InputError, match="unknown input names"):
        _normal_set([1.0, 1.0]).select([JOINT_GROUP])
