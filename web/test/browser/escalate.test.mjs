// escalate.test.mjs — a peer escalates with an excerpt sealed to the moderator on duty; the
// moderator console opens it, acknowledges, joins the conversation and all three talk; the
// peer's private "ask a moderator" channel gets an answer. Nothing of it is in Redis in clear.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, DESKTOP, PEER, MODERATOR,
  seriousViolations, describeViolations, consoleProblems, screenshot, loginThroughForm,
  containsSecret, flow, expectMessages, waitFor,
} from './harness.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const ALARM = 'I cannot sleep and some nights I want to die.';
const CALM = 'Sorry, that came out heavier than I meant.';
const PEER_SAYS = 'Thank you for telling me. I am right here with you.';
const MOD_SAYS = 'Hello, I am a moderator and I am joining to help.';
const AFTER_JOIN = 'Okay. Thank you both.';
const QUESTION = 'They mentioned wanting to die; is a safety plan the right next step?';
const ANSWER = 'Yes. Stay with them; I am joining now.';
const secrets = [ALARM, CALM, PEER_SAYS, MOD_SAYS, AFTER_JOIN, QUESTION, ANSWER];

async function axeClean(page) {
  const v = await seriousViolations(page);
  assert.equal(v.length, 0, describeViolations(v));
}

