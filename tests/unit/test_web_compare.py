"""The dashboard compares as ``karvan compare`` does: by default a project scenario of year Y
against the reference of Y when one is stored (it compared the two newest runs, whatever their
years), and it says whether a pair is like-year, as ``karvan compare`` prints it."""

from __future__ import annotations

import re
import shutil
import warnings

import pytest

from karvan.errors import NotFoundError
from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.reference import reference_scenario
from karvan.scenario.run import run_scenario, save_run
from karvan.store import RunStore
from karvan.web import create_app
from karvan.web.pairs import compare_pair

with warnings.catch_warnings():  # starlette warns that it prefers httpx2 to httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://127.0.0.1:8000"


def runs(*pairs: tuple[str, int | None]) -> list[dict]:
    """Stored runs, oldest first, as Dashboard.runs lists them: run ids r0, r1, ..."""
    return [{"run_id": f"r{i}", "scenario": s, "year": y} for i, (s, y) in enumerate(pairs)]


def test_a_project_run_is_paired_with_its_like_year_reference():
    # the newest two are the baseline and the project: the like-year reference is older
    p = compare_pair(runs(("reference_2028", 2028), ("baseline", 2024),
                          ("rasht_astara", 2028)))
    assert (p.a, p.b, p.like_year) == ("r0", "r2", True)
    assert "the like-year reference" in p.note and "rasht_astara's own changes" in p.note
    # the reference run last: B is still the project, not the reference
    p = compare_pair(runs(("rasht_astara", 2028), ("baseline", 2024), ("reference_2028", 2028)))
    assert (p.a, p.b, p.like_year) == ("r2", "r0", True)
    # of several runs of the reference, the newest
    p = compare_pair(runs(("reference_2028", 2028), ("reference_2028", 2028),
                          ("rasht_astara", 2028)))
    assert (p.a, p.b) == ("r1", "r2")
    # a run picked as B is paired the same way
    p = compare_pair(runs(("reference_2030", 2030), ("baseline", 2024), ("rasht_astara", 2028),
                          ("combined_2030", 2030)), b="r2")
    assert (p.a, p.b, p.like_year) == ("r0", "r2", False)  # 2030 is nearer 2028 than 2024


def test_without_a_like_year_reference_the_note_says_which_years():
    p = compare_pair(runs(("baseline", 2024), ("rasht_astara", 2028)))
    assert (p.a, p.b, p.like_year) == ("r0", "r1", False)
    assert "not a like-year reference" in p.note and "4 year(s) of demand growth" in p.note
    assert "compare with reference_2028" in p.note


def test_with_no_reference_stored_the_newest_other_run_as_before():
    p = compare_pair(runs(("my_case", 2030), ("no_astara", 2024), ("combined_2030", 2030)))
    assert (p.a, p.b, p.like_year) == ("r1", "r2", False)
    assert "6 year(s) of demand growth" in p.note and "reference_2030" in p.note
    # only references: B the newest, A the newest other
    p = compare_pair(runs(("baseline", 2024), ("reference_2030", 2030)))
    assert (p.a, p.b) == ("r0", "r1")
    # a year unknown: no note rather than a wrong one
    p = compare_pair(runs(("baseline", 2024), ("assigned", None)))
    assert (p.a, p.b, p.like_year, p.note) == ("r0", "r1", None, "")
    assert compare_pair(runs(("rasht_astara", 2028))) == compare_pair(
        runs(("rasht_astara", 2028)), b="r0")
    assert compare_pair(runs(("rasht_astara", 2028))).a is None
    assert (compare_pair([]).a, compare_pair([]).b) == (None, None)


