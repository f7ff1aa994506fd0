// consoles.browser.mjs — the peer and moderator consoles in headless Chromium against a real
// server: identity + prekeys, shift, a match, safety code, lexicon highlight and escalation
// suggestion, a reload of the peer console, escalation with a sealed excerpt, acknowledge /
// resolve / ban, axe-core on both pages, Spanish.
// The seeker is driven inside a page through /lib/ (connection.js + e2e.js), so this test does
// not depend on the seeker app's UI.
// Run: node web/test/browser/run.mjs consoles.test.mjs   (needs build/dev/bin, web/node_modules)
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, DESKTOP, loginThroughForm, seriousViolations,
  describeViolations, consoleProblems, waitFor, flow, PEER, MODERATOR,
} from './harness.mjs';

const ALARM = 'honestly I am going to kill myself tonight zq81';
const REPLY = 'I hear you, I am here with you px27';
const MOD_SAYS = 'moderator here, joining to help mq55';
const CONSULT = 'is this imminent enough to escalate cq19';
const CONSULT_REPLY = 'yes, escalate and stay with them cr64';
const secrets = [ALARM, REPLY, MOD_SAYS, CONSULT, CONSULT_REPLY];

// A seeker made of /lib/ modules inside a page: request a match, then echo what it reads into
// window.seekerInbox and send on request.
async function startSeeker(page) {
  await page.goto('/neutral.html');
  await page.evaluate(async () => {
    const { KindredConnection } = await import('/lib/connection.js');
    const e2e = await import('/lib/e2e.js');
    const conn = new KindredConnection({ role: 'seeker' });
    const own = e2e.kxKeyPair();
    const s = { conn, own, crypto: null, inbox: [], seq: 0, conversationId: null, joined: null };
    window.seeker = s;
    conn.addEventListener('frame', (ev) => {
      const f = ev.detail;
      if (f.type === 'matched' && f.peer) {
        s.conversationId = f.conversation_id;
        s.crypto = e2e.ConversationCrypto.forSeeker(f.conversation_id, own, f.peer);
      } else if (f.type === 'joined') {
        s.crypto.addModerator(f.moderator.pubkey);
        s.joined = f.moderator.alias;
      } else if (f.type === 'message' && s.crypto) {
        try { s.inbox.push({ from: f.from, text: s.crypto.decrypt(f) }); } catch (e) { s.inbox.push({ from: f.from, error: e.code }); }
      } else if (f.type === 'ended') {
        s.ended = f.reason;
      }
    });
    s.send = async (text) => {
      s.seq += 1;
      return conn.sendMessage({ conversation_id: s.conversationId, seq: s.seq, copies: s.crypto.encrypt(s.seq, text) });
    };
    conn.connect();
    await conn.whenOnline();
    await conn.request({ type: 'request_match', tags: ['grief'], languages: ['en'], pubkey: e2e.toBase64(own.publicKey) });
  });
}

