// mocked.test.mjs — the consoles' moderation paths in headless Chromium against a scripted
// WebSocket (Playwright routeWebSocket), with the other parties' crypto done in Node by
// /lib/e2e.js: the peer's identity/prekeys (signatures checked), intake highlight, escalation
// with a sealed excerpt (opened here), consult + reply, a moderator joining (three copies);
// the moderator's duty, ordering, timers, re-page, excerpt opening, acknowledge, join (its
// copies decrypted here), resolve, ban, consult replies. Static files come from a real server
// (the built one predates the moderation messages, so the WebSocket is scripted). Also the
// seeker's retry of a request_match answered `unavailable` (same key; `conflict` = queued).
// Run: node web/test/browser/run.mjs mocked.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, DESKTOP, PHONE, loginThroughForm, seriousViolations,
  describeViolations, consoleProblems, waitFor, flow, PEER, MODERATOR,
} from './harness.mjs';
import * as e2e from '../../lib/e2e.js';

// STAFF_SHOTS=<dir>: also save screenshots there, to look at the layout (the README's come from
// web/test/browser).
const shot = (page, name) => (process.env.STAFF_SHOTS ? page.screenshot({ path: `${process.env.STAFF_SHOTS}/${name}.png`, fullPage: true }) : null);

const ALARM = 'I am going to kill myself tonight kz71';
const INTAKE = 'I want to end it all tonight, I have pills ready in41';
const CONSULT = 'should I escalate this now cq19';
const CONSULT_REPLY = 'yes, escalate and stay with them cr64';
const MOD_SAYS = 'moderator joining to help mq55';
const PEER_SAYS = 'peer writes to both pw33';

// A scripted server: answers what `handlers[type]` says (default: a plain ok), records every
// frame, and can push events.
async function scriptedServer(page, role, handlers = {}) {
  const srv = { frames: [], socket: null, push: (f) => srv.socket?.send(JSON.stringify(f)) };
  srv.of = (type) => srv.frames.filter((f) => f.type === type);
  await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
    srv.socket = ws;
    ws.onMessage((raw) => {
      const f = JSON.parse(raw);
      srv.frames.push(f);
      const ok = (extra = {}) => { if (f.id !== undefined) ws.send(JSON.stringify({ type: 'ok', re: f.id, ...extra })); };
      const err = (code, message = code) => ws.send(JSON.stringify({ type: 'error', re: f.id, code, message }));
      if (f.type === 'hello') return ok({ session: 's1', role, resume_token: 'resume-1', conversations: [] });
      if (f.type === 'ping') return ws.send('{"type":"pong"}');
      if (f.type === 'sync') return ok({ offset: 0, recovered: true });
      const h = handlers[f.type];
      if (h) return h(f, ok, err);
      return ok();
    });
  });
  return srv;
}

