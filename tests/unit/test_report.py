"""The HTML report: offline, in three languages, and its differences equal the tables'."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.errors import InputError
from karvan.report import diff_table, read_run, render_report, write_report
from karvan.report.i18n import LANGS, country_name, fmt_num, label


def make_runs(root: Path, names=("baseline", "combined_2030")) -> list[Path]:
    """Run built-in scenarios into ``root`` (the report reads run folders only)."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario, write_run

    data = load_corridor()
    out = []
    for n in names:
        r = run_scenario(data, load_scenario(n))
        out.append(write_run(r, root / n, data))
    return [Path(p) for p in out]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def pages(runs) -> dict[str, str]:
    return {lang: render_report(runs, lang=lang) for lang in LANGS}


class Tables(HTMLParser):
    """Collects tables by class: rows of (text, data-v or None)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self._t = self._row = self._cell = None
        self._body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._t = self.tables.setdefault(a.get("class") or "", [])
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._t is not None and self._body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ["", a.get("data-v")]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append((self._cell[0], self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._t.append(self._row)
            self._row = None
        elif tag == "table":
            self._t = None
            self._body = False


def tables_of(html: str) -> dict[str, list]:
    p = Tables()
    p.feed(html)
    return p.tables


def test_page_makes_no_requests(pages):
    for lang, html in pages.items():
        notice_start = html.index('<footer class="notice">')
        for m in re.finditer(r"https?://", html):
            assert m.start() > notice_start, (lang, html[m.start() - 80:m.start() + 80])
        for bad in ("<script src", "<link rel=\"stylesheet\"", "@import", "url(", "<img",
                    "<iframe", "@font-face"):
            assert bad not in html, (lang, bad)
        refs = re.findall(r'(?:href|src)="([^"]*)"', html)
        assert all(r.startswith("#") or r == "data:," for r in refs), (lang, set(refs))


def test_three_languages_with_their_labels(pages):
    for lang, html in pages.items():
        d = "rtl" if lang == "fa" else "ltr"
        assert f'<html lang="{lang}" dir="{d}">' in html
        for key in ("title", "disclaimer", "countries", "bottlenecks", "shipper", "diff_map",
                    "attribution"):
            assert label(key, lang) in unescape(html), (lang, key)
        others = [x for x in LANGS if x != lang]
        for o in others:
            assert label("disclaimer", o) not in unescape(html)
    assert "Россия" in pages["ru"] and "ایران" in pages["fa"] and "Azerbaijan" in pages["en"]


def test_persian_numbers_stay_left_to_right(pages):
    html = pages["fa"]
    assert html.count('<td class="num"') == html.count('<td class="num" data-v=')
    cells = re.findall(r'<td class="num" data-v="[^"]*">(<span dir="ltr">)?', html)
    assert cells and all(c for c in cells)


def test_differences_equal_the_tables(runs, pages):
    a, b = read_run(runs[0]), read_run(runs[1])
    t = tables_of(pages["en"])
    rows = t["diff-countries"]
    # every country of either run but those crossed on sea legs only (the open sea, the
    # Caspian, Egypt's canal): they were listed as transit countries, unlike the summary
    sea = {"XX", "XC", "EG"}
    land = (set(a["countries"]["country"]) | set(b["countries"]["country"])) - sea
    assert len(rows) == len(land)
    assert not {r[0][0] for r in rows} & {country_name(c, "en") for c in sea}
    assert not {r[0][0] for r in t["countries"]} & {country_name(c, "en") for c in sea}
    ca = a["countries"].set_index("country")
    cb = b["countries"].set_index("country")
    names = {country_name(code, "en"): code for code in set(ca.index) | set(cb.index)}
    for r in rows:
        code = names[r[0][0]]
        va = ca["transit_tonnes"].get(code, 0.0)
        vb = cb["transit_tonnes"].get(code, 0.0)
        assert float(r[1][1]) == pytest.approx(va)
        assert float(r[2][1]) == pytest.approx(vb)
        assert float(r[3][1]) == pytest.approx(vb - va)
        assert float(r[4][1]) == pytest.approx(cb["tonnes"].get(code, 0.0)
                                               - ca["tonnes"].get(code, 0.0))
        # the shown text is the same number, in Mt
        assert r[3][0] == fmt_num((vb - va) / 1e6, "en", 2, signed=True)
    # borders
    ba, bb = (x["borders"].set_index("border_id")["tonnes_tot"] for x in (a, b))
    for r in t["diff-borders"]:
        assert float(r[3][1]) == pytest.approx(bb.get(r[0][0], 0.0) - ba.get(r[0][0], 0.0))
    # the difference map: every band's change is B - A of the links table
    la, lb = (x["links"].set_index("link_id")["tonnes_tot"] for x in (a, b))
    changes = re.findall(r'data-id="([^"]+)" data-change="(-?\d+)"', pages["en"])
    assert len(changes) > 10
    for lid, ch in changes:
        assert float(ch) == pytest.approx(lb.get(lid, 0.0) - la.get(lid, 0.0), abs=0.5)
    assert 'class="lk up"' in pages["en"] and 'class="lk down"' in pages["en"]


def test_map_draws_countries_links_and_symbols(runs, pages):
    html = pages["en"]
    first = html[html.index('data-scn="0"'):html.index('data-scn="1"')]
    links = read_run(runs[0])["links"]
    n_paths = first.count('<path class="lk')
    n_transfer = first.count('class="sym transfer"')
    n_border = first.count('class="sym border"')
    assert n_transfer == (links["mode"] == "transfer").sum()
    assert n_border == (links["mode"] == "border").sum()
    assert n_paths == (links["mode"] != "transfer").sum()
    assert html.count('<path class="cty') > 30
    assert 'data-t="' in first and "Shadow price" in first


def test_shipper_against_suez(runs, pages):
    t = tables_of(pages["en"])["shipper"]
    sh = read_run(runs[0])["shipper"]
    assert len(t) == 2 * len(sh)  # one table per run in the page
    suez = [r for r in t if r[3][0] == "All-water via Suez"]
    assert suez and all(float(r[9][1]) == 0.0 and float(r[10][1]) == 0.0 for r in suez)


def test_map_legend_shows_sea_and_ferry_legs(pages, runs):
    from karvan.report.i18n import label

    links = read_run(runs[0])["links"]
    assert links["mode"].isin(["sea", "ferry"]).any()
    for lang, html in pages.items():
        legend = html[html.index('<aside class="legend">'):]
        legend = legend[:legend.index("</aside>")]
        assert 'class="sea-leg"' in legend and 'stroke-dasharray="6 4"' in legend
        assert label("sea_leg", lang) in legend
        # and the map draws those legs dashed, as the legend says
        assert 'stroke-dasharray="6 4"' in html[html.index('class="links"'):]


def test_the_links_tab_shows_the_largest_changes_of_tonnes_and_of_utilization(runs):
    """baku_astara_15mt against rasht_astara: the line's capacity doubled and no tonne moved,
    and the links tab, ranked by tonnes alone, was empty. It shows the rows among the largest
    changes of each column, as ``karvan compare`` does (karvan.store.largest_changes)."""
    from karvan.report.build import TOP_LINKS
    from karvan.report.results import RunResults

    a, b = read_run(runs[0]), read_run(runs[1])
    links = a["links"].copy()
    # B: A's links with tonnes up on TOP_LINKS + 5 links (by 1, 2, ... kt) and the utilization
    # of one other link halved, its tonnes unchanged
    flows = links.index[links["tonnes_tot"] > 0]
    moved = flows[:TOP_LINKS + 5]
    links.loc[moved, "tonnes_tot"] += 1e3 * np.arange(1, len(moved) + 1)
    cap = links.index[(links["utilization"] > 0) & ~links.index.isin(moved)][0]
    links.loc[cap, "utilization"] /= 2
    b = RunResults(record=b.record, tables={**b.tables, "links": links})
    html = render_report([a, b], lang="en")
    names = [r[0][0] for r in tables_of(html)["diff-links"]]
    # the TOP_LINKS largest changes of tonnes, largest first, then the one of utilization
    assert names == [*links.loc[moved[::-1][:TOP_LINKS], "name"], links.loc[cap, "name"]]
    assert label("diff_links_note", "en").format(n=TOP_LINKS) in unescape(html)
    # nothing moved: no rows, rather than rows of 0.00 under "largest change"
    same = RunResults(record=b.record, tables={**b.tables, "links": a["links"]})
    assert tables_of(render_report([a, same], lang="en"))["diff-links"] == []


def test_single_run_has_no_difference_section(runs):
    html = render_report(runs[:1], lang="en")
    assert 'class="diff"' not in html and "<select" not in html


def test_a_runs_warnings_are_shown_on_its_panel(runs, tmp_path):
    import json
    import shutil

    html = render_report(runs[:1], lang="en")
    assert 'class="warnings"' not in html  # the baseline warns of nothing
    moved = tmp_path / "run"
    shutil.copytree(runs[0], moved)
    man = json.loads((moved / "manifest.json").read_text())
    man["warnings"] = ["capacity_tpy 15 on link_id R_X: check the unit <of> capacity_tpy"]
    (moved / "manifest.json").write_text(json.dumps(man))
    for lang in LANGS:
        html = render_report([moved], lang=lang)
        assert html.count('<ul class="warnings">') == 1
        assert "check the unit &lt;of&gt; capacity_tpy</li></ul>" in html  # escaped once
        assert label("warnings_note", lang) in html


def test_write_report_and_cli(runs, tmp_path):
    from karvan.cli import app

    out = write_report(runs, tmp_path / "r.html", lang="ru")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    res = CliRunner().invoke(app, ["report", str(runs[0]), str(runs[1]), "--lang", "fa", "--out",
                                   str(tmp_path / "fa.html")])
    assert res.exit_code == 0, res.output
    assert 'dir="rtl"' in (tmp_path / "fa.html").read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["report", str(runs[0]), "--lang", "de", "--out",
                                   str(tmp_path / "x")])
    assert res.exit_code == 2 and "en, ru, fa" in res.output


def test_bad_input_is_explained(tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        read_run(tmp_path)
    with pytest.raises(InputError, match="choose one of"):
        render_report([tmp_path], lang="xx")


def test_an_experiment_folder_is_pointed_to_its_own_page(tmp_path):
    """`karvan report` on an experiment said it lacked the run tables and to write the run again
    with this version of karvan."""
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "manifest.json").write_text('{"karvan_version": "0.1.0", "experiment_id": "x"}')
    pd.DataFrame({"u:x.a": [0.5]}).to_parquet(exp / "design.parquet")
    with pytest.raises(InputError, match=r"is an experiment of karvan explore, not a run: its "
                                         r"page is .*report.html"):
        render_report([exp], lang="en")


def test_diff_table_counts_missing_rows_as_zero():
    a = pd.DataFrame({"k": ["x", "y"], "tonnes": [1.0, 5.0], "utilization": [0.5, np.nan]})
    b = pd.DataFrame({"k": ["y", "z"], "tonnes": [2.0, 4.0], "utilization": [0.7, 0.1]})
    d = diff_table(a, b, ["k"], ["tonnes", "utilization"]).set_index("k")
    assert d["tonnes_diff"].to_dict() == {"z": 4.0, "y": -3.0, "x": -1.0}
    assert np.isnan(d.at["x", "utilization_diff"]) and np.isnan(d.at["y", "utilization_diff"])


def test_a_run_whose_dataset_is_not_there_says_so(runs, tmp_path, monkeypatch):
    """A relative --data recorded as given drew another dataset's map, in silence, from
    another folder; the manifest now records the folder resolved."""
    import json
    import shutil

    from karvan.cli import app
    from karvan.freight.corridor import CorridorWarning, builtin_corridor_folder

    man = json.loads((runs[0] / "manifest.json").read_text())
    assert Path(man["inputs"]["dataset"]).is_absolute()
    moved = tmp_path / "run"
    shutil.copytree(runs[0], moved)
    man["inputs"]["dataset"] = str(tmp_path / "gone" / "corridor")
    (moved / "manifest.json").write_text(json.dumps(man))
    with pytest.warns(CorridorWarning, match=r"gone.corridor, which is not there"):
        render_report([moved], lang="en")
    render_report([moved], lang="en", dataset=builtin_corridor_folder())  # said: silent
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["report", str(moved), "--out", "r.html"])
    assert res.exit_code == 0 and "which is not there" in res.output
    res = CliRunner().invoke(app, ["report", str(moved), "--out", "r.html", "--data",
                                   str(builtin_corridor_folder())])
    assert res.exit_code == 0 and "not there" not in res.output


def test_a_network_outside_the_outlines_gets_its_own_map_box():
    """A network wholly outside the outlines' region gave a negative viewBox and no map."""
    import numpy as np

    from karvan.report.geo import REGION_BOX, fit_projection

    inside = fit_projection(np.array([45.0, 50.0]), np.array([38.0, 42.0]))
    assert inside.height > 0 and inside.lon_min >= REGION_BOX[0]
    far = fit_projection(np.array([-75.0, -70.0]), np.array([40.0, 44.0]))
    assert far.height > 0 and far.lon_min == -76.0 and far.lon_max == -69.0
    x, y = far.xy(np.array([-75.0, -70.0]), np.array([40.0, 44.0]))
    assert (0 <= x).all() and (x <= far.width).all() and (0 <= y).all() and (y <= far.height).all()


