// harness.test.mjs — the harness's own checks can fail: the Redis leak detector finds a text
// stored raw or base64-encoded at any alignment, and the RESP client reads binary values back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containsSecret, startStack } from './harness.mjs';

const secret = 'I want to tell someone about my brother';

test('containsSecret finds a text raw and base64-encoded at every offset', () => {
  assert.ok(containsSecret(Buffer.from(`xx${secret}yy`), secret));
  for (let pad = 0; pad < 3; pad++) {
    const stored = Buffer.from('z'.repeat(pad) + secret + 'tail').toString('base64');
    assert.ok(containsSecret(Buffer.from(`{"ciphertext":"${stored}"}`), secret), `base64 at offset ${pad}`);
  }
  assert.ok(!containsSecret(Buffer.from('nothing to see here'), secret));
});

test('a stored plaintext in the test Redis is found by the full scan', async () => {
  const stack = await startStack();
  try {
    await stack.redis.command('HSET', 'leak:test', 'body', Buffer.concat([Buffer.from([0, 255]), Buffer.from(secret)]));
    await stack.redis.command('RPUSH', 'leak:list', Buffer.from(secret).toString('base64'));
    const { keys, bytes } = await stack.redis.dumpAll();
    assert.ok(keys.includes('leak:test') && keys.includes('leak:list'));
    assert.ok(containsSecret(bytes, secret));
    await stack.redis.command('DEL', 'leak:test', 'leak:list');
    assert.ok(!containsSecret((await stack.redis.dumpAll()).bytes, secret));
  } finally {
    await stack.stop();
  }
});