def test_a_pair_picked_is_described_and_an_unknown_run_named():
    rs = runs(("reference_2028", 2028), ("baseline", 2024), ("rasht_astara", 2028))
    p = compare_pair(rs, a="r1", b="r2")
    assert (p.a, p.b, p.like_year) == ("r1", "r2", False)
    p = compare_pair(rs, a="r2", b="r0")
    assert p.like_year and "a run of the same year" in p.note
    with pytest.raises(NotFoundError, match="no run 'nope' among the 3 stored run"):
        compare_pair(rs, b="nope")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store of the 2028 reference, the baseline and a 2028 project, saved in that order (the
    two newest runs are of different years)."""
    data = load_corridor()
    root = tmp_path_factory.mktemp("store")
    ids = {}
    for spec in (reference_scenario(2028), load_scenario("baseline"),
                 load_scenario("rasht_astara")):
        run = run_scenario(data, spec, lp=False, backcasts=False)
        ids[spec.name] = save_run(run, RunStore(root), data)
    return root, ids, data


@pytest.fixture
def client(store):
    root, _, data = store
    with TestClient(create_app(root, data=data), base_url=BASE) as c:
        yield c


def selected(html: str, select_id: str) -> list[str]:
    """The values of the options selected in the ``<select>`` of this id."""
    body = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert body is not None, select_id
    return re.findall(r'<option value="([^"]+)" selected>', body.group(1))


def test_the_dashboard_compares_a_project_with_its_like_year_reference(client, store):
    _, ids, _ = store
    page = client.get("/").text
    # it was the baseline (the second newest) against the project
    assert selected(page, "compare-a") == [ids["reference_2028"]]
    assert selected(page, "compare-b") == [ids["rasht_astara"]]
    assert "rasht_astara (2028) against reference_2028 (2028), the like-year reference" in page
    pair = client.get("/api/compare/pair").json()
    assert pair == {"a": ids["reference_2028"], "b": ids["rasht_astara"], "like_year": True,
                    "note": pair["note"]}
    assert client.get("/api/compare/pair", params={"b": ids["rasht_astara"]}).json() == pair
    # a run's page offers its like-year reference to compare with, not the newest other run
    page = client.get(f"/runs/{ids['rasht_astara']}").text
    assert selected(page, "other") == [ids["reference_2028"]]
    # the baseline is a reference itself: the newest other run, as before
    page = client.get(f"/runs/{ids['baseline']}").text
    assert selected(page, "other") == [ids["rasht_astara"]]


def test_a_pair_of_different_years_says_so(client, store):
    _, ids, _ = store
    page = client.get("/compare", params={"a": ids["baseline"], "b": ids["rasht_astara"]})
    assert page.status_code == 200
    assert ("rasht_astara (2028) against baseline (2024), not a like-year reference: the "
            "difference includes 4 year(s) of demand growth") in page.text
    assert "compare with reference_2028 to separate them" in page.text
    page = client.get("/compare", params={"a": ids["reference_2028"], "b": ids["rasht_astara"]})
    assert "the like-year reference" in page.text and "demand growth" not in page.text
    pair = client.get("/api/compare/pair", params={"a": ids["baseline"],
                                                   "b": ids["rasht_astara"]}).json()
    assert pair["like_year"] is False and "4 year(s) of demand growth" in pair["note"]
    r = client.get("/api/compare/pair", params={"b": "nope"})
    assert r.status_code == 404 and "no run 'nope'" in r.json()["detail"]


def test_the_reference_is_of_the_projects_choice_model():
    """The newest run of the like-year reference was taken whatever its model: a logit project
    against a deterministic reference_2028, noted as 'the scenario's own changes'."""
    def run(i, s, y, choice):
        return {"run_id": f"r{i}", "scenario": s, "year": y, "summary": {"choice": choice}}

    listed = [run(0, "baseline", 2024, "logit"), run(1, "reference_2028", 2028, "logit"),
              run(2, "rasht_astara", 2028, "logit"),
              run(3, "reference_2028", 2028, "deterministic")]
    p = compare_pair(listed)
    assert (p.a, p.b, p.like_year) == ("r1", "r2", True)
    # a pair of two models picked by hand says what its difference holds
    p = compare_pair(listed, a="r3", b="r2")
    assert p.like_year is False and "different choice models" in p.note


def test_a_run_that_lost_a_table_is_never_a_default_pick():
    """The default pair took the newest run of the like-year reference whatever it held: one
    that had lost a table gave a page whose report was an error."""
    rs = runs(("reference_2028", 2028), ("reference_2028", 2028), ("rasht_astara", 2028),
              ("rasht_astara", 2028))
    rs[1]["missing"] = ["links"]
    rs[3]["missing"] = ["skims", "links"]
    p = compare_pair(rs)
    assert (p.a, p.b, p.like_year) == ("r0", "r2", True)
    assert "the like-year reference" in p.note
    assert "2 run(s) that lost tables are left out of the default (r1, r3)" in p.note
    # a run picked by hand that lost a table is named with what it lacks
    p = compare_pair(rs, a="r1", b="r2")
    assert p.note == ("run r1 (reference_2028) lacks its table(s) links (runs/r1/links.parquet "
                      "is missing), so it cannot be shown or compared; run reference_2028 "
                      "again, or pick another run.")
    # every run damaged: no pair, and why
    p = compare_pair(rs[1:2])
    assert (p.a, p.b) == (None, None) and "left out of the default (r1)" in p.note


