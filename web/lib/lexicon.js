// lexicon.js — the crisis lexicon matcher of moderation/lexicon/SPEC.md, applied on the device.
//
// No regular expressions on the text, no locale, no Unicode library — the same tokens as the C++
// matcher. Results never contain the text or its tokens (only levels, categories, rule ids and,
// for highlighting, character ranges into the caller's own string).

export const LEVELS = ['none', 'low', 'medium', 'high', 'imminent'];
const RANK = Object.fromEntries(LEVELS.map((l, i) => [l, i]));
const GAP_MAX = 3;

const FOLD = new Map();
const fold = (chars, v) => { for (const c of chars) FOLD.set(c.codePointAt(0), v); };
fold('ÀÁÂÃÄÅàáâãäå', 'a'); fold('Ææ', 'ae'); fold('Çç', 'c'); fold('ÈÉÊËèéêë', 'e');
fold('ÌÍÎÏìíîï', 'i'); fold('Ðð', 'd'); fold('Ññ', 'n'); fold('ÒÓÔÕÖØòóôõöø', 'o');
fold('ÙÚÛÜùúûü', 'u'); fold('Ýýÿ', 'y'); fold('ß', 'ss');
const DELETED = new Set([0x27, 0x60, 0xb4, 0x2018, 0x2019, 0x2bc]);
const LEET = { 0: 'o', 1: 'i', 3: 'e', 4: 'a', 5: 's', 7: 't', '@': 'a', $: 's' };

const isLower = (c) => c >= 'a' && c <= 'z';

// Steps 3–4 of SPEC §2: leetspeak (only in tokens with a letter), then squeeze repeated letters.
function finishToken(raw) {
  let hasLetter = false;
  for (const c of raw) if (isLower(c)) { hasLetter = true; break; }
  let out = '';
  for (let c of raw) {
    if (hasLetter && LEET[c]) c = LEET[c];
    if (isLower(c) && out.length && out[out.length - 1] === c) continue;
    out += c;
  }
  return out;
}

/**
 * Tokens with the [start, end) UTF-16 range of the source they came from (for highlights).
 * A Uint8Array is decoded non-fatally (malformed bytes → U+FFFD → separator).
 */
export function tokenise(input) {
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
  const out = [];
  let raw = '';
  let start = -1;
  let end = -1;
  const flush = () => {
    if (raw) out.push({ token: finishToken(raw), start, end });
    raw = '';
    start = -1;
  };
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i);
    const width = cp > 0xffff ? 2 : 1;
    let add = null;
    if (cp >= 0x41 && cp <= 0x5a) add = String.fromCharCode(cp + 32);
    else if ((cp >= 0x61 && cp <= 0x7a) || (cp >= 0x30 && cp <= 0x39) || cp === 0x40 || cp === 0x24) add = String.fromCharCode(cp);
    else if (DELETED.has(cp) || (cp >= 0x300 && cp <= 0x36f)) add = '';
    else if (FOLD.has(cp)) add = FOLD.get(cp);
    if (add === null) flush();
    else {
      // A deleted mark before any letter neither starts nor extends a visible token range.
      if (add) {
        if (start < 0) start = i;
        raw += add;
      }
      if (start >= 0) end = i + width;
    }
    i += width;
  }
  flush();
  return out;
}

/** SPEC §2: text → tokens. */
export function normalise(text) {
  return tokenise(text).map((t) => t.token);
}

// A phrase → pieces {k: 'ex'|'pre'|'gap', t}. SPEC §1.1.
function compilePhrase(phrase) {
  const pieces = [];
  for (const w of phrase.split(' ')) {
    if (!w) continue;
    if (w === '*') pieces.push({ k: 'gap' });
    else if (w.endsWith('*')) pieces.push({ k: 'pre', t: normalise(w.slice(0, -1))[0] ?? '' });
    else for (const t of normalise(w)) pieces.push({ k: 'ex', t });
  }
  return pieces;
}

// Every [begin, end) span where the pieces consume tokens exactly (all starts, all gap widths).
function findMatches(pieces, toks, out, tag) {
  const walk = (i, pos, begin) => {
    if (i === pieces.length) { out.push({ b: begin, e: pos, tag }); return; }
    const p = pieces[i];
    if (p.k === 'gap') {
      for (let k = 0; k <= GAP_MAX && pos + k <= toks.length; k++) walk(i + 1, pos + k, begin);
      return;
    }
    if (pos >= toks.length) return;
    if (p.k === 'ex' ? toks[pos] === p.t : toks[pos].startsWith(p.t)) walk(i + 1, pos + 1, begin);
  };
  if (!pieces.length) return;
  for (let b = 0; b < toks.length; b++) walk(0, b, b);
}