test('moderation paths of both consoles, scripted server', { timeout: 180_000 }, async (t) => {
  const stack = await startStack();
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await stack.stop(); });
  const step = flow(t);

  // ---- the peer console ----
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const peer = await newPage(peerCtx);
  peer.on('dialog', (d) => d.accept());
  const modWatch = e2e.kxKeyPair(); // a moderator on duty, in Node
  const seekerKp = e2e.kxKeyPair();
  let identityPub;
  let seekerCrypto;
  let offset = 0;
  const psrv = await scriptedServer(peer, 'peer', {
    register_identity: (f, ok) => { identityPub = f.identity_key; ok(); },
    prekeys: (f, ok, err) => {
      for (const k of f.keys) if (!e2e.verifyPrekey(k.prekey, k.signature, identityPub)) return err('bad_message', 'keys[0].signature: bad');
      return ok({ verified: f.keys.length, remaining: f.keys.length });
    },
    shift_start: (f, ok) => { ok(); psrv.push({ type: 'shift', state: 'on', active: 0, capacity: f.capacity }); },
    moderator_keys: (f, ok) => ok({ keys: [{ moderator_id: 'm1', pubkey: e2e.toBase64(modWatch.publicKey) }] }),
    escalate: (f, ok) => ok({ escalation_id: 'e1' }),
    consult: (f, ok) => ok({ consult_id: 'k1' }),
    send: (f, ok) => { offset += 1; ok({ offset }); },
  });
  const seekerSays = (text) => {
    seekerCrypto.seq = (seekerCrypto.seq ?? 0) + 1;
    const copy = seekerCrypto.encrypt(seekerCrypto.seq, text).find((c) => c.to === 'peer');
    offset += 1;
    psrv.push({ type: 'message', conversation_id: 'c9', offset, from: 'seeker', seq: seekerCrypto.seq, nonce: copy.nonce, ciphertext: copy.ciphertext, sent_at: Date.now() });
    return offset;
  };
  const panel = peer.locator('[role=tabpanel][data-conversation="c9"]');

  await step('peer: identity registered, prekeys signed by it, shift on', async () => {
    await peer.goto('/staff');
    await loginThroughForm(peer, PEER);
    await waitFor(() => psrv.of('prekeys').length > 0, { what: 'a prekeys upload' });
    assert.equal(e2e.fromBase64(identityPub).length, 32);
    await peer.locator('input[name=shift-tag][value=grief]').check();
    await peer.locator('#shift-start').click();
    await peer.locator('#shift-pause:enabled').waitFor();
    psrv.push({ type: 'prekeys_low', remaining: 1 });
    await waitFor(() => psrv.of('prekeys').length > 1, { what: 'a top-up after prekeys_low' });
    assert.equal(psrv.of('prekeys')[1].keys.length, 20);
  });

  await step('peer: matched with an alarming intake, marks and a suggestion', async () => {
    const k = psrv.of('prekeys')[0].keys[0];
    seekerCrypto = e2e.ConversationCrypto.forSeeker('c9', seekerKp, { prekey: k.prekey, identity_key: identityPub, signature: k.signature });
    psrv.push({
      type: 'matched', conversation_id: 'c9', prekey: k.prekey, intake: INTAKE,
      seeker: { pubkey: e2e.toBase64(seekerKp.publicKey), tags: ['grief'], shared_tags: ['grief'], waited_s: 75, risk: 'imminent' },
    });
    await panel.waitFor({ state: 'visible' });
    assert.equal((await panel.locator('.waited').textContent()).trim(), '1:15');
    assert.ok((await panel.locator('.intake mark').count()) > 0, 'the intake has a highlight');
    assert.equal((await panel.locator('.safety-code').textContent()).replace(/\s/g, ''), seekerCrypto.safetyCode());
    const o = seekerSays(ALARM);
    const li = panel.locator(`li.msg.theirs[data-offset="${o}"]`);
    await li.waitFor();
    assert.equal((await li.locator('.text').textContent()), ALARM);
    assert.match(await li.locator('mark').first().textContent(), /kill myself/);
    await panel.locator('.suggest').waitFor({ state: 'visible' });
    await waitFor(() => psrv.of('receipt').some((r) => r.offset === o), { what: 'a read receipt' });
  });

  await step('peer: escalate seals the chosen message for the moderator on duty', async () => {
    await panel.locator('.suggest-escalate').click();
    await peer.locator('#escalate-dialog[open]').waitFor();
    await waitFor(async () => !(await peer.locator('#escalate-dialog input[name=excerpt]').first().isDisabled()), { what: 'keys loaded' });
    const v = await seriousViolations(peer);
    assert.equal(v.length, 0, describeViolations(v));
    await shot(peer, 'staff-escalate');
    await peer.locator('#escalate-note').fill('please look now');
    await peer.locator('#escalate-confirm').click();
    await peer.locator('#escalate-dialog').waitFor({ state: 'hidden' });
    const f = psrv.of('escalate')[0];
    assert.equal(f.conversation_id, 'c9');
    assert.equal(f.level, 'imminent');
    assert.equal(f.category, 'suicide_risk');
    assert.equal(f.note, 'please look now');
    assert.equal(f.excerpts.length, 1);
    const content = e2e.openExcerpt(modWatch, f.excerpts[0].sealed);
    assert.deepEqual(content, { conversation_id: 'c9', messages: [{ offset: 1, from: 'seeker', text: ALARM }] });
  });

  await step('peer: consult sealed to the moderator, reply opened with the consult key', async () => {
    await panel.locator('.consult').click();
    await peer.locator('#consult-text').fill(CONSULT);
    await peer.locator('#consult-send').click();
    await peer.locator('#consult-dialog').waitFor({ state: 'hidden' });
    const f = psrv.of('consult')[0];
    assert.equal(e2e.openText(modWatch, f.copies[0].sealed), CONSULT);
    psrv.push({ type: 'consult_reply', consult_id: 'k1', moderator: 'Harbor', sealed: e2e.sealText(f.pubkey, CONSULT_REPLY), sent_at: Date.now() });
    await waitFor(async () => (await panel.locator('.consult-replies').textContent()).includes(CONSULT_REPLY), { what: 'the reply' });
  });

  await step('peer: a moderator joins; sends carry a copy each for seeker and moderator', async () => {
    const modKp = e2e.kxKeyPair();
    const k = psrv.of('prekeys')[0].keys[0];
    const modCrypto = e2e.ConversationCrypto.forModerator('c9', modKp, e2e.toBase64(seekerKp.publicKey), k.prekey);
    psrv.push({ type: 'joined', conversation_id: 'c9', moderator: { alias: 'Harbor', pubkey: e2e.toBase64(modKp.publicKey) } });
    await panel.locator('li.system', { hasText: 'Harbor' }).waitFor();
    await panel.locator('.composer').fill(PEER_SAYS);
    await panel.locator('.send').click();
    await waitFor(() => psrv.of('send').some((s) => s.copies.length === 2), { what: 'a send with two copies' });
    const s = psrv.of('send').find((x) => x.copies.length === 2);
    const toMod = s.copies.find((c) => c.to === 'moderator');
    const toSeeker = s.copies.find((c) => c.to === 'seeker');
    assert.equal(modCrypto.decrypt({ conversation_id: 'c9', from: 'peer', seq: s.seq, ...toMod }), PEER_SAYS);
    assert.equal(seekerCrypto.decrypt({ conversation_id: 'c9', from: 'peer', seq: s.seq, ...toSeeker }), PEER_SAYS);
    await panel.locator('li.msg.mine[data-offset]').waitFor();
    await shot(peer, 'staff-conversation');
    psrv.push({ type: 'receipt', conversation_id: 'c9', offset: s.seq + 1, from: 'seeker' });
  });

  await step('peer: transfer and block are sent; ended closes the composer', async () => {
    await panel.locator('.block').click();
    await waitFor(() => psrv.of('block').length === 1, { what: 'block' });
    await panel.locator('.transfer').click();
    await waitFor(() => psrv.of('transfer').length === 1, { what: 'transfer' });
    psrv.push({ type: 'ended', conversation_id: 'c9', by: 'peer', reason: 'transfer' });
    await panel.locator('.close-tab').waitFor({ state: 'visible' });
    assert.ok(await panel.locator('.composer').isDisabled());
    assert.deepEqual(consoleProblems(peerCtx, [ALARM, INTAKE, CONSULT, CONSULT_REPLY, PEER_SAYS]), []);
  });

  // ---- the moderator console ----
  const modCtx = await newContext(browser, stack, DESKTOP);
  const mod = await newPage(modCtx);
  mod.on('dialog', (d) => d.accept());
  let watchPub;
  const seekerKp2 = e2e.kxKeyPair();
  const peerPrekey = e2e.kxKeyPair();
  const peerId = e2e.identityKeyPair();
  let seeker2;
  let joinPub;
  const now = Date.now();
  const esc = (over) => ({
    id: 'e1', conversation_id: 'c7', level: 'imminent', category: 'suicide_risk', source: 'peer', state: 'open',
    created_at: now - 65_000, acknowledged_by: null, repaged: 0, excerpts: [], note: 'please look now', peer: 'test-peer', ...over,
  });
  const msrv = await scriptedServer(mod, 'moderator', {
    watch: (f, ok) => {
      watchPub = f.pubkey;
      ok();
      const sealed = e2e.sealExcerpt(watchPub, { conversation_id: 'c7', messages: [{ offset: 3, from: 'seeker', text: ALARM }] });
      msrv.push({ type: 'escalation', escalation: esc({ id: 'e0', level: 'low', category: 'other', source: 'seeker', conversation_id: null, created_at: now - 500_000, note: null }) });
      msrv.push({ type: 'escalation', escalation: esc({ excerpts: [{ moderator_id: 'm1', sealed }] }) });
    },
    acknowledge: (f, ok) => { ok(); msrv.push({ type: 'escalation', escalation: esc({ state: 'acknowledged', acknowledged_by: 'test-moderator', excerpts: [] }) }); },
    resolve: (f, ok) => { ok(); msrv.push({ type: 'escalation', escalation: esc({ state: 'resolved', acknowledged_by: 'test-moderator', outcome: f.outcome }) }); },
    join: (f, ok) => {
      joinPub = f.pubkey;
      ok({ seeker_pubkey: e2e.toBase64(seekerKp2.publicKey), peer_prekey: e2e.toBase64(peerPrekey.publicKey) });
      seeker2 = e2e.ConversationCrypto.forSeeker('c7', seekerKp2, {
        prekey: peerPrekey.publicKey, identity_key: peerId.publicKey, signature: e2e.signPrekey(peerPrekey.publicKey, peerId.privateKey),
      });
      seeker2.addModerator(joinPub);
    },
    send: (f, ok) => ok({ offset: 12 }),
    consult_reply: (f, ok) => ok(),
    ban: (f, ok) => ok(),
  });
  const item = mod.locator('#escalations li.escalation[data-id="e1"]');

  await step('moderator: off duty until the toggle; watch replays escalations, most urgent first', async () => {
    await mod.goto('/moderation');
    await loginThroughForm(mod, MODERATOR);
    assert.equal(await mod.locator('#duty-toggle').getAttribute('aria-pressed'), 'false');
    assert.equal(msrv.of('watch').length, 0);
    await mod.locator('#duty-toggle').click();
    await mod.locator('#duty-toggle[aria-pressed=true]').waitFor();
    await item.waitFor();
    const ids = await mod.locator('#escalations li.escalation').evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.deepEqual(ids, ['e1', 'e0']);
    assert.match((await item.locator('.age').textContent()).trim(), /^1:0\d$/);
    const age = await item.locator('.age').textContent();
    await waitFor(async () => (await item.locator('.age').textContent()) !== age, { timeoutMs: 3000, what: 'the timer' });
    await waitFor(async () => (await item.locator('.excerpts').textContent()).includes(ALARM), { what: 'the opened excerpt' });
    assert.ok(await mod.locator('#escalations li[data-id="e0"] .join').isDisabled(), 'no conversation to join yet');
    const v = await seriousViolations(mod);
    assert.equal(v.length, 0, describeViolations(v));
  });

  await step('moderator: a re-page updates the count', async () => {
    msrv.push({ type: 'escalation', escalation: esc({ repaged: 1, excerpts: [] }) });
    await waitFor(async () => (await item.locator('.repaged').textContent()).trim() === '1', { what: 're-paged 1' });
  });

  await step('moderator: acknowledge', async () => {
    await item.locator('.ack').click();
    await waitFor(async () => (await item.getAttribute('data-state')) === 'acknowledged', { what: 'acknowledged' });
    assert.equal(msrv.of('acknowledge')[0].escalation_id, 'e1');
    assert.ok(await item.locator('.ack').isDisabled());
  });

  await step('moderator: join — reads the seeker, writes to both', async () => {
    await item.locator('.join').click();
    const joined = mod.locator('#joined [data-conversation="c7"]');
    await joined.waitFor();
    const copy = seeker2.encrypt(1, 'seeker after join').find((c) => c.to === 'moderator');
    msrv.push({ type: 'message', conversation_id: 'c7', offset: 11, from: 'seeker', seq: 1, ...copy, sent_at: Date.now() });
    await waitFor(async () => (await joined.locator('li.msg.theirs .text').allTextContents()).includes('seeker after join'), { what: 'the seeker at the moderator' });
    await joined.locator('.composer').fill(MOD_SAYS);
    await joined.locator('.send').click();
    await waitFor(() => msrv.of('send').length === 1, { what: 'the send' });
    const s = msrv.of('send')[0];
    assert.deepEqual(s.copies.map((c) => c.to).sort(), ['peer', 'seeker']);
    const c = s.copies.find((x) => x.to === 'seeker');
    assert.equal(seeker2.decrypt({ conversation_id: 'c7', from: 'moderator', seq: s.seq, nonce: c.nonce, ciphertext: c.ciphertext }), MOD_SAYS);
    await joined.locator('li.msg.mine[data-offset="12"]').waitFor();
    await shot(mod, 'moderation-joined');
  });

  await step('moderator: consult and sealed reply', async () => {
    const consultKp = e2e.kxKeyPair();
    msrv.push({ type: 'consult', consult_id: 'k5', conversation_id: 'c7', peer: 'test-peer', pubkey: e2e.toBase64(consultKp.publicKey), sealed: e2e.sealText(watchPub, CONSULT), sent_at: Date.now() });
    const c = mod.locator('#consults li.consult[data-id="k5"]');
    await waitFor(async () => (await c.locator('.text').first().textContent()) === CONSULT, { what: 'the consult' });
    await c.locator('.reply-text').fill(CONSULT_REPLY);
    await c.locator('.reply').click();
    await waitFor(() => msrv.of('consult_reply').length === 1, { what: 'consult_reply' });
    assert.equal(e2e.openText(consultKp, msrv.of('consult_reply')[0].sealed), CONSULT_REPLY);
    await shot(mod, 'moderation-consult');
  });

  await step('moderator: resolve needs an outcome; ban sends party and duration', async () => {
    await item.locator('.resolve').click();
    assert.equal(msrv.of('resolve').length, 0);
    await item.locator('select.outcome').selectOption('referred');
    await item.locator('.resolve').click();
    await waitFor(async () => (await item.getAttribute('data-state')) === 'resolved', { what: 'resolved' });
    assert.equal(msrv.of('resolve')[0].outcome, 'referred');
    const ids = await mod.locator('#escalations li.escalation').evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.deepEqual(ids, ['e0', 'e1'], 'resolved ones go last');
    await item.locator('select.ban-party').selectOption('peer');
    await item.locator('select.ban-duration').selectOption('604800');
    await item.locator('.ban').click();
    await waitFor(() => msrv.of('ban').length === 1, { what: 'ban' });
    assert.deepEqual(msrv.of('ban')[0], { ...msrv.of('ban')[0], conversation_id: 'c7', party: 'peer', duration_s: 604800 });
  });

  await step('moderator: off duty with unwatch; Spanish; nothing logged', async () => {
    await mod.locator('#duty-toggle').click();
    await mod.locator('#duty-toggle[aria-pressed=false]').waitFor();
    assert.equal(msrv.of('unwatch').length, 1);
    await mod.locator('#lang-select').selectOption('es');
    await waitFor(async () => (await mod.locator('#duty-toggle').textContent()) === 'Entrar de guardia', { what: 'Spanish' });
    const v = await seriousViolations(mod);
    assert.equal(v.length, 0, describeViolations(v));
    assert.deepEqual(consoleProblems(modCtx, [ALARM, CONSULT, CONSULT_REPLY, MOD_SAYS]), []);
  });
});