def test_latest_runs_of_a_store_take_each_scenarios_latest_run_of_the_model_and_dataset(
        tmp_path):
    # the latest run of each scenario, the runs named first ahead; where a scenario's latest run
    # is of another choice model or dataset, its latest run of this model and dataset (an
    # older c: the report compared rasht_astara with the 2024 baseline although a run of its
    # like-year reference under the same model was stored); a scenario without one, or whose
    # run lacks a table the report reads, is left out with the reason
    from karvan.report.results import TABLES, latest_runs
    from karvan.store import RunStore

    store = RunStore(tmp_path / "store")
    whole = {t: pd.DataFrame({"link_id": ["a"], "tonnes_tot": [1.0]}) for t in TABLES}

    def save(name, choice="logit", dataset="d1", tables=whole):
        return store.save(tables, {"scenario": {"name": name, "title": name, "year": 2028},
                                   "inputs": {"dataset": str(tmp_path / dataset)},
                                   "summary": {"choice": choice}})

    save("a")
    b_old = save("b")
    c_logit = save("c")
    save("c", choice="deterministic")
    save("d", dataset="d2")
    save("f", tables={"links": whole["links"]})
    b_new = save("b")
    e = save("e")
    got = latest_runs(store, first=[e], choice="logit", dataset=tmp_path / "d1")
    assert [(r.name, r.run_id) for r in got.runs] == [
        ("e", e), ("a", got.runs[1].run_id), ("c", c_logit), ("b", b_new)]
    assert b_old != b_new
    assert set(got.left_out) == {"d", "f"}
    assert "no run of it is of this dataset" in got.left_out["d"]
    assert "lacks countries" in got.left_out["f"]
    assert [r.name for r in latest_runs(store).runs] == ["a", "c", "d", "b", "e"]


