"""The demand generator: it rebuilds the shipped demand.csv byte for byte, follows its inputs,
keeps provenance, and rejects bad inputs with every problem named."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.freight.demand_build import (
    CONFIDENCE,
    INPUT_FOLDER,
    build_demand,
    demand_csv_text,
    flow_tonnes,
    read_demand_inputs,
    write_demand,
)


@pytest.fixture()
def dataset(tmp_path):
    """A copy of the built-in dataset to edit."""
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    return folder


def _edit(folder, table, fn):
    path = folder / INPUT_FOLDER / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df)
    df.to_csv(path, index=False, lineterminator="\n")


def test_generator_reproduces_the_shipped_demand_exactly():
    shipped = (builtin_corridor_folder() / "demand.csv").read_text(encoding="utf-8")
    assert demand_csv_text(build_demand()) == shipped


def test_write_demand_rebuilds_a_deleted_table_that_the_model_loads(dataset):
    shipped = (dataset / "demand.csv").read_bytes()
    (dataset / "demand.csv").unlink()
    write_demand(dataset)
    assert (dataset / "demand.csv").read_bytes() == shipped
    data = load_corridor(dataset)
    assert data.demand["tonnes_per_year"].sum() > 0


def test_demand_adds_up_to_the_flows_and_keeps_their_provenance():
    inp = read_demand_inputs()
    ft = flow_tonnes(inp)
    dem = build_demand()
    # rows are rounded to 10 t (a zone to itself is refused); nothing is lost or made up, in
    # the domestic pairs (Azerbaijan–Nakhchivan) as in the others
    assert abs(dem["tonnes_per_year"].sum() - ft["tonnes_per_year"].sum()) < 10 * len(dem)
    zc = dict(zip(inp.zones["zone_id"], inp.zones["country"], strict=True))
    for (o, d), t in ft.groupby(["origin_country", "destination_country"])["tonnes_per_year"]:
        sel = (dem["origin_zone_id"].map(zc) == o) & (dem["destination_zone_id"].map(zc) == d)
        assert dem.loc[sel, "tonnes_per_year"].sum() == pytest.approx(t.sum(),
                                                                      abs=10 * int(sel.sum()))
    assert (dem["tonnes_per_year"] % 10 == 0).all() and (dem["tonnes_per_year"] >= 10).all()
    assert dem["confidence"].isin(CONFIDENCE).all()
    # a row's confidence is the weakest of its flows'
    flows = inp.flows.set_index("flow_id")
    for r in dem.sample(50, random_state=0).itertuples():
        worst = max((flows.at[f, "confidence"] for f in r.flow_ids.split(";")),
                    key=CONFIDENCE.index)
        assert CONFIDENCE.index(r.confidence) >= CONFIDENCE.index(worst)
    # every observation a row rests on is one its flows name
    for r in dem[dem["observed_ids"] != ""].itertuples():
        named = set(";".join(flows.loc[r.flow_ids.split(";"), "observed_ids"]).split(";"))
        assert set(r.observed_ids.split(";")) <= named


def test_value_flows_divide_by_the_value_per_tonne():
    inp = read_demand_inputs()
    ft = flow_tonnes(inp).set_index(["flow_id", "commodity_id"])
    f = inp.flows.set_index("flow_id").loc["RU>AZ"]
    usd = f["figure"] * f["to_annual"] * f["to_base_year"] * f["direction_share"] * f[
        "scope_share"]
    mix = inp.mix[(inp.mix["flow_id"] == "RU>AZ") & (inp.mix["commodity_id"] == "grain")]
    value = inp.commodities.set_index("commodity_id").at["grain", "value_usd_per_t"]
    assert ft.at[("RU>AZ", "grain"), "tonnes_per_year"] == pytest.approx(
        usd * float(mix["share"].iloc[0]) / value)


def test_new_trade_figures_change_only_their_rows(dataset):
    before = build_demand(dataset).set_index(["origin_zone_id", "destination_zone_id",
                                              "commodity_id"])["tonnes_per_year"]

    def double(df):
        df.loc[df["flow_id"] == "RU>IN_FERT", "figure"] = "10800000"

    _edit(dataset, "trade_flow", double)
    after = build_demand(dataset).set_index(["origin_zone_id", "destination_zone_id",
                                             "commodity_id"])["tonnes_per_year"]
    changed = after.index[(after - before).abs() > 10]
    assert len(changed) > 0
    assert set(changed.get_level_values("commodity_id")) == {"fertilisers_chemicals"}
    assert all(o.startswith("Z_RU_") and d.startswith("Z_IN_") for o, d, _ in changed)
    ratio = after[changed] / before[changed]
    assert ratio.between(1.5, 2.01).all()  # doubled where RU>IN_FERT is the row's only flow


def test_bad_inputs_name_every_problem_and_write_nothing(dataset):
    shipped = (dataset / "demand.csv").read_bytes()

    def break_flows(df):
        df.loc[0, "origin_zone_id"] = "Z_NOWHERE"
        df.loc[1, "confidence"] = "hearsay"
        df.loc[2, "figure"] = "lots"
        df.loc[3, "observed_ids"] = "OBS_NOT_THERE"

    def break_shares(df):
        df.loc[0, "share"] = "0.9"

    _edit(dataset, "trade_flow", break_flows)
    _edit(dataset, "zone_share", break_shares)
    with pytest.raises(InputError) as e:
        write_demand(dataset)
    msg = str(e.value)
    for part in ("origin_zone_id", "confidence must be one of", "figure must be a finite number",
                 "OBS_NOT_THERE", "must sum to 1"):
        assert part in msg, part
    assert len(e.value.problems) >= 5
    assert (dataset / "demand.csv").read_bytes() == shipped


def test_messages_name_the_line_and_id_of_each_bad_row(dataset):
    """Every per-row problem says where: the file's line (header = line 1) and the row's id."""
    flows = pd.read_csv(dataset / INPUT_FOLDER / "trade_flow.csv", dtype=str,
                        keep_default_na=False)
    ids = flows["flow_id"].tolist()

    def break_flows(df):
        df.loc[len(df)] = df.loc[0]  # a duplicate of line 2 at the end
        df.loc[4, "basis"] = "kg"  # line 6
        df.loc[5, "destination_country"] = "XX"  # line 7
        df.loc[6, "observed_ids"] = "OBS_NOT_THERE"  # line 8
        df.loc[7, "source"] = "NO_SUCH_SOURCE"  # line 9

    def break_mix(df):
        df.loc[2, "commodity_id"] = "caviar"  # line 4
        df.loc[3, "flow_id"] = "F_NOT_THERE"  # line 5

    _edit(dataset, "trade_flow", break_flows)
    _edit(dataset, "trade_mix", break_mix)
    with pytest.raises(InputError) as e:
        read_demand_inputs(dataset)
    problems = e.value.problems
    expected = {
        "duplicate flow_id": f"line {len(ids) + 2}: flow_id {ids[0]}",
        "basis must be one of": f"line 6: flow_id {ids[4]}",
        "destination_country with no zone": f"line 7: flow_id {ids[5]}: XX",
        "observed_ids not in observed.csv": f"line 8: flow_id {ids[6]}: OBS_NOT_THERE",
        "trade_flow.csv: sources not listed": "line 9: NO_SUCH_SOURCE",
        "trade_mix.csv: commodity_id not in commodity.csv": "line 4: commodity_id caviar",
        "trade_mix.csv: flow_id not in trade_flow.csv": "line 5: flow_id F_NOT_THERE",
    }
    for what, where in expected.items():
        hits = [m for m in problems if what in m]
        assert hits, what
        assert any(where in m for m in hits), (what, hits)


def test_a_demand_table_the_inputs_no_longer_build_is_warned_about_at_load(dataset):
    """Inputs edited and demand.csv not rebuilt: the run would use the old demand in silence."""
    from karvan.freight.corridor import CorridorWarning

    def double(df):
        df.loc[df["flow_id"] == "RU>IN_FERT", "figure"] = "10800000"

    (dataset / "od_estimate.csv").unlink()  # it refuses the rebuilt demand.csv below
    _edit(dataset, "trade_flow", double)
    with pytest.warns(CorridorWarning, match="demand.csv is not what demand_inputs/ build") as w:
        data = load_corridor(dataset)
    msg = str(w[0].message)
    assert "fertilisers_chemicals" in msg and "Z_RU_" in msg
    assert f"karvan data build-demand --data {dataset}" in msg
    # the run still uses demand.csv as it is
    shipped = pd.read_csv(builtin_corridor_folder() / "demand.csv")
    assert data.tables["demand"]["tonnes_per_year"].sum() == shipped["tonnes_per_year"].sum()
    # rebuilt: silent again (warnings are errors in the tests)
    write_demand(dataset)
    load_corridor(dataset)


def test_the_stale_demand_warning_says_what_an_estimate_needs(dataset):
    """With od_estimate.csv the run uses the estimate; rebuilding demand.csv alone makes the
    dataset fail to load until it is estimated again."""
    from karvan.freight.corridor import CorridorWarning

    def double(df):
        df.loc[df["flow_id"] == "RU>IN_FERT", "figure"] = "10800000"

    _edit(dataset, "trade_flow", double)
    with pytest.warns(CorridorWarning, match="as od_estimate.csv estimated it") as w:
        load_corridor(dataset)
    assert "karvan calibrate --write" in str(w[0].message)


def test_a_hand_edited_demand_row_is_named(dataset):
    (dataset / "od_estimate.csv").unlink()  # it refuses a demand.csv changed after it
    path = dataset / "demand.csv"
    demand = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = demand.iloc[0]
    demand.loc[0, "tonnes_per_year"] = str(int(row["tonnes_per_year"]) + 5000)
    demand.to_csv(path, index=False, lineterminator="\n")
    from karvan.freight.corridor import CorridorWarning
    with pytest.warns(CorridorWarning, match="1 cells differ") as w:
        load_corridor(dataset)
    assert f"{row['origin_zone_id']} -> {row['destination_zone_id']}" in str(w[0].message)


def test_values_that_would_drop_or_overflow_demand_are_named(dataset):
    """A USD flow's commodity without a value per tonne (its tonnes would be NaN and dropped),
    infinite figures, shares or values, and a year that is not a number: all named at once,
    nothing written."""
    shipped = (dataset / "demand.csv").read_bytes()
    flows = pd.read_csv(dataset / "demand_inputs" / "trade_flow.csv", dtype=str,
                        keep_default_na=False)
    mix = pd.read_csv(dataset / "demand_inputs" / "trade_mix.csv", dtype=str,
                      keep_default_na=False)
    usd = flows.loc[flows["basis"] == "usd", "flow_id"]
    row = mix[mix["flow_id"].isin(usd) & (mix["value_usd_per_t"] == "")].iloc[0]
    tonnes = flows.index[flows["basis"] == "tonnes"]

    def break_flows(df):
        df.loc[tonnes[0], "figure"] = "inf"
        df.loc[tonnes[1], "year"] = "20x3"

    def break_mix(df):
        df.loc[int(df.index[df["value_usd_per_t"] == ""][-1]), "share"] = "inf"

    def no_value(df):
        df.loc[df["commodity_id"] == row["commodity_id"], "value_usd_per_t"] = ""

    _edit(dataset, "trade_flow", break_flows)
    _edit(dataset, "trade_mix", break_mix)
    path = dataset / "commodity.csv"  # beside demand_inputs/
    com = pd.read_csv(path, dtype=str, keep_default_na=False)
    no_value(com)
    com.to_csv(path, index=False, lineterminator="\n")
    with pytest.raises(InputError) as e:
        write_demand(dataset)
    msg = str(e.value)
    assert "figure must be a finite number" in msg and "year must be a whole number" in msg
    assert "share must be a finite number" in msg
    assert f"{row['flow_id']}/{row['commodity_id']}" in msg and "value per tonne" in msg
    assert (dataset / "demand.csv").read_bytes() == shipped


def test_a_reference_table_without_a_column_the_generator_reads_is_named(dataset):
    """The generator reads zone.csv, commodity.csv, observed.csv and sources.csv beside its
    inputs, and load_corridor calls it for the trade rows: a missing column there is an
    InputError naming the file and the column, not a KeyError."""
    path = dataset / "commodity.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.drop(columns="value_usd_per_t").to_csv(path, index=False, lineterminator="\n")
    with pytest.raises(InputError) as e:
        read_demand_inputs(dataset)
    assert "commodity.csv lacks column(s) value_usd_per_t" in str(e.value)
    with pytest.raises(InputError, match="value_usd_per_t"):
        load_corridor(dataset)


def test_zone_shares_are_matched_most_specific_first(dataset):
    inp = read_demand_inputs(dataset)
    dem = build_demand(dataset)
    # Russian grain leaves from the grain belt, not from Moscow's consumption share
    grain = dem[(dem["commodity_id"] == "grain") & dem["origin_zone_id"].str.startswith("Z_RU_")
                & dem["destination_zone_id"].str.startswith("Z_TR_")]
    share = grain.groupby("origin_zone_id")["tonnes_per_year"].sum() / grain[
        "tonnes_per_year"].sum()
    zs = inp.zone_shares
    expect = zs[(zs["country"] == "RU") & (zs["commodity_id"] == "grain")].set_index("zone_id")[
        "share"]
    assert np.allclose(share.reindex(expect.index).to_numpy(), expect.to_numpy(), atol=1e-4)


def test_energy_is_documented_and_kept_out():
    inp = read_demand_inputs()
    assert len(inp.energy) > 0
    assert (inp.energy["treatment"] == "excluded").all()
    com = set(read_demand_inputs().commodities["commodity_id"])
    assert not {"crude_oil", "natural_gas", "coal"} & com


def test_the_command_rebuilds_and_checks(dataset):
    from typer.testing import CliRunner

    from karvan.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["data", "build-demand", "--folder", str(dataset), "--check"])
    assert r.exit_code == 0, r.output
    (dataset / "demand.csv").write_text("origin_zone_id\n", encoding="utf-8")
    r = runner.invoke(app, ["data", "build-demand", "--folder", str(dataset), "--check"])
    assert r.exit_code == 1 and "differs" in r.output
    r = runner.invoke(app, ["data", "build-demand", "--folder", str(dataset)])
    assert r.exit_code == 0, r.output
    assert "Mt/yr" in r.output and "flows" in r.output
    assert (dataset / "demand.csv").read_text(encoding="utf-8") == (
        builtin_corridor_folder() / "demand.csv").read_text(encoding="utf-8")
    _edit(dataset, "trade_flow", lambda df: df.__setitem__("basis", "kg"))
    r = runner.invoke(app, ["data", "build-demand", "--folder", str(dataset)])
    assert r.exit_code == 2 and "basis must be one of" in r.output


def test_observations_the_demand_rests_on_are_marked_not_independent():
    obs = pd.read_csv(builtin_corridor_folder() / "observed.csv", dtype=str,
                      keep_default_na=False)
    rests_on = set(";".join(build_demand()["observed_ids"]).split(";")) - {""}
    assert rests_on <= set(obs["observed_id"])
    if "independent" in obs:  # the calibration's record of which figures built an input
        flagged = obs.set_index("observed_id")["independent"].str.lower()
        assert (flagged[sorted(rests_on)] == "false").all()


def test_inputs_that_would_lose_or_double_tonnes_are_refused(dataset):
    """Three edits that the generator took in silence: Nakhchivan among Azerbaijan's zone shares
    (the Azerbaijan–Nakhchivan flows lost the tonnes from Nakhchivan to itself, 25 kt), a value
    per tonne typed with a thousands separator (it fell back to commodity.csv's, doubling
    Russia–India general cargo), and a flow copied under a new id (counted twice)."""
    shipped = (dataset / "demand.csv").read_bytes()

    def nakhchivan(df):
        df.loc[(df["country"] == "AZ") & (df["zone_id"] == "Z_AZ_BAKU"), "share"] = "0.70"
        row = df[(df["country"] == "AZ") & (df["zone_id"] == "Z_AZ_BAKU")].iloc[0].copy()
        row["zone_id"], row["share"] = "Z_AZ_NAKHCHIVAN", "0.05"
        df.loc[len(df)] = row

    def typo(df):
        i = df.index[(df["flow_id"] == "RU>IN") & (df["commodity_id"] == "general_cargo")][0]
        df.loc[i, "value_usd_per_t"] = "1,000"

    def copy(df):
        row = df[df["flow_id"] == "RU>IN_FERT"].iloc[0].copy()
        row["flow_id"] = "RU>IN_FERT2"
        df.loc[len(df)] = row

    def copy_mix(df):
        row = df[df["flow_id"] == "RU>IN_FERT"].iloc[0].copy()
        row["flow_id"] = "RU>IN_FERT2"
        df.loc[len(df)] = row

    _edit(dataset, "zone_share", nakhchivan)
    _edit(dataset, "trade_mix", typo)
    _edit(dataset, "trade_flow", copy)
    _edit(dataset, "trade_mix", copy_mix)
    with pytest.raises(InputError) as e:
        write_demand(dataset)
    problems = e.value.problems
    same_zone = [m for m in problems if "start and end in the same zone" in m]
    assert {f for f in ("AZ>NAKH", "NAKH>AZ") if any(f"flow {f} " in m for m in same_zone)} \
        == {"AZ>NAKH", "NAKH>AZ"}
    assert any("Z_AZ_NAKHCHIVAN" in m for m in same_zone)
    assert any("value_usd_per_t is not a number" in m and "1,000" not in m.split("(")[0]
               for m in problems)
    assert any("RU>IN_FERT, RU>IN_FERT2" in m and "counted twice" in m for m in problems)
    assert (dataset / "demand.csv").read_bytes() == shipped


def test_the_generator_refuses_what_the_schemas_refuse(dataset):
    """to_annual 0 passed the generator's own check (>= 0) and wrote a demand.csv without the
    flow, which load_corridor then refused."""
    shipped = (dataset / "demand.csv").read_bytes()

    def zero(df):
        df.loc[df["flow_id"] == "KZ>AZ_GRAIN", "to_annual"] = "0"

    _edit(dataset, "trade_flow", zero)
    with pytest.raises(InputError, match="to_annual"):
        write_demand(dataset)
    assert (dataset / "demand.csv").read_bytes() == shipped


def test_the_documented_demand_tables_are_what_the_inputs_build():
    """docs/dataset.md's flow and total tables had fallen behind the inputs (77 flows, 95.40 Mt
    against 79 and 85.81): they are now generated, and must be regenerated with the inputs."""
    from pathlib import Path

    from karvan.freight.demand_build import TABLES_BEGIN, TABLES_END, demand_tables_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "dataset.md"
    if not doc.is_file():
        pytest.skip("docs/dataset.md is not beside the tests (an installed package)")
    text = doc.read_text(encoding="utf-8")
    shown = text[text.index(TABLES_BEGIN) + len(TABLES_BEGIN):text.index(TABLES_END)]
    assert shown.strip() == demand_tables_markdown().strip(), (
        "docs/dataset.md's demand tables differ from the inputs': paste the output of "
        "`karvan data demand-tables` between its markers")


def test_the_demand_tables_command_prints_them():
    from typer.testing import CliRunner

    from karvan.cli import app
    from karvan.freight.demand_build import demand_tables_markdown

    res = CliRunner().invoke(app, ["data", "demand-tables"])
    assert res.exit_code == 0, res.output
    assert res.output == demand_tables_markdown()


def test_the_demand_tables_say_when_demand_csv_is_not_what_the_inputs_build(dataset):
    from typer.testing import CliRunner

    from karvan.cli import app

    args = ["data", "demand-tables", "--data", str(dataset)]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "note:" not in res.output
    dem = pd.read_csv(dataset / "demand.csv", keep_default_na=False)
    dem.loc[0, "tonnes_per_year"] *= 2  # edited by hand
    dem.to_csv(dataset / "demand.csv", index=False)
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "demand.csv differs from what its demand_inputs/ build" in text
    assert "karvan data build-demand --data" in text


@pytest.mark.parametrize("table", ["trade_flow", "trade_mix", "zone_share", "energy_flow"])
def test_an_input_saved_with_semicolons_is_named(dataset, table):
    """A spreadsheet's ';'-separated CSV made build-demand and demand-tables fail with an
    internal error (pandas' ParserError); validate named the separator."""
    from typer.testing import CliRunner

    from karvan.cli import app

    path = dataset / INPUT_FOLDER / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if table == "energy_flow":  # no comma left in its text: pandas reads one column, no error
        df = df.apply(lambda c: c.str.replace(",", " "))
    df.to_csv(path, sep=";", index=False)
    want = f"{table}.csv line 1: the columns are separated by ';', not commas"
    with pytest.raises(InputError, match=want):
        read_demand_inputs(dataset)
    for args in (["build-demand", "--check"], ["demand-tables"]):
        r = CliRunner().invoke(app, ["data", *args, "--data", str(dataset)],
                               env={"COLUMNS": "200"})
        assert r.exit_code == 2 and want in r.output, r.output
        assert r.output.count("separated by") == 1 and "lacks column" not in r.output
    # the other tables' problems are kept beside it
    _edit(dataset, "trade_flow" if table != "trade_flow" else "zone_share",
          lambda df: df.__setitem__("confidence", "sure"))
    with pytest.raises(InputError) as e:
        read_demand_inputs(dataset)
    assert any(want in m for m in e.value.problems)
    assert any("confidence is not one of" in m for m in e.value.problems), e.value.problems


def test_a_stale_estimate_is_named_and_replaced_by_calibrate(dataset, monkeypatch):
    """New trade figures rebuilt demand.csv in silence; the dataset then did not load, and
    `karvan calibrate --write`, which the message advised, refused it as well."""
    from typer.testing import CliRunner

    import karvan.scenario.calibration as calibration
    from karvan.cli import app

    def double(df):
        df.loc[df["flow_id"] == "RU>IN_FERT", "figure"] = "10800000"

    _edit(dataset, "trade_flow", double)
    runner = CliRunner()
    r = runner.invoke(app, ["data", "build-demand", "--data", str(dataset)],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "od_estimate.csv was estimated from the demand.csv before this one" in r.output
    with pytest.raises(InputError, match="prior_tonnes_per_year differs"):
        load_corridor(dataset)
    fresh = load_corridor(dataset, estimate=False)
    assert not fresh.demand_estimated
    assert fresh.demand["tonnes_per_year"].sum() == pytest.approx(
        pd.read_csv(dataset / "demand.csv")["tonnes_per_year"].sum())

    def reached(*args, **kwargs):
        raise RuntimeError("the estimation was reached")

    monkeypatch.setattr(calibration, "estimate_demand", reached)
    r = runner.invoke(app, ["calibrate", "--data", str(dataset), "--write", "--out",
                            str(dataset.parent / "cal"), "-q"])
    assert "the estimation was reached" in r.output, r.output
    # an unchanged demand.csv gives no note
    shutil.copy(builtin_corridor_folder() / "od_estimate.csv", dataset / "od_estimate.csv")
    _edit(dataset, "trade_flow", lambda df: None)
    shutil.copytree(builtin_corridor_folder() / INPUT_FOLDER, dataset / INPUT_FOLDER,
                    dirs_exist_ok=True)
    r = runner.invoke(app, ["data", "build-demand", "--data", str(dataset)])
    assert r.exit_code == 0 and "note:" not in r.output, r.output


def test_ids_with_a_space_at_an_end_are_read_as_the_schemas_read_them(dataset):
    """observed.csv's 'OBS_TRADE_IR_AZ_2022 ' (the schemas drop the space) was reported as
    missing from observed.csv by trade_flow.csv's rows; trade_flow.csv's 'IR>AZ ' was
    reported by trade_mix.csv's rows as an unknown flow."""
    def pad(df):
        df.loc[df["flow_id"] == "IR>AZ", "flow_id"] = "IR>AZ "

    _edit(dataset, "trade_flow", pad)
    obs = pd.read_csv(dataset / "observed.csv", dtype=str, keep_default_na=False)
    obs.loc[obs["observed_id"] == "OBS_TRADE_IR_AZ_2022", "observed_id"] += " "
    obs.to_csv(dataset / "observed.csv", index=False, lineterminator="\n")
    assert demand_csv_text(build_demand(dataset)) == (
        builtin_corridor_folder() / "demand.csv").read_text(encoding="utf-8")


def test_a_figure_in_kt_a_pair_over_all_of_its_trade_and_swapped_countries_are_refused(dataset):
    """Three edits that build-demand wrote in silence: a figure in kt (Russia → Iran's 3,748 for
    3.748 Mt took 5 Mt of demand away; here Iran → Azerbaijan's), Iran → Russia's direction share
    raised so that the pair takes 1.1 of its trade, and the fertiliser flow's countries swapped
    (5.4 Mt sent the other way)."""
    shipped = (dataset / "demand.csv").read_bytes()

    def edits(df):
        df.loc[df["flow_id"] == "IR>AZ", "figure"] = "765.416"
        df.loc[df["flow_id"] == "IR>RU", "direction_share"] = "0.4945"  # with RU>IR's 0.6055
        fert = df["flow_id"] == "RU>IN_FERT"
        df.loc[fert, ["origin_country", "destination_country"]] = ["IN", "RU"]

    _edit(dataset, "trade_flow", edits)
    with pytest.raises(InputError) as e:
        write_demand(dataset)
    text = " ".join(e.value.problems)
    assert ("(IR>AZ): figure 765.416 x to_annual 1 = 765 t is 0.000976 times the figure it "
            "cites, OBS_TRADE_IR_AZ_2022 (784,380 t/yr in observed.csv): is it in kt or Mt?"
            ) in text, text
    assert "flows IR>RU, RU>IR" in text or "flows RU>IR, IR>RU" in text, text
    assert "take 1.1 of one figure" in text
    assert ("(RU>IN_FERT): the id names RU > IN, but origin_country is IN and "
            "destination_country RU: swapped?") in text
    assert (dataset / "demand.csv").read_bytes() == shipped


def test_a_dataset_that_is_no_folder_is_said_to_be_none(tmp_path):
    """Every table was said to be missing from it, one line each."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"file is not a folder; give a corridor dataset"):
        read_demand_inputs(tmp_path / "file")
    with pytest.raises(InputError, match=r"nowhere does not exist; give a corridor dataset"):
        read_demand_inputs(tmp_path / "nowhere")


def test_overseas_shares_are_the_marked_flows_part_of_each_cell():
    """A cell's overseas share is the tonnes of the flows marked at that end over the cell's
    tonnes, recomputed here from the flows' tonnes and the zone shares."""
    inp = read_demand_inputs()
    dem = build_demand().set_index(["origin_zone_id", "destination_zone_id", "commodity_id"])
    fl = inp.flows.set_index("flow_id")
    ft = flow_tonnes(inp)
    marked = set(fl.index[fl["overseas_end"] != ""])
    assert {"RU>GULF", "GULF>RU", "GEPORTS>AM", "AM>GEPORTS", "KZ>GEPORTS_OIL"} <= marked
    # Russia -> Bandar Abbas grain holds Russia's grain to Iran (the zone's share of it: Iran
    # has no grain rows of its own) and the grain to the Gulf, all of whose tonnes go there
    zs = inp.zone_shares
    assert not len(zs[(zs["country"] == "IR") & (zs["commodity_id"] == "grain")])
    ir_ba = float(zs[(zs["country"] == "IR") & (zs["zone_id"] == "Z_IR_BANDAR_ABBAS")
                     & (zs["commodity_id"] == "*") & (zs["side"] == "*")]["share"].iloc[0])
    t = ft.set_index(["flow_id", "commodity_id"])["tonnes_per_year"]
    ru_rows = zs[(zs["country"] == "RU") & (zs["commodity_id"] == "grain")]
    if not len(ru_rows):
        ru_rows = zs[(zs["country"] == "RU") & (zs["commodity_id"] == "*")]
    ru_rows = ru_rows[ru_rows["side"].isin(["origin", "*"])]
    zone, share = ru_rows["zone_id"].iloc[0], float(ru_rows["share"].iloc[0])
    gulf = t[("RU>GULF", "grain")] * share
    to_iran = fl[(fl["origin_country"] == "RU") & (fl["destination_country"] == "IR")
                 & (fl["destination_zone_id"] == "") & (fl["origin_zone_id"] == "")]
    assert "RU>IR" in to_iran.index and not (to_iran["overseas_end"] != "").any()
    own = sum(t.get((f, "grain"), 0.0) for f in to_iran.index) * share * ir_ba
    row = dem.loc[(zone, "Z_IR_BANDAR_ABBAS", "grain")]
    assert row["overseas_destination_share"] == pytest.approx(gulf / (gulf + own), abs=1e-6)
    assert row["overseas_origin_share"] == 0
    # a cell of marked flows only is all overseas; a cell of none has none
    assert (dem.loc[("Z_AM_YEREVAN", "Z_GE_PORTS"), "overseas_destination_share"] == 1).all()
    plain = dem[~dem["flow_ids"].str.split(";").map(lambda f: bool(set(f) & marked))]
    assert len(plain) > 1000
    assert (plain[["overseas_origin_share", "overseas_destination_share"]] == 0).all().all()
    # the overseas tonnes add up to the marked flows' (to the rounding of the cells)
    over = (dem["tonnes_per_year"] * (dem["overseas_origin_share"]
                                      + dem["overseas_destination_share"])).sum()
    want = ft[ft["flow_id"].isin(marked)]["tonnes_per_year"].sum()
    assert over == pytest.approx(want, abs=10 * len(dem))


def test_a_bad_overseas_end_is_named(dataset):
    def mark(df):
        df.loc[df["flow_id"] == "RU>IR", "overseas_end"] = "destination"  # no port zone named
        df.loc[df["flow_id"] == "IR>RU", "overseas_end"] = "abroad"

    _edit(dataset, "trade_flow", mark)
    with pytest.raises(InputError) as e:
        write_demand(dataset)
    msg = str(e.value)
    assert "overseas_end destination needs the port's zone in destination_zone_id" in msg
    assert "(line 2: flow_id RU>IR)" in msg
    assert "overseas_end is not one of origin, destination on 1 row (line 3; flow_id IR>RU: " \
        "'abroad'); write origin, destination or leave it blank" in msg
    assert len(e.value.problems) == 2  # each said once


def test_overseas_shares_the_inputs_no_longer_give_are_warned_about_at_load(dataset):
    """An overseas_end edited and demand.csv not rebuilt (or a table without the shares): the
    ports' transit would count the old shares in silence."""
    from karvan.freight.corridor import CorridorWarning

    def unmark(df):
        df.loc[df["flow_id"] == "GEPORTS>AM", "overseas_end"] = ""

    _edit(dataset, "trade_flow", unmark)
    with pytest.warns(CorridorWarning, match="overseas shares are not what") as w:
        load_corridor(dataset)
    msg = str(w[0].message)
    assert "Z_GE_PORTS -> Z_AM_YEREVAN" in msg and "overseas_origin_share 1 in demand.csv, " \
        "0 from the inputs" in msg
    assert f"karvan data build-demand --data {dataset}" in msg
    assert not any("demand.csv is not what" in str(x.message) for x in w)  # tonnes unchanged
    _edit(dataset, "trade_flow", lambda df: df.__setitem__(
        "overseas_end", pd.read_csv(builtin_corridor_folder() / INPUT_FOLDER / "trade_flow.csv",
                                    dtype=str, keep_default_na=False)["overseas_end"]))
    dem = pd.read_csv(dataset / "demand.csv", dtype=str, keep_default_na=False)
    dem.drop(columns=["overseas_origin_share", "overseas_destination_share"]).to_csv(
        dataset / "demand.csv", index=False, lineterminator="\n")
    with pytest.warns(CorridorWarning, match="overseas shares are not what") as w:
        data = load_corridor(dataset)
    assert (data.demand["overseas_destination_share"] == 0).all()  # no column: no share


@pytest.mark.filterwarnings("ignore:corridor. demand.csv's overseas shares are not what")
def test_overseas_shares_that_add_up_to_more_than_the_cell_are_refused(dataset):
    path = dataset / "demand.csv"
    dem = pd.read_csv(path, dtype=str, keep_default_na=False)
    dem.loc[3, "overseas_origin_share"] = "0.7"
    dem.loc[3, "overseas_destination_share"] = "0.6"
    dem.to_csv(path, index=False, lineterminator="\n")
    (dataset / "od_estimate.csv").unlink(missing_ok=True)
    with pytest.raises(InputError) as e:
        load_corridor(dataset)
    msg = str(e.value)
    assert "overseas_origin_share + overseas_destination_share exceeds 1" in msg
    assert f"line 5 ({dem.loc[3, 'origin_zone_id']} -> {dem.loc[3, 'destination_zone_id']}" in msg


def test_overseas_cargo_through_a_zone_without_a_port_is_refused(dataset):
    """Marking a flow whose zone at that end has no port (Nakhchivan) gives an error naming the
    rows, the zone and its node, and the fix; the shipped ports (Bandar Abbas, Poti) pass."""
    def mark(df):
        df.loc[df["flow_id"] == "AZ>NAKH", "overseas_end"] = "destination"

    _edit(dataset, "trade_flow", mark)
    write_demand(dataset)
    dem = pd.read_csv(dataset / "demand.csv")
    assert (dem.loc[dem["destination_zone_id"] == "Z_AZ_NAKHCHIVAN",
                    "overseas_destination_share"] > 0).any()
    with pytest.raises(InputError) as e:
        load_corridor(dataset)
    msg = str(e.value)
    assert "overseas_destination_share is above 0 in" in msg
    assert "(Z_AZ_NAKHCHIVAN, node AZ_NAKHCHIVAN" in msg
    assert "blank its overseas_end" in msg
    assert "Z_IR_BANDAR_ABBAS" not in msg and "Z_GE_PORTS" not in msg
