"""The fit/validate split of ``observed.csv`` follows the rule written in docs/dataset.md
(section "Calibration and validation"), for every row, including rows added later."""

from __future__ import annotations

import pandas as pd
import pytest

from karvan.freight.corridor import builtin_corridor_folder


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return pd.read_csv(builtin_corridor_folder() / "observed.csv", dtype=str,
                       keep_default_na=False)


def test_independence_is_stated_and_explained(observed):
    assert set(observed["independent"]) <= {"true", "false"}
    dependent = observed["independent"] == "false"
    # a figure used to build an input names that input; an independent one names none
    assert (observed.loc[dependent, "used_for"].str.strip() != "").all()
    assert (observed.loc[~dependent, "used_for"].str.strip() == "").all()


def test_role_follows_the_written_rule(observed):
    assert set(observed["role"]) <= {"fit", "validate", "check"}
    total = observed["total_of"].str.strip() != ""
    # a total of fit rows is check (rule "A total of fit rows from one release is checked, not
    # fitted"); of the others, validate if and only if an independent port count
    assert ((observed["role"] == "check") == total).all()
    rule = (observed["independent"] == "true") & (observed["kind"] == "port") & ~total
    wrong = observed.loc[(observed["role"] == "validate") != rule, "observed_id"]
    assert wrong.empty, f"role differs from the split rule on {list(wrong)}"
    # the built-in totals: the INSTC release of 2023, rail plus sea
    assert dict(zip(observed.loc[total, "observed_id"], observed.loc[total, "total_of"],
                    strict=True)) == {"OBS_INSTC_2023": "OBS_INSTC_RAIL_2023;OBS_INSTC_SEA_2023"}


def test_at_least_a_third_of_the_independent_rows_validate(observed):
    ind = observed[observed["independent"] == "true"]
    assert len(ind) > 0
    assert (ind["role"] == "validate").sum() * 3 >= len(ind)


def test_directions_are_of_the_documented_forms(observed):
    for r in observed.itertuples(index=False):
        ok = r.direction in ("both", "element") or (
            r.direction.count(">") == 1 and ";" not in r.element_ids and "+" not in r.element_ids)
        assert ok, (r.observed_id, r.direction)
        if r.direction == "element":  # the terms carry the direction
            assert (">" in r.element_ids or ":ab" in r.element_ids
                    or ":ba" in r.element_ids), r.observed_id


# ------------------------------------------------------------------ independence, from the inputs

#: sources that an independent row shares with an input, reviewed one by one: why the input does
#: not rest on the figure. A new shared source fails the test until it is reviewed here (and in
#: docs/dataset.md) or the input cites the observed id (which makes the row dependent).
REVIEWED = {
    ("OBS_INSTC_2022", "TREND_3762035@growth.csv"):
        "the RU-IR growth rate is the ratio of a 2030 target to 17 Mt (2023); it sets no level",
    ("OBS_INSTC_2022", "TREND_3762035@uncertainty.csv"): "the range of the same growth rate",
    ("OBS_INSTC_2023", "SEANEWS_INSTC_2023@link.csv"):
        "the Caspian sea links cite the article for their service (tramp, no container line)",
    ("OBS_INSTC_RAIL_2023", "SEANEWS_INSTC_2023@link.csv"): "as OBS_INSTC_2023",
    ("OBS_INSTC_SEA_2023", "SEANEWS_INSTC_2023@link.csv"): "as OBS_INSTC_2023",
    ("OBS_INSTC_EAST_2023", "SPEC_RZDP_BRANCHES@demand.csv"):
        "GULF>RU rows take from the article that Gulf containers are trucked from Bandar Abbas",
    ("OBS_INSTC_EAST_2023", "SPEC_RZDP_BRANCHES@demand_inputs/trade_flow.csv"):
        "GULF>RU: the article's mode, not the eastern branch's tonnage",
    ("OBS_INSTC_EAST_2023", "SPEC_RZDP_BRANCHES@demand_inputs/trade_mix.csv"):
        "GULF>RU: containers (the article's mode)",
    ("OBS_ASTARA_ROAD_2024", "NEWSAZ_ASTARA_300@link.csv"):
        "the bridge's capacity is the design 800 trucks/day; the observed 300/day is not used",
    ("OBS_ASTRAKHAN_PORTS_2023", "DZEN_ASTRAKHAN_4_5@demand.csv"):
        "the Astrakhan port mix informs the RU>IR commodity shares, not its tonnage",
    ("OBS_ASTRAKHAN_PORTS_2023", "DZEN_ASTRAKHAN_4_5@demand_inputs/trade_mix.csv"):
        "as above (trade_mix shares)",
    ("OBS_BAKU_PORT_2024", "MENAFN_BAKU_PORT15@link.csv"):
        "the Alat port links take the port's 15 Mt/yr capacity, not its throughput",
    ("OBS_AKTAU_PORT_2022", "TREND_3793121@demand_inputs/energy_flow.csv"):
        "the oil part (2.5 Mt) is kept out of the demand (treatment excluded); it defines the "
        "non-oil scope of the count, it builds no input",
    ("OBS_TURKMENBASHI_PORT_2021", "BUSINESSTM_8897@demand_inputs/energy_flow.csv"):
        "an excluded energy row (tankers): kept out of the demand",
    ("OBS_ANZALI_PORT_2021", "PORTSEUROPE_ANZALI@link.csv"): "the port's capacity (10 Mt/yr)",
    ("OBS_SARAKHS_2021", "REPORTAZ_SARAKHS@link.csv"): "the crossing's capacity (7.5 Mt/yr)",
    ("OBS_BOLASHAK_2024", "TIMESCA_KTZ@link.csv"): "the eastern route's capacity (10 Mt/yr)",
    ("OBS_FERRY_TM_TRUCKS_2021", "BBABO_TRUCKS_2021@link.csv"):
        "the article's Kuryk figure sets the Kuryk line's sailings; its Turkmenbashi figure "
        "builds nothing",
    ("OBS_FERRY_TM_TRUCKS_2021", "BBABO_TRUCKS_2021@uncertainty.csv"):
        "the article's Kuryk figure bounds explore's draws of the Kuryk line's sailings from "
        "below; its Turkmenbashi figure builds nothing",
}


