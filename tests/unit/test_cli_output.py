"""What the command line prints and writes around the model: compare's headings and advice,
export's file names, run's first line, the run store's listing, removal and manifest display,
the dataset option, assign's method check and manifest, and the tables' headers."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app
from karvan.scenario.reference import describe_comparison
from karvan.store import RunStore
from tests.unit.test_cli import SMALL
from tests.unit.test_cli import run as run_cli
from tests.unit.test_store import toy_manifest, toy_tables

runner = CliRunner()


def cli(*args, columns: int = 200, input: str | None = None) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)},
                        input=input)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.output


def header_cells(text: str, first: str) -> list[str]:
    """The headers of the table whose first column is headed ``first``, each column's header
    lines joined with '|'."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if re.match(rf"┃ {first}\s+┃", line))
    start = end
    while lines[start - 1].startswith("┃"):
        start -= 1
    rows = [[c.strip() for c in line.strip("┃").split("┃")] for line in lines[start:end + 1]]
    return ["|".join(r[j] for r in rows if r[j]) for j in range(len(rows[0]))]


def stored(tmp_path, *runs: tuple[str, int, float]) -> RunStore:
    store = RunStore(tmp_path / "store")
    for name, year, scale in runs:
        man = toy_manifest(name)
        man["scenario"]["year"] = year
        store.save(toy_tables(scale), man)
    return store


# -- compare -----------------------------------------------------------------------------------


def test_compare_heads_its_columns_with_the_scenarios_names(tmp_path):
    # the headings were "tonnes_tot Mt A" and "... B"; with one run given, that run was in
    # column B while the help called it "Run A"
    store = stored(tmp_path, ("reference_2030", 2030, 1e6), ("alpha", 2030, 2e6))
    code, text = cli("compare", "reference_2030", "alpha", "--store", store.root)
    assert code == 0, text
    assert header_cells(text, "border_id") == ["border_id", "tonnes_tot Mt reference_2030",
                                               "tonnes_tot Mt alpha", "tonnes_tot Mt diff"]
    assert "Mt A " not in text and "Mt B " not in text
    # one run: it is compared with the reference of its year, which comes first (B - A)
    code, one = cli("compare", "alpha", "--store", store.root)
    assert code == 0, one
    assert header_cells(one, "border_id") == header_cells(text, "border_id")
    row = next(line for line in one.splitlines() if line.startswith("│ AZ-IR"))
    assert [c.strip() for c in row.strip("│").split("│")] == ["AZ-IR", "2.00", "4.00", "2.00"]
    # two runs of one scenario: by their run ids
    store.save(toy_tables(3.0), {**toy_manifest("alpha")})
    ids = list(store.list(scenario="alpha")["run_id"])
    code, text = cli("compare", ids[0], ids[1], "--store", store.root, columns=400)
    assert code == 0, text
    assert header_cells(text, "border_id")[1:3] == [f"tonnes_tot Mt {i}" for i in ids]
    code, text = cli("compare", "--help", columns=100)
    assert "RUN2 - RUN" in text and "Run A" not in text


def test_a_same_year_difference_of_two_scenarios_is_not_called_one_of_their_own_effects():
    # `compare combined_2030 south_caucasus_unblocked` called the difference
    # "south_caucasus_unblocked's own changes", though it is minus what combined adds
    c = describe_comparison("reference_2030", 2030, "rasht_astara", 2030)
    assert c.note.endswith("the difference is rasht_astara's own changes.")
    c = describe_comparison("combined_2030", 2030, "south_caucasus_unblocked", 2030)
    assert "own changes" not in c.note.split(":")[1].split("(")[0]
    assert "south_caucasus_unblocked's changes less combined_2030's" in c.note
    assert "compare each with reference_2030" in c.note
    c = describe_comparison("rasht_astara", 2030, "reference_2030", 2030)
    assert "minus rasht_astara's own changes" in c.note
    # two runs of one scenario (before and after a change of the dataset or model)
    for name in ("rasht_astara", "baseline", "reference_2030"):
        c = describe_comparison(name, 2030, name, 2030)
        assert "two runs of one scenario" in c.note and "own changes" not in c.note