def test_key_figures_name_the_model_that_ran(runs, pages):
    # under logit no user equilibrium is solved: the card gives the capacity multipliers'
    # convergence, iterations and largest excess, and says "User equilibrium" only for a run
    # of the deterministic model
    from dataclasses import replace

    from karvan.report.results import RunResults

    for lang, html in pages.items():
        text = unescape(html)
        assert f"<dt>{label('choice_solver', lang)}</dt>" in text, lang
        assert label("capacity_excess", lang) in text and label("ue", lang) not in text, lang
    r = read_run(runs[0])
    assert r.manifest["settings"]["choice"] == "logit"
    man = {**r.manifest, "settings": {**r.manifest["settings"], "choice": "deterministic"},
           "summary": {**r.summary, "choice": "deterministic", "ue_relative_gap": 3e-11}}
    det = RunResults(record=replace(r.record, manifest=man), tables=r.tables)
    html = unescape(render_report([det], lang="en"))
    card = re.sub(r"<[^>]+>", "", html[html.index("<dt>User equilibrium</dt>"):])
    assert card.startswith("User equilibriumconverged, relative gap 3.0e-11, "), card[:80]
    assert label("choice_solver", "en") not in html


@pytest.mark.parametrize(("iterations", "lang", "words"), [
    (1, "en", "1 iteration,"), (2, "en", "2 iterations,"), (1, "ru", "1 итерация,"),
    (3, "ru", "3 итерации,"), (11, "ru", "11 итераций,"), (21, "ru", "21 итерация,"),
    (5, "fa", "5 تکرار،"),
])
def test_the_iteration_count_agrees_with_its_noun(runs, iterations, lang, words):
    # the card read "1 итераций" and "1 iterations"
    from dataclasses import replace

    from karvan.report.results import RunResults

    r = read_run(runs[0])
    man = {**r.manifest, "summary": {**r.summary, "ue_iterations": iterations}}
    run = RunResults(record=replace(r.record, manifest=man), tables=r.tables)
    card = re.sub(r"<[^>]+>", "", unescape(render_report([run], lang=lang)))
    assert words in card


