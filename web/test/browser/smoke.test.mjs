// smoke.test.mjs — every page loads in Chromium from the real server, under its CSP, with no
// serious or critical axe-core violation, on a phone and on a desktop; one screenshot each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, DESKTOP,
  seriousViolations, describeViolations, consoleProblems, screenshot,
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

// The pages, with the element that proves each is the real page, not an error body.
const pages = [
  { path: '/', name: 'seeker-home', ready: '#start', device: PHONE },
  { path: '/staff', name: 'staff-login', ready: '#login-form', device: DESKTOP },
  { path: '/moderation', name: 'moderation-login', ready: '#login-form', device: DESKTOP },
  { path: '/admin', name: 'admin-login', ready: '#login-form', device: DESKTOP },
  { path: '/neutral.html', name: 'neutral', ready: 'body', device: PHONE },
];

for (const p of pages) {
  test(`${p.path} loads, passes axe-core, keeps its CSP`, async () => {
    const context = await newContext(browser, stack, p.device);
    try {
      const page = await newPage(context);
      const failed = [];
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (r.status() >= 400 && u.pathname !== '/favicon.ico') failed.push(`${r.status()} ${u.pathname}`);
      });
      const response = await page.goto(p.path);
      assert.equal(response.status(), 200, `${p.path} answered ${response.status()}`);
      await page.locator(p.ready).first().waitFor({ state: 'attached' });
      // Let module scripts run and /v1/config arrive before judging the page.
      await page.waitForLoadState('networkidle');
      assert.deepEqual(failed, [], 'assets that did not load');
      // Mobile first: nothing wider than the phone.
      if (p.device === PHONE) {
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 360, `the page is ${width}px wide on a 360px phone`);
      }
      const violations = await seriousViolations(page);
      assert.equal(violations.length, 0, describeViolations(violations));
      assert.deepEqual(consoleProblems(context), []);
      await screenshot(page, p.name);
    } finally {
      await context.close();
    }
  });
}

test('the home page says what Kindred is not, and crisis help and quick exit are one tap away', async () => {
  const context = await newContext(browser, stack, PHONE);
  try {
    const page = await newPage(context);
    await page.goto('/');
    await page.locator('#crisis-link').waitFor({ state: 'visible' });
    await page.locator('#quick-exit').waitFor({ state: 'visible' });
    // Both controls must be inside the first phone screen, without scrolling.
    for (const sel of ['#crisis-link', '#quick-exit']) {
      const box = await page.locator(sel).boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= 640, `${sel} is not on the first screen`);
    }
  } finally {
    await context.close();
  }
});

test('the server sends a strict Content-Security-Policy with the pages', async () => {
  for (const p of ['/', '/staff', '/moderation', '/admin']) {
    const res = await fetch(stack.baseURL + p);
    const csp = res.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'self'/, `${p}: no strict CSP (got ${JSON.stringify(csp)})`);
    assert.doesNotMatch(csp, /unsafe-inline/, `${p}: CSP allows inline code`);
    assert.match(csp, /frame-ancestors 'none'/, `${p}: CSP lets other sites frame the page`);
  }
});

test('the web app manifest is served', async () => {
  const res = await fetch(stack.baseURL + '/manifest.webmanifest');
  assert.equal(res.status, 200);
  const manifest = JSON.parse(await res.text());
  assert.ok(manifest.name || manifest.short_name, 'manifest has no name');
});
