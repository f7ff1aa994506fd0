// peer_controls.test.mjs — the peer console's controls the other files leave out, against a real
// server: pause → resume → end of a shift (#shift-state follows the server's `shift` events; a
// seeker who asks while the peer is paused waits and is matched after resume), transfer (the
// seeker is told and queued again), block (the same device asking again from a new tab is not
// matched with that peer while a fresh seeker is), and the moderator console's re-page count
// rising for an unacknowledged panic until it is acknowledged.
// The server runs with --imminent-ack-s 1 so re-pages come every second, not every 30.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, DESKTOP, PEER, MODERATOR,
  seriousViolations, describeViolations, consoleProblems, loginThroughForm, flow, waitFor,
} from './harness.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack({ serverArgs: ['--imminent-ack-s', '1'] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function axeClean(page) {
  const v = await seriousViolations(page);
  assert.equal(v.length, 0, describeViolations(v));
}

// The server events a page receives on /v1/ws, reduced to fields that carry no text (types,
// states, reasons, counters), in arrival order. Registered before the page connects.
function recordFrames(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    if (!new URL(ws.url()).pathname.endsWith('/v1/ws')) return;
    ws.on('framereceived', ({ payload }) => {
      let f;
      try { f = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')); } catch { return; }
      const e = f.escalation;
      frames.push({
        type: f.type, state: f.state, active: f.active, capacity: f.capacity,
        conversation_id: f.conversation_id, reason: f.reason, by: f.by,
        escalation: e ? { id: e.id, state: e.state, repaged: e.repaged } : undefined,
      });
    });
  });
  return frames;
}

// A seeker on its phone asks for `tag`; returns once it waits or is already matched.
async function ask(page, tag = 'grief') {
  await page.goto('/');
  await page.locator('#start').click();
  await page.locator(`input[name=tag][value=${tag}]`).check();
  await page.locator('#request').click();
  await page.locator('#waiting:visible, #chat:visible').first().waitFor();
}

