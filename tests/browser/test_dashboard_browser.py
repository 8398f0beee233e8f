"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a live
uvicorn server on 127.0.0.1, every other request blocked: a scenario is built in the form
(baseline with the Astara border closed), run in the background, its results opened (map and
tables) and compared with the baseline; bad input shows its problems. Screenshots go to
$KARVAN_SCREENSHOTS (default: /tmp)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario, save_run
from karvan.store import RunStore
from tests.browser.conftest import needs_chromium

#: bounded waits, in milliseconds
WAIT_MS = 10_000
RUN_MS = 60_000

pytestmark = needs_chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard on 127.0.0.1 over a store holding one baseline run; stopped at the end."""
    import uvicorn

    from karvan.web import create_app

    root = tmp_path_factory.mktemp("store")
    data = load_corridor()
    base_id = save_run(run_scenario(data, load_scenario("baseline"), lp=False), RunStore(root),
                       data)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(root, data=data), host="127.0.0.1",
                                        port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, name="karvan-dashboard", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        if not thread.is_alive() or time.monotonic() - t0 > 20:
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "root": root, "base_id": base_id}
    srv.should_exit = True
    thread.join(timeout=20)
    assert not thread.is_alive(), "the dashboard server did not stop"


@pytest.fixture
def shots() -> Path:
    d = Path(os.environ.get("KARVAN_SCREENSHOTS", "/tmp"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_page(browser, url: str):
    """A page that may only talk to 127.0.0.1; anything else is aborted and recorded."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        u = urlparse(r.request.url)
        if u.scheme in ("http", "https") and u.hostname == "127.0.0.1" or u.scheme == "data":
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    return page, blocked, errors


def test_dashboard_runs_a_scenario_end_to_end(browser, server, shots):
    page, blocked, errors = open_page(browser, server["url"] + "/")
    # the stored baseline is listed
    assert page.locator(f"table.runs tr[data-run='{server['base_id']}']").count() == 1
    # build: baseline, 2024, the Astara border closed, no LP (faster)
    page.select_option("#extends", "baseline")
    page.wait_for_selector("#borders tr[data-id='AZ-IR_ASTARA']")
    page.fill("#name", "no_astara")
    page.fill("#title", "Astara border closed")
    page.select_option("#borders select[name='AZ-IR_ASTARA']", "close")
    assert "changed" in page.locator("#borders tr[data-id='AZ-IR_ASTARA']").get_attribute(
        "class")
    page.uncheck("#lp")
    page.click("button[data-add='demand']")
    row = page.locator("#demand tbody tr").last
    row.locator("input[name='factor']").fill("1.2")
    row.locator("select[name='origin_country']").select_option("RU")
    row.locator("select[name='destination_country']").select_option("IN")
    row.locator("select[name='commodity']").select_option("containers")
    page.click("#preview")
    page.wait_for_function("document.querySelector('#toml').textContent.includes("
                           "'borders = [\"AZ-IR_ASTARA\"]')")
    toml = page.locator("#toml").inner_text()
    assert 'extends = "baseline"' in toml and 'action = "demand_scale"' in toml
    assert 'destination_country = "IN"' in toml and "factor = 1.2" in toml
    # run it and watch it finish
    page.click("#run")
    job = page.locator(".job").first
    job.wait_for()
    job.locator("xpath=self::*[@data-status='complete']").wait_for(timeout=RUN_MS)
    assert "complete: run" in job.locator(".msgs").inner_text()
    assert job.locator(".bar > div").get_attribute("style") == "width:100%"
    # the new run joins the stored runs
    page.wait_for_selector("table.runs tr[data-run*='no_astara']")
    # the comparison preselected as karvan compare chooses it: the new run against the
    # reference of its year, the baseline, and the note says so
    page.wait_for_function("document.querySelector('#compare-note').textContent.includes("
                           "'the like-year reference')")
    assert "no_astara" in page.locator("#compare-b").input_value()
    assert page.locator("#compare-a").input_value() == server["base_id"]
    assert job.locator("select.cmp").input_value() == server["base_id"]
    page.locator("#borders tr[data-id='AZ-IR_ASTARA']").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "karvan_dashboard.png"))
    # a B the user picked stays when the run list is refreshed (a finished run replaced it)
    page.select_option("#compare-b", server["base_id"])
    page.evaluate("refreshRuns()")
    assert page.locator("#compare-b").input_value() == server["base_id"]
    # open its results: the report's map and tables in the frame
    job.locator("a.open").click()
    page.wait_for_url("**/runs/*no_astara*")
    frame = page.frame_locator("#report")
    flows = frame.locator("section.panel:not([hidden]) svg.map.flows").first
    flows.wait_for()
    assert frame.locator("section.panel:not([hidden]) svg.map.flows path.lk").count() > 100
    tables = frame.locator("section.panel:not([hidden]) table")
    assert tables.count() >= 2 and tables.first.is_visible()
    assert flows.bounding_box()["width"] > 500
    page.screenshot(path=str(shots / "karvan_dashboard_run.png"))
    # compare with the baseline: a difference map
    page.select_option("#other", server["base_id"])
    page.click("#cmp")
    page.wait_for_url("**/compare?*")
    diff = page.frame_locator("#report").locator("section.panel:not([hidden]) svg.map.diff")
    diff.first.wait_for()
    assert diff.locator("path.lk").count() > 5
    diff.first.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "karvan_dashboard_compare.png"))
    assert not blocked, blocked
    assert not errors, errors
    page.close()


