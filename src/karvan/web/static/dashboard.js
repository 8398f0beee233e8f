// the dashboard's script (served as /static/dashboard.js): the scenario form, jobs, runs
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
  $('#warnings').innerHTML = (body.warnings || []).map(w => `<li>warning: ${esc(w)}</li>`).join('');
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
let defaultA = {};  // a finished run's id -> the run it is compared with by default
async function pollJobs() {
  const jobs = await (await fetch('/api/jobs')).json();
  for (const j of jobs)  // a finished run is preselected against what karvan compare would choose
    if (j.status === 'complete' && !(j.run_id in defaultA)) defaultA[j.run_id] = (await comparePair(j.run_id))?.a || '';
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
    if (j.warnings && j.warnings.length) div.insertAdjacentHTML('beforeend', `<ul class="warnings">${j.warnings.map(w => `<li>warning: ${esc(w)}</li>`).join('')}</ul>`);
    if (j.status === 'failed' || j.status === 'stopped') div.insertAdjacentHTML('beforeend', `<ul class="problems">${(j.problems.length ? j.problems : [j.error]).map(p => `<li>${esc(p)}</li>`).join('')}</ul>`);
    const cmp = $('.cmp', div);
    if (cmp && defaultA[j.run_id]) cmp.value = defaultA[j.run_id];
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
// the pair of runs to compare (GET /api/compare/pair): B given or the newest project run, A
// given or B's like-year reference as karvan compare chooses it, and the note on the pair
async function comparePair(b = '', a = '') {
  const q = new URLSearchParams();
  if (b) q.set('b', b);
  if (a) q.set('a', a);
  const r = await fetch('/api/compare/pair?' + q);
  return r.ok ? r.json() : null;
}
let aPicked = false;  // the user chose A: a new B no longer replaces it with B's reference
let bPicked = false;  // the user chose B: a finished run no longer replaces it with the newest
let pairAsked = 0;  // the latest request for the pair: an earlier answer arriving late is dropped
async function updatePair() {
  const asked = ++pairAsked;
  const p = await comparePair($('#compare-b').value, aPicked ? $('#compare-a').value : '');
  if (!p || asked !== pairAsked) return;
  if (p.a) $('#compare-a').value = p.a;
  $('#compare-note').textContent = p.note;
  // one run as A and B: nothing to compare (the note says so; the page would answer 422)
  $('#compare-go').disabled = $('#compare-a').value === $('#compare-b').value;
}
async function refreshRuns() {
  $('#runs').innerHTML = await (await fetch('/fragments/runs')).text();
  const opts = await (await fetch('/fragments/run-options')).text();
  const a = $('#compare-a').value, b = $('#compare-b').value;
  $('#compare-a').innerHTML = opts; $('#compare-b').innerHTML = opts;
  defaultA = {};  // a new run may be the reference of an earlier one
  const p = await comparePair();  // B: the newest project run, unless the user chose one
  if (bPicked && b) $('#compare-b').value = b;
  else if (p && p.b) $('#compare-b').value = p.b;
  if (aPicked && a) $('#compare-a').value = a;
  await updatePair();
}

document.addEventListener('DOMContentLoaded', async () => {
  $('#extends').onchange = loadOptions;
  await loadOptions();
  $$('button[data-add]').forEach(b => b.onclick = () => addRow(b.dataset.add));
  $('#preview').onclick = preview;
  $('#run').onclick = start;
  $('#compare-go').onclick = () => { location.href = `/compare?a=${encodeURIComponent($('#compare-a').value)}&b=${encodeURIComponent($('#compare-b').value)}`; };
  // the page comes with the default pair selected; A follows B until the user picks A
  $('#compare-a').onchange = () => { aPicked = true; updatePair(); };
  $('#compare-b').onchange = () => { bPicked = true; updatePair(); };
  await pollJobs();
  document.body.dataset.ready = '1';
});
