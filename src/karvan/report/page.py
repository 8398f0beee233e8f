"""Assemble the self-contained HTML page: one file, inline CSS, JS and SVG, no requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from karvan._version import __version__
from karvan.report import svg
from karvan.report.i18n import (RTL, country_name, fmt_num, fmt_pct, labels, mode_name)

Cell = tuple[str, float | None]  # (text, raw value for numbers or None for text)


@dataclass(frozen=True, slots=True)
class Panel:
    """What the page shows for one run."""

    name: str
    title: str
    year: object
    description: str
    kpis: list[tuple[str, Markup]]
    flow_map: Markup
    width_legend: Markup
    tables: list[tuple[str, str, Markup, Markup]]  # (id, heading, note, body)
    diff_ref: str | None = None
    diff_map: Markup | None = None
    diff_tables: list[tuple[str, str, Markup, Markup]] | None = None


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, cls: str = "") -> Markup:
    """An HTML table; numeric cells carry their raw value in ``data-v`` and keep left-to-right
    digits inside right-to-left pages."""
    h = "".join(f"<th>{escape(x)}</th>" for x in headers)
    body = []
    for r in rows:
        tds = []
        for text, raw in r:
            if raw is None:
                tds.append(f"<td>{escape(text)}</td>")
            else:
                v = "" if not np.isfinite(raw) else repr(float(raw))
                tds.append(f'<td class="num" data-v="{v}"><span dir="ltr">{escape(text)}'
                           "</span></td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return Markup(f'<div class="tw"><table class="{cls}"><thead><tr>{h}</tr></thead><tbody>'
                  + "".join(body) + "</tbody></table></div>")


def num(x, lang: str, digits: int = 0, *, scale: float = 1.0, signed: bool = False) -> Cell:
    v = float(x) if x is not None and pd.notna(x) else np.nan
    return fmt_num(v / scale if np.isfinite(v) else v, lang, digits, signed=signed), v


def pct(x, lang: str) -> Cell:
    v = float(x) if x is not None and pd.notna(x) else np.nan
    return fmt_pct(v, lang), v


def text(x) -> Cell:
    return ("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)), None


def notice_text() -> str:
    """The notice shipped beside the country outlines."""
    return (resources.files("karvan") / "data" / "region" / "NOTICE.md").read_text(
        encoding="utf-8")


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def render_page(panels: list[Panel], *, lang: str, countries_svg: str, open_index: int = 0,
                util_bins: Sequence[tuple[str, str]], caucasus: str) -> str:
    """The whole page as a string."""
    L = labels(lang)
    return _ENV.from_string(_TEMPLATE).render(
        L=L, lang=lang, dir="rtl" if lang in RTL else "ltr", panels=panels,
        countries_svg=Markup(countries_svg), open_index=open_index, util_bins=util_bins,
        caucasus=caucasus,
        no_cap=svg.NO_CAP, no_flow=svg.NO_FLOW, more=svg.MORE, less=svg.LESS,
        notice=notice_text(), version=__version__, css=Markup(_CSS), js=Markup(_JS))


def mode_label(lang: str) -> Callable[[str], str]:
    return lambda m: mode_name(m, lang)


def country_label(lang: str) -> Callable[[str], str]:
    return lambda c: country_name(c, lang)


_CSS = """
:root{--ink:#1f2933;--mute:#52606d;--line:#d9dee4;--bg:#fbfcfd;--land:#ece8df;--hl:#e3dccb;
--sea:#dfe9f2}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",
"Noto Naskh Arabic",Tahoma,"DejaVu Sans",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header.top{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;
align-items:center;padding:.6rem 1.2rem;background:#fff;border-bottom:1px solid var(--line)}
header.top h1{font-size:1.2rem;margin:0}
header.top label{display:flex;gap:.5rem;align-items:center}
select,button{font:inherit}
main{padding:0 1.2rem 2rem;max-width:1500px;margin:0 auto}
h2{font-size:1.25rem;margin:1.2rem 0 .2rem}h3{font-size:1.05rem;margin:1.6rem 0 .3rem}
.meta,.note,figcaption{color:var(--mute);font-size:.9rem;margin:.2rem 0}
.desc{max-width:75ch}
dl.kpi{display:flex;flex-wrap:wrap;gap:.6rem;margin:.6rem 0}
dl.kpi div{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.35rem .7rem}
dl.kpi dt{font-size:.8rem;color:var(--mute)}dl.kpi dd{margin:0;font-weight:600}
.mapgrid{display:grid;grid-template-columns:minmax(0,3fr) minmax(230px,1fr);gap:1rem;
align-items:start}
@media (max-width:900px){.mapgrid{grid-template-columns:1fr}}
figure.mapbox{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;
padding:.4rem;position:relative}
.mapbar{display:flex;gap:.3rem;margin-bottom:.3rem}
.mapbar button{border:1px solid var(--line);background:#f4f6f8;border-radius:4px;
padding:.1rem .6rem;cursor:pointer}
svg.map{display:block;width:100%;height:auto;cursor:grab;direction:ltr;overflow:hidden;
touch-action:none;user-select:none}
svg.map .sea{fill:var(--sea)}
.cty{fill:var(--land);stroke:#b9b2a4;stroke-width:.6;vector-effect:non-scaling-stroke}
.cty.hl{fill:var(--hl)}
.clabel{font-size:calc(14px * var(--s,1));fill:#8a8172;text-anchor:middle;pointer-events:none;
paint-order:stroke;stroke:#f4f1ea;stroke-width:2px}
.lk{fill:none;stroke-linecap:round;stroke-linejoin:round;stroke-opacity:.88;
vector-effect:non-scaling-stroke}
.lk.zero{stroke:#a3adb8;stroke-width:.8;stroke-dasharray:2 3;stroke-opacity:.8}
.lk:hover,.lk.hot{stroke-opacity:1;filter:drop-shadow(0 0 2px #000a)}
.sym{stroke:#1f2933;stroke-width:.8;transform-box:fill-box;transform-origin:center;
transform:scale(var(--s,1))}.sym.hot{stroke-width:2}
aside.legend{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;
font-size:.9rem}
aside.legend h4{margin:.2rem 0 .4rem;font-size:.95rem}
ul.keys{list-style:none;padding:0;margin:0 0 .6rem}
ul.keys li{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}
.sw{display:inline-block;width:26px;height:8px;border-radius:2px;flex:none}
.lg{font-size:12px;fill:var(--mute)}
.disclaimer{font-size:.82rem;color:var(--mute);border-inline-start:3px solid #c9b88f;
padding-inline-start:.6rem;margin:.6rem 0}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:.88rem;margin:.3rem 0}
th,td{border-bottom:1px solid var(--line);padding:.25rem .55rem;text-align:start;
vertical-align:top}
th{background:#f1f4f7;font-weight:600}
td.num{text-align:end;white-space:nowrap;font-variant-numeric:tabular-nums}
.two{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);
border-radius:6px}
.blab{font-size:12px;fill:var(--ink)}.bval{font-size:11px;fill:var(--mute)}
.axis{stroke:#52606d;stroke-width:1}.ref{stroke:#d7301f;stroke-width:1.2;stroke-dasharray:4 3}
.bar:hover,.bar.hot{opacity:.75}
section.diff{border-top:3px double var(--line);margin-top:2rem}
footer.notice{border-top:1px solid var(--line);padding:1rem 1.2rem;color:var(--mute);
font-size:.85rem;max-width:1500px;margin:0 auto}
footer.notice pre{white-space:pre-wrap;font-size:.8rem;direction:ltr;text-align:left}
#tip{position:fixed;z-index:10;pointer-events:none;background:#1f2933;color:#fff;
border-radius:5px;padding:.4rem .6rem;font-size:.82rem;max-width:420px;
box-shadow:0 2px 8px #0004}
#tip strong{display:block;margin-bottom:.15rem}
svg.defs{position:absolute;width:0;height:0;overflow:hidden}
@media print{section.panel[hidden]{display:block}header.top{position:static}
.mapbar{display:none}}
"""

_JS = r"""
(function () {
  "use strict";
  var tip = document.getElementById("tip"), hot = null;
  function place(e) {
    var pad = 14, r = tip.getBoundingClientRect();
    var x = e.clientX + pad, y = e.clientY + pad;
    if (x + r.width > window.innerWidth) x = e.clientX - pad - r.width;
    if (y + r.height > window.innerHeight) y = e.clientY - pad - r.height;
    tip.style.left = Math.max(0, x) + "px"; tip.style.top = Math.max(0, y) + "px";
  }
  document.addEventListener("mouseover", function (e) {
    var t = e.target.closest ? e.target.closest("[data-t]") : null;
    if (hot && hot !== t) hot.classList.remove("hot");
    if (!t) { tip.hidden = true; hot = null; return; }
    hot = t; t.classList.add("hot");
    tip.replaceChildren();
    t.getAttribute("data-t").split("\n").forEach(function (s, i) {
      var d = document.createElement(i ? "div" : "strong"); d.textContent = s;
      tip.appendChild(d);
    });
    tip.hidden = false; place(e);
  });
  document.addEventListener("mousemove", function (e) { if (!tip.hidden) place(e); });
  var sel = document.getElementById("scn");
  function show(i) {
    document.querySelectorAll("section.panel").forEach(function (p) {
      p.hidden = p.getAttribute("data-scn") !== String(i);
    });
  }
  if (sel) {
    sel.addEventListener("change", function () { show(sel.value); });
    var h = decodeURIComponent(location.hash.slice(1));
    Array.prototype.forEach.call(sel.options, function (o) {
      if (h && o.getAttribute("data-name") === h) { sel.value = o.value; show(o.value); }
    });
  }
  document.querySelectorAll("figure.mapbox").forEach(function (f) {
    var svg = f.querySelector("svg.map");
    var base = svg.getAttribute("data-vb").split(" ").map(Number), vb = base.slice();
    function set() {
      svg.setAttribute("viewBox", vb.map(function (v) { return v.toFixed(1); }).join(" "));
      // symbols and labels keep their size on screen; bands do by non-scaling stroke
      svg.style.setProperty("--s", String(Math.sqrt(vb[2] / base[2])));
    }
    function zoom(z, cx, cy) {
      if (cx === undefined) { cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }
      vb = [cx - (cx - vb[0]) / z, cy - (cy - vb[1]) / z, vb[2] / z, vb[3] / z]; set();
    }
    f.querySelectorAll("button[data-box]").forEach(function (b) {
      b.addEventListener("click", function () {
        var bx = b.getAttribute("data-box").split(" ").map(Number);
        var k = Math.max(bx[2] / base[2], bx[3] / base[3]);
        var w = base[2] * k, h = base[3] * k;
        vb = [bx[0] + bx[2] / 2 - w / 2, bx[1] + bx[3] / 2 - h / 2, w, h]; set();
      });
    });
    f.querySelectorAll("button[data-z]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = Number(b.getAttribute("data-z"));
        if (!z) { vb = base.slice(); set(); } else { zoom(z); }
      });
    });
    function toSvg(e) {
      var m = svg.getScreenCTM().inverse(), p = svg.createSVGPoint();
      p.x = e.clientX; p.y = e.clientY; return p.matrixTransform(m);
    }
    svg.addEventListener("wheel", function (e) {
      e.preventDefault(); var p = toSvg(e); zoom(e.deltaY < 0 ? 1.25 : 0.8, p.x, p.y);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (e) {
      drag = { p: toSvg(e) }; svg.style.cursor = "grabbing";
    });
    window.addEventListener("pointermove", function (e) {
      if (!drag) return; var p = toSvg(e);
      vb[0] -= p.x - drag.p.x; vb[1] -= p.y - drag.p.y; set();
    });
    window.addEventListener("pointerup", function () { drag = null; svg.style.cursor = ""; });
  });
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}" dir="{{ dir }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="karvan {{ version }}">
<title>{{ L.title }}{% if panels|length == 1 %}: {{ panels[0].title }}{% endif %}</title>
<link rel="icon" href="data:,">
<style>{{ css }}</style>
</head>
<body>
<header class="top">
<h1>{{ L.title }}</h1>
{% if panels|length > 1 %}
<label>{{ L.scenario }}
<select id="scn">
{% for p in panels %}
<option value="{{ loop.index0 }}" data-name="{{ p.name }}"{% if loop.index0 == open_index %} selected{% endif %}>{{ p.title }}{% if p.diff_ref %} ({{ L.diff|lower }} {{ p.diff_ref }}){% endif %}</option>
{% endfor %}
</select></label>
{% endif %}
</header>
{{ countries_svg }}
<main>
{% for p in panels %}
<section class="panel" data-scn="{{ loop.index0 }}" data-name="{{ p.name }}"{% if loop.index0 != open_index %} hidden{% endif %}>
<h2>{{ p.title }}</h2>
<p class="meta">{{ L.scenario }}: <code dir="ltr">{{ p.name }}</code> · {{ L.year }}: <span dir="ltr">{{ p.year }}</span></p>
{% if p.description %}<p class="desc" dir="ltr" lang="en">{{ p.description }}</p>{% endif %}
<dl class="kpi">
{% for k, v in p.kpis %}<div><dt>{{ k }}</dt><dd>{{ v }}</dd></div>{% endfor %}
</dl>
<h3>{{ L.map }}</h3>
<div class="mapgrid">
<figure class="mapbox">
<div class="mapbar"><button type="button" data-z="1.5" title="{{ L.zoom_in }}">+</button><button type="button" data-z="0.6667" title="{{ L.zoom_out }}">−</button><button type="button" data-z="0">{{ L.zoom_reset }}</button><button type="button" data-box="{{ caucasus }}">{{ L.zoom_caucasus }}</button></div>
{{ p.flow_map }}
<figcaption>{{ L.map_note }}</figcaption>
</figure>
<aside class="legend">
<h4>{{ L.utilization }}</h4>
<ul class="keys">
{% for col, txt in util_bins %}<li><span class="sw" style="background:{{ col }}"></span><span dir="ltr">{{ txt }}</span></li>{% endfor %}
<li><span class="sw" style="background:{{ no_cap }}"></span>{{ L.util_none }}</li>
<li><span class="sw" style="background:repeating-linear-gradient(90deg,{{ no_flow }} 0 3px,transparent 3px 6px);height:2px"></span>{{ L.no_flow }}</li>
</ul>
<h4>{{ L.tonnes }}</h4>
{{ p.width_legend }}
<ul class="keys">
<li class="sea-leg"><svg width="26" height="16" aria-hidden="true"><path d="M1 8H25" stroke="{{ no_cap }}" stroke-width="3" stroke-dasharray="6 4"/></svg>{{ L.sea_leg }}</li>
<li><svg width="26" height="16" aria-hidden="true"><path d="M13 2L20 8L13 14L6 8Z" fill="{{ no_cap }}" stroke="#1f2933"/></svg>{{ L.border }}</li>
<li><svg width="26" height="16" aria-hidden="true"><circle cx="13" cy="8" r="5" fill="{{ no_cap }}" stroke="#1f2933"/></svg>{{ L.transfer }}</li>
</ul>
<p class="disclaimer">{{ L.disclaimer }}</p>
</aside>
</div>
{% for id, head, note, body in p.tables %}
<h3 id="{{ id }}-{{ loop.index0 }}-{{ p.name }}">{{ head }}</h3>
{% if note %}<p class="note">{{ note }}</p>{% endif %}
{{ body }}
{% endfor %}
{% if p.diff_map %}
<section class="diff">
<h2>{{ L.diff }}: {{ p.diff_ref }}</h2>
<p class="meta">B = {{ p.title }}; A = {{ p.diff_ref }}; {{ L.change }} = B − A</p>
<h3>{{ L.diff_map }}</h3>
<div class="mapgrid">
<figure class="mapbox">
<div class="mapbar"><button type="button" data-z="1.5" title="{{ L.zoom_in }}">+</button><button type="button" data-z="0.6667" title="{{ L.zoom_out }}">−</button><button type="button" data-z="0">{{ L.zoom_reset }}</button><button type="button" data-box="{{ caucasus }}">{{ L.zoom_caucasus }}</button></div>
{{ p.diff_map }}
<figcaption>{{ L.diff_note }}</figcaption>
</figure>
<aside class="legend">
<ul class="keys">
<li><span class="sw" style="background:{{ more }}"></span>{{ L.increase }}</li>
<li><span class="sw" style="background:{{ less }}"></span>{{ L.decrease }}</li>
</ul>
<p class="disclaimer">{{ L.disclaimer }}</p>
</aside>
</div>
{% for id, head, note, body in p.diff_tables %}
<h3>{{ head }}</h3>
{% if note %}<p class="note">{{ note }}</p>{% endif %}
{{ body }}
{% endfor %}
</section>
{% endif %}
</section>
{% endfor %}
</main>
<footer class="notice">
<p class="disclaimer">{{ L.disclaimer }}</p>
<p>{{ L.attribution }} {{ L.dataset_text }}</p>
<p>{{ L.generated }} <span dir="ltr">{{ version }}</span>.</p>
<details><summary>NOTICE</summary><pre>{{ notice }}</pre></details>
</footer>
<div id="tip" role="tooltip" hidden></div>
<script>{{ js }}</script>
</body>
</html>
"""
