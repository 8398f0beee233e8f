"""The report's calibration section and its like-year comparisons."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from karvan.freight.corridor import load_corridor
from karvan.report import render_report
from karvan.report.calibration import scatter_svg
from karvan.scenario import load_scenario
from karvan.scenario.reference import reference_scenario
from karvan.scenario.run import run_scenario, write_run
from karvan.store import resolve_run


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = load_corridor()
    out = {}
    import dataclasses

    from karvan.scenario.spec import Modification

    # a what-if of the base year: Iran's Astara terminal at half its capacity
    base = load_scenario("baseline")
    what_if = dataclasses.replace(base, name="astara_halved", path=None, places=(),
                                  modifications=(*base.modifications, Modification(
                                      action="scale", links=["T_IR_ASTARA_TERMINAL"],
                                      field="capacity_tpy", factor=0.5)))
    for spec in (base, load_scenario("rasht_astara"), reference_scenario(2028), what_if):
        out[spec.name] = write_run(run_scenario(data, spec, lp=False), root / spec.name,
                                   data)
    return out


def test_calibration_section_marks_fit_and_validation_with_scope_on_hover(folders):
    html = render_report([folders["baseline"]], lang="en")
    assert 'class="chart cal"' in html and 'class="calibration-summary"' in html
    cal = resolve_run(folders["baseline"]).table("calibration")
    comp = cal[cal["compared"]]
    # one marker per compared row; validation rows are squares
    pts = re.findall(r'<(rect|circle) class="pt"[^>]*data-t="([^"]*)"', html)
    assert len(pts) == len(comp)
    shapes = {t.split("&#10;")[0]: k for k, t in pts}
    for r in comp.itertuples():
        assert shapes[r.observed_id] == ("rect" if r.set == "validate" else "circle")
    tip = next(t for k, t in pts if t.startswith("OBS_UPPER_LARS_AM_2024"))
    assert "Armenian OD only" in tip and "CALIBER_LARS_150" in tip
    # the other languages carry it too; a run without compared rows has no section
    assert 'class="chart cal"' in render_report([folders["baseline"]], lang="fa")
    assert 'class="chart cal"' not in render_report([folders["rasht_astara"]], lang="en")


def test_each_rows_hover_and_line_name_its_largest_parts(folders):
    """The hover text lists a row's largest parts (country pair and commodity, summed over
    the run's calibration_cells) and the table of rows the largest one."""
    from karvan.report.calibration import largest_parts

    cells = resolve_run(folders["baseline"]).table("calibration_cells")
    html = render_report([folders["baseline"]], lang="en")
    row = cells[cells["observed_id"] == "OBS_BAKU_PORT_2024"]
    top = (row.groupby(["origin_country", "destination_country", "commodity_id"])
           ["modelled_tonnes"].sum().sort_values(ascending=False))
    (o, d, c), t = top.index[0], top.iloc[0]
    first = f"{o}→{d} {c} {t / 1e6:,.3f} Mt"
    assert largest_parts(cells, "en")["OBS_BAKU_PORT_2024"][0].startswith(first)
    tip = next(t for t in re.findall(r'class="pt"[^>]*data-t="([^"]*)"', html)
               if t.startswith("OBS_BAKU_PORT_2024"))
    assert "Largest parts:" in tip and first in tip
    assert tip.count("&#10;  ") == min(3, len(top))
    assert "Largest part</th>" in html and f"<td>{first}" in html
    # in the page's language: its unit and percent (Russian: "млн т", "17 %")
    from karvan.report.i18n import label

    ru = largest_parts(cells, "ru")["OBS_BAKU_PORT_2024"][0]
    assert f" {label('mt', 'ru')} (" in ru and ru.endswith("\u00a0%)"), ru
    # a run made before the table existed: no parts, the rest as before
    assert largest_parts(None, "en") == {}


def test_scatter_puts_every_point_inside_the_plot():
    import pandas as pd

    cal = pd.DataFrame({"observed_id": ["a", "b", "c"], "compared": [True, True, True],
                        "observed_tonnes": [1e5, 2e6, 3e7], "modelled_tonnes": [0.0, 2.6e6,
                                                                                1e7],
                        "set": ["fit", "validate", "fit_by_construction"], "year": 2024,
                        "run": "x", "scope": "s", "source": "S"})
    svg = scatter_svg(cal, "en")
    xs = [float(v) for v in re.findall(r'c?x="([0-9.]+)"', svg)]
    assert xs and all(0 <= x <= 460 for x in xs)
    assert 'fill="none"' in svg  # the row modelled at zero is hollow


def test_report_compares_with_the_like_year_reference_and_says_so(folders):
    runs = [folders["baseline"], folders["rasht_astara"], folders["reference_2028"]]
    like = SimpleNamespace(reference="reference_2028", reference_year=2028, scenario_year=2028,
                           like_year=True, want="reference_2028")
    html = render_report(runs, lang="en", comparisons=[None, like, None])
    assert "the like-year reference" in html and "Reference 2028" in html
    assert html.count('class="diff"') == 1
    # the old way, each against the first, now says that years differ
    html = render_report(runs[:2], lang="en")
    assert "not a like-year reference" in html and "4 year(s) of demand growth" in html


def test_a_what_if_of_a_counted_year_says_its_rows_check_nothing(folders):
    """A base-year scenario that is not the baseline had the same calibration section as the
    baseline, its targets read as a check of the model."""
    said = "This scenario is not what happened in its year"
    html = render_report([folders["baseline"], folders["astara_halved"]], lang="en")
    assert html.count(said) == 1
    assert html.index(said) > html.index("astara_halved")
    assert said not in render_report([folders["baseline"]], lang="en")
    assert "Этот сценарий — не то, что произошло" in render_report(
        [folders["astara_halved"]], lang="ru")


def _summary_rows(html: str) -> dict[str, str]:
    """The calibration summary's rows: set label -> its "target met" cell."""
    body = html[html.index('<table class="calibration-summary">'):]
    body = body[:body.index("</table>")]
    return {tds[0]: tds[-1] for tds in (re.findall(r"<td[^>]*>(?:<span[^>]*>)?([^<]*)", tr)
                                        for tr in re.findall(r"<tr>(.*?)</tr>", body)) if tds}


def test_the_summary_says_whether_each_target_is_met_as_the_run_does(folders, tmp_path):
    """The report said "yes" to targets the run had not met: calibration_summary.parquet held
    False as the text "False", which is not empty. Runs stored so are read right too."""
    import shutil

    import pandas as pd

    csv = pd.read_csv(folders["baseline"] / "calibration_summary.csv").set_index("set")
    stored = pd.read_parquet(folders["baseline"] / "calibration_summary.parquet")
    assert str(stored["target_met"].dtype) == "boolean"
    want = {"fit (independent)": "yes" if csv.at["fit", "target_met"] else "no",
            "validation": "yes" if csv.at["validate", "target_met"] else "no",
            "fit (figure built the inputs)": "-",
            # a total of fit rows (OBS_INSTC_2023) is reported, with no target of its own
            "check (a total of fit rows, not fitted)": "-"}
    assert _summary_rows(render_report([folders["baseline"]], lang="en")) == want
    # a run stored before: the column as text
    old = tmp_path / "old"
    shutil.copytree(folders["baseline"], old)
    stored.astype({"target_met": object}).assign(
        target_met=stored["target_met"].map(lambda v: None if pd.isna(v) else str(bool(v)))
    ).to_parquet(old / "calibration_summary.parquet", index=False)
    assert _summary_rows(render_report([old], lang="en")) == want
