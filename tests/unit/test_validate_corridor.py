"""``karvan validate`` on a corridor dataset folder: checked as a corridor dataset (as ``karvan
run --data`` reads it), every problem of every table at once, and no plain GMNS advice."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from karvan.errors import InputError
from karvan.freight.corridor import CorridorWarning, builtin_corridor_folder, load_corridor
from karvan.io.validate import validate_input
from tests.unit.test_cli import run

CORRIDOR = builtin_corridor_folder()


@pytest.fixture
def corridor(tmp_path) -> Path:
    """A copy of the built-in dataset that a test may break."""
    return Path(shutil.copytree(CORRIDOR, tmp_path / "corridor"))


def edit(path: Path, fn) -> None:
    """Rewrite a CSV file through ``fn`` on its rows as dicts (header kept, in order)."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames), list(reader)
    header, rows = fn(header, rows)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def rename_column(path: Path, old: str, new: str) -> None:
    edit(path, lambda h, rows: ([new if c == old else c for c in h],
                                [{(new if k == old else k): v for k, v in r.items()}
                                 for r in rows]))


def test_the_intact_dataset_is_valid_without_plain_gmns_advice():
    code, out = run("validate", CORRIDOR)
    assert code == 0, out
    with (CORRIDOR / "demand.csv").open(newline="", encoding="utf-8") as f:
        demand = [float(r["tonnes_per_year"]) for r in csv.DictReader(f)]
    with (CORRIDOR / "link.csv").open(newline="", encoding="utf-8") as f:
        links = sum(1 for _ in csv.DictReader(f))
    assert out.rstrip().endswith(f"valid corridor dataset: 23 tables, {len(demand):,} demand rows; "
                                 f"run it with karvan run --data {CORRIDOR}")
    assert f"links │ {links:,} " in out and f"demand │ {sum(demand) / 1e6:.2f} Mt/yr" in out
    # every link has length_km: GMNS's length, capacity and use_definition do not apply
    for wrong in ("no length", "rename it to capacity", "use_definition", "GMNS",
                  "not ready to assign", "warning"):
        assert wrong not in out


@pytest.mark.parametrize("table", ["commodity.csv", "tariff.csv", "growth.csv"])
def test_a_missing_required_table_is_an_error(corridor, table):
    from karvan.io.validate import corridor_tables

    (corridor / table).unlink()
    assert table not in corridor_tables(corridor) and corridor_tables(corridor)
    code, out = run("validate", corridor)
    assert code == 2, out
    assert f"error: {corridor}: {table} is missing from {corridor}." in out
    assert "valid" not in out
    with pytest.raises(InputError, match=f"{table} is missing"):
        load_corridor(corridor)  # as karvan run --data refuses it


def test_a_misspelt_capacity_header_is_one_error_naming_capacity_tpy(corridor):
    rename_column(corridor / "link.csv", "capacity_tpy", "capacity_tp")
    code, out = run("validate", corridor)
    assert code == 2, out
    assert out.count("looks like") == 1, out
    assert ("link.csv: column 'capacity_tp' looks like capacity_tpy renamed or misspelt: "
            "rename it to capacity_tpy; as it is, the column is not read") in out
    assert "rename it to capacity " not in out and "rename it to capacity;" not in out
    with pytest.raises(InputError, match="rename it to capacity_tpy"):
        load_corridor(corridor)  # karvan run --data refuses it too


def test_a_dropped_capacity_column_is_warned_about(corridor):
    from karvan.freight.corridor import validate_corridor

    edit(corridor / "link.csv", lambda h, rows: (
        [c for c in h if c != "capacity_tpy"],
        [{k: v for k, v in r.items() if k != "capacity_tpy"} for r in rows]))
    with pytest.warns(CorridorWarning, match="link.csv: has no column capacity_tpy"):
        load_corridor(corridor)
    rep = validate_corridor(corridor)
    assert rep.valid and any("has no column capacity_tpy" in w for w in rep.warnings)


