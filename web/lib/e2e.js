// e2e.js — end-to-end encryption exactly as client/E2E.md specifies (pinned by tests/vectors/e2e.json).
//
// Keys are Uint8Array; every function that takes a public key, nonce or ciphertext also accepts
// it as standard base64 (the wire form), so callers can pass frame fields straight through.
// Nothing here logs: texts, keys and nonces must never reach the console.
import { sodium } from './sodium.js';

// Top-level await: every export below is synchronous once this module has loaded.
const S = await sodium();

export const ROLES = ['seeker', 'peer', 'moderator'];
const ORDER = { seeker: 0, peer: 1, moderator: 2 };
// Own-property check: a hostile `from` like "constructor" must not pass as a role.
const isRole = (r) => typeof r === 'string' && Object.hasOwn(ORDER, r);
const MAX_SEQ = Number.MAX_SAFE_INTEGER; // 2^53 − 1
const PAD_BLOCK = 256;
const MAX_PADDED = 16384;
const MAX_SEALED = 49152;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Errors carry the E2E.md names in `.code` (authentication_failed, bad_padding, …). */
export class E2EError extends Error {
  constructor(code) {
    super(code);
    this.name = 'E2EError';
    this.code = code;
  }
}

// ---- base64 (standard alphabet, with padding) ----
export function toBase64(bytes) {
  return S.to_base64(bytes, S.base64_variants.ORIGINAL);
}
export function fromBase64(text) {
  return S.from_base64(text, S.base64_variants.ORIGINAL);
}
/** Uint8Array as is; a string is taken as base64. */
export function bytes(value) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return fromBase64(value);
  throw new TypeError('expected bytes or base64');
}
export function randomBytes(n) {
  return S.randombytes_buf(n);
}