def test_the_advice_of_another_year_never_names_one_of_the_two_runs(tmp_path):
    # `compare rasht_astara baseline` said "compare with baseline to separate them"
    c = describe_comparison("rasht_astara", 2028, "baseline", 2024)
    assert "compare with reference_2028 to separate them" in c.note and c.want == \
        "reference_2028"
    c = describe_comparison("baseline", 2024, "rasht_astara", 2028)
    assert "compare with reference_2028 to separate them" in c.note
    # two references: no third run separates them
    c = describe_comparison("reference_2030", 2030, "baseline", 2024)
    assert "to separate them" not in c.note and c.want == ""
    assert c.note.endswith("as well as the scenario's own changes.")
    store = stored(tmp_path, ("alpha", 2030, 1.0), ("baseline", 2024, 1.0))
    code, text = cli("compare", "alpha", "baseline", "--store", store.root)
    assert code == 0, text
    assert "compare with reference_2030 to separate them" in " ".join(text.split())


def test_the_report_of_two_years_advises_the_like_year_reference():
    # `karvan report rasht_astara baseline` said "run baseline to separate them"
    from karvan.report.build import _comparisons

    def res(name, year):
        return SimpleNamespace(name=name, manifest={"scenario": {"name": name, "year": year}})

    for lang in ("en", "ru", "fa"):
        notes = _comparisons([res("rasht_astara", 2028), res("baseline", 2024)], 0, None, lang)
        assert notes[0] == (None, "") and notes[1][0] == 0
        assert "reference_2028" in notes[1][1] and "baseline" not in notes[1][1].replace(
            "rasht_astara", "")
    (_, note), = _comparisons([res("reference_2030", 2030), res("baseline", 2024)], 0, None,
                              "en")[1:]
    assert "reference_2030 (2030)" in note and "to separate them" not in note
    assert "{" not in note


# -- export ------------------------------------------------------------------------------------
# (tests/unit/test_export.py: a GeoPackage named without .gpkg)


# -- run -----------------------------------------------------------------------------------------


def test_run_says_at_once_what_it_runs(tmp_path, monkeypatch):
    # nothing was printed before the first scenario finished (15 to 35 s)
    import karvan.scenario.batch as batch
    from karvan.errors import InputError

    def stop(*args, **kwargs):
        raise InputError("stopped before the runs")

    monkeypatch.setattr(batch, "run_scenarios", stop)
    base = ["--out", tmp_path / "r", "--no-report", "--no-gpkg", "--no-lp"]
    code, text = cli("run", "baseline", "rasht_astara", "--jobs", "2", *base)
    assert code == 2 and "stopped before the runs" in text
    assert text.index("running 2 scenarios on 2 processes") < text.index("stopped")
    code, text = cli("run", "baseline", "rasht_astara", "--jobs", "1", *base)
    assert "running 2 scenarios one after another" in text
    code, text = cli("run", "baseline", "--quiet", *base)
    assert code == 2 and "running" not in text


# -- runs ----------------------------------------------------------------------------------------


def test_runs_list_is_in_the_order_saved_and_says_so(tmp_path):
    # the help said "oldest first"; a batch commits its runs in the order of its scenarios,
    # whichever finished first, and a scenario name names the last of its runs listed
    from karvan.store import stage_run

    store = RunStore(tmp_path / "store")
    first = stage_run(store.runs_dir, toy_tables(1), toy_manifest("alpha"))
    second = stage_run(store.runs_dir, toy_tables(2), toy_manifest("alpha"))
    assert first.manifest["created"] < second.manifest["created"]
    ids = [store.commit(second), store.commit(first)]
    assert list(store.list()["run_id"]) == ids
    assert store.resolve("alpha").run_id == ids[-1]
    code, text = cli("runs", "list", "--help", columns=100)
    text = " ".join(text.split())
    assert "oldest first" not in text
    assert "in the order they were saved" in text and "need not rise" in text