test('escalation with a sealed excerpt, a moderator joins, and a peer asks a moderator', async (t) => {
  const modCtx = await newContext(browser, stack, DESKTOP);
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const seekerCtx = await newContext(browser, stack, PHONE);
  const [mod, peer, seeker] = [await newPage(modCtx), await newPage(peerCtx), await newPage(seekerCtx)];
  for (const p of [mod, peer, seeker]) p.on('dialog', (d) => d.accept());
  const step = flow(t, { moderator: mod, peer, seeker });
  let convId;
  let panel;
  let item;

  try {
    await step('moderator on duty, peer on shift, seeker matched', async () => {
      await mod.goto('/moderation');
      await loginThroughForm(mod, MODERATOR);
      const off = (await mod.locator('#duty-toggle').textContent()).trim();
      await mod.locator('#duty-toggle').click();
      await waitFor(async () => (await mod.locator('#duty-toggle').textContent()).trim() !== off,
        { what: '#duty-toggle to show the moderator on duty' });

      await peer.goto('/staff');
      await loginThroughForm(peer, PEER);
      await peer.locator('input[name=shift-tag][value=grief]').check();
      await peer.locator('input[name=shift-lang][value=en]').check();
      await peer.locator('#shift-start').click();
      await peer.locator('#shift-pause:enabled').waitFor();

      await seeker.goto('/');
      await seeker.locator('#start').click();
      await seeker.locator('input[name=tag][value=grief]').check();
      await seeker.locator('#request').click();
      await seeker.locator('#chat').waitFor({ state: 'visible' });
      const tab = peer.locator('[role=tab][data-conversation]').first();
      await tab.waitFor();
      convId = await tab.getAttribute('data-conversation');
      await tab.click();
      panel = peer.locator(`[role=tabpanel][data-conversation="${convId}"]`);
      for (const text of [ALARM, CALM]) {
        await seeker.locator('#composer').fill(text);
        await seeker.locator('#send').click();
      }
      await expectMessages(panel.locator('.messages'), [ALARM, CALM], '.theirs');
    });

    await step('the peer escalates, sharing only the alarming message', async () => {
      await panel.locator('.escalate').click();
      const dialog = peer.locator('#escalate-dialog');
      await dialog.waitFor({ state: 'visible' });
      const boxes = dialog.locator('input[name=excerpt]');
      await waitFor(async () => (await boxes.count()) >= 2, { what: 'a checkbox per message' });
      const alarmBox = dialog.locator('li, label').filter({ hasText: ALARM }).locator('input[name=excerpt]').first();
      await alarmBox.check();
      const calmBox = dialog.locator('li, label').filter({ hasText: CALM }).locator('input[name=excerpt]').first();
      if (await calmBox.isChecked()) await calmBox.uncheck();
      await screenshot(peer, 'staff-escalate-dialog');
      await axeClean(peer);
      await peer.locator('#escalate-confirm').click();
      await dialog.waitFor({ state: 'hidden' });
    });

    await step('the moderator console opens the sealed excerpt, and only it', async () => {
      item = mod.locator('#escalations li.escalation').first();
      await item.waitFor({ state: 'visible' });
      await waitFor(async () => (await item.locator('.excerpts').textContent()).includes(ALARM),
        { what: 'the decrypted excerpt on the moderator console' });
      assert.ok(!(await item.locator('.excerpts').textContent()).includes(CALM), 'an excerpt the peer did not choose was shared');
      await screenshot(mod, 'moderation-excerpt');
      await axeClean(mod);
      const { bytes } = await stack.redis.dumpAll();
      for (const s of secrets) assert.ok(!containsSecret(bytes, s), 'a message or excerpt is stored in Redis in the clear');
    });

    await step('the moderator acknowledges and joins; all three read each other', async () => {
      await item.locator('.ack').click();
      await item.locator('.join:enabled').click();
      const joined = mod.locator(`#joined [data-conversation="${convId}"]`);
      await joined.waitFor({ state: 'visible' });
      await joined.locator('.composer').fill(MOD_SAYS);
      await joined.locator('.send').click();
      await expectMessages(seeker.locator('#messages'), [MOD_SAYS], '.theirs');
      await expectMessages(panel.locator('.messages'), [ALARM, CALM, MOD_SAYS], '.theirs');

      await panel.locator('.composer').fill(PEER_SAYS);
      await panel.locator('.send').click();
      await expectMessages(seeker.locator('#messages'), [MOD_SAYS, PEER_SAYS], '.theirs');
      await seeker.locator('#composer').fill(AFTER_JOIN);
      await seeker.locator('#send').click();
      await waitFor(async () => (await joined.locator('li.msg .text').allTextContents()).map((s) => s.trim()).includes(AFTER_JOIN),
        { what: "the seeker's message on the moderator's screen" });
      await expectMessages(panel.locator('.messages'), [ALARM, CALM, MOD_SAYS, AFTER_JOIN], '.theirs');
      await screenshot(mod, 'moderation-joined');
      await screenshot(seeker, 'seeker-moderator-joined');
    });

    await step('the peer asks a moderator privately and gets the answer', async () => {
      await panel.locator('.consult').click();
      await peer.locator('#consult-dialog').waitFor({ state: 'visible' });
      await peer.locator('#consult-text').fill(QUESTION);
      await peer.locator('#consult-send').click();
      const consult = mod.locator('#consults li').filter({ hasText: QUESTION }).first();
      await consult.waitFor({ state: 'visible' });
      await consult.locator('textarea').fill(ANSWER);
      await consult.locator('.reply').click();
      await waitFor(async () => (await panel.locator('.consult-replies').textContent()).includes(ANSWER),
        { what: "the moderator's answer in the peer console" });
      const seekerSees = await seeker.locator('body').textContent();
      assert.ok(!seekerSees.includes(QUESTION) && !seekerSees.includes(ANSWER), 'the seeker saw the private consult');
    }, { soft: true });

    await step('markup in a message is shown as text on every screen, never parsed', async () => {
      const html = '<img src="/x.png" alt="x"> <b>not bold</b> <a href="/">link</a>';
      await seeker.locator('#composer').fill(html);
      await seeker.locator('#send').click();
      const joined = mod.locator(`#joined [data-conversation="${convId}"]`);
      for (const root of [panel.locator('.messages'), joined]) {
        await waitFor(async () => (await root.locator('li.msg .text').allTextContents()).some((x) => x.trim() === html),
          { what: 'the markup shown as text' });
        assert.equal(await root.locator('li.msg .text img, li.msg .text b, li.msg .text a').count(), 0, 'message markup was parsed');
      }
      await panel.locator('.composer').fill(html);
      await panel.locator('.send').click();
      await waitFor(async () => (await seeker.locator('#messages li.msg.theirs .text').allTextContents()).some((x) => x.trim() === html),
        { what: 'the markup shown as text to the seeker' });
      assert.equal(await seeker.locator('#messages li.msg .text img, #messages li.msg .text b, #messages li.msg .text a').count(), 0,
        'message markup was parsed');
    }, { soft: true });

    await step('nothing in Redis in the clear; no page threw, broke its CSP or logged text', async () => {
      const { bytes } = await stack.redis.dumpAll();
      for (const s of secrets) assert.ok(!containsSecret(bytes, s), 'a text is stored in Redis in the clear');
      for (const ctx of [modCtx, peerCtx, seekerCtx]) assert.deepEqual(consoleProblems(ctx, secrets), []);
    });
  } finally {
    for (const ctx of [seekerCtx, peerCtx, modCtx]) await ctx.close();
  }
});