test('shift pause/resume/end, transfer, block, and the moderator re-page', { timeout: 120_000 }, async (t) => {
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const modCtx = await newContext(browser, stack, DESKTOP);
  const ctxA = await newContext(browser, stack, PHONE); // paused, then transferred
  const ctxB = await newContext(browser, stack, PHONE); // blocked (its device), later panics
  const ctxC = await newContext(browser, stack, PHONE); // fresh: matched while B waits
  const contexts = [peerCtx, modCtx, ctxA, ctxB, ctxC];
  const peer = await newPage(peerCtx);
  const mod = await newPage(modCtx);
  const seekerA = await newPage(ctxA);
  let seekerB = await newPage(ctxB);
  const seekerC = await newPage(ctxC);
  for (const p of [peer, mod]) p.on('dialog', (d) => d.accept());
  const peerFrames = recordFrames(peer);
  const modFrames = recordFrames(mod);
  const aFrames = recordFrames(seekerA);
  const cFrames = recordFrames(seekerC);
  let b2Frames = [];
  const pages = { peer, moderator: mod, seekerA, seekerB, seekerC };
  const step = flow(t, pages);

  const tabIds = () => peer.locator('#conversations [role=tab][data-conversation]')
    .evaluateAll((els) => els.map((e) => e.dataset.conversation));
  const panelOf = (id) => peer.locator(`[role=tabpanel][data-conversation="${id}"]`);
  const lastShift = () => peerFrames.filter((f) => f.type === 'shift').at(-1);

  // #shift-state shows `want`, which is also the state of the last `shift` event the server
  // sent, with that event's counts in its text; the buttons allow only what that state allows.
  async function expectShift(want, active) {
    await waitFor(async () => lastShift()?.state === want && (active === undefined || lastShift().active === active)
      && (await peer.locator('#shift-state').getAttribute('data-state')) === want,
    { what: `#shift-state and the last shift event to be "${want}"` });
    const ev = lastShift();
    const text = (await peer.locator('#shift-state').textContent()).trim();
    if (want === 'on') assert.match(text, new RegExp(`\\b${ev.active} of ${ev.capacity}\\b`), text);
    else if (want === 'paused' || want === 'ending') assert.match(text, new RegExp(`\\(${ev.active}\\b`), text);
    else assert.match(text, /^Off shift/, text);
    const enabled = async (id) => peer.locator(id).isEnabled();
    assert.equal(await enabled('#shift-pause'), want === 'on', '#shift-pause');
    assert.equal(await enabled('#shift-resume'), want === 'paused', '#shift-resume');
    assert.equal(await enabled('#shift-end'), want === 'on' || want === 'paused', '#shift-end');
    assert.equal(await enabled('#shift-start'), want !== 'ending', '#shift-start');
  }

  // The new tab that appears in the peer console (not among `known`), selected.
  async function newTab(known) {
    const id = await waitFor(async () => (await tabIds()).find((x) => !known.includes(x)),
      { what: 'a new conversation tab' });
    await peer.locator(`[role=tab][data-conversation="${id}"]`).click();
    await panelOf(id).waitFor({ state: 'visible' });
    return id;
  }

  let convA;
  let convB;
  let convC;
  let deviceB;

  try {
    await step('the peer signs in and starts a shift: #shift-state is "on"', async () => {
      await peer.goto('/staff');
      await loginThroughForm(peer, PEER);
      await peer.locator('input[name=shift-tag][value=grief]').waitFor();
      await peer.locator('#shift-capacity').fill('2');
      await peer.locator('input[name=shift-tag][value=grief]').check();
      await peer.locator('input[name=shift-lang][value=en]').check();
      await peer.locator('#shift-start:enabled').waitFor(); // identity registered
      await peer.locator('#shift-start').click();
      await expectShift('on', 0);
      assert.equal(lastShift().capacity, 2);
    });

    await step('pause: "paused"; a seeker who asks now is not matched', async () => {
      await peer.locator('#shift-pause').click();
      await expectShift('paused', 0);
      await axeClean(peer);
      await ask(seekerA);
      await seekerA.locator('#waiting').waitFor({ state: 'visible' });
      // Long enough for several matching passes (one runs at once after a request, then every second).
      await sleep(2500);
      assert.ok(await seekerA.locator('#waiting').isVisible(), 'the seeker left the waiting screen');
      assert.equal(aFrames.filter((f) => f.type === 'matched').length, 0, 'a paused peer was matched');
      assert.deepEqual(await tabIds(), [], 'the paused peer got a conversation');
    });

    await step('resume: "on" again, and the waiting seeker is matched', async () => {
      await peer.locator('#shift-resume').click();
      convA = await newTab([]);
      await seekerA.locator('#chat').waitFor({ state: 'visible' });
      assert.equal(aFrames.find((f) => f.type === 'matched')?.conversation_id, convA);
      await expectShift('on', 1);
    });

    await step('transfer: the seeker hears reason "transfer" and is queued again', async () => {
      const panel = panelOf(convA);
      await panel.locator('.transfer').click(); // confirm() accepted
      await waitFor(() => aFrames.some((f) => f.type === 'ended' && f.conversation_id === convA),
        { what: "the seeker's ended event" });
      const ended = aFrames.find((f) => f.type === 'ended' && f.conversation_id === convA);
      assert.equal(ended.reason, 'transfer');
      assert.equal(ended.by, 'peer');
      // The seeker's screen: back to waiting, told why, still able to panic or cancel.
      await seekerA.locator('#waiting').waitFor({ state: 'visible' });
      await seekerA.locator('#requeued-note').waitFor({ state: 'visible' });
      assert.ok(await seekerA.locator('#chat').isHidden(), 'the chat is still shown');
      for (const sel of ['#panic', '#cancel']) assert.ok(await seekerA.locator(sel).isVisible(), `${sel} is hidden`);
      await waitFor(() => aFrames.some((f, i) => f.type === 'queued' && i > aFrames.indexOf(ended)),
        { what: 'a queued event after the transfer' });
      await axeClean(seekerA);
      // The peer's tab: over, its slot free, nothing left to do but close it.
      await waitFor(async () => (await panel.locator('.messages').textContent()).includes('transferred'),
        { what: 'the end (transferred) in the peer\'s tab' });
      await panel.locator('.close-tab').waitFor({ state: 'visible' });
      for (const cls of ['.transfer', '.block', '.end']) assert.ok(await panel.locator(cls).isDisabled(), `${cls} still enabled`);
      await expectShift('on', 0);
      await axeClean(peer);
      // Done with A: it leaves the queue (it would never be given this peer again anyway).
      await seekerA.locator('#cancel').click();
      await seekerA.locator('#start').waitFor({ state: 'visible' });
    });

    await step('block + end: the seeker is blocked for this peer', async () => {
      const known = await tabIds(); // before asking: the match may be immediate
      await ask(seekerB);
      convB = await newTab(known);
      await seekerB.locator('#chat').waitFor({ state: 'visible' });
      deviceB = await seekerB.evaluate(() => localStorage.getItem('kindred.device'));
      assert.ok(deviceB, 'the seeker app kept no device id');
      const panel = panelOf(convB);
      await panel.locator('.block').click();
      await waitFor(async () => /Blocked/.test(await panel.locator('.action-status').textContent()),
        { what: 'the block ok' });
      // Blocking does not end the conversation.
      assert.ok(await seekerB.locator('#chat').isVisible(), 'the block ended the seeker\'s chat');
      assert.ok(await panel.locator('.end').isEnabled(), '.end disabled after block');
      await panel.locator('.end').click();
      await seekerB.locator('#feedback').waitFor({ state: 'visible' });
      await panel.locator('.close-tab').waitFor({ state: 'visible' });
      await expectShift('on', 0);
    });

    await step('the same device asking again (a new tab) waits; a fresh seeker is matched', async () => {
      // A new tab is a new seeker session (sessionStorage is per tab) with the same device.
      await seekerB.close();
      seekerB = await newPage(ctxB);
      pages.seekerB = seekerB;
      b2Frames = recordFrames(seekerB);
      await ask(seekerB);
      assert.equal(await seekerB.evaluate(() => localStorage.getItem('kindred.device')), deviceB, 'the device id changed');
      await sleep(2500);
      const known = await tabIds();
      assert.deepEqual(known, [convA, convB], 'the blocked device was matched with the peer');
      assert.equal(b2Frames.filter((f) => f.type === 'matched').length, 0);
      assert.ok(await seekerB.locator('#waiting').isVisible());

      // The peer is free (on, 0 of 2): a seeker it has not blocked gets it at once.
      await ask(seekerC);
      convC = await newTab(known);
      await seekerC.locator('#chat').waitFor({ state: 'visible' });
      assert.equal(cFrames.find((f) => f.type === 'matched')?.conversation_id, convC);
      await expectShift('on', 1);
      await sleep(1500);
      assert.equal(b2Frames.filter((f) => f.type === 'matched').length, 0, 'the blocked device was matched');
      assert.ok(await seekerB.locator('#waiting').isVisible(), 'the blocked seeker left the waiting screen');
    });

    await step('end shift: "ending" while a conversation remains, "off" after it ends', async () => {
      await peer.locator('#shift-end').click();
      await expectShift('ending', 1);
      await axeClean(peer);
      await panelOf(convC).locator('.end').click();
      await seekerC.locator('#feedback').waitFor({ state: 'visible' });
      await expectShift('off', 0);
      assert.match(await peer.locator('#shift-start').textContent(), /Start shift/);
    });

    await step('the moderator goes on duty; the blocked seeker panics while waiting', async () => {
      await mod.goto('/moderation');
      await loginThroughForm(mod, MODERATOR);
      await mod.locator('#duty-toggle').click();
      await mod.locator('#duty-toggle[aria-pressed=true]').waitFor();
      await seekerB.locator('#panic').click();
      await seekerB.locator('#panic-sent').waitFor({ state: 'visible' });
    });

    await step('the escalation is re-paged every deadline: .repaged goes up', async () => {
      const item = mod.locator('#escalations li.escalation').first();
      await item.waitFor({ state: 'visible' });
      assert.equal(await mod.locator('#escalations li.escalation').count(), 1);
      assert.equal(await item.getAttribute('data-level'), 'imminent');
      const repaged = async () => Number((await item.locator('.repaged').textContent()).trim());
      const first = await repaged();
      await waitFor(async () => (await repaged()) >= first + 2, { timeoutMs: 10000, what: '.repaged to rise twice' });
      // Each rise is a re-page event from the server, not a client-side counter.
      const id = await item.getAttribute('data-id');
      const counts = modFrames.filter((f) => f.escalation?.id === id).map((f) => f.escalation.repaged);
      assert.ok(Math.max(...counts) >= first + 2, `re-page events: ${JSON.stringify(counts)}`);
      assert.equal(await item.getAttribute('data-state'), 'open');
      await axeClean(mod);
    });

    await step('acknowledged: the re-paging stops', async () => {
      const item = mod.locator('#escalations li.escalation').first();
      const id = await item.getAttribute('data-id');
      await item.locator('.ack').click();
      await waitFor(async () => (await item.getAttribute('data-state')) === 'acknowledged', { what: 'acknowledged' });
      const at = Number((await item.locator('.repaged').textContent()).trim());
      const eventsAt = modFrames.length;
      await sleep(3000); // three deadlines of 1 s
      assert.equal(Number((await item.locator('.repaged').textContent()).trim()), at, '.repaged rose after the acknowledgement');
      const later = modFrames.slice(eventsAt).filter((f) => f.escalation?.id === id && f.escalation.repaged > at);
      assert.equal(later.length, 0, 'the server re-paged an acknowledged escalation');
      assert.ok(await item.locator('.ack').isDisabled());
      await axeClean(mod);
    });

    await step('no page threw or broke its CSP', async () => {
      for (const ctx of contexts) assert.deepEqual(consoleProblems(ctx), []);
    });
  } finally {
    for (const ctx of contexts) await ctx.close();
  }
});