def test_a_dropped_column_that_a_rule_needs_is_an_error(corridor):
    """tariff_commodity.csv without its tariff_usd_per_t column: the ferry rows that give only a
    fare per tonne give no tariff at all (they were read as free, and the answer changed)."""
    from karvan.freight.corridor import validate_corridor

    edit(corridor / "tariff_commodity.csv", lambda h, rows: (
        [c for c in h if c != "tariff_usd_per_t"],
        [{k: v for k, v in r.items() if k != "tariff_usd_per_t"} for r in rows]))
    rep = validate_corridor(corridor)
    assert not rep.valid
    msg = " ".join(rep.errors)
    assert "the row gives no tariff (the file has no column tariff_usd_per_t)" in msg
    assert "lines 6, 7" in msg
    with pytest.raises(InputError, match="gives no tariff"):
        load_corridor(corridor)


@pytest.mark.parametrize(("table", "column"), [("link.csv", "dwell_h"),
                                             ("link.csv", "frequency_per_week"),
                                             ("choice_parameter.csv", "prior_value")])
def test_a_dropped_column_that_changes_the_answer_is_warned_about(corridor, table, column):
    """Each of these columns, dropped, changed the baseline's flows without a word (dwell_h
    also failed with KeyError): times at borders and ports, the wait for a sailing, the
    dispersion the route sets are searched with."""
    edit(corridor / table, lambda h, rows: (
        [c for c in h if c != column],
        [{k: v for k, v in r.items() if k != column} for r in rows]))
    with pytest.warns(CorridorWarning, match=f"{table}: has no column {column}"):
        load_corridor(corridor)


def test_an_observation_table_without_years_is_an_error(corridor):
    edit(corridor / "observed.csv", lambda h, rows: (
        [c for c in h if c != "year"], [{k: v for k, v in r.items() if k != "year"}
                                        for r in rows]))
    with pytest.raises(InputError, match="observed.csv: has no column year"):
        load_corridor(corridor)


def _set_observed(folder: Path, oid: str, **values) -> None:
    def fn(h, rows):
        for r in rows:
            if r["observed_id"] == oid:
                r.update(values)
        return h, rows

    edit(folder / "observed.csv", fn)


def test_validation_rows_follow_the_independence_and_split_rules(corridor):
    """A figure that built an input, marked independent and validate, showed as validation
    evidence with ratio 1.0000 (it built the demand it was compared with); an independent port
    count marked fit escaped the split rule. Both are refused when the dataset is read, with the
    citing table and the rule."""
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_TRADE_IR_AM_2024", independent="true", role="validate")
    _set_observed(corridor, "OBS_BAKU_PORT_2024", role="fit")
    _set_observed(corridor, "OBS_BOLASHAK_2024", independent="false")
    rep = validate_corridor(corridor)
    msg = " ".join(rep.errors)
    assert ("observed.csv line 35 (OBS_TRADE_IR_AM_2024): independent is true, but "
            "demand.csv and demand_inputs/trade_flow.csv cite it in observed_ids") in msg
    assert ("observed.csv line 17 (OBS_BAKU_PORT_2024): role is fit, but the split rule "
            "(docs/dataset.md") in msg and "makes it validate" in msg
    assert "(OBS_BOLASHAK_2024): independent is false, but no input names it" in msg
    with pytest.raises(InputError, match="OBS_TRADE_IR_AM_2024"):
        load_corridor(corridor)


def test_a_blank_role_is_named_as_blank(corridor):
    # a blank role is read as fit; the message said "role is fit" of a cell left empty
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_BAKU_PORT_2024", role="")
    msg = " ".join(validate_corridor(corridor).errors)
    assert ("(OBS_BAKU_PORT_2024): role is blank (read as fit), but the split rule" in msg), msg


