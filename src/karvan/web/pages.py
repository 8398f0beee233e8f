# ruff: noqa: E501  (the page's own CSS, script and markup, kept readable rather than wrapped)
"""The dashboard's pages: Jinja templates, style and script as Python strings (the package ships
no template files), rendered with autoescaping. Nothing here loads from another host."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup

CSS = """
:root { --ink:#1d2433; --muted:#5f6b7a; --line:#d9dee6; --bg:#f4f6f9; --card:#fff;
        --accent:#1f6feb; --ok:#1a7f37; --bad:#c62828; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color:var(--ink); background:var(--bg); }
header.top { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#18212f;
             color:#fff; }
header.top h1 { font-size:18px; margin:0; font-weight:600; }
header.top h1 a { color:#fff; text-decoration:none; }
header.top .store { color:#aab4c3; font-size:12px; }
header.top nav { margin-left:auto; display:flex; gap:14px; align-items:center; }
header.top nav a, header.top nav label { color:#dfe6f0; font-size:13px; }
main.grid { display:grid; grid-template-columns: minmax(560px, 1.25fr) minmax(420px, 1fr);
            gap:16px; padding:16px 20px; }
@media (max-width: 1100px) { main.grid { grid-template-columns: 1fr; } }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
               padding:14px 16px; margin-bottom:16px; }
section.card h2 { font-size:15px; margin:0 0 10px; }
section.card h3 { font-size:13px; margin:14px 0 6px; color:var(--muted); text-transform:uppercase;
                  letter-spacing:.04em; }
.row { display:flex; flex-wrap:wrap; gap:10px; align-items:end; }
.row label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:3px; }
input, select, button { font:inherit; }
input[type=text], input[type=number], select { padding:4px 6px; border:1px solid #b9c2cf;
            border-radius:4px; background:#fff; min-width:0; }
input.num { width:90px; }
button { padding:5px 12px; border:1px solid #b9c2cf; border-radius:5px; background:#f6f8fa;
         cursor:pointer; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; font-weight:600; }
button.small { padding:1px 7px; font-size:12px; }
button:disabled { opacity:.5; cursor:default; }
table { border-collapse:collapse; width:100%; }
th, td { padding:3px 6px; border-bottom:1px solid #edf0f4; text-align:left; vertical-align:middle; }
th { font-size:12px; color:var(--muted); font-weight:600; }
td.n { text-align:right; font-variant-numeric: tabular-nums; }
.scroll { max-height:300px; overflow:auto; border:1px solid var(--line); border-radius:5px; }
.scroll thead th { position:sticky; top:0; background:#f8f9fb; }
.st { display:inline-block; padding:0 6px; border-radius:9px; font-size:11px; }
.st.open { background:#dafbe1; color:var(--ok); } .st.closed { background:#ffebe9; color:var(--bad); }
.st.mixed, .st.planned { background:#fff8c5; color:var(--warn); }
tr.changed td { background:#eef5ff; }
#borders code, table.runs td:first-child { white-space:nowrap; font-size:12px; }
ul.problems { background:#ffebe9; border:1px solid #ffc1bc; color:#8a1c14; border-radius:6px;
              padding:8px 10px 8px 28px; margin:10px 0; }
ul.problems:empty { display:none; }
pre.toml { background:#f6f8fa; border:1px solid var(--line); border-radius:5px; padding:8px;
           font-size:12px; max-height:260px; overflow:auto; white-space:pre-wrap; }
.job { border:1px solid var(--line); border-radius:6px; padding:8px 10px; margin-bottom:8px; }
.job .head { display:flex; gap:8px; align-items:baseline; }
.job .head b { font-size:14px; }
.job .state { margin-left:auto; font-size:12px; font-weight:600; }
.job[data-status=complete] .state { color:var(--ok); } .job[data-status=failed] .state { color:var(--bad); }
.bar { height:8px; background:#edf0f4; border-radius:4px; overflow:hidden; margin:6px 0; }
.bar > div { height:100%; background:var(--accent); transition: width .3s; }
.job[data-status=complete] .bar > div { background:var(--ok); }
.job[data-status=failed] .bar > div { background:var(--bad); }
.job .msgs { font-size:12px; color:var(--muted); }
.muted { color:var(--muted); font-size:12px; }
a { color:var(--accent); }
.viewer { display:flex; flex-direction:column; height:100vh; }
.viewer iframe { flex:1; border:0; width:100%; background:#fff; }
.viewer .bar2 { display:flex; flex-wrap:wrap; gap:14px; align-items:center; padding:8px 20px;
                background:#fff; border-bottom:1px solid var(--line); font-size:13px; }
"""

SCRIPT = r"""
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => [...el.querySelectorAll(s)];
let OPT = null;
const mt = (t) => (t === null || t === undefined || Number.isNaN(t)) ? '' : (t / 1e6).toLocaleString('en', {maximumFractionDigits: 2});
function esc(s) { return String(s ?? '').replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c])); }

async function loadOptions() {
  const ext = $('#extends').value;
  const r = await fetch('/api/options?extends=' + encodeURIComponent(ext));
  OPT = await r.json();
  $('#year').value = OPT.parent_year;
  const prev = Object.fromEntries($$('#borders select').map(s => [s.name, s.value]));
  $('#borders tbody').innerHTML = OPT.borders.map(b => `
    <tr data-id="${esc(b.border_id)}"><td><code>${esc(b.border_id)}</code></td>
    <td>${esc(b.names.join(' · '))}</td><td><span class="st ${esc(b.status)}">${esc(b.status)}</span></td>
    <td><select name="${esc(b.border_id)}" aria-label="${esc(b.border_id)}">
      <option value="">unchanged</option><option value="open">open</option><option value="close">close</option>
    </select></td></tr>`).join('');
  $$('#borders select').forEach(s => { s.value = prev[s.name] || ''; s.onchange = markChanged; markChanged.call(s); });
  $('#targets').innerHTML = OPT.links.map(l => `<option value="${esc(l.link_id)}">${esc(l.name)} (${esc(l.mode)}, ${esc(l.status)})</option>`).join('')
    + OPT.borders.map(b => `<option value="${esc(b.border_id)}">border: ${esc(b.names.join(' · '))}</option>`).join('');
  $('#linkids').innerHTML = OPT.links.map(l => `<option value="${esc(l.link_id)}">${esc(l.name)} (${esc(l.mode)}, ${esc(l.status)})</option>`).join('');
}
function markChanged() { this.closest('tr').classList.toggle('changed', !!this.value); }

function addRow(kind) {
  const tb = $(`#${kind} tbody`);
  const tr = document.createElement('tr');
  const cc = ['<option value="">any</option>', ...OPT.countries.map(c => `<option>${esc(c)}</option>`)].join('');
  if (kind === 'links') tr.innerHTML = `<td><input type="text" list="linkids" name="target" placeholder="link id" size="30"></td>
      <td><select name="state"><option value="close">close</option><option value="open">open</option></select></td><td class="muted hint"></td>`;
  if (kind === 'capacity') tr.innerHTML = `<td><input type="text" list="targets" name="target" placeholder="link id" size="30"></td>
      <td><input type="text" class="num" name="capacity_mt" placeholder="Mt/yr"></td><td class="muted hint"></td>`;
  if (kind === 'demand') tr.innerHTML = `<td><input type="text" class="num" name="factor" placeholder="e.g. 1.5"></td>
      <td><select name="origin_country">${cc}</select></td><td><select name="destination_country">${cc}</select></td>
      <td><select name="commodity"><option value="">all</option>${OPT.commodities.map(c => `<option>${esc(c)}</option>`).join('')}</select></td>`;
  tr.insertAdjacentHTML('beforeend', '<td><button type="button" class="small" title="remove">×</button></td>');
  tr.lastElementChild.firstElementChild.onclick = () => tr.remove();
  const t = $('input[name=target]', tr);
  if (t) t.oninput = () => {
    const l = OPT.links.find(x => x.link_id === t.value), b = OPT.borders.find(x => x.border_id === t.value);
    $('.hint', tr).textContent = l ? `${l.name}; now ${l.status}, ${mt(l.capacity_tpy) || 'no'} Mt/yr`
                               : b ? `border, ${b.names.length} crossing(s); now ${b.status}` : '';
  };
  tb.appendChild(tr);
  return tr;
}

function formData() {
  const rows = (kind) => $$(`#${kind} tbody tr`).map(tr => Object.fromEntries($$('input,select', tr).map(e => [e.name, e.value])));
  const borders = {}; $$('#borders select').forEach(s => { if (s.value) borders[s.name] = s.value; });
  const links = {}; rows('links').forEach(r => { if (r.target) links[r.target] = r.state; });
  return { name: $('#name').value, title: $('#title').value, year: $('#year').value,
           extends: $('#extends').value, lp: $('#lp').checked, borders, links,
           capacity: rows('capacity'), demand: rows('demand') };
}

async function send(url) {
  const r = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(formData())});
  const body = await r.json();
  $('#problems').innerHTML = r.status === 422 ? (body.problems || [body.detail]).map(p => `<li>${esc(p)}</li>`).join('') : '';
  if (body.toml) $('#toml').textContent = body.toml;
  return [r.status, body];
}
async function preview() { await send('/api/scenario/preview'); }
async function start() {
  $('#run').disabled = true;
  try {
    const [status, body] = await send('/api/jobs');
    if (status === 202) { await pollJobs(); }
  } finally { $('#run').disabled = false; }
}

let polling = null, known = {};
async function pollJobs() {
  const jobs = await (await fetch('/api/jobs')).json();
  $('#jobs').innerHTML = jobs.length ? '' : '<p class="muted">No runs started in this session yet.</p>';
  let active = false, finished = false;
  for (const j of jobs) {
    if (j.status === 'queued' || j.status === 'running') active = true;
    if (known[j.job_id] && known[j.job_id] !== j.status && j.status === 'complete') finished = true;
    known[j.job_id] = j.status;
    const div = document.createElement('div');
    div.className = 'job'; div.dataset.status = j.status; div.dataset.job = j.job_id;
    div.innerHTML = `<div class="head"><b>${esc(j.scenario)}</b><span class="muted">${esc(j.year)} · ${esc(j.title)}</span>
      <span class="state">${esc(j.status)}${j.status === 'running' ? ': ' + esc(j.stage) : ''}</span></div>
      <div class="bar"><div style="width:${Math.round(100 * j.progress)}%"></div></div>
      <div class="msgs">${esc(j.messages.slice(-3).join(' → '))} · ${j.elapsed_s.toFixed(1)} s</div>`;
    if (j.status === 'complete') div.insertAdjacentHTML('beforeend', `<div class="row" style="margin-top:6px">
      <a class="open" href="/runs/${encodeURIComponent(j.run_id)}">Open results of ${esc(j.run_id)}</a>
      <span class="muted">compare with</span><select class="cmp">${runOptions(j.run_id)}</select>
      <button type="button" class="small go">Compare</button></div>`);
    if (j.status === 'failed') div.insertAdjacentHTML('beforeend', `<ul class="problems">${(j.problems.length ? j.problems : [j.error]).map(p => `<li>${esc(p)}</li>`).join('')}</ul>`);
    const go = $('.go', div);
    if (go) go.onclick = () => { location.href = `/compare?a=${encodeURIComponent($('.cmp', div).value)}&b=${encodeURIComponent(j.run_id)}`; };
    $('#jobs').appendChild(div);
  }
  if (finished) await refreshRuns();
  clearTimeout(polling);
  if (active) polling = setTimeout(pollJobs, 700);
}
function runOptions(exclude) {
  return $$('#compare-a option').filter(o => o.value !== exclude).map(o => o.outerHTML).join('');
}
async function refreshRuns() {
  $('#runs').innerHTML = await (await fetch('/fragments/runs')).text();
  const opts = await (await fetch('/fragments/run-options')).text();
  const a = $('#compare-a').value;
  $('#compare-a').innerHTML = opts; $('#compare-b').innerHTML = opts;  // B: the newest run
  if (a) $('#compare-a').value = a;
}

document.addEventListener('DOMContentLoaded', async () => {
  $('#extends').onchange = loadOptions;
  await loadOptions();
  $$('button[data-add]').forEach(b => b.onclick = () => addRow(b.dataset.add));
  $('#preview').onclick = preview;
  $('#run').onclick = start;
  $('#compare-go').onclick = () => { location.href = `/compare?a=${encodeURIComponent($('#compare-a').value)}&b=${encodeURIComponent($('#compare-b').value)}`; };
  const ao = $$('#compare-a option'); if (ao.length > 1) $('#compare-a').value = ao[1].value;
  await pollJobs();
  document.body.dataset.ready = '1';
});
"""

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{% block title %}karvan dashboard{% endblock %}</title>
<link rel="icon" href="data:,">
<style>{{ css }}</style></head>
<body>{% block body %}{% endblock %}</body></html>
"""

RUN_ROWS = """{% if runs %}<div class="scroll" style="max-height:360px"><table class="runs">
<thead><tr><th>run</th><th>scenario</th><th>year</th><th>created (UTC)</th>
<th class="n">Gt·km</th><th class="n">no route, Mt</th></tr></thead><tbody>
{% for r in runs %}<tr data-run="{{ r.run_id }}">
<td><a href="/runs/{{ r.run_id }}">{{ r.run_id }}</a></td><td title="{{ r.title }}">{{ r.scenario }}</td>
<td>{{ r.year }}</td><td>{{ r.created[:19] | replace("T", " ") }}</td>
<td class="n">{{ r.tkm }}</td><td class="n">{{ r.no_path }}</td></tr>
{% endfor %}</tbody></table></div>
{% else %}<p class="muted">The store holds no runs yet: build and run a scenario, or
<code>karvan run --store {{ store }}</code>.</p>{% endif %}"""

RUN_OPTIONS = """{% for r in runs|reverse %}<option value="{{ r.run_id }}">{{ r.scenario }} {{ r.year }} · {{ r.run_id }}</option>
{% endfor %}"""

INDEX = """{% extends "base" %}{% block body %}
<header class="top"><h1><a href="/">karvan · dashboard</a></h1>
<span class="store">store: {{ store }}</span>
<nav><a href="#build">Build</a><a href="#jobs-card">Runs in progress</a><a href="#runs-card">Stored runs</a></nav></header>
<main class="grid">
<div>
<section class="card" id="build"><h2>Build a scenario</h2>
<div class="row">
<label>Start from<select id="extends">{% for s in scenarios %}<option value="{{ s.name }}">{{ s.name }} ({{ s.year }})</option>{% endfor %}</select></label>
<label>Name<input type="text" id="name" value="my_case" size="16"></label>
<label>Year<input type="text" id="year" class="num" value="{{ base_year }}"></label>
<label style="flex:1">Title<input type="text" id="title" placeholder="what the scenario tests"></label>
<label title="The capacity-constrained LP adds a few seconds">
<span><input type="checkbox" id="lp" checked> capacity LP</span></label>
</div>
<h3>Borders</h3>
<div class="scroll"><table id="borders"><thead><tr><th>border</th><th>crossings</th><th>now</th><th>change</th></tr></thead><tbody></tbody></table></div>
<h3>Open or close links</h3>
<table id="links"><tbody></tbody></table><button type="button" class="small" data-add="links">+ link</button>
<h3>Capacity (set, Mt/yr)</h3>
<table id="capacity"><tbody></tbody></table><button type="button" class="small" data-add="capacity">+ capacity</button>
<h3>Demand growth (factor on the year's demand)</h3>
<table id="demand"><thead><tr><th>factor</th><th>origin</th><th>destination</th><th>commodity</th><th></th></tr></thead><tbody></tbody></table>
<button type="button" class="small" data-add="demand">+ demand</button>
<datalist id="targets"></datalist><datalist id="linkids"></datalist>
<ul class="problems" id="problems" aria-live="polite"></ul>
<div class="row" style="margin-top:10px"><button type="button" id="preview">Preview TOML</button>
<button type="button" class="primary" id="run">Run scenario</button></div>
<pre class="toml" id="toml">The scenario file appears here.</pre>
</section></div>
<div>
<section class="card" id="jobs-card"><h2>Runs in progress</h2><div id="jobs"></div></section>
<section class="card" id="compare-card"><h2>Compare two runs</h2>
<div class="row"><label>A (reference)<select id="compare-a">{% include "run_options" %}</select></label>
<label>B<select id="compare-b">{% include "run_options" %}</select></label>
<button type="button" id="compare-go">Compare B − A</button></div></section>
<section class="card" id="runs-card"><h2>Stored runs</h2><div id="runs">{% include "run_rows" %}</div></section>
</div></main>
<script>{{ script }}</script>
{% endblock %}"""

VIEWER = """{% extends "base" %}{% block title %}{{ heading }} · karvan{% endblock %}{% block body %}
<div class="viewer">
<header class="top"><h1><a href="/">karvan · dashboard</a></h1><span class="store">{{ heading }}</span>
<nav><label>Language <select id="lang" aria-label="language">
{% for code, name in langs %}<option value="{{ code }}"{% if code == lang %} selected{% endif %}>{{ name }}</option>{% endfor %}
</select></label><a href="/">← all runs</a></nav></header>
<div class="bar2">{% for item in facts %}<span>{{ item }}</span>{% endfor %}
{% if tables %}<span class="muted">tables (CSV):</span>
{% for t in tables %}<a href="/runs/{{ run_id }}/tables/{{ t }}.csv">{{ t }}</a>{% endfor %}{% endif %}
{% if others %}<span style="margin-left:auto">compare with <select id="other" aria-label="compare with">
{% for r in others|reverse %}<option value="{{ r.run_id }}">{{ r.scenario }} {{ r.year }} · {{ r.run_id }}</option>{% endfor %}
</select> <button type="button" id="cmp">Compare</button></span>{% endif %}</div>
<iframe id="report" title="report" src="{{ src }}"></iframe></div>
<script>
document.getElementById('lang').onchange = (e) => {
  const u = new URL(location.href); u.searchParams.set('lang', e.target.value); location.href = u; };
const cmp = document.getElementById('cmp');
if (cmp) cmp.onclick = () => { location.href = '/compare?a=' + encodeURIComponent(document.getElementById('other').value)
  + '&b={{ run_id }}&lang={{ lang }}'; };
</script>{% endblock %}"""

ERROR = """{% extends "base" %}{% block body %}
<header class="top"><h1><a href="/">karvan · dashboard</a></h1></header>
<main style="padding:20px"><section class="card"><h2>{{ heading }}</h2>
<ul class="problems">{% for p in problems %}<li>{{ p }}</li>{% endfor %}</ul>
<a href="/">← back to the dashboard</a></section></main>{% endblock %}"""

_ENV = Environment(loader=DictLoader({"base": BASE, "index": INDEX, "viewer": VIEWER,
                                      "error": ERROR, "run_rows": RUN_ROWS,
                                      "run_options": RUN_OPTIONS}),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def render(name: str, **context) -> str:
    """One page or fragment, with the shared style and script available."""
    return _ENV.get_template(name).render(css=Markup(CSS), script=Markup(SCRIPT), **context)
