"""Route families and choice parameters of the built-in corridor: every family is named by links
of the network, every route of a run falls in exactly one, and the parameter table is whole."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.freight.route_family import (
    PARAMETERS,
    classify_routes,
    read_choice_parameters,
    read_route_families,
)
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario

ISSUE_8_FAMILIES = {"sea_suez_baltic", "sea_suez_black_sea", "sea_far_east", "instc_west_rail",
                    "instc_west_road", "instc_caspian", "instc_east", "middle_corridor",
                    "georgia_ports"}


@pytest.fixture(scope="module")
def baseline_routes():
    # the classifier on the routes of the deterministic model (the logit model classifies its
    # own routes with it: tests/unit/test_corridor_choice.py)
    run = run_scenario(load_corridor(), load_scenario("baseline"), lp=False,
                       choice="deterministic")
    return run.tables["routes"]


def test_families_cover_the_corridor_choices_and_name_real_links():
    fam = read_route_families()
    assert ISSUE_8_FAMILIES <= set(fam["family_id"])
    assert fam["priority"].is_monotonic_increasing and fam["priority"].is_unique
    assert fam["via_link_ids"].iloc[-1] == "*"  # the catch-all comes last
    # the sea families are told apart by the sea they start from
    rows = fam.set_index("family_id")
    assert "S_RU_XX_STPETERSBURG_SKAGEN" in rows.at["sea_suez_baltic", "also_via_link_ids"]
    assert "S_RU_XX_NOVOROSSIYSK_BOSPORUS" in rows.at["sea_suez_black_sea", "also_via_link_ids"]


def test_every_route_of_a_run_falls_in_one_family(baseline_routes):
    fam = read_route_families()
    families = classify_routes(baseline_routes["links"], fam)
    assert families.notna().all()
    r = baseline_routes.assign(family=families)
    # the Astara crossings, the Caspian sea links and Suez each give their own family (a
    # route that goes on from the Gulf to Vladivostok is all-water from the Far East first:
    # Azerbaijan's oil products to the Russian Far East can sail from Bandar Abbas)
    astara = r["links"].str.contains("B_AZ_IR_ASTARA_RAIL")
    far_east = r["links"].str.contains("S_RU_XX_VLADIVOSTOK_SINGAPORE")
    assert (r.loc[astara & ~far_east, "family"] == "instc_west_rail").all()
    assert (r.loc[far_east, "family"] == "sea_far_east").all()
    caspian = r["links"].str.contains("S_RU_IR_")
    assert (r.loc[caspian, "family"] == "instc_caspian").all()
    suez = r["links"].str.contains("S_EG_SUEZ_CANAL")
    assert r.loc[suez, "family"].str.startswith("sea_").all()  # to Vladivostok: sea_far_east
    # into Iran from Turkmenistan: INSTC East when the route comes from or through Kazakhstan,
    # the land bridge when it comes from Türkiye across Bazargan, neither for Central Asia's own
    # traffic (a route counts once, so the earlier families of the table take it first)
    tm_ir = r["links"].str.contains("B_TM_IR_") & ~far_east & ~suez & ~caspian
    gurbulak = r["links"].str.contains("B_TR_IR_GURBULAK_ROAD")
    via_kz = r["links"].str.contains("B_RU_KZ_|B_KZ_RU_|B_KZ_TM_|B_UZ_KZ_")
    assert (r.loc[tm_ir & gurbulak, "family"] == "iran_land_bridge").all()
    east = tm_ir & ~gurbulak & via_kz & ~r["links"].str.contains("B_AZ_IR_ASTARA_")
    assert east.any() and (r.loc[east, "family"] == "instc_east").all()
    # Russian or Kazakh freight by road across Lotfabad is INSTC East too (since Turkmenistan's
    # fees on foreign trucks the deterministic baseline sends none there: a route of the kind)
    lotfabad = pd.Series(["B_UZ_KZ_SARYAGASH_RAIL > T_UZ_TASHKENT > D_UZ_ALAT_TASHKENT > "
                          "B_UZ_TM_ALAT_ROAD > D_TM_ARTYK_FARAP > B_TM_IR_LOTFABAD_ROAD > "
                          "D_IR_MASHHAD_LOTFABAD"])
    assert classify_routes(lotfabad, fam).tolist() == ["instc_east"]
    assert (tm_ir & r["links"].str.contains("B_TM_IR_SARAKHS_ROAD")).any()  # and Sarakhs
    assert not (r.loc[tm_ir & ~via_kz, "family"] == "instc_east").any()
    assert (tm_ir & ~via_kz & ~gurbulak).any()
    # Russia-India tonnes split over the all-water and the overland families in the baseline
    ru_in = r[r["origin"].str.startswith("Z_RU_") & r["destination"].str.startswith("Z_IN_")]
    by = ru_in.groupby("family")["tonnes"].sum()
    assert by.index.str.startswith("sea_").any() and by.index.str.startswith("instc_").any()


def test_russian_and_iranian_freight_on_an_east_west_ferry_is_not_the_middle_corridor():
    # routes the logit base year used (docs/dataset.md, "Russian and Iranian freight on the
    # east-west ferries"): they took the Middle Corridor's fitted constants before
    fam = read_route_families()
    north_south = pd.Series([
        # Russia -> Iran by Samur, Baku and the Turkmenbashi rail ferry to Etrek
        "T_RU_KRASNODAR > R_RU_KRASNODAR_MAKHACHKALA > R_RU_MAKHACHKALA_SAMUR > "
        "B_RU_AZ_SAMUR_RAIL > R_AZ_BAKU_YALAMA > R_AZ_BAKU_ALAT > F_AZ_TM_ALAT_TURKMENBASHI_RAIL > "
        "R_TM_TURKMENBASHI_BEREKET > R_TM_BEREKET_ETREK > B_TM_IR_ETREK_RAIL > G_IR_INCHE_BURUN",
        # Russia -> Azerbaijan through Kazakhstan and the Aktau ferry
        "B_RU_KZ_AKSARAISKAYA_RAIL > R_KZ_GANYUSHKINO_ATYRAU > R_KZ_ATYRAU_BEINEU > "
        "R_KZ_BEINEU_AKTAU > F_AZ_KZ_ALAT_AKTAU_RAIL > R_AZ_BAKU_ALAT",
        # Iran -> Azerbaijan by truck through Turkmenistan and the Ro-Pax ferry
        "B_TM_IR_SARAKHS_ROAD > D_TM_TURKMENBASHI_ASHGABAT > F_AZ_TM_ALAT_TURKMENBASHI > "
        "P_AZ_ALAT_ROAD > D_AZ_BAKU_ALAT"])
    assert classify_routes(north_south, fam).tolist() == ["caspian_ferry_north_south"] * 3
    # Central Asia's own east-west freight keeps the Middle Corridor's families
    east_west = pd.Series([
        "R_KZ_BEINEU_AKTAU > F_AZ_KZ_ALAT_AKTAU_RAIL > R_AZ_ALAT_GANJA > B_AZ_GE_BOYUK_KASIK_RAIL",
        "D_TM_TURKMENBASHI_ASHGABAT > F_AZ_TM_ALAT_TURKMENBASHI > P_AZ_ALAT_ROAD > D_AZ_BAKU_ALAT"])
    assert classify_routes(east_west, fam).tolist() == ["middle_corridor", "middle_corridor_road"]
    # its constant is the prior's and no fit moves it (no count sees these routes apart)
    par = read_choice_parameters()
    asc = par[(par["parameter"] == "asc_usd_per_t")
              & (par["family"] == "caspian_ferry_north_south")]
    assert asc["value"].tolist() == [0.0] and (asc["method"] != "calibrated").all()


def test_a_route_takes_the_first_family_it_matches():
    fam = pd.DataFrame({
        "family_id": ["a", "b", "rest"], "priority": [1, 2, 3],
        "via_link_ids": ["X;Y", "X", "*"], "also_via_link_ids": ["Z", "", ""],
        "avoid_link_ids": ["", "W", ""]})
    routes = pd.Series(["X > Z", "X > Q", "X > W", "Y > Z > W", "Q"])
    assert classify_routes(routes, fam).tolist() == ["a", "b", "rest", "a", "rest"]


def test_choice_parameters_are_whole_and_in_their_units():
    fam = read_route_families()
    par = read_choice_parameters()
    assert set(par["parameter"]) == set(PARAMETERS)
    buffers = par[par["parameter"] == "reliability_buffer_h"]
    # every family that takes its own terms has its rows (the others read their terms_of's)
    own = set(fam.loc[fam["terms_of"] == "", "family_id"])
    assert own < set(fam["family_id"])
    assert set(buffers["family"]) == own
    assert (buffers["value"] >= 0).all()
    asc = par[par["parameter"] == "asc_usd_per_t"]
    assert set(asc["family"]) - {"*"} == own
    # a constant of every family of a nest (family *) names the nest: one of the families'
    nest_rows = asc[asc["family"] == "*"]
    assert nest_rows["nest"].isin(set(fam["nest"])).all() and len(nest_rows) == 1
    # constants are 0 (the reference) unless fitted by karvan calibrate --parameters, which
    # says so: method calibrated, the fit rows used, a standard error unless held by a bound
    fitted = par["method"] == "calibrated"
    assert (asc.loc[~fitted.reindex(asc.index), "value"] == 0).all()
    cal = par[fitted]
    assert (cal["observations"].str.startswith("OBS_")).all()
    assert (cal["source"].str.contains("KV_CALIBRATION")).all()
    assert (cal["confidence"] == "estimate").all()
    held = cal["note"].str.contains("held by its bound")
    assert (pd.to_numeric(cal.loc[~held, "std_error"]) > 0).all()
    # and the prior it was fitted from, which a refit starts from: constants 0, factors on the
    # prior dispersion and value of reliability, each with its prior standard error
    prior = pd.to_numeric(cal["prior_value"])
    prior_se = pd.to_numeric(cal["prior_std_error"])
    assert prior.notna().all() and (prior_se > 0).all()
    assert (prior[cal["parameter"] == "asc_usd_per_t"] == 0).all()
    # a parameter that the fit rows do not identify at the solution has about its prior's
    # standard error; it is held by its prior (within two of its prior's standard errors) or
    # its note says how far it lies from it all the same
    lost = cal["note"].str.contains("not identified")
    far = (cal["value"] - prior).abs() > 2 * prior_se
    said = cal["note"].str.contains("prior standard errors from its prior")
    assert (said == (lost & far)).all()
    se = pd.to_numeric(cal["std_error"])
    assert (se[lost] > 0.9 * prior_se[lost]).all() and (se[lost] <= prior_se[lost]).all()
    coms = set(load_corridor().commodity_ids)
    assert set(par.loc[par["parameter"] == "theta", "commodity"]) == coms
    assert set(par.loc[par["parameter"] == "value_of_reliability", "commodity"]) == coms
    assert set(par.loc[par["parameter"] == "nest_scale", "nest"]) == set(fam["nest"])
    # a sourced range gives the buffer: Mumbai-St Petersburg via Suez 30-45 days -> 7.5 days
    assert buffers.set_index("family").at["sea_suez_baltic", "value"] == pytest.approx(180.0)
    # every assumption says how it was set
    assumed = par["confidence"] == "assumption"
    assert (par.loc[assumed, "method"].str.len() > 20).all()


def test_bad_family_and_parameter_tables_name_their_problems(tmp_path):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    fam = pd.read_csv(folder / "route_family.csv", dtype=str, keep_default_na=False)
    fam.loc[0, "via_link_ids"] = "S_NO_SUCH_LINK"
    fam.loc[1, "priority"] = fam.loc[2, "priority"]
    fam.to_csv(folder / "route_family.csv", index=False)
    with pytest.raises(InputError) as e:
        read_route_families(folder)
    assert "S_NO_SUCH_LINK" in str(e.value) and "duplicate priority" in str(e.value)
    shutil.copy(builtin_corridor_folder() / "route_family.csv", folder / "route_family.csv")
    par = pd.read_csv(folder / "choice_parameter.csv", dtype=str, keep_default_na=False)
    par.loc[0, "family"] = "no_such_family"
    par.loc[1, "parameter"] = "colour"
    theta = par.index[par["parameter"] == "theta"][0]
    par.loc[theta, "value"] = "-1"
    par.to_csv(folder / "choice_parameter.csv", index=False)
    with pytest.raises(InputError) as e:
        read_choice_parameters(folder)
    msg = str(e.value)
    assert "no_such_family" in msg and "colour" in msg and "theta must be > 0" in msg


def test_serves_names_country_pairs_of_the_dataset(tmp_path):
    # found by the fuzz run: a corrupted serves (here on the first family, RU-IN;IN-RU) was
    # dropped without a word, and the requirement it states with it
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    fam = pd.read_csv(folder / "route_family.csv", dtype=str, keep_default_na=False)
    assert fam.loc[0, "serves"] == "RU-IN;IN-RU"
    fam.loc[0, "serves"] = "\u00fc\u20ac"
    fam.loc[1, "serves"] = "RU-IN; IN - XX"
    fam.to_csv(folder / "route_family.csv", index=False)
    with pytest.raises(InputError) as e:
        read_route_families(folder)
    msg = str(e.value)
    assert f"line 2 (family {fam.loc[0, 'family_id']}): serves '\u00fc\u20ac'" in msg
    assert f"line 3 (family {fam.loc[1, 'family_id']}): serves 'IN - XX'" in msg
    assert "'RU-IN'" not in msg  # the good pair of the same cell is not named
    fam.loc[0, "serves"], fam.loc[1, "serves"] = "", "RU - IN"  # blank, and spaces, are fine
    fam.to_csv(folder / "route_family.csv", index=False)
    assert len(read_route_families(folder)) == len(fam)


def test_load_corridor_checks_the_new_tables_against_their_schemas(tmp_path):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    fam = pd.read_csv(folder / "route_family.csv", dtype=str, keep_default_na=False)
    fam.loc[0, "priority"] = "first"
    fam.to_csv(folder / "route_family.csv", index=False)
    par = pd.read_csv(folder / "choice_parameter.csv", dtype=str, keep_default_na=False)
    par.loc[0, "commodity"] = "caviar"
    par.to_csv(folder / "choice_parameter.csv", index=False)
    mix = pd.read_csv(folder / "demand_inputs" / "trade_mix.csv", dtype=str,
                      keep_default_na=False)
    mix.loc[0, "share"] = "1.5"
    mix.to_csv(folder / "demand_inputs" / "trade_mix.csv", index=False)
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "route_family.csv" in msg and "priority" in msg
    assert "choice_parameter.csv" in msg and "caviar" in msg
    assert "trade_mix.csv" in msg and "share" in msg


def test_freight_through_links_that_no_family_names_is_warned_of(tmp_path):
    """A link a user's scenario opens, or one added to a copy of the dataset, that no route
    family names put the freight through it in family other in silence: no family constant
    reached it (a new Aktau–Alat feeder got none of the Middle Corridor's)."""
    from karvan.scenario.spec import builtin_scenario_folder

    data = load_corridor()
    text = (builtin_scenario_folder() / "south_caucasus_unblocked.toml").read_text(
        encoding="utf-8").replace('name = "south_caucasus_unblocked"', 'name = "mine"')
    mine = tmp_path / "mine.toml"
    mine.write_text(text, encoding="utf-8")
    run = run_scenario(data, load_scenario(mine, data=data), lp=False, backcasts=False)
    said = [w for w in run.warnings if "no route family names" in w]
    assert len(said) == 1, run.warnings
    assert said[0].startswith("mine: freight rides on routes of family other through links the "
                              "scenario opens that no route family names (B_AM_AZ_"), said
    assert "via_link_ids of that family in route_family.csv of a copy of the dataset " \
        "(karvan data copy; run with --data)" in said[0]
    # karvan's own scenario on its own dataset: its families were drawn with its openings
    run = run_scenario(data, "south_caucasus_unblocked", lp=False, backcasts=False)
    assert not [w for w in run.warnings if "no route family names" in w], run.warnings
    # a link added to a copy of the dataset (a second Alat–Aktau ferry)
    copy = tmp_path / "data"
    shutil.copytree(builtin_corridor_folder(), copy)
    lines = (copy / "link.csv").read_text(encoding="utf-8").splitlines()
    row = next(x for x in lines if x.startswith("F_AZ_KZ_ALAT_AKTAU,"))
    lines.append(row.replace("F_AZ_KZ_ALAT_AKTAU,", "F_AZ_KZ_ALAT_AKTAU_NEW,", 1))
    (copy / "link.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = run_scenario(load_corridor(copy), "baseline", lp=False, backcasts=False)
    said = [w for w in run.warnings if "no route family names" in w]
    assert len(said) == 1 and "through links this dataset has and karvan's built-in one has " \
        "not that no route family names (F_AZ_KZ_ALAT_AKTAU_NEW " in said[0], run.warnings
    assert said[0].endswith(f"in {copy / 'route_family.csv'}."), said


def test_a_family_with_terms_of_takes_that_familys_terms():
    """instc_west_julfa_rail and _road take the rows of instc_west_rail and _road (rule "INSTC
    West through Nakhchivan or Armenia takes INSTC West's terms"): every term of every
    commodity equal, and a change of the source's constant moves both."""
    from karvan.freight.choice_model import choice_parameters

    data = load_corridor()
    table = data.tables["choice_parameter"]
    fam = read_route_families()
    m = choice_parameters(table, fam, data.commodities)
    t = m.family_terms.set_index(["family_id", "commodity"]).drop(columns="nest")
    for new, src in (("instc_west_julfa_rail", "instc_west_rail"),
                     ("instc_west_julfa_road", "instc_west_road")):
        assert m.terms_of[new] == src and m.nest_of[new] == m.nest_of[src]
        pd.testing.assert_frame_equal(t.loc[new], t.loc[src])
        assert (t.loc[new, "asc_usd_per_t"] > 0).all()  # the calibrated constant, not 0
    moved = table.copy()
    row = (moved["parameter"] == "asc_usd_per_t") & (moved["family"] == "instc_west_rail")
    moved.loc[row, "value"] = pd.to_numeric(moved.loc[row, "value"]) + 100.0
    t2 = choice_parameters(moved, fam, data.commodities).family_terms.set_index(
        ["family_id", "commodity"])
    diff = t2["asc_usd_per_t"] - t["asc_usd_per_t"]
    assert diff.loc["instc_west_julfa_rail"].to_numpy() == pytest.approx(100.0)
    others = ~diff.index.get_level_values("family_id").isin(["instc_west_rail",
                                                               "instc_west_julfa_rail"])
    assert (diff[others] == 0).all()


def test_terms_of_names_another_family_and_its_rows_are_the_sources(tmp_path):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    fam = pd.read_csv(folder / "route_family.csv", dtype=str, keep_default_na=False)
    i = fam.index[fam["family_id"] == "instc_west_julfa_rail"][0]
    j = fam.index[fam["family_id"] == "instc_west_julfa_road"][0]
    k = fam.index[fam["family_id"] == "instc_east"][0]
    fam.loc[i, "terms_of"] = "instc_west_julfa_rail"  # itself
    fam.loc[j, "terms_of"] = "no_such_family"
    fam.loc[k, "terms_of"] = "instc_west_julfa_rail"  # a family that takes another's terms
    fam.loc[i, "terms_of"] = "instc_west_julfa_rail"
    fam.to_csv(folder / "route_family.csv", index=False)
    with pytest.raises(InputError) as e:
        read_route_families(folder)
    msg = str(e.value)
    assert (f"route_family.csv line {i + 2} (family instc_west_julfa_rail): terms_of "
            "'instc_west_julfa_rail' is not another family") in msg
    assert f"line {j + 2} (family instc_west_julfa_road): terms_of 'no_such_family'" in msg
    # a chain: instc_east -> instc_west_julfa_rail, which itself names itself (said above); a
    # chain through a family that takes another's terms is named with the family to name
    fam.loc[i, "terms_of"] = "instc_west_rail"
    fam.loc[j, "terms_of"] = "instc_west_road"
    fam.to_csv(folder / "route_family.csv", index=False)
    with pytest.raises(InputError) as e:
        read_route_families(folder)
    assert (f"line {k + 2} (family instc_east): terms_of 'instc_west_julfa_rail' takes the "
            "terms of 'instc_west_rail' itself; name 'instc_west_rail'") in str(e.value)
    # a cycle, and a family of another nest
    fam.loc[i, "terms_of"] = "instc_west_julfa_road"
    fam.loc[j, "terms_of"] = "instc_west_julfa_rail"
    fam.loc[k, "terms_of"] = "northern_rail"
    fam.to_csv(folder / "route_family.csv", index=False)
    with pytest.raises(InputError) as e:
        read_route_families(folder)
    msg = str(e.value)
    assert (f"line {i + 2} (family instc_west_julfa_rail): terms_of 'instc_west_julfa_road', "
            "which takes the terms of 'instc_west_julfa_rail': neither has rows") in msg
    assert (f"line {k + 2} (family instc_east): terms_of 'northern_rail' is a family of the "
            "nest 'overland_north', not of 'instc'") in msg
    # rows of a family that takes another's terms would not be read: refused
    shutil.copy(builtin_corridor_folder() / "route_family.csv", folder / "route_family.csv")
    par = pd.read_csv(folder / "choice_parameter.csv", dtype=str, keep_default_na=False)
    extra = par[(par["parameter"] == "asc_usd_per_t")
                & (par["family"] == "instc_west_rail")].copy()
    extra["family"] = "instc_west_julfa_rail"
    pd.concat([par, extra]).to_csv(folder / "choice_parameter.csv", index=False)
    from karvan.freight.corridor import validate_corridor

    errors = " ".join(validate_corridor(folder).errors)
    assert (f"rows for the families instc_west_julfa_rail (lines {len(par) + 2}), which take "
            "the terms of instc_west_rail (route_family.csv terms_of)") in errors
    with pytest.raises(InputError, match="rows for the families instc_west_julfa_rail"):
        run_scenario(load_corridor(folder), load_scenario("baseline"), lp=False)


def test_russia_iran_freight_through_julfa_takes_instc_wests_family():
    """In the South Caucasus scenario, Russia -> Iran routes from Samur to Julfa by rail are
    instc_west_julfa_rail and to Agarak or Julfa by road instc_west_julfa_road, through Georgia
    and Armenia too (the rule's amendment); none from Samur to Iran is azerbaijan_land."""
    run = run_scenario(load_corridor(), load_scenario("south_caucasus_unblocked"), lp=False)
    r = run.tables["routes"]
    samur = r["links"].str.contains("B_RU_AZ_SAMUR_") & ~r["links"].str.contains(
        "B_AZ_IR_ASTARA_|S_|F_|B_TR_IR_GURBULAK_ROAD")  # families of higher priority
    rail = samur & r["links"].str.contains("B_AZ_IR_JULFA_RAIL")
    road = samur & ~rail & r["links"].str.contains("B_AZ_IR_JULFA_ROAD|B_AM_IR_AGARAK_ROAD")
    assert rail.sum() > 100 and r.loc[rail, "tonnes"].sum() > 1e4
    assert (r.loc[rail, "family_id"] == "instc_west_julfa_rail").all()
    assert (r.loc[road, "family_id"] == "instc_west_julfa_road").all()
    georgia = r["links"].str.contains("B_AZ_GE_|B_GE_AM_")
    assert r.loc[(rail | road) & georgia, "tonnes"].sum() > 0  # the detour, in the families
    ru_ir = (r["origin"].str.startswith("Z_RU_") & r["destination"].str.startswith("Z_IR_"))
    assert not (r.loc[ru_ir & samur, "family_id"] == "azerbaijan_land").any()
