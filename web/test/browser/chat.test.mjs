// chat.test.mjs — the main flow of issue #6 in a real browser: a seeker on a phone and the
// peer console in a second context are matched by tag and talk both ways; the canary text is
// never in Redis; the seeker goes offline while the peer writes and comes back to every
// message once, in order; a reload keeps the conversation; the seeker ends and rates it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, DESKTOP, PEER,
  seriousViolations, describeViolations, consoleProblems, screenshot, loginThroughForm,
  containsSecret, flow, expectMessages, expectOrderedOffsets, waitFor,
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

// The texts read like a real chat because the screenshots go into the README. They appear
// nowhere but in what the browsers type, so finding one in Redis or on a console is a leak.
const INTAKE = 'My grandmother died last spring and the evenings are the hardest.';
const SEEKER = [
  'Hi. I was not sure this would work, but here I am.',
  'Sorry, my train went into a tunnel. I am back now.',
  'Thank you for staying with me tonight.',
  'Some nights I want to die.', // the lexicon rates this high (suicide_risk)
];
const PEER_SAYS = [
  'Hi, I am glad you reached out. I lost my grandfather two years ago, so I know a little of how this feels.',
  'Evenings were the worst for me too.',
  'Take your time, there is no rush at all.',
  'I am still here whenever you are ready.',
  'Would it help to tell me a little about her?',
];
const S = (n) => SEEKER[n - 1];
const P = (n) => PEER_SAYS[n - 1];
const secrets = () => [INTAKE, ...SEEKER, ...PEER_SAYS];

async function axeClean(page) {
  const v = await seriousViolations(page);
  assert.equal(v.length, 0, describeViolations(v));
}

async function redisHasNoSecret() {
  const { keys, bytes } = await stack.redis.dumpAll();
  assert.ok(keys.length > 0, 'the Redis scan found no keys at all');
  for (const s of secrets()) assert.ok(!containsSecret(bytes, s), 'a message or intake text is stored in Redis in the clear');
  return { keys, bytes };
}