def test_shipper_tables_say_which_cost_is_generalized(pages):
    # the report's shipper table had "Charges" beside "Cost incl. time"; its Suez difference,
    # chart and difference table said "$/t" alone: each now names the generalized cost
    for lang, html in pages.items():
        text = unescape(html)
        for key in ("charge", "cost", "vs_suez_cost", "chart_shipper", "shipper_note"):
            assert label(key, lang) in text, (lang, key)
        assert f"{label('change', lang)}: {label('cost', lang)}" in text, lang
    assert "generalized cost" in label("shipper_note", "en")
    assert "Cost incl. time" not in pages["en"] and "Δ $/t vs Suez" not in pages["en"]


def test_shadow_prices_set_by_unserved_demand_are_marked():
    """Where the capacity LP leaves demand unserved, a capacity's price is set by the penalty
    (``shadow_price_capped``), not by a saving in transport cost: the report marks it and says
    so, in each language, and leaves the other prices as they are."""
    import pandas as pd

    from karvan.report.build import _borders, _bottlenecks

    b = pd.DataFrame({"link_id": ["A", "B"], "name": ["a", "b"], "mode": ["rail", "road"],
                      "country": ["AZ", "AZ"], "border_id": ["", ""],
                      "capacity_tpy": [1e6, 2e6], "tonnes_tot": [1e6, 2e6],
                      "utilization": [1.0, 1.0], "lp_tonnes_tot": [1e6, 2e6],
                      "lp_utilization": [1.0, 1.0], "shadow_price_usd_per_t": [12.5, 3.25],
                      "shadow_price_capped": [True, False]})
    borders = pd.DataFrame({"border_id": ["X"], "tonnes_tot": [1e6], "tonnes_ab": [1e6],
                            "tonnes_ba": [0.0], "capacity_tpy": [1e6], "utilization": [1.0],
                            "shadow_price_usd_per_t": [12.5], "shadow_price_capped": [True]})
    for lang, word in (("en", "penalty"), ("ru", "штраф"), ("fa", "جریمه")):
        html = str(_bottlenecks({"bottlenecks": b}, lang)[3])
        assert html.count(" *") == 1 and word in html
        assert word in str(_borders({"borders": borders}, lang)[3])
    b["shadow_price_capped"] = False
    html = str(_bottlenecks({"bottlenecks": b}, "en")[3])
    assert " *" not in html and "penalty" not in html
    # the map's tooltip marks it too; a blank cell (a link the LP did not price) is not marked
    from karvan.report.svg import _link_tip

    row = {"link_id": "A", "name": "a", "mode": "rail", "country": "AZ", "tonnes_tot": 1e6,
           "tonnes_ab": 1e6, "tonnes_ba": 0.0, "capacity_tpy": 1e6, "utilization": 1.0,
           "shadow_price_usd_per_t": 12.5}
    assert _link_tip({**row, "shadow_price_capped": True}, "en").endswith("12.50 *")
    for blank in (False, float("nan"), None):
        assert not _link_tip({**row, "shadow_price_capped": blank}, "en").endswith("*")


