// lexicon.test.mjs — web/lib/lexicon.js against moderation/lexicon/vectors.json (the C++ matcher's parity file).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assess, assessAll, normalise, tokenise, atLeast } from '../../lib/lexicon.js';

const dir = new URL('../../../moderation/lexicon/', import.meta.url);
const lex = JSON.parse(readFileSync(new URL('lexicon.json', dir), 'utf8'));
const vec = JSON.parse(readFileSync(new URL('vectors.json', dir), 'utf8'));

test('vectors: 0 mismatches', () => {
  assert.equal(vec.lexicon_version, lex.version);
  const bad = [];
  for (const v of vec.vectors) {
    const a = assess(lex, v.lang, v.text);
    if (a.risk !== v.level || (v.level !== 'none' && a.category !== v.category)) bad.push(`${v.lang}: want ${v.level}/${v.category} got ${a.risk}/${a.category}`);
    assert.equal(a.level, a.risk);
  }
  // Never print the texts: only counts and levels.
  assert.deepEqual(bad, [], `${bad.length} of ${vec.vectors.length} vectors mismatch`);
});

test('normalisation (SPEC §2 examples)', () => {
  assert.deepEqual(normalise('Don’t KIIILL'), ['dont', 'kil']);
  assert.deepEqual(normalise('llorar pastillas 911 h3ll0'), ['lorar', 'pastilas', '911', 'helo']);
  assert.deepEqual(normalise('¿Qué? a\u0301 ß×þ'), ['que', 'a', 's']); // ß → ss, then squeezed
  assert.deepEqual(normalise(new Uint8Array([0x61, 0xff, 0x62])), ['a', 'b']);
  assert.deepEqual(normalise('self-harm 💙 x'), ['self', 'harm', 'x']);
});

test('spans point into the text; unknown language is none', () => {
  const text = 'Honestly, I want to kill myself.';
  const a = assess(lex, 'en', text);
  assert.ok(atLeast(a.risk, 'medium'));
  assert.ok(a.spans.length > 0);
  for (const s of a.spans) assert.ok(s.start >= 0 && s.end <= text.length && s.start < s.end);
  assert.deepEqual(tokenise('ab cd').map((t) => [t.start, t.end]), [[0, 2], [3, 5]]);
  assert.equal(assess(lex, 'xx', text).risk, 'none');
  assert.equal(assessAll(lex, text).risk, a.risk);
});