def test_runs_show_prints_nested_settings_by_name(tmp_path):
    # settings.choice_parameters printed as a Python dict over dozens of lines
    store = RunStore(tmp_path / "store")
    rid = store.save(toy_tables(1), toy_manifest(
        "alpha", settings={"lp": True, "theta_per_h": {"grain": 0.0075729, "metals": 0.02},
                           "choice_parameters": {"model": "nested logit",
                                                 "nest_scale": {"instc": 1.0}}}))
    code, text = cli("runs", "show", rid, "--store", store.root)
    assert code == 0, text
    rows = {c[0]: c[1] for c in ([x.strip() for x in line.strip("│").split("│")]
                                 for line in text.splitlines() if line.count("│") == 3)}
    assert rows["settings.theta_per_h"] == "grain=0.0075729, metals=0.02"
    assert rows["settings.choice_parameters.model"] == "nested logit"
    assert rows["settings.choice_parameters.nest_scale"] == "instc=1"
    assert rows["settings.lp"] == "yes"
    assert "{" not in text and "'" not in text


def test_runs_rm_updates_the_copy_of_a_removed_run(tmp_path):
    # the results folder <out>/<scenario>/ kept the removed run, and nothing said so
    store = RunStore(tmp_path / "store")
    ids = [store.save(toy_tables(s), toy_manifest(n)) for n, s in (("alpha", 1), ("alpha", 2),
                                                                     ("beta", 5))]
    for i in ids:
        rec = store.get(i)
        store.copy_run(i, store.root / rec.scenario)
    other = store.copy_run(ids[1], tmp_path / "elsewhere" / "alpha")
    code, text = cli("runs", "rm", ids[1], "--store", store.root, input="y\n")
    assert code == 0, text
    flat = " ".join(text.split())
    assert f"update the copies that hold them: {store.root / 'alpha'}/" in flat
    assert f"{store.root / 'alpha'}/ now holds {ids[0]}, the latest run of alpha left" in flat
    plain = json.loads((store.root / "alpha" / "manifest.json").read_text())
    assert plain["run_id"] == ids[0]
    # a copy the store does not know of stays as it was
    assert json.loads((other / "manifest.json").read_text())["run_id"] == ids[1]
    code, text = cli("runs", "rm", ids[2], ids[0], "--store", store.root, "--yes")
    assert code == 0, text
    assert not (store.root / "beta").exists() and not (store.root / "alpha").exists()
    assert "removed" in text and "no run of beta is left" in " ".join(text.split())
    # a run whose scenario folder holds another run: not touched
    rid = store.save(toy_tables(1), toy_manifest("gamma"))
    newer = store.save(toy_tables(2), toy_manifest("gamma"))
    store.copy_run(newer, store.root / "gamma")
    code, text = cli("runs", "rm", rid, "--store", store.root, "--yes")
    assert code == 0 and "copy" not in text and "now holds" not in text
    assert json.loads((store.root / "gamma" / "manifest.json").read_text())["run_id"] == newer
    # a copy holding notes of one's own: nothing is removed (the notes were deleted with the
    # copy, or the removal stopped half done: the run gone, its copy left)
    (store.root / "gamma" / "my_notes.txt").write_text("mine")
    code, text = cli("runs", "rm", newer, "--store", store.root, "--yes")
    flat = " ".join(text.split())
    assert code == 2 and "my_notes.txt" in flat and "nothing was removed" in flat, flat
    assert newer in set(store.list()["run_id"])
    assert (store.root / "gamma" / "my_notes.txt").read_text() == "mine"


# -- data ----------------------------------------------------------------------------------------


def test_data_commands_take_data_as_every_other_command_does():
    # `karvan data build-demand --data DIR` said "No such option: --data"
    from karvan.freight.corridor import builtin_corridor_folder

    folder = builtin_corridor_folder()
    for option in ("--data", "--folder"):  # --folder still works, for scripts
        code, text = cli("data", "build-demand", option, folder, "--check")
        assert code == 0 and "as the inputs give it" in text, text
    code, text = cli("data", "sources", "--data", folder)
    assert code == 0 and "sources of" in text


