// admin.test.mjs — the coordinator's insights page (/admin) in headless Chromium against a real
// server: a simulated day recorded through the insights store (`kindredctl demo-insights`), an
// admin signs in and sees the waiting times, the coverage heatmap and table, feedback and
// escalation outcomes (suppressed figures labelled, never guessed), downloads the CSV, the page
// passes axe-core; a peer cannot open it (the sign-in refuses, and the API answers 403).
// Run: node web/test/browser/run.mjs admin.test.mjs   (needs build/dev/bin, web/node_modules)
import test from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import {
  startStack, launchBrowser, newContext, newPage, DESKTOP, loginThroughForm, seriousViolations,
  describeViolations, consoleProblems, flow, screenshot, PEER,
} from './harness.mjs';

const ADMIN = { username: 'test-admin', password: 'test-admin-password-1', alias: 'Coordinator' };

test('the admin insights page with a simulated day', { timeout: 150_000 }, async (t) => {
  const stack = await startStack();
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await stack.stop(); });
  await stack.ctl(['user', 'add', ADMIN.username, '--role', 'admin', '--alias', ADMIN.alias,
    '--languages', 'en', '--password-stdin'], ADMIN.password + '\n');
  const today = new Date().toISOString().slice(0, 10);
  await stack.ctl(['--dev', 'demo-insights', '--date', today]);

  const adminCtx = await newContext(browser, stack, { ...DESKTOP, acceptDownloads: true });
  const peerCtx = await newContext(browser, stack, DESKTOP);
  const admin = await newPage(adminCtx);
  const peer = await newPage(peerCtx);
  const step = flow(t, { admin, peer });

  await step('an admin signs in and sees the report of the day', async () => {
    await admin.goto('/admin');
    await loginThroughForm(admin, ADMIN);
    await admin.locator('#report').waitFor({ state: 'visible' });
    // The default period is the last 7 days; narrow it to the simulated day.
    await admin.locator('#from').fill(today);
    await admin.locator('#to').fill(today);
    await admin.locator('#load').click();
    await admin.locator('#insights-status').filter({ hasText: `Showing ${today} to ${today}` }).waitFor();
    const requests = await admin.locator('#totals [data-figure="requests"] dd').textContent();
    assert.match(requests, /^\d+$/, 'the day has enough requests to publish');
    assert.ok(Number(requests) > 20);
  });

  await step('waiting times, coverage gaps, feedback and escalations are drawn', async () => {
    assert.equal(await admin.locator('#chart-waits svg g[data-bar]').count(), 8);
    assert.match(await admin.locator('#waits-summary').textContent(), /Half of the people waited/);
    // The demo covers the first tags only in the day: night hours show unmet demand.
    const rows = admin.locator('#chart-coverage svg g[data-tag]');
    assert.ok(await rows.count() >= 2);
    assert.ok(await admin.locator('#chart-coverage rect.cell-unmet, #chart-coverage rect.cell-demand').count() > 0);
    assert.ok(await admin.locator('#chart-coverage rect.cell-covered').count() > 0);
    const tableRows = admin.locator('#coverage-table tbody tr');
    assert.equal(await tableRows.count(), await rows.count());
    const noPeer = Number(await tableRows.first().locator('td').nth(3).textContent());
    assert.ok(noPeer > 0 && noPeer < 24, `hours with no peer: ${noPeer}`);
    assert.equal(await admin.locator('#chart-feedback svg g[data-bar]').count(), 8);
    assert.equal(await admin.locator('#chart-escalations svg g[data-bar]').count(), 9);
    // Small cells are labelled as suppressed, not drawn as numbers.
    const suppressed = admin.locator('svg g[data-suppressed="true"] text').filter({ hasText: 'suppressed' });
    assert.ok(await suppressed.count() > 0, 'some small cell is suppressed');
    await screenshot(admin, 'admin-insights');
  });

  await step('the page passes axe-core', async () => {
    const v = await seriousViolations(admin);
    assert.equal(v.length, 0, describeViolations(v));
  });

  await step('the CSV downloads with the same figures', async () => {
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.locator('#download-csv').click()]);
    assert.match(download.suggestedFilename(), /^kindred-insights-.*\.csv$/);
    const file = await download.path();
    const csv = await fsp.readFile(file, 'utf8');
    assert.ok(csv.startsWith('section,item,measure,value'));
    const requests = await admin.locator('#totals [data-figure="requests"] dd').textContent();
    assert.ok(csv.includes(`totals,,requests,${requests}\r\n`), 'CSV totals match the page');
  });

  await step('a peer cannot open it', async () => {
    await peer.goto('/admin');
    await peer.locator('#username').fill(PEER.username);
    await peer.locator('#password').fill(PEER.password);
    await peer.locator('#login').click();
    await peer.locator('#login-error').waitFor({ state: 'visible' });
    assert.match(await peer.locator('#login-error').textContent(), /for admins/);
    assert.ok(await peer.locator('#report').isHidden());
    const status = await peer.evaluate(async ({ username, password, today }) => {
      const r = await fetch('/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username, password }) });
      const { token } = await r.json();
      const noToken = await fetch(`/v1/insights?from=${today}&to=${today}`);
      const peerToken = await fetch(`/v1/insights?from=${today}&to=${today}`, { headers: { Authorization: `Bearer ${token}` } });
      return [noToken.status, peerToken.status];
    }, { ...PEER, today });
    assert.deepEqual(status, [401, 403]);
  });

  await step('no page threw or broke its CSP', async () => {
    assert.deepEqual(consoleProblems(adminCtx), []);
    const peerProblems = consoleProblems(peerCtx).filter((l) => !/status of 40[13]/.test(l));
    assert.deepEqual(peerProblems, []);
  });
});