def test_choice_model_inputs_that_a_run_refuses_are_refused_by_validate(corridor):
    """Validate said "valid corridor dataset" of a nest scale of 2, a negative theta and two
    families of one priority; every run then refused the dataset, with the file named twice and
    no line or family for the priority."""
    from karvan.freight.corridor import validate_corridor

    def params(h, rows):
        for r in rows:
            if r["parameter"] == "nest_scale" and r["nest"] == "instc":
                r["value"] = "2.0"
            if r["parameter"] == "theta" and r["commodity"] == "grain":
                r["value"] = "-0.13"
        return h, rows

    def families(h, rows):
        by_id = {r["family_id"]: r for r in rows}
        by_id["instc_east"]["priority"] = by_id["instc_caspian"]["priority"]
        return h, rows

    edit(corridor / "choice_parameter.csv", params)
    edit(corridor / "route_family.csv", families)
    rep = validate_corridor(corridor)
    msg = " ".join(rep.errors)
    assert "duplicate priority" in msg and "families instc_caspian, instc_east" in msg, msg
    assert "give each row its own priority" in msg
    shutil.copy(CORRIDOR / "route_family.csv", corridor / "route_family.csv")
    rep = validate_corridor(corridor)
    msg = " ".join(rep.errors)
    assert "choice_parameter.csv: nest_scale must be in (0, 1] (lines " in msg, rep.errors
    assert "choice_parameter.csv: theta must be > 0 (lines " in msg
    from karvan.scenario.run import corridor_choice

    with pytest.raises(InputError) as e:  # what every run of the logit model reads
        corridor_choice(load_corridor(corridor))
    assert "choice_parameter.csv: choice_parameter.csv" not in str(e.value)
    assert "nest_scale must be in (0, 1]" in str(e.value)


def test_a_capacity_in_another_unit_than_its_published_figure_is_refused(corridor):
    """capacity_tpy 11,000 (written in kt) beside capacity_value 11 Mt/yr, or 800 (the trucks a
    day) beside 800 trucks_per_day_both_directions, passed in silence: Samur's 11.8 Mt fell to
    7.5 Mt and Azerbaijan's transit by 3 Mt. Refused with the line, the link and both figures,
    beside the other tables' problems."""
    from karvan.freight.corridor import validate_corridor

    def caps(h, rows):
        for r in rows:
            if r["link_id"] == "B_RU_AZ_SAMUR_RAIL":
                r["capacity_tpy"] = "11000"
            if r["link_id"] == "B_AZ_IR_ASTARA_ROAD":
                r["capacity_tpy"] = "800"
            if r["link_id"] == "P_AZ_ALAT_ROAD":  # a port's share of its capacity stays allowed
                r["capacity_tpy"] = "2000000"
        return h, rows

    edit(corridor / "link.csv", caps)
    _set_observed(corridor, "OBS_BAKU_PORT_2024", role="fit")
    msg = " ".join(validate_corridor(corridor).errors)
    assert ("(B_RU_AZ_SAMUR_RAIL): capacity_tpy 11,000 t/yr is 0.001 times what its "
            "capacity_value 11 Mt/yr converts to (11,000,000 t/yr)") in msg, msg
    assert "(B_AZ_IR_ASTARA_ROAD): capacity_tpy 800 t/yr" in msg
    assert "P_AZ_ALAT_ROAD" not in msg
    assert "OBS_BAKU_PORT_2024" in msg  # collected together
    with pytest.raises(InputError, match="B_RU_AZ_SAMUR_RAIL"):
        load_corridor(corridor)


@pytest.mark.parametrize(("column", "value", "times"), [
    ("vot_usd_per_t_h", "1.38", "24"),  # per day
    ("value_usd_per_t", "0.23", "1e+03"),  # per kg
])
def test_a_value_of_time_that_disagrees_with_value_and_percentage_is_refused(
        corridor, column, value, times):
    # grain's value of time per day (1.38 for 0.0575 USD/t-h) passed and moved 3.6 Mt onto
    # the Astara road; a value per kg was blamed on demand.csv
    from karvan.freight.corridor import validate_corridor

    def grain(h, rows):
        for r in rows:
            if r["commodity_id"] == "grain":
                r[column] = value
        return h, rows

    edit(corridor / "commodity.csv", grain)
    msg = " ".join(validate_corridor(corridor).errors)
    assert "commodity.csv line 3 (grain): vot_usd_per_t_h" in msg, msg
    assert f"({times} times it)" in msg


def test_a_value_of_time_rounded_is_not_refused(corridor):
    from karvan.freight.corridor import validate_corridor

    def rounded(h, rows):
        for r in rows:
            if r["commodity_id"] == "fertilisers_chemicals":
                r["vot_usd_per_t_h"] = "0.13"  # for 0.1333: 2.5 % off
        return h, rows

    edit(corridor / "commodity.csv", rounded)
    assert not [e for e in validate_corridor(corridor).errors if "vot_usd_per_t_h" in e]