def test_the_dashboard_leaves_out_a_run_that_lost_a_table(store, tmp_path):
    root, ids, data = store
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    ref = ids["reference_2028"]
    (copy / "runs" / ref / "links.parquet").unlink()
    with TestClient(create_app(copy, data=data), base_url=BASE) as c:
        page = c.get("/").text
        assert selected(page, "compare-a") == [ids["baseline"]]
        assert selected(page, "compare-b") == [ids["rasht_astara"]]
        assert f"left out of the default ({ref})" in page
        assert "lacks links" in page  # the list of runs says which
        # picked by hand, the comparison says what is missing instead of a broken page
        for url in ("/compare", "/compare/report", "/api/compare"):
            r = c.get(url, params={"a": ref, "b": ids["rasht_astara"]})
            assert r.status_code == 404, (url, r.status_code)
            assert f"lacks its table(s) links (runs/{ref}/links.parquet is missing)" in r.text
            assert "run reference_2028 again, or pick another run" in r.text
        assert c.get(f"/runs/{ref}/report").status_code == 404


def test_a_run_compared_with_itself_is_said_to_be_one_run(client, store):
    """A picked as B too: the note said "two runs of one scenario, so the difference is what
    changed between the runs" and the page showed a report of zero differences."""
    _, ids, _ = store
    rid = ids["rasht_astara"]
    pair = client.get("/api/compare/pair", params={"a": rid, "b": rid}).json()
    assert pair["like_year"] is None and f"A and B are one run ({rid})" in pair["note"]
    assert "two runs" not in pair["note"]
    for url in ("/compare", "/compare/report", "/api/compare"):
        r = client.get(url, params={"a": rid, "b": rid})
        assert r.status_code == 422, (url, r.status_code)
        assert "pick another run as A or B" in r.text


def test_the_api_gives_the_largest_changes_of_each_column(client, store):
    """/api/compare ranked links by tonnes alone: rasht_astara's Astara terminal, whose
    utilization falls most, was not among the first rows (karvan compare shows the rows among
    the largest changes of each column, karvan.store.largest_changes)."""
    _, ids, _ = store
    pair = {"a": ids["reference_2028"], "b": ids["rasht_astara"]}
    n = 3
    shown = client.get("/api/compare", params={**pair, "limit": n}).json()
    full = client.get("/api/compare", params={**pair, "limit": 5000}).json()
    for table, key, cols in (("links", "link_id", ["tonnes_tot", "utilization"]),
                             ("countries", "country", ["tonnes", "transit_tonnes",
                                                       "transit_revenue_usd", "revenue_usd"])):
        got = [r[key] for r in shown[table]]
        assert len(got) == len(set(got)) <= n * len(cols), table
        for c in cols:
            size = {r[key]: abs(r[f"{c}_diff"] or 0.0) for r in full[table]}
            nth = sorted(size.values(), reverse=True)[n - 1]
            # every row whose change is above the n-th largest (ties at it may go either way)
            assert {k for k, v in size.items() if v > nth} <= set(got), (table, c)
    # largest change of tonnes first
    assert shown["links"][0]["link_id"] == max(full["links"],
                                               key=lambda r: abs(r["tonnes_tot_diff"]))["link_id"]
    # the test means something: the links ranked by tonnes alone leave a utilization out
    by_tonnes = sorted(full["links"], key=lambda r: -abs(r["tonnes_tot_diff"]))[:n]
    top_use = max(full["links"], key=lambda r: abs(r["utilization_diff"] or 0.0))["link_id"]
    assert top_use not in {r["link_id"] for r in by_tonnes} and top_use in {
        r["link_id"] for r in shown["links"]}
    # a table compare ranks by one column, and one it does not rank, as before
    assert [r["border_id"] for r in shown["borders"]] == [
        r["border_id"] for r in full["borders"][:n]]
    assert shown["skims"] == full["skims"][:n]
    assert all(len(v) == 0 for k, v in client.get("/api/compare", params={
        **pair, "limit": 0}).json().items() if k not in ("a", "b"))