// ---- keys ----
/** A fresh X25519 key pair for crypto_kx: {publicKey, privateKey} (Uint8Array). */
export function kxKeyPair() {
  const k = S.crypto_kx_keypair();
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
export function kxKeyPairFromSeed(seed) {
  const k = S.crypto_kx_seed_keypair(bytes(seed));
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
/** The peer's Ed25519 identity key pair (privateKey is the 64-byte libsodium secret key). */
export function identityKeyPair() {
  const k = S.crypto_sign_keypair();
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
export function identityKeyPairFromSeed(seed) {
  const k = S.crypto_sign_seed_keypair(bytes(seed));
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
/** Key pairs as base64 strings (for sessionStorage / IndexedDB) and back. */
export function exportKeyPair(k) {
  return { publicKey: toBase64(k.publicKey), privateKey: toBase64(k.privateKey) };
}
export function importKeyPair(o) {
  return { publicKey: bytes(o.publicKey), privateKey: bytes(o.privateKey) };
}

/** Signature (base64) of a prekey: Ed25519 over the 32 raw bytes of the prekey's public key. */
export function signPrekey(prekeyPub, identitySecret) {
  return toBase64(S.crypto_sign_detached(bytes(prekeyPub), bytes(identitySecret)));
}
export function verifyPrekey(prekeyPub, signature, identityPub) {
  try {
    return S.crypto_sign_verify_detached(bytes(signature), bytes(prekeyPub), bytes(identityPub));
  } catch {
    return false;
  }
}

/**
 * Session keys between us and one other party: the earlier role in seeker < peer < moderator is
 * the kx client. Returns {rx, tx}. A low-order / all-zero remote key → E2EError bad_public_key.
 */
export function sessionKeys(localRole, localKeys, remoteRole, remotePub) {
  if (!isRole(localRole) || !isRole(remoteRole) || localRole === remoteRole) throw new E2EError('bad_party');
  const pub = bytes(remotePub);
  if (pub.length !== 32) throw new E2EError('bad_public_key');
  try {
    const k = ORDER[localRole] < ORDER[remoteRole]
      ? S.crypto_kx_client_session_keys(localKeys.publicKey, localKeys.privateKey, pub)
      : S.crypto_kx_server_session_keys(localKeys.publicKey, localKeys.privateKey, pub);
    return { rx: k.sharedRx, tx: k.sharedTx };
  } catch {
    throw new E2EError('bad_public_key');
  }
}

// ---- one copy ----
export function associatedData(conversationId, from, to, seq) {
  return `kindred/v1|${conversationId}|${from}|${to}|${seq}`;
}

function wellFormed(s) {
  if (typeof s.isWellFormed === 'function') return s.isWellFormed();
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?:[^\ud800-\udbff]|^)[\udc00-\udfff]/.test(s);
}

/** The plaintext JSON bytes: exactly JSON.stringify({text}) as UTF-8. */
export function textJson(text) {
  if (typeof text !== 'string' || !wellFormed(text)) throw new E2EError('invalid_text');
  return utf8.encode(JSON.stringify({ text }));
}

/** Parse decrypted, unpadded bytes → text, or E2EError bad_plaintext. */
export function parseTextJson(raw) {
  let value;
  try {
    value = JSON.parse(strictUtf8.decode(raw));
  } catch {
    throw new E2EError('bad_plaintext');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new E2EError('bad_plaintext');
  if (typeof value.text !== 'string' || !wellFormed(value.text)) throw new E2EError('bad_plaintext');
  return value.text;
}

function checkSeq(seq) {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) throw new E2EError('bad_seq');
}

/** Encrypt one copy → {to, nonce, ciphertext} (base64). `nonce` only for tests (vectors). */
export function encryptCopy(txKey, conversationId, from, to, seq, text, nonce) {
  checkSeq(seq);
  const json = textJson(text);
  const padded = S.pad(json, PAD_BLOCK);
  json.fill(0);
  if (padded.length > MAX_PADDED) {
    padded.fill(0);
    throw new E2EError('too_long');
  }
  const n = nonce ? bytes(nonce) : S.randombytes_buf(S.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const ad = utf8.encode(associatedData(conversationId, from, to, seq));
  const ct = S.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, ad, null, n, bytes(txKey));
  padded.fill(0);
  return { to, nonce: toBase64(n), ciphertext: toBase64(ct) };
}

/** Decrypt one copy → text; throws E2EError authentication_failed / bad_padding / bad_plaintext. */
export function decryptCopy(rxKey, conversationId, from, to, seq, nonce, ciphertext) {
  checkSeq(seq);
  const ad = utf8.encode(associatedData(conversationId, from, to, seq));
  let padded;
  try {
    const n = bytes(nonce);
    const c = bytes(ciphertext);
    padded = S.crypto_aead_xchacha20poly1305_ietf_decrypt(null, c, ad, n, bytes(rxKey));
  } catch {
    throw new E2EError('authentication_failed');
  }
  // sodium_unpad alone accepts any length; E2E.md §4 also requires whole 256-byte blocks.
  if (padded.length === 0 || padded.length % PAD_BLOCK !== 0) throw new E2EError('bad_padding');
  let raw;
  try {
    raw = S.unpad(padded, PAD_BLOCK);
  } catch {
    padded.fill(0);
    throw new E2EError('bad_padding');
  }
  try {
    return parseTextJson(raw);
  } finally {
    padded.fill(0);
  }
}

// ---- safety code ----
/** 12 base32 characters from BLAKE2b-256(peer identity key || seeker pubkey). */
export function safetyCode(peerIdentityPub, seekerPub) {
  const a = bytes(peerIdentityPub);
  const b = bytes(seekerPub);
  const input = new Uint8Array(a.length + b.length);
  input.set(a, 0);
  input.set(b, a.length);
  const h = S.crypto_generichash(32, input);
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(h[i]);
  let code = '';
  for (let i = 0; i < 12; i++) code += BASE32[Number((v >> BigInt(59 - 5 * i)) & 31n)];
  return code;
}
/** Display form: three groups of four ("IQ7B FAJJ KYTV"). */
export function formatSafetyCode(code) {
  return code ? code.match(/.{1,4}/g).join(' ') : '';
}

// ---- a conversation ----
export class ConversationCrypto {
  /** Use the static constructors. */
  constructor(conversationId, role, ownKeys) {
    this.conversationId = conversationId;
    this.role = role;
    this.own = ownKeys;
    this.remotePubs = {}; // role → Uint8Array
    this.keys = {}; // role → {rx, tx}
    this.lastSeq = {}; // role → last accepted seq from that sender
    this.peerIdentity = null;
    this.seekerPub = null;
  }

  _add(remoteRole, pub) {
    const p = bytes(pub);
    this.keys[remoteRole] = sessionKeys(this.role, this.own, remoteRole, p);
    this.remotePubs[remoteRole] = p;
    if (!(remoteRole in this.lastSeq)) this.lastSeq[remoteRole] = 0;
  }

  /** Seeker: own = its fresh kx pair; matchedPeer = matched.peer {prekey, identity_key, signature}. */
  static forSeeker(conversationId, own, matchedPeer) {
    if (!verifyPrekey(matchedPeer.prekey, matchedPeer.signature, matchedPeer.identity_key)) {
      throw new E2EError('bad_signature');
    }
    const c = new ConversationCrypto(conversationId, 'seeker', own);
    c._add('peer', matchedPeer.prekey);
    c.peerIdentity = bytes(matchedPeer.identity_key);
    c.seekerPub = own.publicKey;
    return c;
  }

  /** Peer: the prekey pair named in matched.prekey, its identity public key, matched.seeker.pubkey. */
  static forPeer(conversationId, prekeyPair, ownIdentityPub, seekerPub) {
    const c = new ConversationCrypto(conversationId, 'peer', prekeyPair);
    c._add('seeker', seekerPub);
    c.peerIdentity = bytes(ownIdentityPub);
    c.seekerPub = bytes(seekerPub);
    return c;
  }

  /** Moderator: a fresh kx pair per join, and join ok's seeker_pubkey / peer_prekey. */
  static forModerator(conversationId, own, seekerPub, peerPrekey) {
    const c = new ConversationCrypto(conversationId, 'moderator', own);
    c._add('seeker', seekerPub);
    c._add('peer', peerPrekey);
    return c;
  }

  /** On `joined`: (re)key the moderator; its last accepted seq is kept (seq counts per sender). */
  addModerator(pub) {
    if (this.role === 'moderator') throw new E2EError('bad_party');
    this._add('moderator', pub);
  }

  /** The roles that get a copy of our sends, in wire order. */
  recipients() {
    return ROLES.filter((r) => r !== this.role && this.keys[r]);
  }

  /** One copy per other party → the `copies` array of a `send`. */
  encrypt(seq, text) {
    return this.recipients().map((to) =>
      encryptCopy(this.keys[to].tx, this.conversationId, this.role, to, seq, text));
  }

  /** A `message` event → text; E2EError with the E2E.md §4 codes, checked in that order. */
  decrypt(ev) {
    if (ev.conversation_id !== this.conversationId) throw new E2EError('wrong_conversation');
    const from = ev.from;
    if (!isRole(from) || from === this.role || !this.keys[from]) throw new E2EError('bad_party');
    checkSeq(ev.seq);
    if (ev.seq <= this.lastSeq[from]) throw new E2EError('replayed');
    const text = decryptCopy(this.keys[from].rx, this.conversationId, from, this.role, ev.seq, ev.nonce, ev.ciphertext);
    this.lastSeq[from] = ev.seq; // only a copy that passed every check moves the window
    return text;
  }

  lastAcceptedSeq(from) {
    return this.lastSeq[from] ?? 0;
  }

  /** 12 characters (seeker and peer); null for a moderator, who is never told the identity key. */
  safetyCode() {
    if (!this.peerIdentity || !this.seekerPub) return null;
    return safetyCode(this.peerIdentity, this.seekerPub);
  }

  /**
   * A plain object with base64 keys, so a tab reload can restore the conversation (sessionStorage:
   * per tab, gone when the tab closes or on quick exit). Holds secret keys: never log it.
   */
  toJSON() {
    const b = (x) => (x ? toBase64(x) : null);
    return {
      conversationId: this.conversationId,
      role: this.role,
      own: exportKeyPair(this.own),
      remotePubs: Object.fromEntries(Object.entries(this.remotePubs).map(([r, p]) => [r, b(p)])),
      lastSeq: { ...this.lastSeq },
      peerIdentity: b(this.peerIdentity),
      seekerPub: b(this.seekerPub),
    };
  }

  static fromJSON(o) {
    const c = new ConversationCrypto(o.conversationId, o.role, importKeyPair(o.own));
    for (const [r, p] of Object.entries(o.remotePubs)) c._add(r, p);
    Object.assign(c.lastSeq, o.lastSeq);
    c.peerIdentity = o.peerIdentity ? bytes(o.peerIdentity) : null;
    c.seekerPub = o.seekerPub ? bytes(o.seekerPub) : null;
    return c;
  }
}

// ---- sealed excerpts (contract §8) and sealed texts (consult channel) ----
/** Serialise an excerpt exactly as E2E.md §7 orders the members. */
export function excerptJson(content) {
  const ordered = {
    conversation_id: content.conversation_id,
    messages: content.messages.map((m) => ({ offset: m.offset, from: m.from, text: m.text })),
  };
  for (const m of ordered.messages) {
    if (!Number.isSafeInteger(m.offset) || m.offset < 1 || !isRole(m.from) || typeof m.text !== 'string' || !wellFormed(m.text)) {
      throw new E2EError('invalid_text');
    }
  }
  return JSON.stringify(ordered);
}

function seal(pub, jsonText) {
  const plain = utf8.encode(jsonText);
  if (plain.length + S.crypto_box_SEALBYTES > MAX_SEALED) throw new E2EError('too_long');
  const sealed = S.crypto_box_seal(plain, bytes(pub));
  plain.fill(0);
  return toBase64(sealed);
}

function unseal(keyPair, sealedB64) {
  let plain;
  try {
    plain = S.crypto_box_seal_open(bytes(sealedB64), bytes(keyPair.publicKey), bytes(keyPair.privateKey));
  } catch {
    throw new E2EError('authentication_failed');
  }
  try {
    return JSON.parse(strictUtf8.decode(plain));
  } catch {
    throw new E2EError('bad_plaintext');
  } finally {
    plain.fill(0);
  }
}

/** content = {conversation_id, messages:[{offset, from, text}]} → base64 crypto_box_seal. */
export function sealExcerpt(moderatorPub, content) {
  return seal(moderatorPub, excerptJson(content));
}

/** Seal one excerpt to every key of a moderator_keys ok → the `excerpts` array of escalate/report. */
export function sealExcerpts(moderatorKeys, content) {
  const json = excerptJson(content);
  return moderatorKeys.map((k) => ({ moderator_id: k.moderator_id, sealed: seal(k.pubkey, json) }));
}

export function openExcerpt(keyPair, sealedB64) {
  const v = unseal(keyPair, sealedB64);
  const ok = v && typeof v === 'object' && !Array.isArray(v) && typeof v.conversation_id === 'string'
    && Array.isArray(v.messages) && v.messages.every((m) => m && typeof m === 'object'
      && Number.isSafeInteger(m.offset) && m.offset >= 1 && isRole(m.from)
      && typeof m.text === 'string' && wellFormed(m.text));
  if (!ok) throw new E2EError('bad_plaintext');
  return { conversation_id: v.conversation_id, messages: v.messages.map((m) => ({ offset: m.offset, from: m.from, text: m.text })) };
}

/** The consult channel: {"text": …} sealed to a key (no padding, like excerpts). */
export function sealText(pub, text) {
  return seal(pub, new TextDecoder().decode(textJson(text)));
}

export function openText(keyPair, sealedB64) {
  const v = unseal(keyPair, sealedB64);
  if (!v || typeof v !== 'object' || Array.isArray(v) || typeof v.text !== 'string' || !wellFormed(v.text)) {
    throw new E2EError('bad_plaintext');
  }
  return v.text;
}