def test_a_count_of_a_year_to_come_is_refused_and_one_after_the_base_year_is_not(corridor):
    """2042 for 2024 dropped a fit row from every comparison in silence (no run of that year);
    a count of 2025, after the base year 2024, is compared with a run of 2025."""
    import datetime

    from karvan.freight.corridor import validate_corridor

    later = datetime.date.today().year + 1
    _set_observed(corridor, "OBS_BOLASHAK_2024", year=str(later))
    _set_observed(corridor, "OBS_BAKU_PORT_2024", year="2025")
    msg = " ".join(validate_corridor(corridor).errors)
    assert f"(OBS_BOLASHAK_2024): year {later} has not come yet" in msg, msg
    assert "OBS_BAKU_PORT_2024" not in msg


@pytest.mark.parametrize(("rule", "values", "message"), [
    ("U_PRESS", {"sigma": "20"}, "line 4 (U_PRESS): sigma 20 draws factors beyond"),
    ("U_SAMUR_CAPACITY", {"low": "7", "high": "11"},
     "line 12 (U_SAMUR_CAPACITY): the dataset's figure of capacity_tpy"),
])
def test_an_uncertainty_table_that_explore_refuses_is_refused_by_validate(
        corridor, rule, values, message):
    """Validate said "valid" of a class sigma of 20 (a percent; explore then drew factors of
    10^17 without a word) and of a range in Mt/yr for a capacity in t/yr (which only explore
    refused)."""
    def fn(h, rows):
        for r in rows:
            if r["rule_id"] == rule:
                r.update(values)
        return h, rows

    edit(corridor / "uncertainty.csv", fn)
    code, output = run("validate", corridor)
    assert code != 0 and message in output, output
    assert "uncertainty.csv: uncertainty.csv" not in output


def test_a_link_whose_ends_are_not_where_its_mode_runs_is_refused(corridor):
    """A rail line given a road node (ADY's north–south transit fell by 83 %) and a border with
    its ends swapped (its directions' tonnes exchanged) passed in silence."""
    from karvan.freight.corridor import validate_corridor

    def fn(h, rows):
        for r in rows:
            if r["link_id"] == "R_AZ_ALAT_OSMANLI":
                r["from_node_id"] = "AZ_ALAT"
            if r["link_id"] == "B_AZ_IR_ASTARA_ROAD":
                r["from_node_id"], r["to_node_id"] = r["to_node_id"], r["from_node_id"]
        return h, rows

    edit(corridor / "link.csv", fn)
    msg = " ".join(validate_corridor(corridor).errors)
    assert "(R_AZ_ALAT_OSMANLI): a rail link from AZ_ALAT (road) to" in msg, msg
    assert "it must join two rail nodes" in msg
    assert "(B_AZ_IR_ASTARA_ROAD): border AZ-IR_ASTARA runs from AZ to IR" in msg
    assert "its ends are swapped" in msg


def test_observed_rows_that_a_run_refuses_are_refused_by_validate(corridor):
    """Validate said "valid corridor dataset" for an unknown link id in element_ids; run then
    refused it."""
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_BAKU_PORT_2024", element_ids="P_AZ_ALAT_ROADS")
    rep = validate_corridor(corridor)
    assert any("'P_AZ_ALAT_ROADS' is neither a link id nor a border id" in e
               for e in rep.errors), rep.errors


def break_everything(folder: Path) -> None:
    """The walk-through's broken copy: in link.csv a blank from_node_id, a capacity of -5, a
    repeated link_id, an unknown to_node_id, speed 'fast' and mode 'railway'; in demand.csv
    tonnes of -100 and the commodity 'coal'."""
    def links(h, rows):
        rows[0]["from_node_id"] = ""
        rows[1]["capacity_tpy"] = "-5"
        rows[2]["link_id"] = rows[3]["link_id"]
        rows[4]["to_node_id"] = "NOWHERE"
        rows[5]["speed_kph"] = "fast"
        rows[6]["mode"] = "railway"
        return h, rows

    def demand(h, rows):
        rows[0]["tonnes_per_year"] = "-100"
        rows[1]["commodity_id"] = "coal"
        return h, rows

    edit(folder / "link.csv", links)
    edit(folder / "demand.csv", demand)


