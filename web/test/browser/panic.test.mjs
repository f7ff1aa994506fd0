// panic.test.mjs — a queued seeker presses "I need urgent help now"; the moderator console
// on duty shows the escalation, acknowledges and resolves it; then the seeker's quick exit
// leaves for the neutral page and clears the tab's state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, DESKTOP, MODERATOR,
  seriousViolations, describeViolations, consoleProblems, screenshot, loginThroughForm,
  flow, waitFor,
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

async function axeClean(page) {
  const v = await seriousViolations(page);
  assert.equal(v.length, 0, describeViolations(v));
}

// The escalation records in Redis (moderation/README.md: `esc:<E>` hashes, under the store's
// key prefix, "mod:{mod}:" today), by id → fields.
async function escalations() {
  const out = {};
  for (const key of (await stack.redis.command('KEYS', '*esc:*')).map(String)) {
    const m = /(?:^|:)esc:([^:]+)$/.exec(key);
    if (!m || m[1] === 'open' || m[1] === 'due') continue;
    const flat = (await stack.redis.command('HGETALL', key)).map(String);
    const h = {};
    for (let i = 0; i < flat.length; i += 2) h[flat[i]] = flat[i + 1];
    out[m[1]] = h;
  }
  return out;
}

test('the panic button reaches the moderator, who acknowledges and resolves; quick exit clears the tab', async (t) => {
  const modCtx = await newContext(browser, stack, DESKTOP);
  const seekerCtx = await newContext(browser, stack, PHONE);
  const mod = await newPage(modCtx);
  const seeker = await newPage(seekerCtx);
  for (const p of [mod, seeker]) p.on('dialog', (d) => d.accept());
  const step = flow(t, { seeker, moderator: mod });
  let escId;
  let item;

  try {
    await step('the moderator signs in and goes on duty', async () => {
      await mod.goto('/moderation');
      await loginThroughForm(mod, MODERATOR);
      await mod.locator('#duty-toggle').waitFor({ state: 'visible' });
      await mod.locator('#alert-setting').waitFor({ state: 'attached' });
      await mod.locator('#duty-toggle').click();
    });

    await step('a seeker with no peer on shift waits, with position and estimate', async () => {
      await seeker.goto('/');
      await seeker.locator('#start').click();
      await seeker.locator('input[name=tag][value=loneliness]').check();
      await seeker.locator('#request').click();
      await seeker.locator('#waiting').waitFor({ state: 'visible' });
      await waitFor(async () => (await seeker.locator('#queue-position').textContent()).trim() !== '',
        { what: '#queue-position' });
      await seeker.locator('#queue-estimate').waitFor({ state: 'attached' });
      for (const sel of ['#broaden', '#cancel', '#panic']) await seeker.locator(sel).waitFor({ state: 'visible' });
      await screenshot(seeker, 'seeker-waiting');
      await axeClean(seeker);
    });

    await step('"I need urgent help now" is sent and confirmed', async () => {
      await seeker.locator('#panic').click();
      await seeker.locator('#panic-sent').waitFor({ state: 'visible' });
      await screenshot(seeker, 'seeker-panic-sent');
      const all = await escalations();
      const ids = Object.keys(all);
      assert.equal(ids.length, 1, `expected one escalation in Redis, found ${ids.length}`);
      escId = ids[0];
      assert.equal(all[escId].source, 'seeker');
      assert.equal(all[escId].state, 'open');
    });

    await step('the moderator console lists it with level, source and a timer', async () => {
      item = mod.locator(`#escalations li.escalation[data-id="${escId}"]`);
      await item.waitFor({ state: 'visible' });
      for (const sel of ['.level', '.source', '.age', '.state']) {
        assert.notEqual((await item.locator(sel).textContent()).trim(), '', `${sel} is empty`);
      }
      // .age is a running timer.
      const age = (await item.locator('.age').textContent()).trim();
      await waitFor(async () => (await item.locator('.age').textContent()).trim() !== age,
        { timeoutMs: 3000, what: 'the .age timer to tick' });
      await screenshot(mod, 'moderation-escalation');
      await axeClean(mod);
    });

    await step('acknowledge', async () => {
      const before = (await item.locator('.state').textContent()).trim();
      await item.locator('.ack').click();
      await waitFor(async () => (await escalations())[escId]?.state === 'acknowledged',
        { what: 'the escalation to be acknowledged in Redis' });
      await waitFor(async () => (await item.locator('.state').textContent()).trim() !== before,
        { what: '.state to show the acknowledgement' });
    });

    await step('resolve with an outcome', async () => {
      await item.locator('select.outcome').selectOption('de_escalated');
      await item.locator('.resolve').click();
      await waitFor(async () => (await escalations())[escId]?.state === 'resolved',
        { what: 'the escalation to be resolved in Redis' });
      assert.equal((await escalations())[escId].outcome, 'de_escalated');
      await screenshot(mod, 'moderation-resolved');
    });

    await step('quick exit leaves for the neutral page and clears the tab', async () => {
      const appURL = seeker.url();
      await seeker.locator('#quick-exit').click();
      await seeker.waitForURL((u) => u.pathname === '/neutral.html', { timeout: 5000 });
      const body = await seeker.locator('body').textContent();
      assert.doesNotMatch(body, /kindred/i, 'the neutral page names Kindred');
      assert.equal(await seeker.evaluate(() => sessionStorage.length), 0, 'sessionStorage is not empty');
      await screenshot(seeker, 'neutral');
      // Back must not lead into the conversation state either.
      await seeker.goBack().catch(() => null);
      if (seeker.url() === appURL) {
        await seeker.waitForLoadState();
        assert.ok(!(await seeker.locator('#waiting').isVisible()), 'Back shows the waiting screen again');
      }
      // Opening the app again in that tab starts from the beginning.
      await seeker.goto('/');
      await seeker.locator('#start').waitFor({ state: 'visible' });
      assert.ok(!(await seeker.locator('#waiting').isVisible()), 'the app still remembers the queued request');
    });

    await step('no page threw or broke its CSP', async () => {
      assert.deepEqual(consoleProblems(seekerCtx), []);
      assert.deepEqual(consoleProblems(modCtx), []);
    });
  } finally {
    await seekerCtx.close();
    await modCtx.close();
  }
});