def test_experiment_effect_charts_give_their_units():
    """The effect charts of an experiment's page had no unit (-6,946.58 of what)."""
    from karvan.report.uncertainty import _fan, unit_of

    assert unit_of("effect:total:tonne_km") == "M t-km/yr"
    assert unit_of("effect:share:RU-IN:instc_west") == "percentage points"
    assert unit_of("share:RU-IN:instc_west") == "%"
    assert unit_of("effect:border:AZ-IR_ASTARA:tonnes") == "Mt/yr"
    assert unit_of("effect:shipper:a-b:c:west:cost_usd_per_t") == "USD/t"
    # the users' benefit and the demand's expected cost are money, not tonnes
    assert unit_of("effect:users_benefit_usd") == "M USD/yr"
    assert unit_of("total:expected_cost_usd") == "M USD/yr"
    fan = pd.DataFrame({"scenario": ["p"], "reference": ["r"], "output": ["effect:total:tonne_km"],
                        "central": [-9e8], "p5": [-6.9e9], "p25": [-2e9], "p50": [-9e8],
                        "p75": [0.0], "p95": [6.3e7]})
    html = _fan(fan)
    assert "<h3>effect:total:tonne_km (M t-km/yr; P5 / P50 / P95)</h3>" in html
    assert "-6,900.00 / -900.00 / 63.00" in html


