// ui.js — small DOM helpers shared by every page; text always goes in through textContent.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/**
 * el('li', {class: 'msg mine', dataset: {offset: 4}, on: {click: f}}, 'text' | [children])
 * Attributes go through setAttribute, so no markup is ever parsed from strings.
 */
export function el(tag, attrs = {}, content) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  if (Array.isArray(content)) node.append(...content.filter((c) => c !== null && c !== undefined));
  else if (content !== undefined && content !== null) node.textContent = String(content);
  return node;
}

/** Show or hide with the hidden attribute (CSS-free, understood by assistive tech). */
export function show(node, visible = true) {
  if (node) node.hidden = !visible;
}

let politeRegion = null;
let assertiveRegion = null;
function region(assertive) {
  let r = assertive ? assertiveRegion : politeRegion;
  if (!r || !r.isConnected) {
    r = el('div', { class: 'visually-hidden', 'aria-live': assertive ? 'assertive' : 'polite', 'aria-atomic': 'true' });
    document.body.append(r);
    if (assertive) assertiveRegion = r; else politeRegion = r;
  }
  return r;
}

/**
 * Tell screen-reader users about a status change (not for message text: the message list is its
 * own aria-live region). Clearing first makes repeated identical announcements heard.
 */
export function announce(text, { assertive = false } = {}) {
  const r = region(assertive);
  r.textContent = '';
  setTimeout(() => { r.textContent = text; }, 50);
}

/** Moves focus without scrolling jumps (reduced-motion friendly), making the target focusable. */
export function focus(node) {
  if (!node) return;
  if (!node.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(node.tagName)) node.setAttribute('tabindex', '-1');
  node.focus({ preventScroll: false });
}

/** "3 min" / "45 s" style durations for timers (staff consoles and the waiting screen). */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
