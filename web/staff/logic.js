// logic.js — the staff consoles' pure logic (no DOM, no network), so Node tests can run it:
// lexicon highlight spans, escalation ordering, excerpt building, timers' text.
// The lexicon's normalise() is passed in rather than imported: the browser gives /lib/lexicon.js's,
// the tests give moderation/lexicon/reference.mjs's, and the two must agree (SPEC.md).

export const LEVELS = ['none', 'low', 'medium', 'high', 'imminent'];
export const levelRank = (level) => Math.max(0, LEVELS.indexOf(level));

// Is this code point part of a token (letter, digit, @ $, or a deleted apostrophe/combining
// mark) or a separator? Asked of normalise() itself so the two cannot drift apart: a joining
// character keeps "a?b" one token, a separator splits it in two.
function joinerTest(normalise) {
  const cache = new Map();
  return (ch) => {
    let v = cache.get(ch);
    if (v === undefined) {
      v = normalise(`a${ch}b`).length === 1;
      cache.set(ch, v);
    }
    return v;
  };
}

// The tokens of `text` with the UTF-16 range each came from: [{token, start, end}]. Equal to
// normalise(text) token for token; if they ever differ (a normalise we do not understand) the
// answer is null and callers simply show no highlight.
export function tokenSpans(text, normalise) {
  const joins = joinerTest(normalise);
  const out = [];
  let start = -1;
  let i = 0;
  const flush = (end) => {
    if (start < 0) return;
    const toks = normalise(text.slice(start, end));
    if (toks.length === 1) out.push({ token: toks[0], start, end });
    else if (toks.length > 1) return abort();
    start = -1;
  };
  let failed = false;
  const abort = () => { failed = true; };
  for (const ch of text) {
    if (joins(ch)) { if (start < 0) start = i; }
    else flush(i);
    i += ch.length;
    if (failed) return null;
  }
  flush(i);
  if (failed) return null;
  const check = normalise(text);
  if (check.length !== out.length || check.some((t, k) => t !== out[k].token)) return null;
  return out;
}

// A phrase as pieces (SPEC.md §1.1): exact token, prefix, or a gap of 0..3 tokens.
function compile(phrase, normalise) {
  const pieces = [];
  for (const w of phrase.split(' ').filter(Boolean)) {
    if (w === '*') pieces.push({ k: 'gap' });
    else if (w.endsWith('*')) pieces.push({ k: 'pre', t: normalise(w.slice(0, -1))[0] ?? '' });
    else for (const t of normalise(w)) pieces.push({ k: 'ex', t });
  }
  return pieces;
}

function phraseMatches(pieces, toks) {
  const out = [];
  const go = (i, pos, b) => {
    if (i === pieces.length) { if (pos > b) out.push([b, pos]); return; }
    const p = pieces[i];
    if (p.k === 'gap') {
      for (let k = 0; k <= 3 && pos + k <= toks.length; k++) go(i + 1, pos + k, b);
      return;
    }
    if (pos >= toks.length) return;
    if (p.k === 'ex' ? toks[pos] === p.t : toks[pos].startsWith(p.t)) go(i + 1, pos + 1, b);
  };
  for (let b = 0; b < toks.length; b++) go(0, b, b);
  return out;
}

// Token spans [begin, end) of the matches of the rules that assess() reported (ruleIds), with
// benign phrases masking as in SPEC.md §4.2. Used only to draw <mark>s: the level and category
// shown always come from assess() itself, never from here.
export function ruleTokenSpans(lexicon, langCode, tokens, ruleIds, normalise) {
  const lang = lexicon?.languages?.find((l) => l.code === langCode);
  if (!lang || !ruleIds?.length) return [];
  const wanted = new Set(ruleIds);
  const masked = new Array(tokens.length).fill(false);
  for (const ph of lang.benign ?? []) {
    for (const [b, e] of phraseMatches(compile(ph, normalise), tokens)) {
      for (let k = b; k < e; k++) masked[k] = true;
    }
  }
  const spans = [];
  for (const rule of lang.rules ?? []) {
    if (!wanted.has(rule.id)) continue;
    for (const ph of rule.phrases ?? []) {
      for (const [b, e] of phraseMatches(compile(ph, normalise), tokens)) {
        if (!masked.slice(b, e).some(Boolean)) spans.push([b, e]);
      }
    }
  }
  return spans;
}

