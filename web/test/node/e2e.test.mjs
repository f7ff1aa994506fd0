// e2e.test.mjs — web/lib/e2e.js against every vector of tests/vectors/e2e.json (the C++ tests use the same file).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as e2e from '../../lib/e2e.js';

const V = JSON.parse(readFileSync(new URL('../../../tests/vectors/e2e.json', import.meta.url), 'utf8'));
const b64 = e2e.toBase64;

test('keys from seeds', () => {
  for (const [name, k] of Object.entries(V.keys)) {
    const pair = name === 'peer_identity' ? e2e.identityKeyPairFromSeed(k.seed) : e2e.kxKeyPairFromSeed(k.seed);
    assert.equal(b64(pair.publicKey), k.public_key, name);
    assert.equal(b64(pair.privateKey), k.secret_key, name);
  }
});

test('prekey signature', () => {
  const p = V.prekey_signature;
  assert.equal(e2e.signPrekey(p.prekey, V.keys.peer_identity.secret_key), p.signature);
  assert.equal(e2e.verifyPrekey(p.prekey, p.signature, p.identity_key), true);
  const bad = e2e.fromBase64(p.signature); bad[0] ^= 1;
  assert.equal(e2e.verifyPrekey(p.prekey, bad, p.identity_key), false);
});

const pairOf = (pub) => Object.values(V.keys).find((k) => k.public_key === pub);

test('session keys', () => {
  for (const s of V.session_keys) {
    const c = e2e.sessionKeys(s.client, e2e.importKeyPair({ publicKey: s.client_public_key, privateKey: pairOf(s.client_public_key).secret_key }), s.server, s.server_public_key);
    const v = e2e.sessionKeys(s.server, e2e.importKeyPair({ publicKey: s.server_public_key, privateKey: pairOf(s.server_public_key).secret_key }), s.client, s.client_public_key);
    assert.deepEqual([b64(c.rx), b64(c.tx), b64(v.rx), b64(v.tx)], [s.client_rx, s.client_tx, s.server_rx, s.server_tx], `${s.client}-${s.server}`);
  }
  const own = e2e.kxKeyPair();
  assert.throws(() => e2e.sessionKeys('seeker', own, 'peer', new Uint8Array(32)), { code: 'bad_public_key' });
});

test('safety code', () => {
  const s = V.safety_code;
  assert.equal(e2e.safetyCode(s.peer_identity_key, s.seeker_pubkey), s.code);
  assert.equal(e2e.formatSafetyCode(s.code), 'IQ7B FAJJ KYTV');
});

test('messages: exact ciphertexts, and they decrypt', () => {
  for (const m of V.messages) {
    assert.equal(e2e.associatedData(m.conversation_id, m.from, m.to, m.seq), m.associated_data, m.comment);
    const json = e2e.textJson(m.text);
    assert.equal(new TextDecoder().decode(json), m.plaintext_json, m.comment);
    assert.equal(json.length, m.plaintext_length, m.comment);
    const copy = e2e.encryptCopy(m.key, m.conversation_id, m.from, m.to, m.seq, m.text, m.nonce);
    assert.deepEqual(copy, { to: m.to, nonce: m.nonce, ciphertext: m.ciphertext }, m.comment);
    assert.equal(e2e.fromBase64(m.ciphertext).length, m.padded_length + 16, m.comment);
    assert.equal(e2e.decryptCopy(m.key, m.conversation_id, m.from, m.to, m.seq, m.nonce, m.ciphertext), m.text, m.comment);
    // Any bound value changed → authentication_failed.
    assert.throws(() => e2e.decryptCopy(m.key, m.conversation_id + 'x', m.from, m.to, m.seq, m.nonce, m.ciphertext), { code: 'authentication_failed' });
    if (m.seq > 1) assert.throws(() => e2e.decryptCopy(m.key, m.conversation_id, m.from, m.to, m.seq - 1, m.nonce, m.ciphertext), { code: 'authentication_failed' });
  }
});

test('decrypt cases', () => {
  for (const d of V.decrypt_cases) {
    const run = () => e2e.decryptCopy(d.key, d.conversation_id, d.from, d.to, d.seq, d.nonce, d.ciphertext);
    if ('expect_text' in d) assert.equal(run(), d.expect_text, d.comment);
    else assert.throws(run, { code: d.expect_error }, d.comment);
  }
});

test('replay sequence through ConversationCrypto', () => {
  const r = V.replay_sequence;
  // A peer whose rx key for the seeker is the vector key: build from the vector key pairs.
  const peer = e2e.ConversationCrypto.forPeer(r.conversation_id,
    e2e.importKeyPair({ publicKey: V.keys.peer_prekey.public_key, privateKey: V.keys.peer_prekey.secret_key }),
    V.keys.peer_identity.public_key, V.keys.seeker.public_key);
  assert.equal(b64(peer.keys.seeker.rx), r.key);
  for (const d of r.deliveries) {
    const ev = { type: 'message', conversation_id: r.conversation_id, from: r.from, seq: d.seq, nonce: d.nonce, ciphertext: d.ciphertext, offset: 1 };
    if ('expect_text' in d) assert.equal(peer.decrypt(ev), d.expect_text, d.comment);
    else assert.throws(() => peer.decrypt(ev), { code: d.expect_error }, d.comment);
  }
});