def test_every_problem_of_every_table_in_one_report(corridor):
    break_everything(corridor)
    code, out = run("validate", corridor)
    assert code == 2, out
    assert f"error: {corridor}: 8 problems:" in out
    for problem in (
            "link.csv: from_node_id is blank on 1 row (line 2;",
            "link.csv: capacity_tpy is not above 0 t/yr on 1 row (line 3;",
            "link.csv: link_id repeats an earlier row on 1 row (line 5;",
            "link.csv: to_node_id is not a node_id of node.csv on 1 row (line 6;",
            "link.csv: speed_kph is not a number on 1 row (line 7;",
            "link.csv: mode is not one of rail, road, sea, ferry, transfer, border on 1 row "
            "(line 8;",
            "demand.csv: tonnes_per_year is below the minimum 0 t/yr on 1 row (line 2: '-100')",
            "demand.csv: commodity_id is not a commodity_id of commodity.csv on 1 row (line 3: "
            "'coal')"):
        assert problem in out, problem
    # the user's column is named; no knock-on of a value already reported as wrong
    assert "volume" not in out
    assert "tariff.csv" not in out and "below 100" not in out
    # a check that needs demand.csv free of errors is left out, and says so
    assert "note: od_estimate.csv was not compared with demand.csv, which has errors" in out


def test_validate_input_refers_a_corridor_folder_to_its_own_check(corridor):
    with pytest.raises(InputError, match="is a corridor dataset .*corridor.validate_corridor"):
        validate_input(corridor)
    code, out = run("validate", corridor, "--trips", corridor / "demand.csv")
    assert code == 2 and "leave --trips out" in out


def test_fitted_values_rest_on_fit_rows_only(corridor):
    """A choice parameter fitted to a row that is now validate held the figure it is checked
    against, and nothing said so; a row that observed.csv no longer has is warned about."""
    from karvan.freight.corridor import validate_corridor

    line = {}

    def fitted_to(extra):
        def add(header, rows):
            at = next(k for k, r in enumerate(rows) if r["observations"])
            rows[at]["observations"] += extra
            line["n"] = at + 2
            return header, rows
        return add

    edit(corridor / "choice_parameter.csv", fitted_to(";OBS_BAKU_PORT_2024"))
    msg = " ".join(validate_corridor(corridor).errors)
    assert (f"choice_parameter.csv line {line['n']}: fitted to OBS_BAKU_PORT_2024, a validate "
            "row of observed.csv") in msg, msg
    assert "karvan calibrate --parameters --write" in msg
    # ... which fits them anew from their priors, so it reads the table (it was refused)
    assert load_corridor(corridor, refit=("choice_parameter",)).tables["choice_parameter"] \
        is not None
    shutil.copy(CORRIDOR / "choice_parameter.csv", corridor / "choice_parameter.csv")
    edit(corridor / "choice_parameter.csv", fitted_to(";OBS_GONE_2024"))
    with pytest.warns(CorridorWarning, match="choice_parameter.csv was fitted to OBS_GONE_2024, "
                                             "which observed.csv no longer has"):
        load_corridor(corridor)
    # the OD estimate too: each row names the fit rows that moved it
    shutil.copy(CORRIDOR / "choice_parameter.csv", corridor / "choice_parameter.csv")
    est = corridor / "od_estimate.csv"

    def add_validate(header, rows):
        for r in rows[:3]:
            r["observations"] = "OBS_BAKU_PORT_2024;OBS_AKTAU_PORT_2022"
        return header, rows

    edit(est, add_validate)
    with pytest.raises(InputError) as e:
        load_corridor(corridor)
    assert e.value.problems == [  # one problem for the table, not one for each of its rows
        "od_estimate.csv lines 2, 3, 4: fitted to OBS_BAKU_PORT_2024, OBS_AKTAU_PORT_2022, "
        "validate rows of observed.csv: validation rows are never fitted to, so they would "
        "check the fit against itself; fit again from the fit rows (`karvan calibrate "
        "--write`), or delete od_estimate.csv."]
    assert not load_corridor(corridor, estimate=False).demand_estimated