test('seeker and peer are matched by tag, talk, survive going offline and a reload', async (t) => {
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const seekerCtx = await newContext(browser, stack, PHONE);
  const peer = await newPage(peerCtx);
  const seeker = await newPage(seekerCtx);
  // A confirm() before ending or leaving must not be dismissed by the test browser.
  for (const p of [peer, seeker]) p.on('dialog', (d) => d.accept());
  const step = flow(t, { seeker, peer });
  let convId;
  let panel;

  try {
    await step('the peer signs in and starts a shift for grief', async () => {
      await peer.goto('/staff');
      await loginThroughForm(peer, PEER);
      await peer.locator('#shift-start').waitFor({ state: 'visible' });
      await peer.locator('input[name=shift-tag][value=grief]').waitFor();
      await peer.locator('#shift-capacity').fill('2');
      await peer.locator('input[name=shift-tag][value=grief]').check();
      await peer.locator('input[name=shift-lang][value=en]').check();
      await peer.locator('#shift-start').click();
      // The shift is on once pause becomes possible.
      await peer.locator('#shift-pause:enabled').waitFor();
      await screenshot(peer, 'staff-shift');
    });

    await step('the seeker picks grief, writes an intake and asks', async () => {
      await seeker.goto('/');
      await seeker.locator('#start').click();
      await seeker.locator('input[name=tag][value=grief]').check();
      await seeker.locator('#intake-notice').waitFor({ state: 'visible' });
      await seeker.locator('#intake').fill(INTAKE);
      await screenshot(seeker, 'seeker-topics');
      await axeClean(seeker);
      await seeker.locator('#request').click();
    });

    await step('both sides see the match', async () => {
      await seeker.locator('#chat').waitFor({ state: 'visible' });
      const tab = peer.locator('[role=tab][data-conversation]').first();
      await tab.waitFor();
      convId = await tab.getAttribute('data-conversation');
      assert.ok(convId, 'the tab has no conversation id');
      await tab.click();
      panel = peer.locator(`[role=tabpanel][data-conversation="${convId}"]`);
      await panel.waitFor({ state: 'visible' });
      await waitFor(async () => (await panel.locator('.intake').textContent()).includes(INTAKE),
        { what: 'the intake in the peer console' });
      assert.notEqual((await panel.locator('.risk').textContent()).trim(), '', '.risk is empty');
      await panel.locator('.waited').waitFor({ state: 'attached' });
      await waitFor(async () => (await seeker.locator('#peer-alias').textContent()).includes(PEER.alias),
        { what: "the peer's alias on the seeker's screen" });
      // Matched on the tag both chose (the peer is certified for two, on shift for one).
      assert.match(await seeker.locator('#shared-tags').textContent(), /Grief and loss/);
      // 12 base32 characters, however the page groups them.
      await waitFor(async () => /^[A-Z2-7]{12}$/.test((await seeker.locator('#safety-code').textContent()).replace(/[\s-]/g, '')),
        { what: 'a 12-character base32 safety code' });
    });

    await step('messages go both ways, with typing and receipts', async () => {
      await seeker.locator('#composer').fill(S(1));
      await seeker.locator('#send').click();
      await expectMessages(panel.locator('.messages'), [S(1)], '.theirs');
      await expectMessages(seeker.locator('#messages'), [S(1)], '.mine');
      // The peer has the conversation open, so the seeker's message gets a read receipt.
      await waitFor(async () => (await seeker.locator('#messages li.msg.mine .status').first().textContent()).trim() !== '',
        { what: 'a delivery status on the seeker\'s message' });

      await panel.locator('.composer').fill(P(1));
      await seeker.locator('#typing').waitFor({ state: 'visible', timeout: 5000 });
      await panel.locator('.send').click();
      await expectMessages(seeker.locator('#messages'), [P(1)], '.theirs');
      assert.equal(await seeker.locator('#messages').getAttribute('aria-live'), 'polite');
      await screenshot(seeker, 'seeker-chat');
      await screenshot(peer, 'staff-conversation');
      await axeClean(seeker);
      await axeClean(peer);
    });

    await step('no message or intake text is stored in Redis', async () => {
      const { keys } = await redisHasNoSecret();
      assert.ok(keys.some((k) => k.includes(convId)), 'the scan did not see the conversation\'s keys');
    });

    await step('the seeker goes offline while the peer writes, and comes back to every message once', async () => {
      const online = (await seeker.locator('#conn-state').textContent()).trim();
      const logBefore = fs.readFileSync(stack.serverLog, 'utf8').length;
      await seekerCtx.setOffline(true);
      await waitFor(async () => {
        const now = (await seeker.locator('#conn-state').textContent()).trim();
        return now !== '' && now !== online && (await seeker.locator('#conn-state').isVisible());
      }, { what: '#conn-state to say the seeker is offline or reconnecting' });
      await screenshot(seeker, 'seeker-reconnecting');

      for (const n of [2, 3, 4]) {
        await panel.locator('.composer').fill(P(n));
        await panel.locator('.send').click();
        await expectMessages(panel.locator('.messages'), [P(1), ...[2, 3, 4].filter((k) => k <= n).map(P)], '.mine');
      }
      // Written while offline: kept in the outbox and sent once the connection is back.
      await seeker.locator('#composer').fill(S(2));
      await seeker.locator('#send').click();
      await expectMessages(seeker.locator('#messages'), [S(1), S(2)], '.mine');
      await seeker.waitForTimeout(500);
      await expectMessages(seeker.locator('#messages'), [P(1)], '.theirs', 1000);

      await seekerCtx.setOffline(false);
      await expectMessages(seeker.locator('#messages'), [1, 2, 3, 4].map(P), '.theirs', 40000);
      await expectMessages(panel.locator('.messages'), [S(1), S(2)], '.theirs');
      // Offline emulation in Chromium holds an open WebSocket's frames instead of breaking it;
      // a phone in a tunnel loses the connection, so the page must drop it on `offline` and
      // come back with resume + sync. The server's log shows whether it did.
      const log = fs.readFileSync(stack.serverLog, 'utf8').slice(logBefore);
      assert.match(log, /event=session_resume/, 'the seeker did not reconnect and resume (it kept the old socket)');
      await waitFor(async () => (await seeker.locator('#conn-state').textContent()).trim() === online
        || !(await seeker.locator('#conn-state').isVisible()), { what: '#conn-state back to online' });
    });

    await step('both sides show the messages in the server\'s order (data-offset)', async () => {
      // The seeker wrote S(2) before P(2..4) reached it, but the server stored it after them;
      // both screens must agree on one order, the offsets'.
      await expectOrderedOffsets(seeker.locator('#messages'));
      await expectOrderedOffsets(panel.locator('.messages'));
    }, { soft: true });

    await step('a reload keeps the conversation', async () => {
      await seeker.reload();
      await seeker.locator('#chat').waitFor({ state: 'visible' });
      await expectMessages(seeker.locator('#messages'), [1, 2, 3, 4].map(P), '.theirs');
      await expectMessages(seeker.locator('#messages'), [S(1), S(2)], '.mine');

      await seeker.locator('#composer').fill(S(3));
      await seeker.locator('#send').click();
      await expectMessages(panel.locator('.messages'), [1, 2, 3].map(S), '.theirs');
      await panel.locator('.composer').fill(P(5));
      await panel.locator('.send').click();
      await expectMessages(seeker.locator('#messages'), [1, 2, 3, 4, 5].map(P), '.theirs');
      await redisHasNoSecret();
    });

    await step('after the reload too, the seeker shows the server\'s order', async () => {
      await expectOrderedOffsets(seeker.locator('#messages'));
    }, { soft: true });

    await step('the lexicon on the device: crisis help for the seeker, a highlight for the peer', async () => {
      assert.ok(!(await seeker.locator('#crisis-hint').isVisible()), '#crisis-hint shown before anything alarming was written');
      await seeker.locator('#composer').fill(S(4));
      await seeker.locator('#send').click();
      await seeker.locator('#crisis-hint').waitFor({ state: 'visible' });
      await expectMessages(panel.locator('.messages'), [1, 2, 3, 4].map(S), '.theirs');
      await panel.locator('.messages li.msg.theirs').last().locator('mark').first().waitFor();
      await screenshot(seeker, 'seeker-crisis-hint');
      await screenshot(peer, 'staff-lexicon-highlight');
      await axeClean(seeker);
    }, { soft: true });

    await step('the peer console survives a reload: still signed in, the conversation back', async () => {
      await peer.reload();
      const tab = peer.locator(`[role=tab][data-conversation="${convId}"]`);
      await tab.waitFor();
      await tab.click();
      panel = peer.locator(`[role=tabpanel][data-conversation="${convId}"]`);
      // The seeker's messages come back by sync and decrypt with the prekey kept in IndexedDB.
      await expectMessages(panel.locator('.messages'), [1, 2, 3, 4].map(S), '.theirs');
      assert.ok(!(await peer.locator('#login-form').isVisible()), 'the reload signed the peer out');
    }, { soft: true });

    await step('the seeker ends the chat and is asked, optionally, whether it helped', async () => {
      await seeker.locator('#end').click();
      await seeker.locator('#feedback').waitFor({ state: 'visible' });
      await screenshot(seeker, 'seeker-feedback');
      await axeClean(seeker);
      await seeker.locator('#feedback button[data-rating="4"]').click();
      await seeker.locator('#feedback button[data-feeling="better"]').click();
      await seeker.locator('#feedback-send').click();
      await seeker.locator('#feedback-thanks').waitFor({ state: 'visible' });
      assert.ok(await seeker.locator('#feedback-send').isDisabled(), 'feedback is sent once');
    });

    await step('no page threw, broke its CSP, or logged a message', async () => {
      assert.deepEqual(consoleProblems(seekerCtx, secrets()), []);
      assert.deepEqual(consoleProblems(peerCtx, secrets()), []);
    });
  } finally {
    await seekerCtx.close();
    await peerCtx.close();
  }
});