test('ConversationCrypto: three parties end to end, checks in order, safety code, reload', () => {
  const id = 'c_test';
  const identity = e2e.identityKeyPair();
  const prekey = e2e.kxKeyPair();
  const seekerKeys = e2e.kxKeyPair();
  const matchedPeer = { prekey: b64(prekey.publicKey), identity_key: b64(identity.publicKey), signature: e2e.signPrekey(prekey.publicKey, identity.privateKey) };
  const seeker = e2e.ConversationCrypto.forSeeker(id, seekerKeys, matchedPeer);
  const peer = e2e.ConversationCrypto.forPeer(id, prekey, identity.publicKey, b64(seekerKeys.publicKey));
  assert.equal(seeker.safetyCode(), peer.safetyCode());
  assert.throws(() => e2e.ConversationCrypto.forSeeker(id, seekerKeys, { ...matchedPeer, signature: e2e.signPrekey(e2e.kxKeyPair().publicKey, identity.privateKey) }), { code: 'bad_signature' });

  const ev = (from, seq, copy, conv = id) => ({ type: 'message', conversation_id: conv, from, seq, nonce: copy.nonce, ciphertext: copy.ciphertext, offset: seq });
  const c1 = seeker.encrypt(1, 'hola ñ 💙');
  assert.deepEqual(c1.map((c) => c.to), ['peer']);
  assert.equal(peer.decrypt(ev('seeker', 1, c1[0])), 'hola ñ 💙');
  assert.throws(() => peer.decrypt(ev('seeker', 1, c1[0], 'other')), { code: 'wrong_conversation' });
  assert.throws(() => peer.decrypt(ev('moderator', 1, c1[0])), { code: 'bad_party' });
  assert.throws(() => peer.decrypt(ev('constructor', 1, c1[0])), { code: 'bad_party' });
  assert.throws(() => peer.decrypt(ev('seeker', 0, c1[0])), { code: 'bad_seq' });
  assert.throws(() => peer.decrypt(ev('seeker', 1, c1[0])), { code: 'replayed' });

  const modKeys = e2e.kxKeyPair();
  const mod = e2e.ConversationCrypto.forModerator(id, modKeys, seekerKeys.publicKey, prekey.publicKey);
  assert.equal(mod.safetyCode(), null);
  seeker.addModerator(b64(modKeys.publicKey));
  peer.addModerator(modKeys.publicKey);
  const c2 = peer.encrypt(1, 'two');
  assert.deepEqual(c2.map((c) => c.to), ['seeker', 'moderator']);
  assert.equal(seeker.decrypt(ev('peer', 1, c2[0])), 'two');
  assert.equal(mod.decrypt(ev('peer', 1, c2[1])), 'two');
  const c3 = mod.encrypt(1, 'three');
  assert.equal(seeker.decrypt(ev('moderator', 1, c3[0])), 'three');
  assert.equal(peer.decrypt(ev('moderator', 1, c3[1])), 'three');

  const restored = e2e.ConversationCrypto.fromJSON(JSON.parse(JSON.stringify(seeker)));
  assert.equal(restored.safetyCode(), seeker.safetyCode());
  assert.throws(() => restored.decrypt(ev('peer', 1, c2[0])), { code: 'replayed' });
  const c4 = peer.encrypt(2, 'four');
  assert.equal(restored.decrypt(ev('peer', 2, c4[0])), 'four');

  assert.throws(() => seeker.encrypt(2, 'x'.repeat(16373)), { code: 'too_long' });
  seeker.encrypt(2, 'x'.repeat(16372));
  assert.throws(() => seeker.encrypt(3, '\ud800'), { code: 'invalid_text' });
});

test('sealed excerpt and sealed text', () => {
  const x = V.sealed_excerpt;
  const kp = { publicKey: x.recipient_public_key, privateKey: x.recipient_secret_key };
  assert.equal(e2e.excerptJson(x.excerpt), x.plaintext_json);
  assert.deepEqual(e2e.openExcerpt(kp, x.sealed), x.excerpt);
  const again = e2e.sealExcerpt(x.recipient_public_key, x.excerpt);
  assert.deepEqual(e2e.openExcerpt(kp, again), x.excerpt);
  const many = e2e.sealExcerpts([{ moderator_id: 'm1', pubkey: x.recipient_public_key }], x.excerpt);
  assert.equal(many[0].moderator_id, 'm1');
  assert.deepEqual(e2e.openExcerpt(kp, many[0].sealed), x.excerpt);
  assert.throws(() => e2e.openExcerpt(e2e.kxKeyPair(), x.sealed), { code: 'authentication_failed' });
  assert.throws(() => e2e.openExcerpt(kp, e2e.sealText(x.recipient_public_key, 'hi')), { code: 'bad_plaintext' });
  assert.equal(e2e.openText(kp, e2e.sealText(x.recipient_public_key, 'una pregunta')), 'una pregunta');
});