def test_an_unknown_kind_of_observation_is_refused(corridor):
    """Kind 'harbour' was taken; the split rule, which reads kind, then called an independent
    port count a fit row and advised role fit, and calibrate fitted to it."""
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_BAKU_PORT_2024", kind="harbour", role="fit")
    msg = " ".join(validate_corridor(corridor).errors)
    assert ("kind is not one of corridor_total, border, port, link, transit, trade on 1 row "
            "(line 17; observed_id OBS_BAKU_PORT_2024: 'harbour')") in msg, msg


def test_independent_as_a_spreadsheet_writes_it(corridor):
    """A spreadsheet saves true as TRUE: it was refused as not true or false."""
    from karvan.freight.corridor import validate_corridor

    text = (corridor / "observed.csv").read_text(encoding="utf-8")
    (corridor / "observed.csv").write_text(text.replace(",true,", ",TRUE,")
                                           .replace(",false,", ",False,"), encoding="utf-8")
    assert validate_corridor(corridor).errors == []
    same = load_corridor(corridor).observed.set_index("observed_id")["independent"]
    shipped = load_corridor().observed.set_index("observed_id")["independent"]
    assert same.astype(str).str.lower().equals(shipped.astype(str).str.lower())


@pytest.mark.parametrize("date", ["45731", "15.03.2025", "2025-13-40", "March 2025"])
def test_a_source_date_a_spreadsheet_mangled_is_named(corridor, date):
    """A date turned into Excel's serial number or another format was taken as written."""
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_BAKU_PORT_2024", source_date=date)
    msg = " ".join(validate_corridor(corridor).errors)
    assert ("source_date is not a date written YYYY, YYYY-MM or YYYY-MM-DD (or a range, quarter, "
            "'c. YYYY', 'undated', 'n/a') on 1 row (line 17; "
            f"observed_id OBS_BAKU_PORT_2024: '{date}')") in msg, msg



@pytest.mark.parametrize("date", ["2019-2023", "2024-Q3", "c.2020", "n/a", "undated",
                                  "2024; 2023-05-01"])
def test_the_forms_of_a_source_date_people_write_are_taken(corridor, date):
    from karvan.freight.corridor import validate_corridor

    _set_observed(corridor, "OBS_BAKU_PORT_2024", source_date=date)
    assert validate_corridor(corridor).errors == []


def test_data_copy_gives_a_folder_of_ones_own_and_replaces_nothing(tmp_path):
    """A maintainer found no way to get the built-in dataset out to edit it."""
    from karvan.io.hashing import hash_folder

    mine = tmp_path / "mine"
    code, out = run("data", "copy", mine)
    assert code == 0 and "karvan run --data" in out, out
    assert hash_folder(mine) == hash_folder(CORRIDOR)
    assert load_corridor(mine).folder == mine
    (mine / "notes.txt").write_text("mine")
    code, out = run("data", "copy", mine)
    assert code == 2 and "is not empty" in out and (mine / "notes.txt").read_text() == "mine"
    code, out = run("data", "copy", mine / "notes.txt")
    assert code == 2 and "is a file" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_validate_gives_the_demand_the_runs_use(corridor):
    """Validate said 'demand 85.81 Mt/yr' (demand.csv) for a dataset whose runs use
    od_estimate.csv's 87.06 Mt."""
    import pandas as pd

    from karvan.freight.corridor import validate_corridor

    est = pd.read_csv(corridor / "od_estimate.csv")["tonnes_per_year"].sum() / 1e6
    counts = validate_corridor(corridor).counts
    assert counts["demand as estimated"].startswith(f"{est:,.2f} Mt/yr (od_estimate.csv")
    assert counts["demand"].endswith("(demand.csv)")
    (corridor / "od_estimate.csv").unlink()
    counts = validate_corridor(corridor).counts
    assert "demand as estimated" not in counts and counts["demand"].endswith("Mt/yr")


