// i18n.js — English/Spanish UI strings from one catalog (strings.json); fills [data-i18n] elements.
//
// Markup: data-i18n="key" sets textContent; data-i18n-attr="aria-label:key;placeholder:key2"
// sets attributes. Strings are text, never HTML. Pages with their own strings merge them with
// addCatalog({en: {...}, es: {...}}) before applyI18n.
import base from './strings.json' with { type: 'json' };

export const SUPPORTED = ['en', 'es'];
const LANG_KEY = 'kindred.lang';
const catalog = { en: { ...base.en }, es: { ...base.es } };
let current = initialLanguage();

/** Fired on `document` after setLanguage, so pages can re-render dynamic text. */
export const LANGUAGE_EVENT = 'kindred:language';

function initialLanguage() {
  try {
    const saved = globalThis.localStorage?.getItem(LANG_KEY);
    if (saved && SUPPORTED.includes(saved)) return saved;
  } catch { /* storage blocked: fall through */ }
  const nav = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? 'en'];
  for (const l of nav) {
    const primary = String(l).toLowerCase().split('-')[0];
    if (SUPPORTED.includes(primary)) return primary;
  }
  return 'en';
}

export function addCatalog(more) {
  for (const lang of Object.keys(more)) catalog[lang] = { ...(catalog[lang] ?? {}), ...more[lang] };
}

export function getLanguage() {
  return current;
}

/** t('queue.position', {n: 3}) → the string with {n} replaced; falls back to English, then the key. */
export function t(key, vars) {
  let s = catalog[current]?.[key] ?? catalog.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function applyI18n(root = globalThis.document) {
  if (!root) return;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of node.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((x) => x.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

/** The user's choice: remembered (localStorage), sets <html lang>, re-fills the page. */
export function setLanguage(lang, { remember = true } = {}) {
  if (!SUPPORTED.includes(lang)) return;
  current = lang;
  if (remember) {
    try { globalThis.localStorage?.setItem(LANG_KEY, lang); } catch { /* private mode */ }
  }
  const doc = globalThis.document;
  if (doc) {
    doc.documentElement.lang = lang;
    applyI18n(doc);
    doc.dispatchEvent(new CustomEvent(LANGUAGE_EVENT, { detail: { lang } }));
  }
}