test('both consoles against a real server', { timeout: 180_000 }, async (t) => {
  const stack = await startStack();
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await stack.stop(); });
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const modCtx = await newContext(browser, stack, DESKTOP);
  const seekerCtx = await newContext(browser, stack);
  const peer = await newPage(peerCtx);
  const mod = await newPage(modCtx);
  const seeker = await newPage(seekerCtx);
  for (const p of [peer, mod]) p.on('dialog', (d) => d.accept());
  const step = flow(t);
  let convId;
  let panel;
  let item;

  await step('the moderator console signs in; axe-clean', async () => {
    await mod.goto('/moderation');
    await loginThroughForm(mod, MODERATOR);
    await mod.locator('#duty-toggle').waitFor();
    assert.equal(await mod.locator('#duty-toggle').getAttribute('aria-pressed'), 'false');
    const v = await seriousViolations(mod);
    assert.equal(v.length, 0, describeViolations(v));
  });

  await step('the peer signs in (identity registered, prekeys uploaded) and starts a shift', async () => {
    await peer.goto('/staff');
    await loginThroughForm(peer, PEER);
    await peer.locator('input[name=shift-tag][value=grief]').check();
    await peer.locator('input[name=shift-lang][value=en]').check();
    await peer.locator('#shift-start').click();
    await peer.locator('#shift-pause:enabled').waitFor();
    assert.equal(await peer.locator('#shift-state').getAttribute('data-state'), 'on');
    assert.ok(await peer.locator('#identity-status').isHidden(), await peer.locator('#identity-status').textContent());
    const v = await seriousViolations(peer);
    assert.equal(v.length, 0, describeViolations(v));
  });

  await step('a seeker is matched: a tab with risk, waited time and safety code', async () => {
    await startSeeker(seeker);
    const tab = peer.locator('[role=tab][data-conversation]').first();
    await tab.waitFor();
    convId = await tab.getAttribute('data-conversation');
    panel = peer.locator(`[role=tabpanel][data-conversation="${convId}"]`);
    await panel.waitFor({ state: 'visible' });
    assert.notEqual((await panel.locator('.risk').textContent()).trim(), '');
    assert.match((await panel.locator('.waited').textContent()).trim(), /^\d+:\d\d$/);
    assert.match((await panel.locator('.safety-code').textContent()).replace(/\s/g, ''), /^[A-Z2-7]{12}$/);
    const seekerCode = await seeker.evaluate(() => window.seeker.crypto.safetyCode());
    assert.equal((await panel.locator('.safety-code').textContent()).replace(/\s/g, ''), seekerCode);
  });

  await step('an alarming message is highlighted and escalation suggested; the peer replies', async () => {
    await seeker.evaluate((text) => window.seeker.send(text), ALARM);
    const msg = panel.locator('li.msg.theirs');
    await waitFor(async () => (await msg.locator('.text').allTextContents()).join('') === ALARM, { what: 'the message' });
    assert.match(await msg.locator('mark').first().textContent(), /kill myself/);
    await panel.locator('.suggest').waitFor({ state: 'visible' });
    await panel.locator('.composer').fill(REPLY);
    await panel.locator('.send').click();
    await waitFor(() => seeker.evaluate((want) => window.seeker.inbox.some((m) => m.text === want), REPLY), { what: 'the reply at the seeker' });
    await waitFor(async () => (await panel.locator('li.msg.mine .status').textContent()).trim() !== '', { what: 'a status' });
    await panel.locator('li.msg.mine[data-offset]').waitFor();
  });

  await step('a reload of the peer console keeps the conversation and reads the seeker again', async () => {
    await peer.reload();
    const tab = peer.locator(`[role=tab][data-conversation="${convId}"]`);
    await tab.waitFor();
    await tab.click();
    panel = peer.locator(`[role=tabpanel][data-conversation="${convId}"]`);
    await waitFor(async () => (await panel.locator('li.msg.theirs .text').allTextContents()).join('|').includes(ALARM), { what: 'the seeker\'s messages after reload' });
    await panel.locator('.composer').fill('after reload');
    await panel.locator('.send').click();
    await waitFor(() => seeker.evaluate(() => window.seeker.inbox.some((m) => m.text === 'after reload')), { what: 'a send after reload' });
  });

  await step('escalation reaches the moderator on duty, who acknowledges, resolves and bans', async () => {
    await mod.locator('#duty-toggle').click();
    await mod.locator('#duty-toggle[aria-pressed=true]').waitFor();
    await panel.locator('.escalate').click();
    await peer.locator('#escalate-dialog[open]').waitFor();
    await waitFor(async () => !(await peer.locator('#escalate-dialog input[name=excerpt]').first().isDisabled()), { what: 'moderator keys' });
    await peer.locator(`#escalate-dialog input[name=excerpt]`).first().check();
    await peer.locator('#escalate-confirm').click();
    await peer.locator('#escalate-dialog').waitFor({ state: 'hidden' });
    const item = mod.locator('#escalations li.escalation').first();
    await waitFor(async () => (await item.locator('.excerpts').textContent()).includes(ALARM), { what: 'the excerpt at the moderator' });
    assert.equal((await item.locator('.conversation').textContent()).trim(), convId);
    await item.locator('.ack').click();
    await waitFor(async () => (await item.getAttribute('data-state')) === 'acknowledged', { what: 'acknowledged' });
    await item.locator('select.outcome').selectOption('de_escalated');
    await item.locator('.resolve').click();
    await waitFor(async () => (await item.getAttribute('data-state')) === 'resolved', { what: 'resolved' });
    await item.locator('select.ban-party').selectOption('seeker');
    await item.locator('.ban').click();
    // The banned seeker's socket is closed (4005); the peer hears the end.
    await waitFor(async () => (await item.locator('.esc-status').textContent()).startsWith('Banned'), { what: 'the ban ok' });
    await panel.locator('.close-tab').waitFor({ state: 'visible' });
    const v = await seriousViolations(peer);
    assert.equal(v.length, 0, describeViolations(v));
  });

  await step('Spanish renders; nothing threw, broke the CSP or logged a text', async () => {
    await mod.locator('#lang-select').selectOption('es');
    await waitFor(async () => (await mod.locator('#escalations-heading').textContent()).includes('Escaladas'), { what: 'Spanish' });
    await peer.locator('#lang-select').selectOption('es');
    await waitFor(async () => (await peer.locator('#shift-heading').textContent()).includes('Turno'), { what: 'Spanish' });
    assert.deepEqual(consoleProblems(peerCtx, secrets), []);
    assert.deepEqual(consoleProblems(modCtx, secrets), []);
  });
});