@pytest.fixture(scope="module")
def judged(observed) -> pd.DataFrame:
    from karvan.calibrate.independence import judge_independence

    folder = builtin_corridor_folder()
    inputs = {p.relative_to(folder).as_posix(): pd.read_csv(p, dtype=str, keep_default_na=False)
              for p in sorted(folder.rglob("*.csv"))
              if p.name not in ("observed.csv", "sources.csv")}
    assert "demand.csv" in inputs and "demand_inputs/trade_flow.csv" in inputs
    return judge_independence(observed, inputs)


def test_independent_means_no_input_cites_the_figure(observed, judged):
    # the rule: a row is not independent iff some input row names its observed_id
    stated = observed["independent"] == "true"
    wrong = observed.loc[stated.to_numpy() != judged["independent"].to_numpy(), "observed_id"]
    assert wrong.empty, f"independent differs from what the inputs cite on {list(wrong)}"
    # and a dependent row's used_for names an input that cites it
    for r, j in zip(observed.itertuples(index=False), judged.itertuples(index=False),
                    strict=True):
        if r.independent == "false":
            assert j.cited_by, r.observed_id


def test_sources_shared_with_inputs_are_reviewed(judged):
    shared = {(j.observed_id, s) for j in judged.itertuples(index=False) if j.independent
              for s in j.shared_sources.split(";") if s}
    assert not (shared - set(REVIEWED)), f"review: {sorted(shared - set(REVIEWED))}"
    assert not (set(REVIEWED) - shared), f"stale reviews: {sorted(set(REVIEWED) - shared)}"


def test_the_judgement_on_a_toy():
    from karvan.calibrate.independence import judge_independence

    obs = pd.DataFrame({"observed_id": ["A", "B", "C"], "source": ["S1", "S2;KV_ASSUMPTION", ""]})
    inputs = {"demand.csv": pd.DataFrame({"observed_ids": ["A;Z", ""], "source": ["S1", "S9"]}),
              "link.csv": pd.DataFrame({"source": ["S2;KV_ASSUMPTION"]})}
    j = judge_independence(obs, inputs)
    assert j["independent"].tolist() == [False, True, True]
    assert j["cited_by"].tolist() == ["demand.csv", "", ""]
    assert j["shared_sources"].tolist() == ["S1@demand.csv", "S2@link.csv", ""]


def test_an_unknown_id_in_link_observed_ids_is_an_input_error(tmp_path):
    """link.csv cites the observations a link's figure was built from (the Kuryk line's
    sailings); an id observed.csv lacks is named with its file, lines and links. It passed
    karvan validate, and where it replaced the only id cited the error blamed observed.csv."""
    import shutil

    from karvan.errors import InputError
    from karvan.freight.corridor import load_corridor

    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    links = pd.read_csv(folder / "link.csv", dtype=str, keep_default_na=False)
    cites = links.index[links["observed_ids"] != ""]
    assert len(cites) >= 1
    links.loc[cites[0], "observed_ids"] = "OBS_NOT_THERE"
    links.to_csv(folder / "link.csv", index=False)
    with pytest.raises(InputError) as e:
        load_corridor(folder)
    msg = str(e.value)
    assert "link.csv: observed_ids is not a observed_id of observed.csv" in msg
    assert f"line {cites[0] + 2}" in msg and links.at[cites[0], "link_id"] in msg
    assert "OBS_NOT_THERE" in msg