def test_bad_input_shows_every_problem(browser, server, shots):
    page, blocked, errors = open_page(browser, server["url"] + "/")
    page.fill("#name", "bad one")
    page.fill("#year", "1990")
    page.click("button[data-add='capacity']")
    row = page.locator("#capacity tbody tr").last
    row.locator("input[name='target']").fill("R_NO_SUCH_LINK")
    row.locator("input[name='capacity_mt']").fill("lots")
    page.click("#run")
    problems = page.locator("#problems li")
    problems.first.wait_for()
    text = page.locator("#problems").inner_text()
    assert problems.count() == 4, text
    for needle in ("name:", "1990 is out of range", "'lots' is not a number",
                   "'R_NO_SUCH_LINK' is not a link id"):
        assert needle in text
    assert page.locator(".job").count() == 0 or "bad one" not in page.locator(
        "#jobs").inner_text()
    page.screenshot(path=str(shots / "karvan_dashboard_problems.png"))
    assert not blocked and not errors, (blocked, errors)
    page.close()


def test_warnings_show_beside_the_form_and_on_the_job_card(browser, server, shots):
    """A capacity typed in t/yr where the form wants Mt/yr is warned about: beside the form on
    preview and on the finished job's card (the card's warnings list had no test in a
    browser)."""
    page, blocked, errors = open_page(browser, server["url"] + "/")
    page.select_option("#extends", "baseline")
    page.wait_for_selector("#borders tr[data-id='AZ-IR_ASTARA']")
    page.fill("#name", "samur_in_tonnes")
    page.uncheck("#lp")
    page.click("button[data-add='capacity']")
    row = page.locator("#capacity tbody tr").last
    row.locator("input[name='target']").fill("B_RU_AZ_SAMUR_RAIL")
    row.locator("input[name='capacity_mt']").fill("0.0000015")  # 1.5 t/yr: meant 15 Mt/yr?
    page.click("#preview")
    page.wait_for_selector("#warnings li")
    said = page.locator("#warnings").inner_text()
    assert "B_RU_AZ_SAMUR_RAIL" in said and "check the unit" in said, said
    page.click("#run")
    job = page.locator(".job[data-status='complete']").filter(has_text="samur_in_tonnes")
    job.wait_for(timeout=RUN_MS)
    card = job.locator("ul.warnings li")
    assert card.count() >= 1
    text = card.all_inner_texts()
    assert any("B_RU_AZ_SAMUR_RAIL" in t and "check the unit" in t for t in text), text
    page.screenshot(path=str(shots / "karvan_dashboard_warnings.png"))
    assert not blocked and not errors, (blocked, errors)
    page.close()


def test_the_compare_button_is_off_for_one_run_as_a_and_b(browser, server):
    # the form let the same run be picked as A and B; the server answers 422
    page, blocked, errors = open_page(browser, server["url"] + "/")
    base = server["base_id"]
    page.select_option("#compare-a", base)
    page.select_option("#compare-b", base)
    page.wait_for_function("document.querySelector('#compare-go').disabled === true")
    assert "one run" in page.locator("#compare-note").inner_text()
    assert not blocked and not errors, (blocked, errors)
    page.close()