# -- assign --------------------------------------------------------------------------------------


def test_assign_refuses_an_unknown_method_first_and_lists_every_method(tmp_path):
    # a progress bar ("foo gmns_small 0:00:00") was drawn before the error, whose list of
    # methods had no sue
    code, text = run_cli("assign", SMALL, "--method", "foo", "--out", tmp_path / "a")
    assert code == 2
    assert text.strip() == ("error: unknown --method 'foo'; use one of aon, msa, fw, cfw, bfw, "
                            "algorithm-b or sue (stochastic user equilibrium, with --theta).")
    assert not (tmp_path / "a").exists()


def test_assign_manifest_records_the_demand_file_read_and_the_gap_reached(tmp_path):
    # "trips": null where the trips were read from beside the network; under sue the gap
    # reached was overwritten by the target gap of the settings
    code, text = run_cli("assign", SMALL, "--method", "sue", "--theta", "0.5", "--gap", "1e-8",
                         "--max-iter", "2", "--out", tmp_path / "s", "-q")
    assert code == 1, text  # two iterations do not reach 1e-8
    man = json.loads((tmp_path / "s" / "manifest.json").read_text())
    conv = pd.read_csv(tmp_path / "s" / "convergence.csv")
    assert man["trips"] == str(SMALL / "demand.csv")
    assert man["gap"] == 1e-8 and man["sue_gap"] == conv["gap"].iloc[-1] > 1e-8
    code, text = run_cli("assign", SMALL, "--out", tmp_path / "d", "-q")
    assert code == 0, text
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["trips"] == str(
        SMALL / "demand.csv")


# -- tables --------------------------------------------------------------------------------------


def test_number_headers_break_after_underscores_not_inside_words():
    # at 120 columns the scenario names broke mid-word (baseli|ne, south_|caucas|us_unb|locked)
    from rich.console import Console

    from karvan.cli.tables import header_pieces, print_tables
    from karvan.scenario.summary import SummaryTable

    names = ["baseline", "rasht_astara", "baku_astara_15mt", "south_caucasus_unblocked",
             "iran_disrupted", "combined_2030", "reference_2030", "reference_2026",
             "reference_2028"]
    borders = ["KZ-RU_PETROPAVLOVSK", "RU-AZ_SAMUR", "AZ-GE_RED_BRIDGE"]
    bt = pd.DataFrame({"border": borders, **{n: np.array([15.61, 11.76, 3.2]) for n in names}})
    buf = io.StringIO()
    print_tables([SummaryTable("Border crossings", bt, {n: "{:,.2f}" for n in names})],
                 Console(file=buf, width=120))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 120
    heads = dict(zip(["border", *names], header_cells(text, "border"), strict=True))
    whole = [n for n in names
             if heads[n].split("|") == [p for w in header_pieces(n) for p in w]
             or heads[n] == n]
    # every header whose pieces fit is broken only after its underscores: all but the last
    # two of the three longest (reference_YYYY) here, the shortest first
    assert {"baseline", "rasht_astara", "south_caucasus_unblocked", "iran_disrupted",
            "combined_2030"} <= set(whole) and len(whole) >= 7, heads
    assert all(heads[n].replace("|", "") == n for n in names)
    # and where a table fits, headers are as they were
    buf = io.StringIO()
    print_tables([SummaryTable("Border crossings", bt[["border", *names[:3]]], {})],
                 Console(file=buf, width=120))
    assert header_cells(buf.getvalue(), "border")[1:] == names[:3]


@pytest.mark.parametrize(("header", "width", "lines"), [
    ("south_caucasus_unblocked", 10, ["south_", "caucasus_", "unblocked"]),
    ("south_caucasus_unblocked", 15, ["south_caucasus_", "unblocked"]),
    ("tonnes_tot Mt reference_2030", 13, ["tonnes_tot Mt", "reference_", "2030"]),
    ("reference_2030", 6, ["refere", "nce_", "2030"]),
])
def test_wrap_header(header, width, lines):
    from karvan.cli.tables import wrap_header

    assert wrap_header(header, width).split("\n") == lines