def test_a_total_of_fit_rows_is_checked_and_its_parts_must_add_up(corridor):
    """OBS_INSTC_2023 is the sum of the release's rail and sea rows, all three fitted: the
    release weighed twice in the fit. A row with total_of is role check (compared, never
    fitted); every way of getting that wrong is refused at once, with line, id and fix."""
    from karvan.freight.corridor import validate_corridor

    assert validate_corridor(corridor).errors == []
    _set_observed(corridor, "OBS_INSTC_2023", tonnes_per_year="18000000")  # not 11.69 + 5.54
    _set_observed(corridor, "OBS_INSTC_2022", role="check")  # check without total_of
    _set_observed(corridor, "OBS_UPPER_LARS_2024", total_of="OBS_UPPER_LARS_AM_2024;OBS_NOPE")
    _set_observed(corridor, "OBS_ASTARA_ROAD_2024", role="check",
                  total_of="OBS_INSTC_SEA_2023;OBS_BAKU_PORT_2024")
    # itself, a part twice, and a part of another release (another source) of its year
    _set_observed(corridor, "OBS_BOLASHAK_2024", role="check",
                  total_of="OBS_BOLASHAK_2024;OBS_AZ_TRANSIT_2024;OBS_AZ_TRANSIT_2024")
    errors = validate_corridor(corridor).errors
    msg = " ".join(errors)
    assert ("observed.csv line 3 (OBS_INSTC_2023): tonnes_per_year 18,000,000 is not the sum of "
            "its parts OBS_INSTC_RAIL_2023, OBS_INSTC_SEA_2023, 17,230,000 (-4.3%") in msg, msg
    assert ("(OBS_INSTC_2022): role check is for a total of fit rows: name them in total_of"
            in msg)
    assert ("(OBS_UPPER_LARS_2024): total_of names OBS_UPPER_LARS_AM_2024, OBS_NOPE, so the row "
            "is the sum of other rows and its role is check, not fit") in msg
    assert "(OBS_UPPER_LARS_2024): total_of names OBS_NOPE, not another row" in msg
    assert ("(OBS_ASTARA_ROAD_2024): total_of names OBS_INSTC_SEA_2023 of another year than "
            "2024") in msg
    assert ("(OBS_ASTARA_ROAD_2024): its parts OBS_BAKU_PORT_2024 (validate) are not fit rows"
            in msg)
    assert "(OBS_BOLASHAK_2024): total_of names OBS_AZ_TRANSIT_2024 more than once" in msg
    assert "(OBS_BOLASHAK_2024): total_of names OBS_BOLASHAK_2024, not another row" in msg
    assert "(OBS_BOLASHAK_2024): its parts OBS_AZ_TRANSIT_2024 cite none of its sources" in msg
    # every problem of a row, not the first: the unknown part and the other year together
    assert "(OBS_UPPER_LARS_2024): total_of names OBS_NOPE" in msg
    assert ("(OBS_ASTARA_ROAD_2024): total_of names OBS_INSTC_SEA_2023 of another year" in msg
            and "(OBS_ASTARA_ROAD_2024): its parts OBS_INSTC_SEA_2023, OBS_BAKU_PORT_2024 cite "
            "none of its sources" in msg)
    # no second message from the split rule for the rows whose total_of speaks for them
    assert not any("but the split rule" in e
                   and ("OBS_UPPER_LARS_2024" in e or "OBS_ASTARA_ROAD" in e)
                   for e in errors), errors


def test_a_fitted_table_that_names_a_check_row_is_refused(corridor):
    """A check row is the total of fit rows: a table fitted to it too weighs its parts twice,
    so a choice parameter or an OD cell that names it must be fitted again."""
    from karvan.freight.corridor import validate_corridor

    def fitted_to_total(header, rows):
        at = next(k for k, r in enumerate(rows) if r["observations"])
        rows[at]["observations"] += ";OBS_INSTC_2023"
        return header, rows

    edit(corridor / "choice_parameter.csv", fitted_to_total)
    msg = " ".join(validate_corridor(corridor).errors)
    assert ("fitted to OBS_INSTC_2023, a check row of observed.csv: a check row is the total of "
            "fit rows, so fitting it too weighs its parts twice; fit again from the fit rows "
            "(`karvan calibrate --parameters --write`)") in msg, msg
    shutil.copy(CORRIDOR / "choice_parameter.csv", corridor / "choice_parameter.csv")
    edit(corridor / "od_estimate.csv", fitted_to_total)
    msg = " ".join(validate_corridor(corridor).errors)
    assert re.search(r"od_estimate\.csv line \d+: fitted to OBS_INSTC_2023, a check row of "
                     r"observed\.csv", msg), msg
    assert "(`karvan calibrate --write`), or delete od_estimate.csv" in msg