// A request_match answered `unavailable` may still have been queued when Redis came back (its
// answer had timed out first). The seeker's retry must carry the same key, take `conflict`
// ("already queued") as "you are waiting", and open the conversation the late request gets —
// before this, the retry made a fresh key pair and the match that followed could not be opened.
test('seeker: a request answered unavailable and queued late still opens its match', { timeout: 120_000 }, async (t) => {
  const stack = await startStack();
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await stack.stop(); });
  const step = flow(t);
  const ctx = await newContext(browser, stack, PHONE);
  const seeker = await newPage(ctx);
  const PEER_WRITES = 'I am here with you pk27';
  const srv = await scriptedServer(seeker, 'seeker', {
    request_match: (f, ok, err) => (srv.of('request_match').length === 1 ? err('unavailable', 'try again') : err('conflict', 'already queued')),
  });

  await step('the first request is refused with unavailable and the seeker asks again', async () => {
    await seeker.goto('/');
    await seeker.locator('#start').click();
    await seeker.locator('input[name=tag][value=grief]').check();
    await seeker.locator('#request').click();
    await seeker.locator('#topics-error').waitFor({ state: 'visible' });
    await seeker.locator('#request:enabled').click();
    await seeker.locator('#waiting').waitFor({ state: 'visible' });
    const [first, retry] = srv.of('request_match');
    assert.ok(retry, 'a second request_match');
    assert.equal(retry.pubkey, first.pubkey, 'the retry carries the key the queued request holds');
  });

  await step('the late match opens and the peer\'s message decrypts', async () => {
    const identity = e2e.identityKeyPair();
    const prekey = e2e.kxKeyPair();
    const prekeyB64 = e2e.toBase64(prekey.publicKey);
    const peerCrypto = e2e.ConversationCrypto.forPeer('c5', prekey, identity.publicKey, e2e.fromBase64(srv.of('request_match')[0].pubkey));
    srv.push({
      type: 'matched', conversation_id: 'c5', relaxed: false,
      peer: { alias: 'River', tags: ['grief'], shared_tags: ['grief'], prekey: prekeyB64, identity_key: e2e.toBase64(identity.publicKey), signature: e2e.signPrekey(prekeyB64, identity.privateKey) },
    });
    await seeker.locator('#chat').waitFor({ state: 'visible' });
    const copy = peerCrypto.encrypt(1, PEER_WRITES).find((c) => c.to === 'seeker');
    srv.push({ type: 'message', conversation_id: 'c5', offset: 1, from: 'peer', seq: 1, nonce: copy.nonce, ciphertext: copy.ciphertext, sent_at: Date.now() });
    await waitFor(async () => (await seeker.locator('#messages li.msg.theirs').allTextContents()).some((x) => x.includes(PEER_WRITES)),
      { what: "the peer's message, decrypted" });
    assert.deepEqual(consoleProblems(ctx, [PEER_WRITES]), []);
  });
});