// Compiled per lexicon object, once: the file is data that changes only with a new fetch.
const compiled = new WeakMap();
function compiledLanguage(lexicon, code) {
  let langs = compiled.get(lexicon);
  if (!langs) { langs = new Map(); compiled.set(lexicon, langs); }
  if (langs.has(code)) return langs.get(code);
  const lang = (lexicon?.languages ?? []).find((l) => l.code === code) ?? null;
  let c = null;
  if (lang) {
    c = {
      rules: lang.rules.map((r) => ({ id: r.id, category: r.category, level: r.level, phrases: r.phrases.map(compilePhrase) })),
      benign: (lang.benign ?? []).map(compilePhrase),
      cues: new Set((lang.negation?.cues ?? []).map((x) => normalise(x)[0])),
      window: lang.negation?.window ?? 0,
    };
  }
  langs.set(code, c);
  return c;
}

const NONE = () => ({ risk: 'none', level: 'none', category: 'none', rules: [], rule_ids: [], spans: [] });

/**
 * SPEC §4 for one language → {risk, category, rules} (`level` and `rule_ids` are the same values
 * under SPEC's names), plus `spans`: [{start, end, level, category, rule}] character ranges of
 * every remaining match in `text`, for highlighting.
 */
export function assess(lexicon, lang, text) {
  const L = compiledLanguage(lexicon, lang);
  if (!L) return NONE();
  const tt = tokenise(text);
  const toks = tt.map((t) => t.token);

  const masked = new Array(toks.length).fill(false);
  const benign = [];
  for (const ph of L.benign) findMatches(ph, toks, benign, null);
  for (const m of benign) for (let k = m.b; k < m.e; k++) masked[k] = true;

  const found = [];
  L.rules.forEach((r, ri) => {
    for (const ph of r.phrases) findMatches(ph, toks, found, ri);
  });
  const kept = found.filter((m) => {
    for (let k = m.b; k < m.e; k++) if (masked[k]) return false;
    return true;
  });

  for (const m of kept) {
    m.direct = false;
    if (L.cues.has(toks[m.b])) continue; // a match that starts with a cue carries its own negation
    for (let k = Math.max(0, m.b - L.window); k < m.b; k++) if (L.cues.has(toks[k])) { m.direct = true; break; }
  }

  let best = null;
  const hit = new Set();
  const spans = [];
  for (const m of kept) {
    const negated = m.direct || kept.some((o) => o.direct && o.b <= m.b && m.e <= o.e);
    const rule = L.rules[m.tag];
    const lv = negated ? Math.min(RANK[rule.level], RANK.low) : RANK[rule.level];
    hit.add(m.tag);
    const len = m.e - m.b;
    if (!best || lv > best.lv || (lv === best.lv && (len > best.len || (len === best.len && m.tag < best.ri)))) {
      best = { lv, len, ri: m.tag };
    }
    if (m.e > m.b) spans.push({ start: tt[m.b].start, end: tt[m.e - 1].end, level: LEVELS[lv], category: rule.category, rule: rule.id });
  }
  if (!best) return NONE();
  const ids = [...hit].sort((a, b) => a - b).map((i) => L.rules[i].id);
  const level = LEVELS[best.lv];
  return { risk: level, level, category: L.rules[best.ri].category, rules: ids, rule_ids: ids, spans };
}

/** SPEC §4.6: every language in file order; the first strictly highest level wins. */
export function assessAll(lexicon, text) {
  let best = NONE();
  for (const l of lexicon?.languages ?? []) {
    const r = assess(lexicon, l.code, text);
    if (RANK[r.risk] > RANK[best.risk]) best = r;
  }
  return best;
}

/** Compare levels: atLeast('high', 'medium') → true. */
export function atLeast(level, min) {
  return (RANK[level] ?? 0) >= (RANK[min] ?? 0);
}

let lexiconPromise = null;
/**
 * GET /v1/lexicon once per page (the server sends ETag + no-cache, so the browser revalidates).
 * Resolves to null when it cannot be fetched: the chat still works, only the on-device hints
 * are off — better than blocking a seeker on a bad network.
 */
export function loadLexicon({ refresh = false } = {}) {
  if (!lexiconPromise || refresh) {
    lexiconPromise = fetch('/v1/lexicon', { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((lex) => {
        if (!lex) lexiconPromise = null; // try again next time
        return lex;
      });
  }
  return lexiconPromise;
}