// Text cut into [{text, mark}] pieces, the marked ones covering every character span given
// (overlapping spans merged). Spans are UTF-16 [start, end).
export function segments(text, charSpans) {
  const spans = [...charSpans].sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [s, e] of spans) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const out = [];
  let at = 0;
  for (const [s, e] of merged) {
    if (s > at) out.push({ text: text.slice(at, s), mark: false });
    out.push({ text: text.slice(s, e), mark: true });
    at = e;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}

// Everything a console needs to show one text with its lexicon reading: the strongest result
// over the given languages (SPEC.md §4.6 order: first strictly highest) and the marked pieces.
// `assess(lexicon, lang, text)` is /lib/lexicon.js's; its result may name the level `risk` or
// `level` and the rule ids `rules` or `rule_ids` (web.md vs SPEC.md), both are read.
export function readText(text, lexicon, langs, assess, normalise) {
  let best = { level: 'none', category: 'none', lang: null, ruleIds: [], spans: null };
  if (!lexicon) return { ...best, pieces: [{ text, mark: false }] };
  for (const lang of langs) {
    const r = assess(lexicon, lang, text) ?? {};
    const level = r.risk ?? r.level ?? 'none';
    if (levelRank(level) > levelRank(best.level)) {
      best = { level, category: r.category ?? 'none', lang, ruleIds: r.rules ?? r.rule_ids ?? [],
        spans: Array.isArray(r.spans) ? r.spans : null };
    }
  }
  let pieces = [{ text, mark: false }];
  if (best.spans) {
    // /lib/lexicon.js gives character ranges itself: use them as they are.
    pieces = segments(text, best.spans.map((s) => [s.start, s.end]));
  } else if (best.lang) {
    const toks = tokenSpans(text, normalise);
    if (toks) {
      const spans = ruleTokenSpans(lexicon, best.lang, toks.map((t) => t.token), best.ruleIds, normalise);
      pieces = segments(text, spans.map(([b, e]) => [toks[b].start, toks[e - 1].end]));
    }
  }
  const { spans, ...rest } = best;
  return { ...rest, pieces };
}

// The moderator's list: unresolved before resolved; then the most urgent level; then the oldest.
export function orderEscalations(list) {
  return [...list].sort((a, b) => {
    const ra = a.state === 'resolved' ? 1 : 0;
    const rb = b.state === 'resolved' ? 1 : 0;
    if (ra !== rb) return ra - rb;
    const lv = levelRank(b.level) - levelRank(a.level);
    if (lv !== 0) return lv;
    return (a.created_at ?? 0) - (b.created_at ?? 0);
  });
}

// "0:42", "12:05", "1:02:09" — an age or a wait, for timers.
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// The sealed-excerpt content of E2E.md §7 for the chosen messages: members in the contract's
// order, messages in offset order; messages without an offset (not yet stored) cannot be cited.
export function excerptContent(conversationId, messages, offsets) {
  const chosen = new Set(offsets.map(Number));
  return {
    conversation_id: conversationId,
    messages: messages
      .filter((m) => Number.isInteger(m.offset) && chosen.has(m.offset))
      .sort((a, b) => a.offset - b.offset)
      .map((m) => ({ offset: m.offset, from: m.from, text: m.text })),
  };
}

// Bytes of a frame as the server counts them (UTF-8), to keep an escalate under the limit.
export const frameBytes = (obj) => new TextEncoder().encode(JSON.stringify(obj)).length;

// Shift levels the console offers to suggest escalating: the contract's high and imminent.
export const suggestsEscalation = (level) => levelRank(level) >= levelRank('high');

// Conversation ids and escalation ids are server-issued opaque strings; they go into
// data-* attributes and selectors, so keep the selector safe.
export function cssId(id) {
  return String(id).replace(/["\\]/g, '\\$&');
}
