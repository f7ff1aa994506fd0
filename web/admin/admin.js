// admin.js — the coordinator's insights page (/admin): sign-in (admins only; the token stays in
// sessionStorage and travels only in the Authorization header), GET /v1/insights for a period
// and filter, hand-drawn SVG charts (waiting times, coverage gaps by experience × hour of the
// week, feedback, escalation outcomes) and the CSV export. Suppressed figures (null in the
// report, named in its "suppressed" lists) are drawn hatched and labelled, never guessed.
import { t, el, initStrings, focusIfLost, loginForm, logout, forgetLogin, showError, currentLang } from '/staff/common.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const state = { login: null, config: null, report: null };

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

const isSuppressed = (obj, name) => Array.isArray(obj?.suppressed) && obj.suppressed.includes(name);
const figureText = (obj, name) => (isSuppressed(obj, name) ? t('admin.suppressed')
  : obj?.[name] === null || obj?.[name] === undefined ? '–' : String(obj[name]));

// ---------------------------------------------------------------------------------------------
// The hatch of suppressed bars, defined once for every chart on the page (ids must be unique).
function addPatterns() {
  document.body.append(svg('svg', { width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false', class: 'patterns' }, [
    svg('defs', {}, [svg('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, [
      svg('rect', { width: 6, height: 6, fill: '#e4e8eb' }), svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#6b7780', 'stroke-width': 2 })])]),
  ]));
}

async function main() {
  addPatterns();
  await initStrings(() => state.report && render(state.report));
  const signedIn = loginForm('admin');
  state.config = await fetch('/v1/config', { cache: 'no-store' }).then((r) => r.json()).catch(() => null);
  fillFilters();
  state.login = await signedIn;
  $('console').hidden = false;
  $('logout').hidden = false;
  $('logout').addEventListener('click', async () => {
    await logout(state.login.token);
    location.reload();
  });
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
  $('from').value = weekAgo;
  $('to').value = today;
  $('insights-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  $('download-csv').addEventListener('click', downloadCsv);
  focusIfLost($('query-heading'));
  await load();
}

function fillFilters() {
  const lang = currentLang();
  for (const tag of state.config?.tags ?? [])
    $('tag').append(el('option', { value: tag.id }, tag.labels?.[lang] ?? tag.labels?.en ?? tag.id));
  for (const l of state.config?.languages ?? []) $('language').append(el('option', { value: l.id }, l.label));
}

function tagLabel(id) {
  const tag = (state.config?.tags ?? []).find((x) => x.id === id);
  return tag?.labels?.[currentLang()] ?? tag?.labels?.en ?? id;
}

function query() {
  const p = new URLSearchParams({ from: $('from').value, to: $('to').value });
  if ($('tag').value) p.set('tag', $('tag').value);
  if ($('language').value) p.set('language', $('language').value);
  return p.toString();
}

async function fetchReport(csv) {
  const r = await fetch(`/v1/insights${csv ? '.csv' : ''}?${query()}`, {
    headers: { Authorization: `Bearer ${state.login.token}` }, cache: 'no-store', credentials: 'omit',
  });
  if (r.status === 401) { forgetLogin(); throw new Error(t('admin.error.signed_out')); }
  if (r.status === 403) throw new Error(t('admin.error.forbidden'));
  if (r.status === 400) {
    let body = {};
    try { body = await r.json(); } catch { /* no body */ }
    throw new Error(t('admin.error.query', { detail: body.message ?? '' }));
  }
  if (!r.ok) throw new Error(t('admin.error.unavailable'));
  return csv ? r.blob() : r.json();
}

async function load() {
  showError($('insights-error'), '');
  $('insights-status').textContent = t('admin.loading');
  try {
    state.report = await fetchReport(false);
    render(state.report);
    $('insights-status').textContent = t('admin.loaded', { from: state.report.from, to: state.report.to });
  } catch (err) {
    $('insights-status').textContent = '';
    showError($('insights-error'), err.message);
  }
}

async function downloadCsv() {
  showError($('insights-error'), '');
  try {
    const blob = await fetchReport(true);
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `kindred-insights-${$('from').value}-${$('to').value}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $('insights-status').textContent = t('admin.csv_done');
  } catch (err) {
    showError($('insights-error'), err.message);
  }
}

// ---------------------------------------------------------------------------------------------
function render(r) {
  $('report').hidden = false;
  renderTotals(r.totals);
  renderWaits(r.waits);
  renderCoverage(r.coverage, r.waits.waited_over);
  renderFeedback(r.feedback);
  renderEscalations(r.escalations);
}

function renderTotals(totals) {
  const dl = $('totals');
  dl.replaceChildren();
  for (const k of ['requests', 'matches', 'relaxed_matches', 'cancels', 'conversations', 'transfers', 'peer_hours']) {
    dl.append(el('div', { dataset: { figure: k } }, [
      el('dt', {}, t(`admin.totals.${k}`)),
      el('dd', { dataset: { suppressed: isSuppressed(totals, k) ? 'true' : undefined } }, figureText(totals, k)),
    ]));
  }
}

// A bar chart of [{label, obj, name}] (value obj[name], suppressed per obj.suppressed).
function barChart(container, bars, title) {
  const width = 640, rowH = 28, labelW = 170, valueW = 90;
  const height = bars.length * rowH + 10;
  const max = Math.max(1, ...bars.map((b) => (isSuppressed(b.obj, b.name) ? 0 : b.obj[b.name] ?? 0)));
  const desc = bars.map((b) => `${b.label}: ${figureText(b.obj, b.name)}`).join('; ');
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}. ${desc}` });
  bars.forEach((b, i) => {
    const y = i * rowH + 5;
    const sup = isSuppressed(b.obj, b.name);
    const value = sup ? 0 : b.obj[b.name] ?? 0;
    const w = sup ? (width - labelW - valueW) * 0.15 : ((width - labelW - valueW) * value) / max;
    const label = svg('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end' });
    label.textContent = b.label;
    const bar = svg('rect', { class: sup ? 'bar suppressed' : 'bar', x: labelW, y: y + 3, width: Math.max(w, value > 0 ? 2 : 0), height: rowH - 8 });
    const text = svg('text', { x: labelW + Math.max(w, 0) + 6, y: y + 17 });
    text.textContent = figureText(b.obj, b.name);
    root.append(svg('g', { 'data-bar': b.key ?? b.label, 'data-suppressed': sup ? 'true' : 'false' }, [label, bar, text]));
  });
  container.replaceChildren(root);
}

function renderWaits(w) {
  const median = figureText(w, 'median_le'), p90 = figureText(w, 'p90_le');
  $('waits-summary').textContent = t('admin.waits.summary', {
    median, p90, minutes: w.waited_over.minutes, over: figureText(w.waited_over, 'count'),
  });
  barChart($('chart-waits'), w.bins.map((b) => ({ key: b.le, label: b.le === 'inf' ? t('admin.waits.longer') : t('admin.waits.upto', { bound: b.le }), obj: b, name: 'count' })), t('admin.waits.heading'));
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function renderCoverage(cov, over) {
  const tags = cov.tags;
  const cellW = 5, rowH = 22, labelW = 150, top = 18;
  const width = labelW + 168 * cellW + 4, height = top + Math.max(1, tags.length) * rowH + 4;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${t('admin.coverage.heading')}. ${tags.map((x) => t('admin.coverage.row', { tag: tagLabel(x.tag), unmet: x.unmet_hours, none: x.hours_without_peer })).join('; ')}` });
  DAYS.forEach((d, i) => {
    const label = svg('text', { x: labelW + i * 24 * cellW + 2, y: 12 });
    label.textContent = t(`admin.day.${d}`);
    root.append(label, svg('line', { x1: labelW + i * 24 * cellW, y1: 14, x2: labelW + i * 24 * cellW, y2: height, stroke: '#c5ced5' }));
  });
  tags.forEach((row, r) => {
    const y = top + r * rowH;
    const label = svg('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end' });
    label.textContent = tagLabel(row.tag);
    const g = svg('g', { 'data-tag': row.tag }, [label]);
    const byHour = new Map(row.hours_of_week.map((c) => [c.weekday * 24 + c.hour, c]));
    for (let h = 0; h < 168; h += 1) {
      const c = byHour.get(h);
      let cls = 'cell-empty';
      if (c) {
        const demand = isSuppressed(c, 'requests') || (c.requests ?? 0) > 0;
        if (c.peer_hours > 0) cls = demand ? 'cell-covered' : 'cell-peer';
        else if (demand) cls = isSuppressed(c, 'requests') ? 'cell-demand' : 'cell-unmet';
      }
      g.append(svg('rect', { class: cls, x: labelW + h * cellW, y: y + 2, width: cellW - 1, height: rowH - 6, 'data-how': h }));
    }
    root.append(g);
  });
  $('chart-coverage').replaceChildren(root);

  $('coverage-over-heading').textContent = t('admin.coverage.waited_over_n', { minutes: over.minutes });
  const body = $('coverage-table').querySelector('tbody');
  body.replaceChildren(...tags.map((row) => el('tr', { dataset: { tag: row.tag } }, [
    el('th', { scope: 'row' }, tagLabel(row.tag)),
    el('td', {}, figureText(row, 'requests')),
    el('td', {}, String(row.peer_hours)),
    el('td', {}, figureText(row, 'waited_over')),
    el('td', {}, String(row.hours_without_peer)),
    el('td', {}, String(row.unmet_hours)),
  ])));
}

function renderFeedback(fb) {
  const bars = [
    ...fb.helped.map((h) => ({ key: `helped_${h.score}`, label: t('admin.feedback.helped', { score: h.score }), obj: h, name: 'count' })),
    ...fb.feeling.map((f) => ({ key: `feeling_${f.feeling}`, label: t(`admin.feedback.${f.feeling}`), obj: f, name: 'count' })),
  ];
  barChart($('chart-feedback'), bars, t('admin.feedback.heading'));
}

function renderEscalations(esc) {
  const bars = [
    ...esc.raised.map((e) => ({ key: `raised_${e.level}`, label: t(`admin.esc.level.${e.level}`), obj: e, name: 'count' })),
    ...esc.outcomes.map((o) => ({ key: `outcome_${o.outcome}`, label: t(`admin.esc.outcome.${o.outcome}`), obj: o, name: 'count' })),
  ];
  barChart($('chart-escalations'), bars, t('admin.esc.heading'));
}

main();
