"""The report in a real browser (Debian's chromium, driven by Playwright), with the network
blocked: it renders the map, shows details on hover, switches runs, and lays Persian out right
to left. Screenshots go to $KARVAN_SCREENSHOTS (default: the test's temporary folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from karvan.report import write_report
from tests.browser.conftest import needs_chromium
from tests.unit.test_report import make_runs

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    runs = make_runs(root / "runs")
    return {lang: write_report(runs, root / f"report_{lang}.html", lang=lang)
            for lang in ("en", "ru", "fa")}


@pytest.fixture
def shots(tmp_path) -> Path:
    d = Path(os.environ.get("KARVAN_SCREENSHOTS", tmp_path))
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_offline(browser, path: Path):
    """A page with every request but the report file itself aborted and recorded."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    url = path.resolve().as_uri()
    requests: list[str] = []
    errors: list[str] = []

    def route(r):
        requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, url, requests, errors


def test_report_renders_offline_with_hover(browser, reports, shots):
    page, url, requests, errors = open_offline(browser, reports["en"])
    panel = "section.panel:not([hidden])"
    assert page.locator("svg.defs path.cty").count() > 30
    assert page.locator(f"{panel} svg.map.flows path.lk").count() > 100
    assert page.locator(f"{panel} svg.map.flows .sym").count() > 40
    # the countries drawn through <use> have a real size on screen
    box = page.locator(f"{panel} svg.map.flows").bounding_box()
    assert box["width"] > 600 and box["height"] > 600
    # hover the thickest band: the tooltip shows its name and figures
    band = page.locator(f"{panel} svg.map.flows path.lk[data-tonnes]").first
    band.scroll_into_view_if_needed()
    band.hover(force=True)
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    assert "t/yr" in tip.inner_text() and "Shadow price" in tip.inner_text()
    page.screenshot(path=str(shots / "report_en_map.png"))
    # zoom to the Caucasus changes the view box
    vb = page.locator(f"{panel} svg.map.flows").get_attribute("viewBox")
    page.locator(f"{panel} button[data-box]").first.click()
    assert page.locator(f"{panel} svg.map.flows").get_attribute("viewBox") != vb
    page.screenshot(path=str(shots / "report_en_caucasus.png"))
    assert requests == [url], requests
    assert not errors
    page.close()


def test_two_runs_switch_and_show_the_difference_map(browser, reports, shots):
    page, url, requests, errors = open_offline(browser, reports["en"])
    # two runs: the second (compared with the first) opens first
    assert page.locator("section.panel:not([hidden])").get_attribute("data-scn") == "1"
    diff = page.locator("section.panel:not([hidden]) svg.map.diff")
    assert diff.locator("path.lk.up").count() > 5 and diff.locator("path.lk.down").count() > 0
    diff.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "report_en_diff.png"))
    page.select_option("#scn", "0")
    assert page.locator("section.panel:not([hidden])").get_attribute("data-scn") == "0"
    assert page.locator("section.panel:not([hidden]) svg.map.diff").count() == 0
    assert requests == [url] and not errors
    page.close()


def test_persian_report_lays_out_right_to_left(browser, reports, shots):
    page, url, requests, errors = open_offline(browser, reports["fa"])
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    panel = "section.panel:not([hidden])"
    heads = page.locator(f"{panel} table.countries thead th")
    first, last = heads.first.bounding_box(), heads.last.bounding_box()
    assert first["x"] > last["x"]  # the first column is at the right
    # the legend sits left of the map, the title at the right edge
    fig = page.locator(f"{panel} figure.mapbox").first.bounding_box()
    leg = page.locator(f"{panel} aside.legend").first.bounding_box()
    assert leg["x"] < fig["x"]
    h1 = page.locator("header.top h1").bounding_box()
    assert h1["x"] + h1["width"] > 1400 - 60
    # bar charts are mirrored: labels right of the bars
    chart = page.locator(f"{panel} svg.chart").first
    bar = chart.locator("rect.bar").first.bounding_box()
    lab = chart.locator("text.blab").first.bounding_box()
    assert lab["x"] > bar["x"]
    page.screenshot(path=str(shots / "report_fa_top.png"))
    page.locator(f"{panel} table.countries").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "report_fa_tables.png"))
    assert requests == [url] and not errors
    page.close()


def test_russian_report_renders(browser, reports, shots):
    page, url, requests, errors = open_offline(browser, reports["ru"])
    assert page.locator("html").get_attribute("lang") == "ru"
    assert "Грузопотоки" in page.locator("section.panel:not([hidden])").inner_text()
    page.screenshot(path=str(shots / "report_ru_map.png"))
    assert requests == [url] and not errors
    page.close()