def test_a_statement_without_a_central_value_is_neither_yes_nor_no():
    from karvan.report.uncertainty import _holds

    assert [_holds(v) for v in (True, "True", False, "False", None, float("nan"))] == [
        "yes", "yes", "no", "no", "-", "-"]


def test_right_to_left_and_russian_pages_keep_english_text_and_numbers_in_order(runs, pages,
                                                                               tmp_path):
    """A Persian reader saw the scenario's English title reordered ('…left open :2026'),
    the warnings' full stops at the wrong end, 'Russia → India' read as India to Russia, and
    the EU under its code; a Russian one the solver's figures with a decimal point."""
    fa, ru = pages["fa"], pages["ru"]
    assert "<h2><bdi>" in fa and '<option value="0" dir="auto"' in fa
    assert f"{country_name('RU', 'fa')} ← {country_name('IN', 'fa')}" in unescape(fa)
    assert f"{country_name('RU', 'en')} → {country_name('IN', 'en')}" in unescape(pages["en"])
    assert country_name("EU", "ru") == "Евросоюз"
    # column headers join with the page's comma
    for head in (label("ab", "fa") + "، " + label("mt", "fa"),
                 "B، " + label("mt_yr", "fa")):
        assert head in unescape(fa), head
    assert ", " + label("mt", "fa") not in unescape(fa)
    text = unescape(ru)
    card = re.sub(r"<[^>]+>", "", text[text.index(f"<dt>{label('choice_solver', 'ru')}</dt>"):])
    sci = re.findall(r"\d[.,]\de[+-]\d\d", card[:200])
    assert sci and all("," in x for x in sci), card[:200]
    import json
    import shutil

    moved = tmp_path / "run"
    shutil.copytree(runs[0], moved)
    man = json.loads((moved / "manifest.json").read_text())
    man["warnings"] = ["a warning (in English)."]
    (moved / "manifest.json").write_text(json.dumps(man))
    assert '<li lang="en" dir="ltr">a warning (in English).</li>' in render_report(
        [moved], lang="fa")


def test_every_label_writes_latin_digits():
    """The module says numbers are in Latin digits in every language; four Persian notes had
    Persian digits (±۳۰٪) beside Latin figures (ln 1.3 = 0.26)."""
    from karvan.report.i18n import _LABELS

    eastern = re.compile("[\u06f0-\u06f9\u0660-\u0669]")
    assert not [k for k, v in _LABELS.items() if any(eastern.search(x) for x in v)]


def test_the_bottlenecks_table_shows_the_choice_models_limit_where_the_run_has_it():
    """Three prices of a capacity: the choice model's, its deterministic limit's and the LP's; a
    run without the limit (no LP, deterministic choice) shows no column for it."""
    import pandas as pd

    from karvan.report.build import _bottlenecks

    b = pd.DataFrame({"link_id": ["A"], "name": ["a"], "mode": ["rail"], "country": ["AZ"],
                      "border_id": [""], "capacity_tpy": [1e6], "tonnes_tot": [0.9e6],
                      "utilization": [0.9], "lp_tonnes_tot": [1e6], "lp_utilization": [1.0],
                      "shadow_price_usd_per_t": [12.5], "choice_shadow_price_usd_per_t": [0.0],
                      "limit_shadow_price_usd_per_t": [7.75]})
    for lang, word in (("en", "no dispersion"), ("ru", "без разброса"), ("fa", "بدون پراکندگی")):
        html = str(_bottlenecks({"bottlenecks": b}, lang)[3])
        assert word in html
    html = str(_bottlenecks({"bottlenecks": b}, "en")[3])
    assert "7.75" in html and "12.50" in html
    html = str(_bottlenecks({"bottlenecks": b.drop(columns="limit_shadow_price_usd_per_t")},
                            "en")[3])
    assert "no dispersion" not in html and "7.75" not in html
