// logic.test.mjs — the staff consoles' pure logic against the lexicon's reference implementation.
// Run: node --test web/staff/test/   (from the repository root)
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { normalise, assess } from '../../../moderation/lexicon/reference.mjs';
import {
  tokenSpans, ruleTokenSpans, segments, readText, orderEscalations, formatDuration,
  excerptContent, levelRank, suggestsEscalation, frameBytes,
} from '../../staff/logic.js';

const lexicon = JSON.parse(fs.readFileSync(new URL('../../../moderation/lexicon/lexicon.json', import.meta.url)));
const vectors = JSON.parse(fs.readFileSync(new URL('../../../moderation/lexicon/vectors.json', import.meta.url))).vectors;

test('tokenSpans gives exactly normalise()’s tokens, with their source ranges', () => {
  const text = "I don’t  KIIILL-myself 911 ¿sí? e\u0301 😀 l33t";
  const spans = tokenSpans(text, normalise);
  assert.deepEqual(spans.map((s) => s.token), normalise(text));
  assert.equal(text.slice(spans[1].start, spans[1].end), 'don’t');
  assert.equal(text.slice(spans[2].start, spans[2].end), 'KIIILL');
});

test('tokenSpans agrees with normalise() on every lexicon vector', () => {
  for (const v of vectors) {
    const spans = tokenSpans(v.text, normalise);
    assert.ok(spans, v.text);
    assert.deepEqual(spans.map((s) => s.token), normalise(v.text), v.text);
  }
});

test('every vector with a level gets at least one <mark>, none without', () => {
  let marked = 0;
  for (const v of vectors) {
    const r = readText(v.text, lexicon, [v.lang], assess, normalise);
    assert.equal(r.level, v.level, v.text);
    const hasMark = r.pieces.some((p) => p.mark);
    assert.equal(hasMark, r.level !== 'none', v.text);
    assert.equal(r.pieces.map((p) => p.text).join(''), v.text); // nothing lost or added
    if (hasMark) marked++;
  }
  assert.ok(marked > 10);
});

test('the mark covers the alarming phrase, not the whole message', () => {
  const r = readText('Honestly I am going to kill myself tonight, sorry.', lexicon, ['en', 'es'], assess, normalise);
  assert.equal(r.level, 'imminent');
  assert.ok(suggestsEscalation(r.level));
  const marks = r.pieces.filter((p) => p.mark).map((p) => p.text);
  assert.ok(marks.join(' ').includes('kill myself'));
  assert.ok(!marks.join(' ').includes('Honestly'));
});

test('benign phrases mask highlights', () => {
  const r = readText('I want to die of embarrassment', lexicon, ['en'], assess, normalise);
  assert.equal(r.level, 'none');
  assert.ok(!r.pieces.some((p) => p.mark));
});

test('segments merges overlapping spans', () => {
  assert.deepEqual(segments('abcdef', [[1, 3], [2, 4]]), [
    { text: 'a', mark: false }, { text: 'bcd', mark: true }, { text: 'ef', mark: false }]);
  assert.deepEqual(segments('ab', []), [{ text: 'ab', mark: false }]);
  assert.deepEqual(ruleTokenSpans(lexicon, 'xx', ['a'], ['r'], normalise), []);
});

test('escalations: unresolved first, then level, then oldest', () => {
  const list = [
    { id: 'a', level: 'high', state: 'open', created_at: 5 },
    { id: 'b', level: 'imminent', state: 'resolved', created_at: 1 },
    { id: 'c', level: 'imminent', state: 'acknowledged', created_at: 9 },
    { id: 'd', level: 'high', state: 'open', created_at: 2 },
    { id: 'e', level: 'low', state: 'open', created_at: 0 },
  ];
  assert.deepEqual(orderEscalations(list).map((e) => e.id), ['c', 'd', 'a', 'e', 'b']);
});

test('formatDuration', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(42_900), '0:42');
  assert.equal(formatDuration(3_729_000), '1:02:09');
  assert.equal(formatDuration(-5), '0:00');
});

test('excerptContent keeps E2E.md §7 member order and offset order', () => {
  const msgs = [
    { offset: 7, from: 'peer', text: 'b' }, { offset: 3, from: 'seeker', text: 'a"\n' },
    { offset: undefined, from: 'peer', text: 'pending' }, { offset: 9, from: 'seeker', text: 'x' }];
  const c = excerptContent('c1', msgs, ['3', '7']);
  assert.equal(JSON.stringify(c),
    '{"conversation_id":"c1","messages":[{"offset":3,"from":"seeker","text":"a\\"\\n"},{"offset":7,"from":"peer","text":"b"}]}');
  assert.equal(levelRank('imminent'), 4);
  assert.equal(levelRank('bogus'), 0);
  assert.equal(frameBytes({ t: 'é' }), 10);
});

test('readText uses /lib/lexicon.js spans when the result has them', async () => {
  const core = await import('../../lib/lexicon.js');
  for (const v of vectors) {
    const a = readText(v.text, lexicon, [v.lang], core.assess, core.normalise);
    const b = readText(v.text, lexicon, [v.lang], assess, normalise); // reference: our own spans
    assert.equal(a.level, v.level, v.text);
    assert.equal(a.pieces.map((p) => p.text).join(''), v.text);
    assert.equal(a.pieces.some((p) => p.mark), b.pieces.some((p) => p.mark), v.text);
  }
});
